"""Write grading/grades.csv (the LMS identity, per-notebook and per-function points and a status
per student), the LMS upload files beside it (grades-canvas.csv, grades-gradescope.csv,
grades-moodle.csv) and the summary report grading/report/index.html with its plots.

Only graded submissions get a score in the upload files; a missing or failed-to-grade one is left
blank, so the LMS keeps what it has, and is named below for a TA to grade by hand.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from autograder.commands.grade import add_db_argument, grading_paths
from autograder.reports import export_all


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_db_argument(parser)  # written answers' points and late penalties are read from it
    parser.add_argument("--csv", type=Path, default=None,
                        help="where to write grades.csv (the upload files go beside it)")
    parser.add_argument(
        "--canvas-assignment", default=None, metavar="ID_OR_TITLE",
        help="the Canvas assignment to fill: its id (the number in its address) or its column "
             "title as in a Canvas gradebook export, e.g. 'a2 (12345)'",
    )
    parser.add_argument(
        "--canvas-gradebook", type=Path, default=None, metavar="EXPORT.csv",
        help="a Canvas gradebook export (Grades > Export): fills in names, SIS ids and sections "
             "and finds the assignment's column",
    )
    parser.add_argument(
        "--moodle-worksheet", type=Path, default=None, metavar="WORKSHEET.csv",
        help="the grading worksheet downloaded from Moodle: grades-moodle.csv is that worksheet "
             "with the grades filled in",
    )


def run(args: argparse.Namespace) -> int:
    try:
        done = export_all(grading_paths(args), csv_path=args.csv,
                          canvas_assignment=args.canvas_assignment,
                          canvas_gradebook=args.canvas_gradebook,
                          moodle_worksheet=args.moodle_worksheet)
    except (FileNotFoundError, ValueError) as exc:
        print(f"export failed: {exc}")
        return 1
    print(f"wrote {done.csv} and {done.report}")
    print(f"LMS upload files: {', '.join(str(p) for p in done.uploads)}")
    for note in done.notes:
        print(f"  ! {note}")
    return 0
