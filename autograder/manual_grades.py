"""Written answers: the points TAs give them in nbgrader's formgrader, kept across regrades.

The inline questions are nbgrader *manually graded answer cells* (``rubric.MANUAL_POINTS``; the
model answer and the rubric sit in the source notebook). ``grade`` creates each submission's
grades in the course gradebook; a TA scores the written answers in formgrader, which stores
``Grade.manual_score`` (and a comment) there. This module reads those scores for ``export``, the
report and the feedback, and carries them over when a submission is graded again: a regrade keeps
a TA's score as long as the student's answer is the same text, and asks for a new one otherwise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder import rubric

Key = tuple[str, str]  # (notebook, grade_id)


@dataclass(frozen=True)
class ManualGrade:
    """One written answer of one student: ``points`` None means not graded yet."""

    notebook: str
    grade_id: str
    max_points: float
    points: float | None
    comment: str = ""
    submitted: bool = True  # False: the notebook was not handed in (the answer scores 0)

    @property
    def score(self) -> float:
        return self.points or 0.0

    @property
    def ungraded(self) -> bool:
        return self.submitted and self.points is None


@dataclass(frozen=True)
class Saved:
    """What a TA gave one answer: kept when the answer has not changed."""

    manual_score: float | None
    extra_credit: float | None
    comment: str | None


def answers_in(folder: Path) -> dict[Key, str]:
    """The text of every written answer in the autograded notebooks under ``folder``."""
    answers = {}
    for name, cells in rubric.MANUAL_POINTS.items():
        path = folder / f"{name}.ipynb"
        if not path.exists():
            continue
        for cell in json.loads(path.read_text(encoding="utf-8")).get("cells", []):
            grade_id = (cell.get("metadata", {}).get("nbgrader") or {}).get("grade_id")
            if grade_id in cells:
                source = cell.get("source", "")
                answers[(name, grade_id)] = "".join(source) if isinstance(source, list) else source
    return answers


def save(gb: Any, assignment: str, student: str) -> dict[Key, Saved]:
    """The manual scores and comments a student's submission holds now (before it is replaced)."""
    from nbgrader.api import MissingEntry

    try:
        submission = gb.find_submission(assignment, student)
    except MissingEntry:
        return {}
    saved = {}
    for nb in submission.notebooks:
        comments = {c.name: c.manual_comment for c in nb.comments}
        for grade in nb.grades:
            if grade.name in rubric.MANUAL_POINTS.get(nb.name, {}):
                saved[(nb.name, grade.name)] = Saved(
                    grade.manual_score, grade.extra_credit, comments.get(grade.name)
                )
    return saved


def restore(submission: Any, saved: dict[Key, Saved], before: dict[Key, str],
            after: dict[Key, str]) -> None:
    """Put back what a TA gave each written answer whose text is unchanged (``before`` and
    ``after``: the answers of the old and the new autograded notebooks)."""
    for nb in submission.notebooks:
        comments = {c.name: c for c in nb.comments}
        for grade in nb.grades:
            key = (nb.name, grade.name)
            kept = saved.get(key)
            if kept is None or key not in after or before.get(key) != after[key]:
                continue
            grade.manual_score, grade.extra_credit = kept.manual_score, kept.extra_credit
            grade.needs_manual_grade = kept.manual_score is None
            if kept.comment is not None and grade.name in comments:
                comments[grade.name].manual_comment = kept.comment


def read(gradebook_url: str, students: list[str],
         submitted: dict[str, set[str]]) -> dict[str, list[ManualGrade]]:
    """Every student's written-answer grades, from the course gradebook.

    Inputs:
    - students: the students to read
    - submitted: student -> the notebooks they handed in (others' answers score 0, not ungraded)

    Returns student -> one ManualGrade per written answer of ``rubric.MANUAL_POINTS``.
    """
    from nbgrader.api import MissingEntry

    from autograder.gradebook import open_gradebook

    grades: dict[str, list[ManualGrade]] = {}
    with open_gradebook(gradebook_url) as gb:
        for student in students:
            try:
                submission = gb.find_submission(rubric.ASSIGNMENT, student)
            except MissingEntry:
                submission = None
            found: dict[Key, tuple[float | None, str]] = {}
            for nb in submission.notebooks if submission is not None else []:
                comments = {c.name: c.manual_comment or "" for c in nb.comments}
                for grade in nb.grades:
                    if grade.name in rubric.MANUAL_POINTS.get(nb.name, {}):
                        points = None if grade.manual_score is None else (
                            grade.manual_score + (grade.extra_credit or 0.0))
                        found[(nb.name, grade.name)] = (points, comments.get(grade.name, ""))
            grades[student] = [
                ManualGrade(name, grade_id, float(max_points),
                            *found.get((name, grade_id), (None, "")),
                            submitted=name in submitted.get(student, set()))
                for name, cells in rubric.MANUAL_POINTS.items()
                for grade_id, max_points in cells.items()
            ]
    return grades


def for_results(gradebook_url: str, results: dict[str, Any]) -> dict[str, list[ManualGrade]]:
    """:func:`read` for the students of ``results`` (student -> SubmissionResult); the notebooks
    each handed in are those with a test not marked "not submitted"."""
    sqlite_file = gradebook_url.removeprefix("sqlite:///")
    if sqlite_file != gradebook_url and not Path(sqlite_file).exists():
        return {}  # nothing graded here yet (and opening it would create an empty gradebook)
    submitted = {
        student: {c.notebook for c in result.cells if c.state != "not submitted"}
        for student, result in results.items()
    }
    return read(gradebook_url, sorted(results), submitted)


def written_score(grades: list[ManualGrade]) -> float:
    return sum(g.score for g in grades)


def ungraded(grades: list[ManualGrade]) -> list[ManualGrade]:
    return [g for g in grades if g.ungraded]
