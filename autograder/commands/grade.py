"""Autograde the collected submissions with nbgrader, in parallel, each in its own sandbox.

One failing or runaway submission never stops the batch; unchanged submissions are skipped unless
--force. Every submission ends graded, failed-to-grade (with the reason) or missing.
"""

from __future__ import annotations

import argparse
import os

from autograder.grading import GradingPaths, SubmissionResult, grade_all
from autograder.sandbox import Limits

DEFAULTS = Limits()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=os.cpu_count() or 1,
        help="parallel workers (default: the number of CPUs)",
    )
    parser.add_argument("--force", action="store_true", help="regrade unchanged submissions too")
    parser.add_argument("--student", action="append", help="grade only this student (repeatable)")
    parser.add_argument(
        "--cell-timeout",
        type=int,
        default=DEFAULTS.cell_timeout_s,
        help="seconds one cell may run (default %(default)s)",
    )
    parser.add_argument(
        "--notebook-timeout",
        type=int,
        default=DEFAULTS.notebook_timeout_s,
        help="seconds one notebook may take on average (default %(default)s)",
    )
    parser.add_argument(
        "--memory-mb",
        type=int,
        default=DEFAULTS.memory_mb,
        help="memory per submission in MB (default %(default)s)",
    )
    parser.add_argument(
        "--max-file-mb",
        type=int,
        default=DEFAULTS.max_file_mb,
        help="largest file a submission may write (default %(default)s)",
    )


def limits_from(args: argparse.Namespace) -> Limits:
    return Limits(
        cell_timeout_s=args.cell_timeout,
        notebook_timeout_s=args.notebook_timeout,
        memory_mb=args.memory_mb,
        max_file_mb=args.max_file_mb,
    )


def progress_line(result: SubmissionResult, skipped: bool) -> None:
    what = "unchanged, skipped" if skipped else f"{result.seconds:.0f} s"
    reason = f" — {result.reason}" if result.reason else ""
    print(f"  {result.student}: {result.status} {result.score:g} ({what}){reason}", flush=True)


def run(args: argparse.Namespace) -> int:
    try:
        results = grade_all(
            GradingPaths(),
            jobs=args.jobs,
            force=args.force,
            limits=limits_from(args),
            students=args.student,
            report=progress_line,
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"grade failed: {exc}")
        return 1
    print(f"graded {len(results)} submission(s); results in grading/results/")
    return 0
