"""The attack catalogue, graded like any submission: nothing gained, everything flagged.

One batch (see ``course_grading`` in conftest.py) grades the honest submissions, records their
results, gradebook rows and files, then grades the 33 attacks of
``autograder/attack_catalogue.py`` with two workers. Each attack must score exactly what its
honest answers earn, be flagged or failed with the reason, end within its time limit, and leave
every other submission, the course gradebook's rows and the repository byte-for-byte unchanged.
"""

from __future__ import annotations

import subprocess

import pytest

from autograder.attack_catalogue import ATTACKS
from autograder.course import ROOT
from tests.conftest import (
    ATTACK_LIMITS_S,
    REPOSITORY_SKIP,
    file_digests,
    gradebook_rows,
    tree_digest,
)

# The most one submission of one notebook may take: the notebook run's budget, the re-check's
# budget, and set-up.
TIME_LIMIT_S = 2 * ATTACK_LIMITS_S["notebook_timeout_s"] + 30


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.student)
def test_attack_gains_nothing_and_is_flagged(course_grading, attack):
    result = course_grading["results"][attack.student]
    evidence = "\n".join([result.reason, *result.flags,
                          *(c.message for c in result.cells if not c.passed)])
    assert result.score == attack.honest_points, (
        f"{attack.student} scored {result.score}: "
        + "; ".join(f"{c.grade_id} {c.points}" for c in result.cells if c.points)
    )
    assert result.status == attack.status, result.reason
    assert attack.evidence in evidence, evidence
    assert result.seconds < TIME_LIMIT_S, f"took {result.seconds:.0f} s"
    assert result.sandbox == "bubblewrap"


def test_attacks_left_every_other_submission_unchanged(course_grading):
    paths, snapshot, honest = (course_grading[k] for k in ("paths", "snapshot", "honest"))
    for student, content in snapshot["results"].items():
        assert (paths.results / f"{student}.json").read_bytes() == content, student
    assert gradebook_rows(paths.course_dirs.gradebook, honest) == snapshot["gradebook"]
    for student in honest:
        assert tree_digest(paths.course_dirs.autograded / student) == (
            snapshot["autograded"][student]), student
        assert tree_digest(paths.submitted / student) == snapshot["submitted"][student], student
    assert not (paths.root / "PICKLE_RAN").exists()


def test_attacks_left_the_repository_and_the_machine_alone(course_grading):
    before, after = course_grading["repository"], file_digests(ROOT, skip=REPOSITORY_SKIP)
    changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    assert not changed, f"files of the repository changed while attacks were graded: {changed}"
    assert course_grading["canary"].connections == 0
    leftover = subprocess.run(["pgrep", "-f", str(course_grading["paths"].root / "results")],
                              capture_output=True, text=True)
    assert leftover.stdout.strip() == "", "a process outlived its sandbox"


def test_the_attack_notebooks_are_what_the_catalogue_says(course_grading):
    """Each attack really was collected as a submission (a typo would grade nothing)."""
    reports = course_grading["reports"]
    for attack in ATTACKS:
        assert attack.student in reports, attack.student
        assert attack.student in course_grading["results"]
