"""Collect an LMS download into grading/submitted/, adding to what was collected before.

SRC is the download as the LMS gave it, a folder or a .zip: Canvas "Download Submissions",
Moodle "Download all submissions", Gradescope "Export Submissions", or one folder / zip / notebook
per student. The format is detected and said. Student ids and notebook names are normalised, each
notebook is validated, safe repairs are made to the collected copy (never to the originals), and
the report says per student what was wrong, and every file skipped and every id renamed.

Collecting a second download adds its students. A student already collected keeps the earlier
submission unless --replace, which replaces the whole collection with SRC's students (collect the
other downloads again afterwards). A SRC that holds no submission changes nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from autograder.submissions import CollectError, Collection, collect

FORMATS = {
    "canvas": 'Canvas "Download Submissions"',
    "moodle": 'Moodle "Download all submissions"',
    "gradescope": 'Gradescope "Export Submissions" (submission_metadata.yml)',
    "folders": "one folder, zip or notebook per student (no LMS identity)",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "src", type=Path,
        help="the LMS download: a folder or a .zip (Canvas, Moodle, Gradescope, or one folder, "
             "zip or notebook per student)",
    )
    parser.add_argument(
        "--replace", action="store_true",
        help="replace the whole collection with SRC's students (default: add SRC's students; "
             "students already collected keep their earlier submission)",
    )


def _who(report: object) -> str:
    lms = getattr(report, "lms", {}) or {}
    kind = lms.get("lms", "")
    if kind == "canvas":
        return f" [Canvas user {lms['user_id']}]"
    if kind == "moodle":
        return f" [Moodle participant {lms['user_id']}: {lms['name']}]"
    if kind == "gradescope":
        details = ", ".join(filter(None, (lms.get("name"), lms.get("email"), lms.get("sis_id"))))
        return f" [Gradescope: {details}]"
    return ""


def print_report(reports: dict) -> None:
    """Print what a collect did: the format, then per student where the submission came from and
    what was wrong with it, then the lines about the download as a whole (renamings, skipped
    files).

    Notebooks the student did not hand in share one line (``- missing: 01_..., 03_...``), so that
    the problems worth reading (malformed, renamed, repaired notebooks) stand out.
    """
    if isinstance(reports, Collection) and reports.format:
        names = [FORMATS.get(part, part) for part in reports.format.split(" + ")]
        print(f"format: {' and '.join(names)}")
    for sid, report in reports.items():
        flags = " (late)" if report.late else ""
        status = getattr(report, "status", "added")
        print(f"{sid}{flags}: from {report.source}{_who(report)}")
        for problem in report.problems:
            print(f"    ! {problem}")
        if status != "added":
            continue  # its notebooks are the ones collected before, reported then
        missing = [n for n, s in report.notebooks.items() if s == "missing"]
        bad = {n: s for n, s in report.notebooks.items() if s not in ("ok", "missing")}
        for name, state in bad.items():
            print(f"    - {name}: {state}")
        if missing:
            print(f"    - missing: {', '.join(missing)}")
    for note in getattr(reports, "notes", []):
        print(note)


def summary(collection: Collection) -> str:
    """One line: what this collect changed and what the collection holds now."""
    counts: dict[str, int] = {}
    for report in collection.values():
        counts[report.status] = counts.get(report.status, 0) + 1
    parts = [f"{counts.get('added', 0)} added"]
    if counts.get("unchanged"):
        parts.append(f"{counts['unchanged']} unchanged")
    if counts.get("not collected"):
        parts.append(f"{counts['not collected']} not collected (already collected; see above)")
    return (f"collect: {', '.join(parts)}; grading/submitted/ now holds {collection.total} "
            "student(s)")


def run(args: argparse.Namespace) -> int:
    try:
        collection = collect(args.src, replace=args.replace)
    except (FileNotFoundError, CollectError) as exc:
        print(f"collect failed: {exc}\nNothing was changed.")
        return 1
    print_report(collection)
    if not collection:  # nothing in SRC: the notes said so
        return 1
    print(summary(collection))
    return 0
