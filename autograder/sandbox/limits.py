"""Run a command under per-submission resource limits.

``python -m autograder.sandbox --memory-mb M --max-file-mb F --max-processes P --cpu-seconds C --
CMD`` sets the limits on itself, then *replaces itself* with CMD (``os.execvp``), so CMD and every
process it starts (nbgrader, and the Jupyter kernel that runs the student's code) inherit them:

* address space (``RLIMIT_AS``): a memory bomb gets a ``MemoryError`` instead of taking the machine;
* file size (``RLIMIT_FSIZE``): a submission cannot fill the disk;
* processes (``RLIMIT_NPROC``): no fork bombs (not enforced for root, which the kernel exempts);
* CPU seconds (``RLIMIT_CPU``): a last line of defence behind the wall-clock timeouts.

A separate launcher process (rather than ``preexec_fn``) keeps this safe to use from threads.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Per-submission limits. Wall-clock limits are enforced by the grader, the rest here."""

    cell_timeout_s: int = 120  # one cell (nbgrader's Execute.timeout)
    notebook_timeout_s: int = (
        300  # one notebook, on average: the whole submission gets N times this
    )
    memory_mb: int = 4096  # address space of nbgrader + kernel
    max_file_mb: int = 64  # largest file any of them may write
    max_processes: int = 512
    cpu_seconds: int = 3600

    def launcher(self) -> list[str]:
        """The command prefix that applies these limits to what follows it."""
        return [
            sys.executable,
            "-m",
            "autograder.sandbox",
            "--memory-mb",
            str(self.memory_mb),
            "--max-file-mb",
            str(self.max_file_mb),
            "--max-processes",
            str(self.max_processes),
            "--cpu-seconds",
            str(self.cpu_seconds),
            "--",
        ]


def _lower(limit: int, value: int) -> None:
    """Set a soft and hard limit, never above what is already allowed."""
    soft, hard = resource.getrlimit(limit)
    new = value if hard == resource.RLIM_INFINITY else min(value, hard)
    resource.setrlimit(limit, (new, new))


def apply_limits(memory_mb: int, max_file_mb: int, max_processes: int, cpu_seconds: int) -> None:
    _lower(resource.RLIMIT_AS, memory_mb * 1024 * 1024)
    _lower(resource.RLIMIT_FSIZE, max_file_mb * 1024 * 1024)
    _lower(resource.RLIMIT_NPROC, max_processes)
    _lower(resource.RLIMIT_CPU, cpu_seconds)
    # Writing past RLIMIT_FSIZE raises an OSError instead of killing the process silently.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m autograder.sandbox", description=__doc__)
    parser.add_argument("--memory-mb", type=int, required=True)
    parser.add_argument("--max-file-mb", type=int, required=True)
    parser.add_argument("--max-processes", type=int, required=True)
    parser.add_argument("--cpu-seconds", type=int, required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given after --")
    apply_limits(args.memory_mb, args.max_file_mb, args.max_processes, args.cpu_seconds)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
