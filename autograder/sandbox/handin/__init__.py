"""Hand a graded function to the judge: the only grader code a sandbox can see.

A hidden test cell of a notebook says, e.g.::

    from autograder.sandbox.handin import hand_in
    hand_in("test_relu_jacobian", relu_jacobian)

``hand_in`` asks the judge for the test's inputs (drawn from a secret seed the sandbox never sees),
calls the student's code on them through the adapter the judge names
(``autograder.sandbox.handin.calls``), and sends back what it returned, as plain data
(:mod:`~autograder.sandbox.handin.wire`). While a run is under way, the graded functions the
student's code depends on are stubs that ask the judge for the reference result. Then the judge
says whether the test passed; if not, ``hand_in`` raises :class:`CheckFailure` with the judge's
message, so the notebook shows what is wrong and where.

Nothing here decides a grade: the sandbox could send anything, and the judge compares it with the
reference on its own side. Where the judge listens is given by ``CS231KIT_JUDGE_SOCKET``; without
it (a notebook run outside the grader, e.g. plain ``nbgrader autograde``), ``hand_in`` runs a
judge in this process, which needs the grader's code importable (it never is inside a sandbox).
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import os
import socket
import types
from collections.abc import Iterator
from typing import Any

from autograder.sandbox.handin import wire

SOCKET_VARIABLE = "CS231KIT_JUDGE_SOCKET"


class CheckFailure(AssertionError):
    """A hidden check found a wrong answer; the message says what and where."""


class JudgeUnavailable(RuntimeError):
    """The judge cannot be reached or refused a request."""


# ---------------------------------------------------------------------------------------------
# Talking to the judge
# ---------------------------------------------------------------------------------------------


class SocketConnection:
    """Requests to a judge listening on a Unix socket; one reply per request."""

    def __init__(self, path: str) -> None:
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.socket.connect(path)
        except OSError as error:
            raise JudgeUnavailable(f"cannot reach the grader at {path}: {error}") from error
        self.reader = self.socket.makefile("rb")

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        try:
            self.socket.sendall(wire.encode(message))
            reply = wire.read_frame(self.reader)
        except OSError as error:
            raise JudgeUnavailable(f"lost the connection to the grader: {error}") from error
        return _checked(reply)


class LocalConnection:
    """Requests to a judge in this process, through the same encoding as over a socket."""

    def __init__(self, session: Any) -> None:
        self.session = session

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        reply = self.session.handle(wire.roundtrip(message))
        return _checked(wire.roundtrip(reply))


def _checked(reply: Any) -> dict[str, Any]:
    if not isinstance(reply, dict):
        raise JudgeUnavailable("the grader closed the connection")
    if "error" in reply:
        raise JudgeUnavailable(f"the grader refused the request: {reply['error']}")
    return reply


_local: Any = None


def default_connection() -> Any:
    """The judge of this process: a new connection to ``CS231KIT_JUDGE_SOCKET``, or a judge in
    this process (one per process, so each test is still handed in once)."""
    global _local
    path = os.environ.get(SOCKET_VARIABLE)
    if path:
        return SocketConnection(path)  # a fresh one: a dropped connection loses one test only
    if _local is None:
        try:
            from autograder.judge.session import JudgeSession
        except ImportError as error:
            raise JudgeUnavailable(
                "hidden tests run only when the notebook is graded (no grader here)"
            ) from error
        _local = LocalConnection(JudgeSession())
    return _local


# ---------------------------------------------------------------------------------------------
# Running one test
# ---------------------------------------------------------------------------------------------


def hand_in(test_id: str, student: Any, connection: Any = None) -> None:
    """Run the hidden test ``test_id`` on ``student``; raise CheckFailure if the judge says no.

    Inputs:
    - test_id: grade_id of the hidden test cell, e.g. "test_matmul_backward"
    - student: what the cell hands in: the graded function or class, or a dict of them
    - connection: the judge to ask (default: :func:`default_connection`)

    Prints nothing and returns None when the test passes.
    """
    judge = connection or default_connection()
    plan = judge.request({"op": "open", "test": test_id})["runs"]
    skipped: set[str] = set()
    for run in plan:
        token = run["token"]
        if token in skipped:
            continue
        adapter = getattr(importlib.import_module(f"{__name__}.calls.{run['calls']}"), run["call"])
        stubs = {name: _reference_stub(judge, token, name) for name in run["oracles"]}
        try:
            with substituted(student, stubs):
                raw = adapter(student, run["inputs"])
            report = {"op": "outputs", "token": token, "outputs": raw}
            wire.encode(report)  # fails here, not in the request, if raw is not plain data
        except wire.WireError as error:
            report = _raised(token, "TypeError", f"returned something the grader cannot read: "
                             f"{error}")
        except JudgeUnavailable:
            raise
        except (Exception, SystemExit) as error:  # student code may raise anything
            report = _raised(token, type(error).__name__, str(error))
        skipped.update(judge.request(report).get("skip", []))
    verdict = judge.request({"op": "close", "test": test_id})
    if not verdict["passed"]:
        raise CheckFailure(verdict["message"])


def _raised(token: str, kind: str, message: str) -> dict[str, Any]:
    return {"op": "raised", "token": token, "type": kind, "message": message[:600]}


def _reference_stub(judge: Any, token: str, name: str) -> Any:
    """A stand-in for the graded function ``name``: the judge computes the reference result."""

    def stub(*args: Any, **kwargs: Any) -> Any:
        message = {"op": "oracle", "token": token, "function": name, "args": list(args),
                   "kwargs": kwargs}
        try:
            reply = judge.request(message)
        except wire.WireError as error:
            raise TypeError(f"{name} got arguments the grader cannot send: {error}") from None
        except JudgeUnavailable as error:  # e.g. a stub kept from another test: a failure here
            raise RuntimeError(f"{name}: {error}") from None
        if "raised" in reply:
            raise _exception_type(reply["raised"])(reply["message"])
        _copy_back(reply.get("updated"), args, kwargs)
        result = reply["result"]
        if isinstance(result, dict) and set(result) == {"$instance"}:
            return types.SimpleNamespace(**result["$instance"])
        return result

    stub.__name__ = stub.__qualname__ = name
    stub.__doc__ = f"The reference {name}, computed by the grader."
    return stub


def _copy_back(updated: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Put what the reference stored in its copies of dict arguments (e.g. the running statistics
    of a bn_param) into the caller's own dicts, as a local call would have left them."""
    if not isinstance(updated, dict):
        return
    for where, entries in updated.items():
        target = args[int(where)] if str(where).isdigit() and int(where) < len(args) else (
            kwargs.get(where)
        )
        if isinstance(target, dict) and isinstance(entries, dict):
            target.update(entries)


def _exception_type(name: str) -> type[Exception]:
    """The built-in exception class called ``name`` (RuntimeError for any other name)."""
    builtin = getattr(builtins, str(name), None)
    return builtin if isinstance(builtin, type) and issubclass(builtin, Exception) else RuntimeError


# ---------------------------------------------------------------------------------------------
# Isolation: reference stubs in the student's namespace
# ---------------------------------------------------------------------------------------------


def _namespaces(student: Any) -> list[dict[str, Any]]:
    """The module namespaces the student's functions and classes look global names up in."""
    objects = student.values() if isinstance(student, dict) else [student]
    found: dict[int, dict[str, Any]] = {}
    for obj in objects:
        candidates = [obj]
        if isinstance(obj, type):
            candidates = [getattr(v, "__func__", v) for v in vars(obj).values()]
        for candidate in candidates:
            namespace = getattr(candidate, "__globals__", None)
            if isinstance(candidate, types.FunctionType) and isinstance(namespace, dict):
                found.setdefault(id(namespace), namespace)
    return list(found.values())


_MISSING = object()


@contextlib.contextmanager
def substituted(student: Any, replacements: dict[str, Any]) -> Iterator[None]:
    """Run ``student`` with ``replacements`` for the global names its code looks up.

    Student code looks its helpers up by name in its module's globals (the notebook's namespace),
    so the names are swapped there for the duration of the block and always restored.
    """
    saved = []
    for namespace in _namespaces(student) if replacements else []:
        saved.append((namespace, {name: namespace.get(name, _MISSING) for name in replacements}))
        namespace.update(replacements)
    try:
        yield
    finally:
        for namespace, values in reversed(saved):
            for name, value in values.items():
                if value is _MISSING:
                    namespace.pop(name, None)
                else:
                    namespace[name] = value
