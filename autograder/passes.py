"""The two sandboxed passes over one submission, each served by its own judge session.

1. **The notebook run** (:func:`run_notebooks`): ``nbgrader autograde`` executes the notebooks,
   as a plain nbgrader run would, but the kernel is a sandbox (:mod:`autograder.sandbox`). Its
   hidden test cells hand their functions to the judge, so the executed notebooks show the judge's
   diagnostics. It gives the feedback notebooks and nbgrader's in-kernel scores: never the grade,
   only something to compare the grade with. Tests whose answer is a value the notebook computes
   (``VALUE_TESTS``) are judged here.
2. **The re-check** (:func:`recheck`): a fresh sandboxed worker loads only the notebooks'
   definitions and hands every other test to the judge again. Its verdicts are the grades. A test
   that hangs or kills the worker fails alone: the worker is stopped and a new one carries on.

nbgrader itself and the judge run here, outside any sandbox; neither runs student code.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from autograder.course import ASSIGNMENT, ROOT, CourseDirs, nbgrader_env
from autograder.judge import checks
from autograder.judge.session import JudgeServer, JudgeSession
from autograder.sandbox.bubblewrap import SUBMISSION_MOUNT, Sandbox
from autograder.sandbox.limits import Limits

KERNEL_NAME = "cs231kit-sandbox"
_POLL_S = 0.1


@dataclass
class NotebookRun:
    """What the notebook run left: nbgrader's exit code (None: stopped) and log, the verdicts."""

    returncode: int | None
    log: str
    session: JudgeSession
    timed_out_after_s: int | None = None


def _kernel_spec(runtime: Path, submission: Path, limits: Limits, isolated: bool) -> Path:
    """A Jupyter kernel spec whose kernel is a sandbox; returns the folder for JUPYTER_PATH."""
    kernel = ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    box = Sandbox(kernel, submission, runtime / "kernel.sock", limits,
                  binds=[(str(runtime), str(runtime))], isolated=isolated)
    launcher = box.launcher(runtime / "kernel-sandbox.json", owned=[runtime])
    folder = runtime / "kernels" / KERNEL_NAME
    folder.mkdir(parents=True)
    spec = {
        # The launcher is Python: until bubblewrap starts (--die-with-parent) it would outlive a
        # grader killed meanwhile, so it is started with the kill-on-parent-death already set.
        "argv": [*_die_with_parent(), *launcher, "{connection_file}"],
        "display_name": "cs231kit sandbox",
        "language": "python",
        # Signals do not cross into the sandbox's own session: interrupt over the control channel.
        "interrupt_mode": "message",
    }
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1))
    return runtime


def run_notebooks(
    student: str,
    dirs: CourseDirs,
    runtime: Path,
    limits: Limits,
    *,
    notebooks: int,
    isolated: bool,
    log_path: Path,
) -> NotebookRun:
    """``nbgrader autograde`` of one submission with a sandboxed kernel and a judge listening."""
    submission = dirs.submitted / student / ASSIGNMENT
    jupyter_path = _kernel_spec(runtime, submission, limits, isolated)
    session = JudgeSession(role="kernel")
    cmd = [
        *_die_with_parent(),
        sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, f"--student={student}",
        "--force",
        f"--Execute.timeout={limits.cell_timeout_s}",
        f"--Execute.kernel_name={KERNEL_NAME}",
        "--KernelManager.transport=ipc",
        f"--KernelManager.connection_file={runtime / 'kernel.json'}",
        *dirs.options(),
    ]
    env = nbgrader_env({"JUPYTER_PATH": str(jupyter_path), "CS231KIT_GRADING": "1"})
    env.pop("CS231KIT_JUDGE_SOCKET", None)
    budget = limits.notebook_timeout_s * max(1, notebooks)
    timed_out = None
    with JudgeServer(session, runtime / "kernel.sock"), open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            returncode: int | None = proc.wait(timeout=budget)
        except subprocess.TimeoutExpired:
            returncode, timed_out = None, budget
        finally:
            _stop(proc)
    return NotebookRun(returncode, log_path.read_text(errors="replace"), session, timed_out)


def recheck(
    submission: Path,
    plan: list[tuple[str, str]],
    runtime: Path,
    limits: Limits,
    *,
    isolated: bool,
    log_path: Path,
) -> JudgeSession:
    """Re-check ``plan`` ((test, notebook) pairs) in a sandboxed worker; return the verdicts."""
    session = JudgeSession(role="worker", worker_plan=plan)
    worker = ["python", "-m", "autograder.sandbox.handin.worker"]
    box = Sandbox(worker, submission, runtime / "worker.sock", limits, cwd=SUBMISSION_MOUNT,
                  isolated=isolated)
    command = box.launcher(runtime / "worker-sandbox.json")
    deadline = time.monotonic() + limits.notebook_timeout_s * max(1, len({nb for _, nb in plan}))
    with JudgeServer(session, runtime / "worker.sock"), open(log_path, "ab") as log:
        while True:  # each restart moves past at least one test
            taken = len(session.handed_out)
            proc = subprocess.Popen([*_die_with_parent(), *command], cwd=submission,
                                    env=nbgrader_env(), stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            reason = _watch_worker(proc, session, limits, deadline)
            _stop(proc)
            if reason is None and session.busy_since is None and not session.remaining():
                break
            session.interrupt(reason or "the sandboxed re-check ended before this test was done")
            if len(session.handed_out) == taken:  # it could not even start: do not loop
                session.protocol_errors.append(f"the re-check could not start ({reason})")
                break
            if not session.remaining() or time.monotonic() > deadline:
                break
    return session


def _watch_worker(
    proc: subprocess.Popen[bytes], session: JudgeSession, limits: Limits, deadline: float
) -> str | None:
    """Wait for the worker; None when it finished its work, else why it was stopped."""
    while True:
        returncode = proc.poll()
        if returncode is not None:
            if returncode == 0:
                return None
            signal = f"signal {-returncode}" if returncode < 0 else f"exit code {returncode}"
            return (
                f"the sandboxed re-check stopped while running this test ({signal}: killed for "
                "memory, or the code ended the process)"
            )
        busy = session.busy_for()
        if busy > limits.test_timeout_s:
            return f"timed out: the sandboxed re-check ran longer than {limits.test_timeout_s} s"
        if time.monotonic() > deadline:
            return "timed out: the sandboxed re-check ran out of time for this submission"
        time.sleep(_POLL_S)


def _die_with_parent() -> list[str]:
    """A prefix that kills the command when the process that started it dies (a grading worker
    killed mid-task leaves no nbgrader, kernel or re-check behind), from the command's first
    instruction on."""
    setpriv = shutil.which("setpriv", path="/usr/bin:/bin")
    return [setpriv, "--pdeathsig", "KILL", "--"] if setpriv else []


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Kill a process group (a sandbox's processes all die with it)."""
    try:
        os.killpg(proc.pid, 9)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def worker_plan(submission: Path) -> list[tuple[str, str]]:
    """The re-check's tests of the notebooks that were handed in."""
    return [(test, nb) for test, nb in checks.worker_plan() if (submission / nb).exists()]
