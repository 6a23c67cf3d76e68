"""Grade the collected submissions, in parallel, each in its own sandbox; the judge decides.

One failing or runaway submission never stops the batch; unchanged submissions are skipped unless
--force. Every submission ends graded, failed-to-grade (with the reason) or missing, and any
flags for a TA are listed with it.
"""

from __future__ import annotations

import argparse
import os

from autograder.grading import POINTS_RULE, GradingPaths, SubmissionResult, grade_all
from autograder.sandbox.bubblewrap import UNPROTECTED, SandboxUnavailable
from autograder.sandbox.limits import Limits

DEFAULTS = Limits()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        f"Limits in force unless set here: {DEFAULTS.describe()}. {POINTS_RULE} "
        "Regrade one student: --student ID --force, with the limit it hit raised; the report "
        "gives the command for each failed-to-grade submission."
    )
    parser.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=os.cpu_count() or 1,
        help="parallel workers (default: the number of CPUs)",
    )
    parser.add_argument("--force", action="store_true", help="regrade unchanged submissions too")
    parser.add_argument("--student", action="append", help="grade only this student (repeatable)")
    limits = parser.add_argument_group("limits per submission")
    limits.add_argument(
        "--cell-timeout",
        type=int,
        default=DEFAULTS.cell_timeout_s,
        help="seconds one notebook cell may run (default %(default)s)",
    )
    limits.add_argument(
        "--notebook-timeout",
        type=int,
        default=DEFAULTS.notebook_timeout_s,
        help="seconds one notebook may take on average (default %(default)s)",
    )
    limits.add_argument(
        "--test-timeout",
        type=int,
        default=DEFAULTS.test_timeout_s,
        help="seconds one hidden test may take in the sandboxed re-check (default %(default)s)",
    )
    limits.add_argument(
        "--memory-mb",
        type=int,
        default=DEFAULTS.memory_mb,
        help="memory of each sandboxed process in MB (default %(default)s)",
    )
    limits.add_argument(
        "--max-file-mb",
        type=int,
        default=DEFAULTS.max_file_mb,
        help="largest file a submission may write (default %(default)s)",
    )
    limits.add_argument(
        "--max-processes",
        type=int,
        default=DEFAULTS.max_processes,
        help="processes and threads in one sandbox (default %(default)s)",
    )
    parser.add_argument(
        "--unsafe-no-sandbox",
        action="store_true",
        help="grade without bubblewrap (only where it cannot run); every grade is marked",
    )


def limits_from(args: argparse.Namespace) -> Limits:
    return Limits(
        cell_timeout_s=args.cell_timeout,
        notebook_timeout_s=args.notebook_timeout,
        test_timeout_s=args.test_timeout,
        memory_mb=args.memory_mb,
        max_file_mb=args.max_file_mb,
        max_processes=args.max_processes,
    )


def progress_line(result: SubmissionResult, skipped: bool) -> None:
    what = "unchanged, skipped" if skipped else f"{result.seconds:.0f} s"
    reason = f" — {result.reason}" if result.reason else ""
    flags = f" [{len(result.flags)} flag(s) to review]" if result.flags else ""
    print(f"  {result.student}: {result.status} {result.score:g} ({what}){reason}{flags}",
          flush=True)


def run(args: argparse.Namespace) -> int:
    if args.unsafe_no_sandbox:
        print(f"WARNING: grading without a sandbox. {UNPROTECTED}", flush=True)
    try:
        results = grade_all(
            GradingPaths(),
            jobs=args.jobs,
            force=args.force,
            limits=limits_from(args),
            students=args.student,
            report=progress_line,
            sandboxed=not args.unsafe_no_sandbox,
        )
    except SandboxUnavailable as exc:
        print(f"grade refused: {exc}\n\n{UNPROTECTED}\n\nTo grade anyway, without protection, "
              "run again with --unsafe-no-sandbox; every grade is then marked unsandboxed.")
        return 2
    except (FileNotFoundError, ValueError) as exc:
        print(f"grade failed: {exc}")
        return 1
    print(f"graded {len(results)} submission(s); results in grading/results/")
    return 0
