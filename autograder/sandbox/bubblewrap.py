"""The sandbox every kernel and worker runs in: bubblewrap, a non-root user, resource limits.

What a sandboxed process sees and may do:

* **no network**: its own network namespace has only a loopback device, unconnected to the host;
* **its own PID namespace**: it sees no other process, and when the sandbox ends every process it
  started is killed with it (``--die-with-parent``; PID 1 of the namespace takes the rest down);
* **a non-root user**: when the grader runs as root, the sandbox drops to an unprivileged uid of
  its own (one per concurrent sandbox), so the process limit holds, which Linux never enforces
  for root; when the grader runs as an ordinary user, that user inside a user namespace of its
  own, where the sandbox sets its process limit (``prlimit``) so that it counts only its tasks;
* **a read-only system**: ``/usr``, ``/etc``, the Python installation and its packages, the
  ``cs231kit`` package, and the grader's hand-in code (``autograder.sandbox.handin``, mounted at
  :data:`GRADER_MOUNT`), nothing else of the repository: no ``solutions/``, no judge, references
  or hidden checks, no gradebook, no ``grading/``, no other student's work, no home directory;
* **one private scratch area**: size-limited in-memory ``/tmp`` and working directory, gone when
  the sandbox ends; plus, read-only, the student's own notebooks, and the judge's socket;
* **limits** (:mod:`autograder.sandbox.limits`): address space, file size, processes, CPU time.

:func:`preflight` says whether this machine can do all that, and what to do when it cannot.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cs231kit
from autograder.sandbox.launch import claim_uid
from autograder.sandbox.limits import Limits, process_limit_per_namespace

GRADER_MOUNT = "/opt/cs231kit-grader"  # on PYTHONPATH inside: ``autograder.sandbox.handin``
SOCKET_MOUNT = "/run/cs231kit/judge.sock"
SUBMISSION_MOUNT = "/handed-in"  # the student's notebooks, read-only
WORK_DIR = "/submission"  # the kernel's working directory: a private copy, writable
_AUTOGRADER = Path(__file__).resolve().parents[1]


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create its namespaces here."""


@dataclass
class Sandbox:
    """One sandboxed process: what it runs and what it sees (see the module docstring).

    Inputs:
    - command: the program and its arguments, as seen inside
    - submission: host folder with the student's notebooks, mounted read-only at SUBMISSION_MOUNT
    - judge_socket: host path of the judge's Unix socket, mounted at SOCKET_MOUNT
    - limits: resource limits
    - cwd: working directory inside (WORK_DIR: a writable copy of the submission)
    - binds: extra (host path, inside path) read-write binds (the kernel's connection files)
    - env: extra environment variables
    - isolated: False runs the command without bubblewrap (``grade --unsafe-no-sandbox``): the
      same environment and limits, none of the isolation
    """

    command: Sequence[str]
    submission: Path
    judge_socket: Path
    limits: Limits
    cwd: str = WORK_DIR
    binds: Sequence[tuple[str, str]] = ()
    env: dict[str, str] = field(default_factory=dict)
    isolated: bool = True

    def argv(self) -> list[str]:
        """The bwrap command line, with ``{uid}`` for the user a root-started sandbox drops to."""
        if not self.isolated:
            return ["/usr/bin/env", "-i", *(f"{k}={v}" for k, v in self._environment().items()),
                    *self.command]
        root = os.geteuid() == 0
        args = ["bwrap", "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net",
                "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox"]
        if root:  # privileged bwrap: keep only what setpriv needs to drop to the sandbox's user
            args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        else:
            args.append("--unshare-user")
        made: set[str] = set()
        for path in _system_paths():
            args += _parents(path, made) + ["--ro-bind", path, path]
        for host, inside in _grader_code():
            args += _parents(inside, made) + ["--ro-bind", host, inside]
        args += ["--proc", "/proc", "--dev", "/dev"]
        scratch = str(self.limits.scratch_mb * 2**20)
        args += ["--perms", "1777", "--size", scratch, "--tmpfs", "/tmp"]
        args += ["--perms", "0777", "--size", scratch, "--tmpfs", WORK_DIR]
        args += ["--ro-bind", str(self.submission), SUBMISSION_MOUNT]
        args += _parents(SOCKET_MOUNT, made) + ["--bind", str(self.judge_socket), SOCKET_MOUNT]
        for host, inside in self.binds:
            args += _parents(inside, made) + ["--bind", host, inside]
        args += ["--clearenv", "--chdir", self.cwd]
        for name, value in self._environment().items():
            args += ["--setenv", name, value]
        args.append("--")
        if root:
            args += [_util_linux("setpriv"), "--reuid={uid}", "--regid={uid}", "--clear-groups",
                     "--"]
        elif self.limits_processes_inside:
            count = self.limits.max_processes
            args += [_util_linux("prlimit"), f"--nproc={count}:{count}", "--"]
        if self.cwd == WORK_DIR:  # the kernel works on its own writable copy of the notebooks
            args += ["/bin/sh", "-c", f'cp -R {SUBMISSION_MOUNT}/. . && exec "$@"', "sh"]
        return args + list(self.command)

    @property
    def limits_processes_inside(self) -> bool:
        """Whether the process limit is set inside the sandbox's own user namespace.

        So it is for an ordinary user's sandbox on Linux 5.14 and later (see
        :mod:`autograder.sandbox.limits`); otherwise the launcher sets it before bubblewrap starts.
        """
        return self.isolated and os.geteuid() != 0 and process_limit_per_namespace()

    def _environment(self) -> dict[str, str]:
        threads = str(self.limits.threads) if self.limits.threads else ""
        env = {
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
            "HOME": "/tmp" if self.isolated else os.environ.get("HOME", "/tmp"),
            "LANG": "C.UTF-8",
            "PYTHONPATH": GRADER_MOUNT if self.isolated else str(_AUTOGRADER.parent),
            "PYTHONDONTWRITEBYTECODE": "1",
            "MPLCONFIGDIR": "/tmp/matplotlib",
            "MPLBACKEND": "Agg",
            "JUPYTER_RUNTIME_DIR": "/tmp/jupyter",
            "CS231KIT_GRADING": "1",
            "NBGRADER_EXECUTION": "autograde",
            "CS231KIT_JUDGE_SOCKET": SOCKET_MOUNT if self.isolated else str(self.judge_socket),
        }
        if threads:
            for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
                env[name] = threads
        return {**env, **self.env}

    def launcher(self, config: Path, owned: Sequence[Path] = ()) -> list[str]:
        """Write the launch config to ``config``; return the command that starts the sandbox.

        ``owned``: host paths the sandbox's user must own (a kernel's runtime directory).
        """
        settings = {
            "argv": self.argv(),
            "limits": dataclasses.asdict(self.limits),
            "processes_inside": self.limits_processes_inside,
            "owned": [str(p) for p in owned],
        }
        config.write_text(json.dumps(settings, indent=1))
        return [sys.executable, "-m", "autograder.sandbox.launch", str(config)]


def _parents(inside: str, made: set[str]) -> list[str]:
    """bwrap arguments that create the missing parents of ``inside`` with mode 0755.

    (bwrap would create them itself, but as 0700 copies of root's home, say, which the
    unprivileged user inside could not traverse.)
    """
    args = []
    for parent in reversed(Path(inside).parents):
        name = str(parent)
        if name != "/" and name not in made:
            made.add(name)
            args += ["--perms", "0755", "--dir", name]
    return args


def _system_paths() -> list[str]:
    """Host paths every sandbox sees read-only: the system and the Python that runs the grader."""
    paths = ["/usr", "/etc"]
    paths += [p for p in ("/bin", "/sbin", "/lib", "/lib32", "/lib64") if os.path.lexists(p)]
    python = {sys.base_prefix, sys.prefix, str(Path(cs231kit.__file__).resolve().parent)}
    for entry in sys.path:  # site-packages outside the installation (rare), never the repository
        resolved = Path(entry).resolve() if entry else None
        if resolved and resolved.is_dir() and "site-packages" in resolved.parts:
            python.add(str(resolved))
    covered = sorted(p for p in python if not any(p.startswith(q + "/") for q in python))
    return paths + [p for p in covered if not p.startswith(("/usr/", "/etc/"))]


def _grader_code() -> list[tuple[str, str]]:
    """The hand-in code, importable inside as ``autograder.sandbox.handin`` and nothing more."""
    mount = Path(GRADER_MOUNT) / "autograder"
    return [
        (str(_AUTOGRADER / "__init__.py"), str(mount / "__init__.py")),
        (str(_AUTOGRADER / "sandbox" / "__init__.py"), str(mount / "sandbox" / "__init__.py")),
        (str(_AUTOGRADER / "sandbox" / "handin"), str(mount / "sandbox" / "handin")),
    ]


def _util_linux(program: str) -> str:
    """The path of ``setpriv`` (drops root to the sandbox's user) or ``prlimit`` (sets an
    ordinary user's process limit inside the sandbox), both from util-linux."""
    found = shutil.which(program, path="/usr/bin:/bin")
    if not found:
        raise SandboxUnavailable(
            f"{program} (util-linux) is missing: the sandbox needs it to limit what student code "
            "runs. Install util-linux (Debian/Ubuntu: `apt-get install util-linux`)."
        )
    return found


def preflight() -> str | None:
    """None when sandboxes work here; otherwise what is wrong and how to fix it."""
    if shutil.which("bwrap") is None:
        return (
            "bubblewrap (bwrap) is not installed. Install it (Debian/Ubuntu: `apt-get install "
            "bubblewrap`; Fedora: `dnf install bubblewrap`) and grade again."
        )
    claimed = claim_uid()
    argv = ["bwrap", "--die-with-parent", "--unshare-pid", "--unshare-net"]
    argv += ["--unshare-user"] if claimed is None else ["--cap-add", "CAP_SETUID",
                                                        "--cap-add", "CAP_SETGID"]
    made: set[str] = set()
    for path in _system_paths():
        argv += _parents(path, made) + ["--ro-bind", path, path]
    argv += ["--proc", "/proc", "--dev", "/dev", "--"]
    try:
        if claimed is not None:
            uid = claimed[0]
            argv += [_util_linux("setpriv"), f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                     "--"]
        elif process_limit_per_namespace():
            argv += [_util_linux("prlimit"), "--nproc=64:64", "--"]
        argv += [sys.executable, "-c", "import numpy"]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except SandboxUnavailable as error:
        return str(error)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap could not start a sandbox: {error}"
    finally:
        if claimed is not None:
            os.close(claimed[1])
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        return (
            f"bubblewrap is installed but could not start a sandbox ({detail[0]}). Most often "
            "unprivileged user namespaces are disabled: enable them (`sysctl -w "
            "kernel.unprivileged_userns_clone=1`, or on Ubuntu 24.04 and later `sysctl -w "
            "kernel.apparmor_restrict_unprivileged_userns=0`), or grade as root; in a container, "
            "allow it to create namespaces (e.g. `--security-opt seccomp=unconfined`)."
        )
    return None


UNPROTECTED = (
    "Without a sandbox, student code runs as you, with your network, your files and your "
    "processes: it can read solutions/, the judge's references and the gradebook, reach the "
    "network, and leave processes running after grading. The grades still come from the judge, "
    "outside student code, but a submission can harm the grading machine."
)
