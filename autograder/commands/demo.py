"""The TA workflow end to end on the bundled samples: release, collect, grade, export, feedback.

Prints the grade table with each sample's expected outcome and exits non-zero if any differs.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from autograder.commands.collect import print_report
from autograder.course import ROOT
from autograder.feedback_pages import write_feedback
from autograder.grading import MISSING, GradingPaths, grade_all
from autograder.progress import Progress
from autograder.reports import export
from autograder.samples import SAMPLES, build_samples
from autograder.sandbox.limits import Limits
from autograder.student_release import ReleaseError, generate_release
from autograder.submissions import collect

# Short limits keep the runaway samples quick; honest notebooks need far less than a minute a cell.
DEMO_LIMITS = Limits(cell_timeout_s=60, notebook_timeout_s=240, memory_mb=3072, max_file_mb=64)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="parallel workers (default %(default)s)",
    )
    parser.add_argument("--force", action="store_true", help="regrade unchanged samples too")


def run(args: argparse.Namespace) -> int:
    paths = GradingPaths()
    print("1. release: regenerate assignments/a2 from solutions/a2 and run the leak check")
    try:
        generate_release()
    except ReleaseError as exc:
        print(f"release failed: {exc}")
        return 1
    print("2. collect the bundled samples")
    source = build_samples(paths.root / "samples", grading=paths.root)
    print_report(collect(source, paths))
    print(
        f"3. grade with {args.jobs} worker(s) under the demo's shorter limits, so that the "
        f"runaway samples stop sooner:\n   {DEMO_LIMITS.describe()}\n   (`grade` defaults, "
        f"shown by `python -m autograder grade --help`: {Limits().describe()})"
    )
    progress = Progress()
    try:
        results = grade_all(
            paths, jobs=args.jobs, force=args.force, limits=DEMO_LIMITS, report=progress
        )
    finally:
        progress.close()
    csv_path, report = export(paths)
    pages = write_feedback(paths)
    print("4. results\n")
    print(f"{'student':<26}{'status':<17}{'score':>6}  {'late':<5}{'flags':>5}  "
          f"{'as expected':<12}reason, or the first flag")
    mismatches = 0
    for sample in SAMPLES:
        result = results[sample.student]
        score = "" if result.status == MISSING else f"{result.score:g}"
        ok = (
            result.status == sample.status
            and result.late == sample.late
            and (sample.score is None or result.score == sample.score)
            and sample.reason in result.reason
            and (any(sample.flag in flag for flag in result.flags) if sample.flag else True)
        )
        mismatches += not ok
        why = result.reason or next((f for f in result.flags if sample.flag in f), "")
        print(
            f"{sample.student:<26}{result.status:<17}{score:>6}  {'late' if result.late else '':<5}"
            f"{len(result.flags):>5}  {'yes' if ok else 'NO':<12}{why[:80]}"
        )
    print(
        f"\nCSV: {_shown(csv_path)}\nreport: {_shown(report)}\n"
        f"feedback: {len(pages)} pages in {_shown(pages[0].parent)}/"
    )
    if mismatches:
        print(f"{mismatches} sample(s) did not get their expected outcome")
    return 1 if mismatches else 0


def _shown(path: Path) -> Path:
    """The path from the repository root, or whole when $CS231KIT_GRADING_DIR is elsewhere."""
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
