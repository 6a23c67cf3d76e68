"""Per-submission limits: time, memory, files, processes.

The wall-clock limits are enforced by the grader, which stops the sandbox; the others are
resource limits (``setrlimit``) that the sandbox and every process in it inherit:

* address space (``RLIMIT_AS``): a memory bomb gets a ``MemoryError`` instead of taking the machine;
* file size (``RLIMIT_FSIZE``): no single file larger than ``max_file_mb``;
* processes (``RLIMIT_NPROC``): no fork bombs. Linux never enforces it for root, which is why a
  root-started sandbox drops to a user of its own (see :mod:`autograder.sandbox.bubblewrap`).
  An ordinary user's sandboxes all run as that user; since Linux 5.14 the limit counts the tasks
  of a user *namespace*, so each sandbox sets it inside its own namespace and a fork bomb in one
  cannot starve another (:func:`process_limit_per_namespace`);
* CPU seconds (``RLIMIT_CPU``): a last line of defence behind the wall-clock timeouts.

The scratch areas a sandbox may write (``/tmp`` and its working directory) are in-memory file
systems of ``scratch_mb`` each, so a submission can fill neither the disk nor the memory.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Limits:
    """Per-submission limits (see the module docstring)."""

    cell_timeout_s: int = 120  # one notebook cell (nbgrader's Execute.timeout)
    notebook_timeout_s: int = 300  # one notebook on average: a submission gets N times this
    test_timeout_s: int = 120  # one hidden test in the sandboxed re-check
    memory_mb: int = 4096  # address space of each sandboxed process
    max_file_mb: int = 64  # largest file a sandbox may write
    max_processes: int = 256  # processes and threads in one sandbox
    cpu_seconds: int = 3600
    scratch_mb: int = 512  # each writable in-memory area of a sandbox
    threads: int = 0  # BLAS/OpenMP threads in the sandbox (0: the library's default)

    def describe(self) -> str:
        """The limits a TA sets on the command line, as ``grade --help`` names them."""
        return (f"cell {self.cell_timeout_s} s, notebook {self.notebook_timeout_s} s, "
                f"hidden test {self.test_timeout_s} s, memory {self.memory_mb} MB, "
                f"file {self.max_file_mb} MB, processes {self.max_processes}")

    def rlimits(self, processes: bool = True) -> dict[int, int]:
        """The resource limits to set, by ``resource.RLIMIT_*`` constant.

        ``processes=False`` leaves out the process limit (the sandbox sets it inside its own user
        namespace instead).
        """
        limits = {
            resource.RLIMIT_AS: self.memory_mb * 2**20,
            resource.RLIMIT_FSIZE: self.max_file_mb * 2**20,
            resource.RLIMIT_CPU: self.cpu_seconds,
        }
        if processes:
            limits[resource.RLIMIT_NPROC] = self.max_processes + _tasks_of(os.getuid())
        return limits

    def apply(self, processes: bool = True) -> None:
        """Set the limits on this process (lowering them only); its children inherit them."""
        for limit, value in self.rlimits(processes).items():
            _, hard = resource.getrlimit(limit)
            new = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(limit, (new, new))


def process_limit_per_namespace() -> bool:
    """Whether this Linux counts the process limit per user namespace (5.14 and later).

    Then a limit set inside a sandbox's own user namespace counts only that sandbox's tasks;
    before, it counted every task of the user, wherever it ran.
    """
    release = os.uname().release.split("-")[0].split(".")
    try:
        return (int(release[0]), int(release[1])) >= (5, 14)
    except (IndexError, ValueError):
        return False


def _tasks_of(uid: int) -> int:
    """Processes and threads ``uid`` runs now (0 for root, whose sandboxes get users of their own).

    Outside a user namespace Linux checks the process limit against *all* of a user's tasks, so
    a limit set there allows ``max_processes`` beyond what that user already runs.
    """
    if uid == 0:
        return 0
    count = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":", 1) for line in status.read_text().splitlines() if ":" in line
            )
        except OSError:
            continue
        if fields.get("Uid", "").split()[:1] == [str(uid)]:
            count += int(fields.get("Threads", "1").strip() or 1)
    return count
