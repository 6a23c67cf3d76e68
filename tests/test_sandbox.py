"""The sandbox is real: bubblewrap, checked from inside and outside.

Each test runs Python code in a sandbox built exactly as grading builds one (``Sandbox`` and the
launcher), and checks what that code can see and do: no network, its own PID namespace, a
non-root user with a process limit, a read-only system, no view of the grader, the gradebooks or
the repository, size-limited scratch space, and the memory and file-size limits.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from autograder.course import ROOT, nbgrader_env
from autograder.sandbox import bubblewrap
from autograder.sandbox.bubblewrap import Sandbox, preflight
from autograder.sandbox.launch import SANDBOX_UID_BASE, claim_uid
from autograder.sandbox.limits import Limits


def test_sandboxes_work_here():
    """Grading refuses without a sandbox; the test machine must have one (.ci/run installs it)."""
    assert preflight() is None


def run_in_sandbox(
    tmp_path: Path, code: str, timeout: float = 120, **limits: int
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` with python inside a sandbox; the submission folder holds one notebook."""
    submission = tmp_path / "submission"
    submission.mkdir(exist_ok=True)
    (submission / "01_flat_backprop.ipynb").write_text('{"cells": []}')
    submission.chmod(0o755)
    judge = tmp_path / "judge.sock"
    if not judge.exists():
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(judge))
    box = Sandbox(["python", "-c", code], submission, judge, Limits(**limits))
    command = box.launcher(tmp_path / "sandbox.json")
    return subprocess.run(command, env=nbgrader_env(), capture_output=True, text=True,
                          timeout=timeout)


def output_of(tmp_path: Path, code: str, **limits: int) -> dict:
    result = run_in_sandbox(tmp_path, code + "\nimport json; print(json.dumps(OUT))", **limits)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_no_network_at_all(tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    code = f"""
import socket
OUT = {{}}
for name, target in [("host loopback", ("127.0.0.1", {port})), ("outside", ("1.1.1.1", 53))]:
    try:
        socket.create_connection(target, timeout=3).close()
        OUT[name] = "connected"
    except OSError as error:
        OUT[name] = type(error).__name__
try:
    socket.getaddrinfo("pypi.org", 443)
    OUT["dns"] = "resolved"
except OSError as error:
    OUT["dns"] = type(error).__name__
"""
    out = output_of(tmp_path, code)
    server.close()
    assert "connected" not in out.values() and out["dns"] != "resolved", out


def test_own_pid_namespace_and_nothing_outlives_the_sandbox(tmp_path):
    marker = f"{int(time.time() * 1000) % 10**9}.123"
    code = f"""
import os, subprocess
OUT = {{"pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
       "parent_visible": os.path.exists("/proc/{os.getpid()}/cmdline")}}
# A double-forked daemon that would outlive a plain subprocess.
subprocess.Popen(["sleep", "{marker}"], start_new_session=True)
"""
    out = output_of(tmp_path, code)
    assert len(out["pids"]) < 10 and not out["parent_visible"], out
    time.sleep(0.5)
    survivors = subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True, text=True)
    assert survivors.stdout.strip() == "", "a process outlived its sandbox"


def test_a_non_root_user_whose_process_limit_holds(tmp_path):
    code = """
import os
OUT = {"uid": os.getuid(), "euid": os.geteuid(), "groups": os.getgroups()}
pids, error = [], None
try:
    for _ in range(1000):
        pid = os.fork()
        if pid == 0:
            import time; time.sleep(5); os._exit(0)
        pids.append(pid)
except OSError as e:
    error = type(e).__name__
OUT["forked"], OUT["error"] = len(pids), error
for pid in pids:
    os.kill(pid, 9)
"""
    out = output_of(tmp_path, code, max_processes=64)
    assert out["uid"] != 0 and out["euid"] != 0, out
    if os.geteuid() == 0:  # root-started sandboxes drop to a user of their own
        assert out["uid"] >= SANDBOX_UID_BASE and out["groups"] in ([], [out["uid"]]), out
    assert out["forked"] < 64 and out["error"] == "BlockingIOError", out


def test_read_only_system_and_no_view_of_the_grader(tmp_path):
    targets = ["/usr/lib/cs231kit-test", str(Path(sys.prefix) / "x"), "/etc/x", str(ROOT / "x")]
    code = f"""
import importlib, os
OUT = {{}}
for path in {targets!r}:
    try:
        open(path, "w").write("x")
        OUT[path] = "written"
    except OSError as error:
        OUT[path] = type(error).__name__
OUT["repo"] = sorted(os.listdir({str(ROOT)!r}))
OUT["root home"] = os.listdir("/root") if os.path.isdir("/root") else "absent"
for module in ["autograder.judge", "autograder.judge.reference.layers", "autograder.grading",
               "autograder.sandbox.handin", "cs231kit", "numpy"]:
    try:
        importlib.import_module(module)
        OUT[module] = "imported"
    except ImportError as error:
        OUT[module] = type(error).__name__
"""
    out = output_of(tmp_path, code)
    assert "written" not in [v for k, v in out.items() if k.startswith("/")], out
    assert out["repo"] == sorted(p for p in ["cs231kit", ".venv"] if (ROOT / p).exists()), out
    # Only the Python installation may show through (it may live in root's home).
    assert out["root home"] == "absent" or set(out["root home"]) <= {".pyenv", ".local"}, out
    assert out["autograder.judge"] == "ModuleNotFoundError", out
    assert out["autograder.judge.reference.layers"] == "ModuleNotFoundError", out
    assert out["autograder.grading"] == "ModuleNotFoundError", out
    for module in ["autograder.sandbox.handin", "cs231kit", "numpy"]:
        assert out[module] == "imported", out


def test_scratch_space_is_private_and_size_limited(tmp_path):
    code = """
import os
OUT = {}
open("/tmp/small", "w").write("x" * 1000)
OUT["small"] = os.path.getsize("/tmp/small")
try:
    with open("/tmp/big", "wb") as f:
        for _ in range(100):
            f.write(b"x" * 2**20)
    OUT["big"] = "written"
except OSError as error:
    OUT["big"] = error.strerror
OUT["cwd"] = os.getcwd()
OUT["copied"] = sorted(os.listdir("."))
"""
    out = output_of(tmp_path, code, scratch_mb=32, max_file_mb=1024)
    assert out["small"] == 1000 and out["big"] == "No space left on device", out
    assert out["cwd"] == bubblewrap.WORK_DIR and out["copied"] == ["01_flat_backprop.ipynb"], out
    assert not Path("/tmp/small").exists() or Path("/tmp/small").read_text() != "x" * 1000


def test_memory_and_file_size_limits(tmp_path):
    memory = run_in_sandbox(tmp_path, "import numpy as np; np.ones((100_000, 100_000))",
                            memory_mb=1024)
    assert memory.returncode != 0 and "MemoryError" in memory.stderr
    big_file = run_in_sandbox(tmp_path, "open('/tmp/big', 'wb').write(b'x' * 3 * 2**20)",
                              max_file_mb=1)
    assert big_file.returncode != 0 and "File too large" in big_file.stderr


def test_concurrent_root_sandboxes_get_different_users():
    claims = [claim_uid() for _ in range(3)]
    try:
        if os.geteuid() != 0:
            assert claims == [None, None, None]
        else:
            uids = [c[0] for c in claims if c]
            assert len(set(uids)) == 3 and min(uids) >= SANDBOX_UID_BASE
    finally:
        for claim in claims:
            if claim:
                os.close(claim[1])


def test_preflight_says_what_to_do_without_bubblewrap(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on this PATH
    message = preflight()
    assert message and "apt-get install bubblewrap" in message


def test_unsafe_mode_runs_the_same_command_without_isolation(tmp_path):
    submission = tmp_path / "submission"
    submission.mkdir()
    code = "import os; print(os.getuid(), os.environ['CS231KIT_GRADING'])"
    box = Sandbox(["python", "-c", code], submission, tmp_path / "judge.sock", Limits(),
                  isolated=False)
    command = box.launcher(tmp_path / "unsafe.json")
    result = subprocess.run(command, env=nbgrader_env(), capture_output=True, text=True,
                            cwd=submission, timeout=60)
    assert result.stdout.split() == [str(os.getuid()), "1"], result.stderr


def test_the_launcher_keeps_the_uid_claimed_while_the_sandbox_runs(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("uids are claimed only by root-started sandboxes")
    started = threading.Event()
    result: dict = {}

    def run() -> None:
        started.set()
        result["process"] = run_in_sandbox(tmp_path, "import os, time; time.sleep(3); "
                                           "print(os.getuid())")

    thread = threading.Thread(target=run)
    thread.start()
    started.wait()
    time.sleep(1.5)
    claim = claim_uid()
    assert claim is not None
    os.close(claim[1])
    thread.join()
    inside = int(result["process"].stdout.strip())
    assert claim[0] != inside  # the running sandbox's uid was still taken
