"""Write one feedback page per student (grading/report/feedback/<id>.html).

Per test: passed, failed, not run or not submitted, points and the diagnostic message (never a
hidden test's source); the written answers' points and comments; any late penalty.
"""

from __future__ import annotations

import argparse

from autograder.commands.grade import add_db_argument, grading_paths
from autograder.feedback_pages import write_feedback


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_db_argument(parser)  # the written answers' points are read from it


def run(args: argparse.Namespace) -> int:
    try:
        pages = write_feedback(grading_paths(args))
    except FileNotFoundError as exc:
        print(f"feedback failed: {exc}")
        return 1
    print(f"wrote {len(pages)} feedback page(s) in grading/report/feedback/")
    return 0
