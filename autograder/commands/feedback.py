"""Write one feedback page per student (grading/report/feedback/<id>.html).

Per test: passed or failed, points and the diagnostic message; never a hidden test's source.
"""

from __future__ import annotations

import argparse

from autograder.feedback_pages import write_feedback


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options


def run(args: argparse.Namespace) -> int:
    try:
        pages = write_feedback()
    except FileNotFoundError as exc:
        print(f"feedback failed: {exc}")
        return 1
    print(f"wrote {len(pages)} feedback page(s) in grading/report/feedback/")
    return 0
