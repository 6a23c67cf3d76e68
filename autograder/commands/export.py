"""Write grading/grades.csv (per-notebook and per-function points and a status per student) and
the summary report grading/report/index.html with its plots."""

from __future__ import annotations

import argparse
from pathlib import Path

from autograder.reports import export


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--csv", type=Path, default=None, help="where to write the CSV")


def run(args: argparse.Namespace) -> int:
    try:
        csv_path, report = export(csv_path=args.csv)
    except FileNotFoundError as exc:
        print(f"export failed: {exc}")
        return 1
    print(f"wrote {csv_path} and {report}")
    return 0
