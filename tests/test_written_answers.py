"""Written answers: graded by a TA in nbgrader's formgrader, added to the judge's points,
kept across regrades while the answer is unchanged.

One module-scoped course: two students hand in notebook 02, graded sandboxed as usual. Then a real
formgrader server (``tests/formgrader_server.py``) takes the TA's scores and comments through the
REST calls its own page makes, headless Chromium renders its page and the report (screenshots go
to ``$CS231KIT_SCREENSHOTS``, default the test's temporary folder, and are printed), and
``export``, the report and the feedback pages are checked for the manual points.
"""

from __future__ import annotations

import csv
import html
import json
import os
from pathlib import Path

import pytest

from autograder import rubric
from autograder.commands.demo import DEMO_LIMITS
from autograder.course import RELEASE_DIR, SOURCE_DIR
from autograder.feedback_pages import write_feedback
from autograder.grading import GradingPaths, grade_all
from autograder.reports import export_all
from autograder.submissions import collect
from tests.formgrader_server import DevTools, Formgrader

NB = "02_jacobian_free_gradients"
QUESTIONS = rubric.MANUAL_POINTS[NB]  # grade_id -> points
FIRST, SECOND = list(QUESTIONS)[:2]


def answer(grade_id: str, version: int = 1) -> str:
    return f"*Your answer:*\n\nMy answer to {grade_id} (version {version}): shapes first."


def with_answers(notebook: dict, version: int = 1, only: str | None = None) -> dict:
    """The notebook with the student's own text in its written-answer cells."""
    for cell in notebook["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id in QUESTIONS and (only is None or grade_id == only):
            cell["source"] = answer(grade_id, version)
    return notebook


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> GradingPaths:
    root = tmp_path_factory.mktemp("written")
    download = root / "download"
    solution = json.loads((SOURCE_DIR / "a2" / f"{NB}.ipynb").read_text())
    release = json.loads((RELEASE_DIR / "a2" / f"{NB}.ipynb").read_text())
    for student, notebook in (("writer", with_answers(solution)), ("quiet", release)):
        (download / student).mkdir(parents=True)
        (download / student / f"{NB}.ipynb").write_text(json.dumps(notebook))
    paths = GradingPaths(root / "grading")
    collect(download, paths)
    grade_all(paths, jobs=2, limits=DEMO_LIMITS)
    return paths


def csv_rows(paths: GradingPaths) -> dict[str, dict[str, str]]:
    done = export_all(paths)
    return {row["student_id"]: row for row in csv.DictReader(done.csv.open())}


def screenshots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("CS231KIT_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_written_answers_graded_in_formgrader_count_and_survive_regrades(course, tmp_path):
    # Before any TA: every written answer of a handed-in notebook waits; the total is the judge's.
    rows = csv_rows(course)
    writer = rows["writer"]
    assert writer["written_ungraded"] == str(len(QUESTIONS)) and writer["written_score"] == "0"
    assert writer["score"] == "15" and writer["total"] == "15"
    assert writer["written_max"] == str(rubric.MANUAL_TOTAL)
    assert writer["total_max"] == str(rubric.AUTO_TOTAL + rubric.MANUAL_TOTAL)

    shots = screenshots(tmp_path)
    with Formgrader(course, tmp_path / "formgrader") as fg:
        notebooks = fg.api("GET", f"submitted_notebooks/a2/{NB}")
        (mine,) = [n for n in notebooks if n["student"] == "writer"]
        assert mine["needs_manual_grade"] and mine["max_written_score"] == sum(QUESTIONS.values())
        grades = {g["name"]: g for g in fg.api("GET", f"grades?submission_id={mine['id']}")}
        # The judge's tests are decided; only the written answers wait for a TA.
        assert {n for n, g in grades.items() if g["needs_manual_grade"]} == set(QUESTIONS)
        comments = {c["name"]: c for c in fg.api("GET", f"comments?submission_id={mine['id']}")}
        # The TA grades two answers and comments on one, as formgrader's page does.
        fg.api("PUT", f"grade/{grades[FIRST]['id']}", {"manual_score": QUESTIONS[FIRST]})
        fg.api("PUT", f"grade/{grades[SECOND]['id']}", {"manual_score": 0.5})
        fg.api("PUT", f"comment/{comments[FIRST]['id']}",
               {"manual_comment": "Right, and the arithmetic is shown."})
        page = f"{fg.url}/formgrader/submissions/{mine['id']}/"
        browser = DevTools(fg.token)
        try:
            browser.screenshot(page, shots / "formgrader-written-answer.png", FIRST)
            # formgrader's page shows the student's answer and what the TA gave
            shown = browser.evaluate(f"[document.getElementById('{FIRST}').value,"
                                     f" document.getElementById('{FIRST}-comment').value,"
                                     " document.body.innerText]")
        finally:
            browser.close()
    assert shown[:2] == [f"{QUESTIONS[FIRST]:g}", "Right, and the arithmetic is shown."]
    assert answer(FIRST).splitlines()[-1] in shown[2]
    print(f"\nformgrader screenshot: {shots / 'formgrader-written-answer.png'}")

    rows = csv_rows(course)
    given = QUESTIONS[FIRST] + 0.5
    writer = rows["writer"]
    assert writer["written_score"] == f"{given:g}"
    assert writer["written_ungraded"] == str(len(QUESTIONS) - 2)
    assert writer["total"] == f"{15 + given:g}"
    canvas = (course.root / "grades-canvas.csv").read_text()
    assert f",{15 + given:g}\n" in canvas  # the LMS gets the judge's and the TA's points
    report = (course.root / "report" / "index.html").read_text()
    assert f"{given:g} ({len(QUESTIONS) - 2} ungraded)" in report
    feedback = {p.stem: p.read_text() for p in write_feedback(course)}
    assert "Right, and the arithmetic is shown." in feedback["writer"]
    assert "not graded yet" in feedback["writer"]
    browser = DevTools()
    try:
        browser.screenshot((course.root / "report" / "index.html").as_uri(),
                           shots / "report-written-points.png", height=700, settle_s=0.5)
    finally:
        browser.close()
    print(f"report screenshot: {shots / 'report-written-points.png'}")
    for png in ("formgrader-written-answer.png", "report-written-points.png"):
        assert (shots / png).stat().st_size > 20_000  # a rendered page, not a blank one

    # A regrade keeps the TA's points; an answer the student changed needs grading again.
    grade_all(course, force=True, limits=DEMO_LIMITS, students=["writer"])
    assert csv_rows(course)["writer"]["written_score"] == f"{given:g}"
    submitted = course.submitted / "writer" / "a2" / f"{NB}.ipynb"
    notebook = json.loads(submitted.read_text())
    submitted.write_text(json.dumps(with_answers(notebook, version=2, only=SECOND)))
    grade_all(course, limits=DEMO_LIMITS, students=["writer"])
    writer = csv_rows(course)["writer"]
    assert writer["written_score"] == f"{QUESTIONS[FIRST]:g}"
    assert writer["written_ungraded"] == str(len(QUESTIONS) - 1)


def test_unanswered_questions_wait_for_a_ta_and_unsubmitted_ones_do_not(course):
    rows = csv_rows(course)
    quiet = rows["quiet"]
    # The stub answers of the handed-in notebook wait for a TA (who gives them 0); the questions
    # of the four notebooks never handed in score 0 with nothing to grade.
    assert quiet["score"] == "0" and quiet["written_ungraded"] == str(len(QUESTIONS))
    assert sum(map(len, rubric.MANUAL_POINTS.values())) > len(QUESTIONS)
    report = (course.root / "report" / "index.html").read_text()
    assert html.escape("Written answers still ungraded:") in report
