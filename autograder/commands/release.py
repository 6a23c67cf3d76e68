"""Regenerate the student release (assignments/a2) from solutions/a2 and run the leak check."""

from __future__ import annotations

import argparse

from autograder.course import ROOT
from autograder.student_release import ReleaseError, generate_release


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-leak-check",
        action="store_true",
        help="skip the leak check (never for a release students will see)",
    )


def run(args: argparse.Namespace) -> int:
    try:
        notebooks = generate_release(check_leaks=not args.no_leak_check)
    except ReleaseError as exc:
        print(f"release failed: {exc}")
        return 1
    for path in notebooks:
        print(f"wrote {path.relative_to(ROOT)}")
    if not args.no_leak_check:
        print("leak check: no solution, hidden test or reference line in assignments/ or cs231kit/")
    return 0
