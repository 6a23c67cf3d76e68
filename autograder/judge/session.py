"""The judge: draws the inputs, answers the reference stubs, compares, and keeps the verdicts.

One :class:`JudgeSession` serves one pass over one submission: the notebook run in the sandboxed
kernel (``role="kernel"``), or the sandboxed worker that calls the student's definitions afresh
(``role="worker"``). The sandbox side (:mod:`autograder.sandbox.handin`) talks to it in plain-data
messages (:mod:`autograder.sandbox.handin.wire`) over a Unix socket (:class:`JudgeServer`), or
in-process when nothing is sandboxed (tests, plain ``nbgrader autograde``).

A test goes through ``open`` (the judge draws every run's inputs from the session's secret seed and
sends them with one unguessable token per run), then per run ``oracle`` requests (the reference
result of a graded function the student's code calls, for that run only) and one ``outputs`` or
``raised`` report, then ``close`` (the verdict). A test can be opened once per session and only one
test is open at a time, so a reference stub of one test can never answer for another.

The session never imports, unpickles or executes anything a submission wrote: it sees decoded
plain data only, and runs only the judge's own code (references, ``derive``, comparison).
"""

from __future__ import annotations

import copy
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.judge import checks
from autograder.judge.cases import Case, case_rng, compare_outputs, run_label
from autograder.judge.oracles import ORACLES, OracleRefused, call_oracle, updated_dicts
from autograder.sandbox.handin import wire

MAX_MESSAGE_CHARS = 600  # of a student's exception message shown back
MAX_ORACLE_CALLS = 200_000


@dataclass
class Verdict:
    """What the judge concluded about one test in one pass."""

    passed: bool
    message: str = ""  # why it failed, one line per failing case


@dataclass
class _Run:
    test_id: str
    case_index: int
    case: Case
    run: int
    inputs: dict[str, Any]
    state: str = "pending"  # pending, passed, failed, skipped


@dataclass
class _OpenTest:
    test_id: str
    runs: dict[str, _Run]
    failures: list[str] = field(default_factory=list)


class JudgeSession:
    """One pass over one submission (see the module docstring).

    Inputs:
    - role: "kernel" or "worker"
    - secret: the seed every input of this session is drawn from (default: a fresh random one)
    - worker_plan: for the worker, the tests to hand out in order, as (test_id, notebook) pairs
    - runs: every case tried on this many fresh inputs instead of its own ``runs`` (tolerance
      validation); None keeps each case's own
    """

    def __init__(
        self,
        role: str = "kernel",
        secret: int | None = None,
        worker_plan: Iterable[tuple[str, str]] = (),
        runs: int | None = None,
    ) -> None:
        self.role = role
        self.runs = runs
        self.secret = secrets.randbits(128) if secret is None else secret
        self.verdicts: dict[str, Verdict] = {}
        self.protocol_errors: list[str] = []
        self.opened: list[str] = []
        self.current: _OpenTest | None = None
        self.worker_plan = list(worker_plan)
        self.handed_out: list[str] = []  # worker tests given out by "next", in order
        self.oracle_calls = 0
        self.busy_since: float | None = None  # when the worker's current test was handed out
        self.loading: str | None = None  # the notebook the worker is loading definitions of
        self.notes: list[str] = []  # things a TA may want to look at (returns that were odd)
        self.lock = threading.Lock()

    # -- the protocol -----------------------------------------------------------------------

    def handle(self, message: Any) -> dict[str, Any]:
        """Answer one decoded request; never raises for anything the sandbox sent."""
        with self.lock:
            try:
                if not isinstance(message, dict) or not isinstance(message.get("op"), str):
                    raise _Refused("a request must be a dict with an 'op'")
                handler = self._handlers().get(message["op"])
                if handler is None:
                    raise _Refused(f"unknown op {message['op']!r}")
                return handler(message)
            except _Refused as refused:
                self.protocol_errors.append(str(refused))
                return {"error": str(refused)}

    def _handlers(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        return {
            "open": self._open,
            "oracle": self._oracle,
            "outputs": self._outputs,
            "raised": self._raised,
            "close": self._close,
            "next": self._next,
            "loading": self._loading,
        }

    def _open(self, message: dict[str, Any]) -> dict[str, Any]:
        test_id = message.get("test")
        if not isinstance(test_id, str) or checks.find(test_id) is None:
            raise _Refused(f"no hidden test named {test_id!r}")
        if test_id in self.opened:
            raise _Refused(f"{test_id} was already handed in once in this run")
        if self.role == "worker" and (not self.handed_out or self.handed_out[-1] != test_id):
            raise _Refused(f"the worker may only open the test it was given, not {test_id}")
        self._finish_current()
        self.opened.append(test_id)
        module = checks.find(test_id)
        runs: dict[str, _Run] = {}
        plan = []
        for index, case in enumerate(module.CASES[test_id]):
            for run in range(case.runs if self.runs is None else self.runs):
                token = secrets.token_hex(12)
                inputs = case.make_inputs(case_rng(self.secret, test_id, index, run))
                runs[token] = _Run(test_id, index, case, run, inputs)
                plan.append(
                    {
                        "token": token,
                        "calls": module.CALLS,
                        "call": case.call,
                        "oracles": list(case.oracles),
                        "inputs": inputs,
                    }
                )
        self.current = _OpenTest(test_id, runs)
        return {"runs": plan}

    def _run_of(self, message: dict[str, Any]) -> _Run:
        token = message.get("token")
        current = self.current
        if current is None or not isinstance(token, str) or token not in current.runs:
            raise _Refused("a token that does not belong to the open test")
        return current.runs[token]

    def _oracle(self, message: dict[str, Any]) -> dict[str, Any]:
        run = self._run_of(message)
        name = message.get("function")
        if run.state != "pending" or name not in run.case.oracles:
            raise _Refused(f"the reference of {name!r} is not available to this run")
        self.oracle_calls += 1
        if self.oracle_calls > MAX_ORACLE_CALLS:
            raise _Refused(f"more than {MAX_ORACLE_CALLS} reference calls in one run")
        args, kwargs = message.get("args", ()), message.get("kwargs", {})
        if not isinstance(args, (list, tuple)) or not isinstance(kwargs, dict):
            raise _Refused("malformed reference call")
        try:
            result = call_oracle(ORACLES[name], list(args), kwargs)
            return {"result": result, "updated": updated_dicts(list(args), kwargs)}
        except OracleRefused as refused:
            raise _Refused(str(refused)) from refused
        except Exception as error:  # the reference rejects the student's arguments
            return {"raised": type(error).__name__, "message": str(error)[:MAX_MESSAGE_CHARS]}

    def _outputs(self, message: dict[str, Any]) -> dict[str, Any]:
        run = self._run_of(message)
        if run.state != "pending":
            raise _Refused("outputs for a run that is already done")
        label = run_label(run.case, run.run)
        raw = message.get("outputs")
        want = run.case.reference(copy.deepcopy(run.inputs))
        try:
            got = raw if run.case.derive is None else run.case.derive(run.inputs, raw)
            failure = compare_outputs(label, run.case, got, want, run.inputs)
        except Exception as error:  # raw data the checks cannot use: say why
            failure = f"{label}: {type(error).__name__}: {error}"[:2000]
        return self._record(run, failure)

    def _raised(self, message: dict[str, Any]) -> dict[str, Any]:
        run = self._run_of(message)
        if run.state != "pending":
            raise _Refused("an error report for a run that is already done")
        kind = str(message.get("type", "Exception"))[:80]
        text = str(message.get("message", ""))[:MAX_MESSAGE_CHARS]
        if kind == "NotImplementedError":
            failure = f"{run.case.name}: not implemented yet (the function raised {kind})"
        else:
            failure = f"{run_label(run.case, run.run)}: raised {kind}: {text}"
        return self._record(run, failure)

    def _record(self, run: _Run, failure: str | None) -> dict[str, Any]:
        assert self.current is not None
        run.state = "passed" if failure is None else "failed"
        skip = []
        if failure is not None:
            self.current.failures.append(failure)
            if any(sign in failure for sign in _NOTABLE):
                self.notes.append(f"{run.test_id}: {failure}")
            # One message per case is enough: the case's other runs are not needed.
            for token, other in self.current.runs.items():
                if other.case_index == run.case_index and other.state == "pending":
                    other.state = "skipped"
                    skip.append(token)
        return {"passed": failure is None, "skip": skip}

    def _loading(self, message: dict[str, Any]) -> dict[str, Any]:
        """The worker starts (a notebook name) or ends (None) loading a notebook's definitions."""
        notebook = message.get("notebook")
        if self.role != "worker" or not (notebook is None or isinstance(notebook, str)):
            raise _Refused("only the worker loads notebooks")
        self.loading = notebook
        return {}

    def _close(self, message: dict[str, Any]) -> dict[str, Any]:
        current = self.current
        if current is None or message.get("test") != current.test_id:
            raise _Refused(f"{message.get('test')!r} is not the open test")
        verdict = self._finish_current()
        assert verdict is not None
        self.busy_since = None
        return {"passed": verdict.passed, "message": verdict.message}

    def _next(self, message: dict[str, Any]) -> dict[str, Any]:
        if self.role != "worker":
            raise _Refused("only the worker asks for the next test")
        self._finish_current()
        for test_id, notebook in self.worker_plan:
            if test_id not in self.handed_out:
                self.handed_out.append(test_id)
                self.busy_since = time.monotonic()
                module = checks.find(test_id)
                return {
                    "test": test_id,
                    "notebook": notebook,
                    "student": checks.handed_in(module.NOTEBOOK)[test_id],
                }
        return {"done": True}

    # -- bookkeeping ------------------------------------------------------------------------

    def _finish_current(self) -> Verdict | None:
        """Close the open test, if any: its verdict from the runs that were reported."""
        current, self.current = self.current, None
        if current is None:
            return None
        failures = list(current.failures)
        if any(run.state == "pending" for run in current.runs.values()):
            failures.append("not every case was handed back to the grader")
        verdict = Verdict(not failures, "\n".join(failures))
        self.verdicts[current.test_id] = verdict
        return verdict

    def remaining(self) -> int:
        """How many tests of the worker's plan have not been handed out yet."""
        return sum(test_id not in self.handed_out for test_id, _ in self.worker_plan)

    def busy_for(self) -> float:
        """Seconds the worker has spent on the test it was handed last (0 between tests)."""
        since = self.busy_since
        return 0.0 if since is None else time.monotonic() - since

    def interrupt(self, reason: str) -> str | None:
        """The driver stopped the sandbox: fail the open test (or the last one handed out)."""
        with self.lock:
            self.busy_since = None
            current = self.current
            test_id = current.test_id if current else (self.handed_out or [None])[-1]
            if self.loading is not None:
                # Its definitions never finished loading: none of its tests can run.
                reason = f"{reason} (while loading the definitions of {self.loading})"
                for other, notebook in self.worker_plan:
                    if notebook == self.loading and other not in self.handed_out:
                        self.handed_out.append(other)
                        self.verdicts[other] = Verdict(False, reason)
                self.loading = None
            if test_id is None or (test_id in self.verdicts and current is None):
                return None
            self.current = None
            self.verdicts[test_id] = Verdict(False, reason)
            return test_id


# Failures a TA may want to see: returns that are not data at all. (NaN or inf, or a None where a
# number belongs, are not among them: honest code produces them, an unstable softmax, a division
# by zero, a dict entry never filled in, and they fail anyway.)
_NOTABLE = ("cannot read", "handed back")


class _Refused(Exception):
    """A request the judge will not serve (malformed, out of turn, or not allowed)."""


# ---------------------------------------------------------------------------------------------
# Serving a session on a Unix socket
# ---------------------------------------------------------------------------------------------


class JudgeServer:
    """Serve ``session`` on a Unix socket at ``path`` from a background thread.

    Every connection is served in turn, one request at a time. A connection that sends something
    that is not a well-formed plain-data message is recorded as a protocol error and dropped.
    """

    def __init__(self, session: JudgeSession, path: Path) -> None:
        self.session = session
        self.path = Path(path)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(self.path))
        self.path.chmod(0o666)  # the sandbox's user must be able to connect
        self.listener.listen(4)
        self.threads: list[threading.Thread] = []
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return  # closed
            thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def _serve(self, connection: socket.socket) -> None:
        with connection, connection.makefile("rb") as reader:
            while True:
                try:
                    message = wire.read_frame(reader)
                except (wire.WireError, OSError) as error:
                    self.session.protocol_errors.append(f"unreadable message: {error}")
                    return
                if message is None:
                    return
                reply = self.session.handle(message)
                try:
                    connection.sendall(wire.encode(reply))
                except (OSError, wire.WireError):
                    return

    def close(self) -> None:
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> JudgeServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
