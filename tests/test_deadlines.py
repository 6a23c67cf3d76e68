"""Deadlines and late penalties: the rule, the submission time collect takes from the LMS, and
the penalty in the gradebook, grades.csv, the report, the feedback and the LMS upload."""

from __future__ import annotations

import csv
import json
import os
import zipfile
from datetime import datetime, timedelta, timezone

import pytest

from autograder.commands.demo import DEMO_LIMITS
from autograder.course import SOURCE_DIR
from autograder.deadlines import LatePolicy, PolicyError, load_policy
from autograder.feedback_pages import write_feedback
from autograder.grading import COURSE_ID, GradingPaths, grade_all
from autograder.reports import export_all
from autograder.submissions import collect
from tests.test_lms import NB, NOTEBOOK, gradescope_download

DEADLINE = datetime(2026, 12, 18, 23, 59, tzinfo=timezone(timedelta(hours=-8)))
POLICY = LatePolicy(DEADLINE, grace_minutes=15, percent_per_day=10, max_days=5)


def at(**delta: float) -> str:
    """An ISO time ``delta`` after the deadline."""
    return (DEADLINE + timedelta(**delta)).isoformat()


@pytest.mark.parametrize(
    ("submitted", "days", "fraction"),
    [
        (at(hours=-3), 0, 0.0),
        (at(minutes=15), 0, 0.0),  # within the grace
        (at(minutes=16), 1, 0.1),  # a minute after the grace: a part of a day counts as a day
        (at(days=1, minutes=15), 1, 0.1),
        (at(days=1, minutes=16), 2, 0.2),
        (at(days=5, minutes=15), 5, 0.5),
        (at(days=5, minutes=16), 6, 1.0),  # after max_days: nothing
        ("", 0, 0.0),  # no time known: not late
    ],
)
def test_the_late_rule(submitted, days, fraction):
    lateness = POLICY.lateness(submitted)
    assert (lateness.days, lateness.fraction) == (days, pytest.approx(fraction))


def test_no_deadline_means_nothing_is_late():
    assert LatePolicy().lateness(at(days=30)).days == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a2:\n  deadline: 2026-12-18T23:59:00\n", "needs its UTC offset"),
        ("a2:\n  deadline: next friday\n", "is not an ISO 8601 time"),
        ("a2:\n  deadline: 2026-12-18T23:59:00Z\n  late_penalty:\n    percent_per_day: -5\n",
         "percent_per_day must be a number >= 0"),
        ("a2: [unclosed\n", "is not valid YAML"),
    ],
)
def test_a_bad_course_config_says_what_to_change(tmp_path, text, message):
    config = tmp_path / "course.yml"
    config.write_text(text)
    with pytest.raises(PolicyError, match=message):
        load_policy(config)


def test_the_committed_config_sets_no_deadline():
    assert load_policy().deadline is None


def test_collect_takes_the_submission_time_from_the_lms(tmp_path):
    canvas = tmp_path / "canvas"
    canvas.mkdir()
    entry = zipfile.ZipInfo(f"doejane_LATE_1234_5678_{NB}.ipynb", (2026, 12, 20, 9, 30, 0))
    with zipfile.ZipFile(canvas / "submissions.zip", "w") as archive:
        archive.writestr(entry, NOTEBOOK)
    gradescope = gradescope_download(tmp_path / "gradescope")
    plain = tmp_path / "plain" / "zoe_park"
    plain.mkdir(parents=True)
    (plain / f"{NB}.ipynb").write_text(NOTEBOOK)
    when = datetime(2026, 12, 19, 12, 0, tzinfo=timezone.utc).timestamp()
    os.utime(plain / f"{NB}.ipynb", (when, when))
    paths = GradingPaths(tmp_path / "grading")
    times = {}
    for source in (canvas, gradescope, plain.parent):
        times.update({s: r.submitted_at for s, r in collect(source, paths).items()})
    assert times["doejane"] == "2026-12-20T09:30:00+00:00"  # the zip entry's time
    assert times["jane-doe"] == "2024-03-01T18:00:00+00:00"  # Gradescope's created_at
    assert times["zoe-park"] == "2026-12-19T12:00:00+00:00"  # the file's time
    manifest = json.loads((paths.root / "collected.json").read_text())["students"]
    assert manifest["doejane"]["submitted_at"] == times["doejane"]


def test_a_late_submission_loses_its_share_everywhere(tmp_path):
    download = tmp_path / "download" / "pat_doe"
    download.mkdir(parents=True)
    notebook = download / f"{NB}.ipynb"
    notebook.write_text((SOURCE_DIR / "a2" / f"{NB}.ipynb").read_text())
    late = (DEADLINE + timedelta(days=1, hours=2)).timestamp()  # 2 days charged: -20%
    os.utime(notebook, (late, late))
    paths = GradingPaths(tmp_path / "grading")
    collect(download.parent, paths)
    (result,) = grade_all(paths, limits=DEMO_LIMITS, policy=POLICY).values()
    assert (result.late, result.late_days, result.score) == (True, 2, 15)

    done = export_all(paths, policy=POLICY)
    (row,) = csv.DictReader(done.csv.open())
    assert (row["late_days"], row["late_penalty"], row["final_score"]) == ("2", "3", "12")
    assert ",12\n" in (paths.root / "grades-canvas.csv").read_text()  # the LMS gets the final
    assert "2 days late: -20%" in done.report.read_text()
    assert POLICY.describe() in done.report.read_text()
    (page,) = write_feedback(paths)
    assert "2 days late: -20% (3 points)" in page.read_text()

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{paths.course_dirs.gradebook}", COURSE_ID) as gb:
        submission = gb.find_submission("a2", result.student)
        penalties = {nb.name: nb.late_submission_penalty for nb in submission.notebooks}
        assert penalties[NB] == pytest.approx(3.0)  # where nbgrader's late plugins put it
        assert submission.late_submission_penalty == pytest.approx(3.0)

    # The deadline moves: the next `grade` recomputes lateness without regrading.
    moved = LatePolicy(DEADLINE + timedelta(days=7), percent_per_day=10)
    (result,) = grade_all(paths, limits=DEMO_LIMITS, policy=moved).values()
    assert (result.late, result.late_days) == (False, 0)
    with Gradebook(f"sqlite:///{paths.course_dirs.gradebook}", COURSE_ID) as gb:
        assert gb.find_submission("a2", result.student).late_submission_penalty == 0
