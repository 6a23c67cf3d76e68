"""Collect a folder of per-student folders or LMS zip files into grading/submitted/.

Student ids and notebook names are normalised, each notebook is validated, safe repairs are made to
the collected copy (never to the originals), and a report says per student what was wrong.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from autograder.submissions import collect


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", type=Path, help="folder with one folder or .zip per student")


def print_report(reports: dict) -> None:
    """Print, per student, where the submission came from and what was wrong with it.

    Notebooks the student did not hand in share one line (``- missing: 01_..., 03_...``), so that
    the problems worth reading (malformed, renamed, repaired notebooks) stand out.
    """
    for sid, report in reports.items():
        missing = [n for n, s in report.notebooks.items() if s == "missing"]
        bad = {n: s for n, s in report.notebooks.items() if s not in ("ok", "missing")}
        flags = " (late)" if report.late else ""
        print(f"{sid}{flags}: from {report.source}")
        for problem in report.problems:
            print(f"    ! {problem}")
        for name, status in bad.items():
            print(f"    - {name}: {status}")
        if missing:
            print(f"    - missing: {', '.join(missing)}")


def run(args: argparse.Namespace) -> int:
    try:
        reports = collect(args.src)
    except FileNotFoundError as exc:
        print(f"collect failed: {exc}")
        return 1
    print_report(reports)
    print(f"collected {len(reports)} submission(s) into grading/submitted/")
    return 0
