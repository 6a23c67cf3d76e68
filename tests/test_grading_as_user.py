"""Grading works as an ordinary user too, not only as root (where most CI and containers run).

The suite itself runs as whoever runs it; when that is root, this test grades two submissions as
an unprivileged user: the grader then uses unprivileged user namespaces for its sandboxes instead
of dropping root to a user of its own. The grader's Python may live in root's home (pyenv), which
an ordinary user cannot enter, so an outer bubblewrap shows that user the same machine with only
the Python installation of root's home visible; everything inside runs as the user.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from autograder.attack_catalogue import ATTACKS, Targets, build_attack
from autograder.course import ROOT, SOURCE_DIR, nbgrader_env

USER = 4242  # an unprivileged uid with no home and no other processes
NOTEBOOK = "02_jacobian_free_gradients"

GRADE = """
import json, os, sys
from pathlib import Path
from autograder.submissions import collect
from autograder.grading import GradingPaths, grade_all
from autograder.sandbox.limits import Limits
paths = GradingPaths(Path(sys.argv[1]) / "grading")
collect(Path(sys.argv[1]) / "submissions", paths)
results = grade_all(paths, jobs=2, limits=Limits(cell_timeout_s=30, notebook_timeout_s=120))
print(json.dumps({"uid": os.getuid(), "results": {s: [r.status, r.score, r.sandbox, r.flags]
                                                 for s, r in results.items()}}))
"""


# Two sandboxes of one ordinary user: B starts, then A forks up to its limit and holds its
# processes, then B forks. Each sandbox's limit must count only its own processes.
TWO_SANDBOXES = r"""
import json, socket, subprocess, sys, time
from pathlib import Path
from autograder.sandbox.bubblewrap import Sandbox
from autograder.sandbox.limits import Limits
work = Path(sys.argv[1])
judge = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
judge.bind(str(work / "judge.sock"))
FORK = '''
import os, time
while not os.path.exists("/handed-in/go"):
    time.sleep(0.1)
pids = []
try:
    while len(pids) < %d:
        pid = os.fork()
        if pid == 0:
            time.sleep(30)
            os._exit(0)
        pids.append(pid)
except OSError:
    pass
print(len(pids), flush=True)
while not os.path.exists("/handed-in/done"):
    time.sleep(0.1)
'''
def start(name, count):
    folder = work / name
    folder.mkdir()
    box = Sandbox(["python", "-c", FORK % count], folder, work / "judge.sock",
                  Limits(max_processes=64))
    return subprocess.Popen(box.launcher(work / f"{name}.json"), stdout=subprocess.PIPE, text=True)
b, a = start("b", 40), start("a", 1000)
time.sleep(3)  # both sandboxes run before either forks
(work / "a" / "go").touch()
a_forked = int(a.stdout.readline())
(work / "b" / "go").touch()
b_forked = int(b.stdout.readline())
for name in ("a", "b"):
    (work / name / "done").touch()
a.wait(60), b.wait(60)
print(json.dumps({"a": a_forked, "b": b_forked}))
"""


def _as_user(script: str, work: Path) -> subprocess.CompletedProcess[str]:
    """Run python ``script`` with ``work`` as its argument, as the unprivileged USER."""
    for path in [work, *work.rglob("*")]:
        os.chown(path, USER, USER)
    env = {**nbgrader_env(), "HOME": str(work)}
    command = [*_outer_view(), "--", "setpriv", f"--reuid={USER}", f"--regid={USER}",
               "--clear-groups", sys.executable, "-c", script, str(work)]
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)


def _outer_view() -> list[str]:
    """bwrap arguments: the whole machine, with root's home reduced to the Python installation."""
    args = ["bwrap", "--dev-bind", "/", "/", "--perms", "0755", "--tmpfs", "/root"]
    for path in {sys.base_prefix, sys.prefix}:
        if path.startswith("/root/"):
            made = Path("/root")
            for part in Path(path).relative_to("/root").parts[:-1]:
                made = made / part
                args += ["--perms", "0755", "--dir", str(made)]
            args += ["--ro-bind", path, path]
    return args


@pytest.mark.skipif(os.geteuid() != 0, reason="the suite runs as an ordinary user already")
def test_an_ordinary_user_grades_with_sandboxes(tmp_path):
    work = Path(tempfile.mkdtemp(prefix="cs231kit-user-", dir="/tmp"))
    try:
        honest = work / "submissions" / "honest"
        honest.mkdir(parents=True)
        shutil.copy(SOURCE_DIR / "a2" / f"{NOTEBOOK}.ipynb", honest)
        fork_bomb = next(a for a in ATTACKS if a.student == "fork-bomb")
        (work / "submissions" / "fork-bomb").mkdir()
        for name, notebook in build_attack(fork_bomb, Targets(grading=work / "grading")).items():
            (work / "submissions" / "fork-bomb" / f"{name}.ipynb").write_text(json.dumps(notebook))
        result = _as_user(GRADE, work)
        assert result.returncode == 0, result.stderr[-3000:]
        report = json.loads(result.stdout.strip().splitlines()[-1])
        assert report["uid"] == USER
        status, score, sandbox, flags = report["results"]["honest"]
        assert (status, score, sandbox) == ("graded", 15, "bubblewrap"), flags
        status, score, sandbox, flags = report["results"]["fork-bomb"]
        assert (status, score, sandbox) == ("graded", 0, "bubblewrap")
        assert any("forks a process" in flag for flag in flags), flags
    finally:
        shutil.rmtree(work, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become an ordinary user")
def test_a_fork_bomb_in_one_sandbox_leaves_the_others_their_processes():
    """An ordinary user's sandboxes share a uid: a limit counted over all of that uid's processes
    would let a fork bomb in one sandbox keep another, started before it, from forking."""
    work = Path(tempfile.mkdtemp(prefix="cs231kit-user-", dir="/tmp"))
    try:
        result = _as_user(TWO_SANDBOXES, work)
        assert result.returncode == 0, result.stderr[-3000:]
        forked = json.loads(result.stdout.strip().splitlines()[-1])
        assert 50 < forked["a"] < 64 and forked["b"] == 40, forked
    finally:
        shutil.rmtree(work, ignore_errors=True)
