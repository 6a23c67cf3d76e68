"""Regenerate the student release (assignments/a2) from solutions/a2, run the leak check, and
build the student bundle (dist/a2-student.zip: notebooks, library wheel, README, data script)."""

from __future__ import annotations

import argparse

from autograder.course import ROOT
from autograder.student_bundle import BundleError, build_bundle
from autograder.student_release import ReleaseError, generate_release


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-leak-check",
        action="store_true",
        help="skip the leak check (never for a release students will see)",
    )
    parser.add_argument(
        "--no-bundle", action="store_true", help="do not build dist/a2-student.zip"
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
    if args.no_bundle:
        return 0
    try:
        bundle = build_bundle()
    except BundleError as exc:
        print(f"student bundle failed: {exc}")
        return 1
    print(f"wrote {bundle.relative_to(ROOT)} (checked: no instructor file, no secret line); "
          "give it to the students")
    return 0
