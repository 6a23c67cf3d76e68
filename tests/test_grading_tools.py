"""The TA's side: collect, grade (parallel, sandboxed), export, feedback, on the bundled samples.

One session-scoped run grades every sample with two workers in a private grading folder; the tests
then check each sample's outcome, the files written, and that a second run reuses the results and
writes the same CSV.
"""

from __future__ import annotations

import csv
import html
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder import rubric
from autograder.commands.demo import DEMO_LIMITS
from autograder.course import ROOT
from autograder.grading import (
    GRADED,
    MISSING,
    POINTS_RULE,
    CellResult,
    GradingPaths,
    SubmissionResult,
    grade_all,
)
from autograder.reports import export, score_histogram, write_report
from autograder.samples import SAMPLES
from autograder.sandbox.limits import Limits
from autograder.submissions import collect, map_notebook, normalise_id, repair_duplicates
from tests.conftest import tree_digest

EXPECTED = {s.student: s for s in SAMPLES}


@pytest.fixture(scope="session")
def graded_samples(course_grading):
    """The samples' part of the one batch that grades every end-to-end case (conftest.py)."""
    return course_grading


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.student)
def test_sample_gets_its_expected_outcome(graded_samples, sample):
    result = graded_samples["results"][sample.student]
    assert result.status == sample.status, result.reason
    assert result.late == sample.late
    if sample.score is not None:
        assert result.score == sample.score, [c for c in result.cells if not c.passed]
    assert sample.reason in result.reason
    if sample.flag:
        assert any(sample.flag in flag for flag in result.flags), result.flags
    else:
        assert not result.flags, result.flags  # honest samples are never flagged
    if sample.status != "graded":
        assert result.reason, "a failed or missing submission must say why"


def test_originals_are_untouched(graded_samples):
    assert tree_digest(graded_samples["source"]) == graded_samples["before"]


def test_collect_reports_what_was_wrong(graded_samples):
    reports = graded_samples["reports"]
    assert "renamed" in reports["renamed"].notebooks["02_jacobian_free_gradients"]
    assert "appears 2 times" in reports["copied-cell"].notebooks["02_jacobian_free_gradients"]
    assert "deleted" in reports["deleted-test"].notebooks["02_jacobian_free_gradients"]
    assert reports["not-json"].malformed == ["02_jacobian_free_gradients"]
    assert all(status == "missing" for status in reports["nothing"].notebooks.values())


def test_csv_has_a_row_per_student_with_function_points(graded_samples):
    rows = list(csv.DictReader(graded_samples["csv"].open()))
    assert [r["student_id"] for r in rows] == sorted(graded_samples["results"])
    by_id = {r["student_id"]: r for r in rows}
    assert by_id["perfect"]["score"] == f"{EXPECTED['perfect'].score:g}" == f"{rubric.AUTO_TOTAL:g}"
    assert by_id["perfect"]["test_conv_forward_naive"] == "4"
    assert by_id["partial"]["test_matmul_backward"] == "0"
    assert by_id["partial"]["test_dropout_forward"] == "0"
    assert by_id["partial"]["02_jacobian_free_gradients"] == "12"
    assert by_id["nothing"]["status"] == "missing" and by_id["nothing"]["score"] == ""
    assert by_id["renamed"]["late"] == "yes"
    assert by_id["infinite-loop"]["status"] == "failed-to-grade"
    # The cell as JupyterLab numbers it (from 1) and its grade id; the test after it did not run.
    looping = f"cell {answer_cell_number('02_jacobian_free_gradients', 'relu_jacobian')} "
    assert f"timeout in {looping}('relu_jacobian')" in by_id["infinite-loop"]["reason"]
    assert by_id["infinite-loop"]["tests_not_run"] == "1"
    assert by_id["output-flood"]["tests_not_run"] == "0"  # flooded, but every test ran
    assert by_id["perfect"]["tests_not_run"] == "0" and by_id["nothing"]["tests_not_run"] == ""


def answer_cell_number(notebook: str, grade_id: str) -> int:
    """The 1-based number of a graded cell in the source notebook (the samples keep the order)."""
    cells = json.loads((ROOT / "solutions" / "a2" / f"{notebook}.ipynb").read_text())["cells"]
    return next(number for number, cell in enumerate(cells, start=1)
                if cell["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)


def test_failures_say_what_counts_and_how_to_regrade(graded_samples):
    report = graded_samples["report"].read_text()
    assert html.escape(POINTS_RULE) in report
    assert f"under: {DEMO_LIMITS.describe()}." in report  # the limits the samples had
    # The loop hit the time limits: the command raises them; a flood has no limit to raise.
    timeouts = (f"--cell-timeout {2 * DEMO_LIMITS.cell_timeout_s} "
                f"--notebook-timeout {2 * DEMO_LIMITS.notebook_timeout_s}")
    assert f"python -m autograder grade --student infinite-loop --force {timeouts}" in report
    assert "python -m autograder grade --student output-flood --force</code>" in report
    assert f"--memory-mb {2 * DEMO_LIMITS.memory_mb}" in report  # the memory bomb's


def test_feedback_says_not_submitted_and_not_run(graded_samples):
    pages = {p.stem: p.read_text() for p in graded_samples["pages"]}
    looping = answer_cell_number("02_jacobian_free_gradients", "relu_jacobian")
    page = pages["infinite-loop"]
    assert html.escape(f"not run: an earlier cell stopped the notebook (cell {looping} "
                       "('relu_jacobian') timed out)") in page
    assert "NameError" not in page
    assert "01_flat_backprop: not submitted (0 / " in page
    for name in rubric.POINTS:  # nothing handed in: every notebook says so
        assert f"{name}: not submitted" in pages["nothing"]


def test_grade_help_shows_the_limits_in_force():
    result = subprocess.run([sys.executable, "-m", "autograder", "grade", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert " ".join(Limits().describe().split()) in " ".join(result.stdout.split())


def test_report_and_feedback_pages(graded_samples):
    report = graded_samples["report"].read_text()
    assert "failed-to-grade" in report and "score_histogram.png" in report
    for png in ("score_histogram.png", "pass_rate.png"):
        assert (graded_samples["report"].parent / png).stat().st_size > 1000
    pages = {p.stem: p.read_text() for p in graded_samples["pages"]}
    assert set(pages) == set(graded_samples["results"])
    partial = pages["partial"]
    assert "test_matmul_backward" in partial and "failed" in partial
    assert "dw is wrong" in partial or "relative error" in partial
    hidden_source = [
        line.strip()
        for path in (ROOT / "autograder" / "judge").rglob("*.py")
        for line in path.read_text().splitlines()
        if len(line.strip()) > 30 and not line.strip().startswith(("#", '"', "'"))
    ]
    for page in pages.values():
        assert "BEGIN HIDDEN TESTS" not in page and "hand_in(" not in page
        leaked = [line for line in hidden_source if line in page]
        assert not leaked, leaked[:3]


def test_course_gradebook_has_the_merged_scores(graded_samples):
    from nbgrader.api import Gradebook

    paths = graded_samples["paths"]
    with Gradebook(f"sqlite:///{paths.course_dirs.gradebook}", "cs231kit") as gb:
        # The written answers of notebook 06 wait for a TA: they add nothing yet.
        assert gb.find_submission(rubric.ASSIGNMENT, "perfect").score == EXPECTED["perfect"].score
        assert gb.find_submission(rubric.ASSIGNMENT, "partial").score == EXPECTED["partial"].score
    assert (paths.course_dirs.autograded / "perfect" / rubric.ASSIGNMENT).is_dir()


def test_rerun_skips_unchanged_and_writes_the_same_csv(graded_samples):
    paths = graded_samples["paths"]
    first = graded_samples["csv"].read_bytes()
    skipped = []
    grade_all(paths, jobs=2, limits=DEMO_LIMITS, students=graded_samples["honest"],
              report=lambda r, s: skipped.append(s))
    assert skipped and all(skipped)
    csv_path, _ = export(paths)
    assert csv_path.read_bytes() == first


# --- collect: the parts that need no grading --------------------------------------------------


@pytest.mark.parametrize(
    ("name", "sid", "late"),
    [
        ("Jane Doe", "jane-doe", False),
        ("doejane_LATE_12345_67890_a2.zip", "doejane", True),
        ("smith_98765_a2_submission.zip", "smith", False),
        ("  Ünïcode Näme ", "n-code-n-me", False),
    ],
)
def test_student_ids_are_normalised(name, sid, late):
    assert normalise_id(name) == (sid, late)


def test_renamed_notebooks_map_only_when_unambiguous():
    expected = {"01_flat_backprop": {}, "02_jacobian_free_gradients": {}}
    assert map_notebook("02_jacobian_free_gradients (1).ipynb", None, expected) == (
        "02_jacobian_free_gradients"
    )
    assert map_notebook("Copy of 01_flat_backprop.ipynb", None, expected) == "01_flat_backprop"
    assert map_notebook("homework.ipynb", None, expected) is None


def test_duplicate_answer_cells_keep_the_last_copy():
    def cell(source, **meta):
        return {"cell_type": "code", "source": source,
                "metadata": {"nbgrader": {"grade_id": "f", **meta}}}

    answer = {"solution": True, "grade": False}
    nb = {"cells": [cell("old", **answer), cell("new", **answer)]}
    notes = repair_duplicates(nb)
    assert len(notes) == 1
    assert "nbgrader" not in nb["cells"][0]["metadata"]
    assert nb["cells"][1]["metadata"]["nbgrader"]["grade_id"] == "f"


def test_collect_rejects_a_bad_zip_without_stopping(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "broken_a2.zip").write_bytes(b"not a zip at all")
    with zipfile.ZipFile(src / "good_a2.zip", "w") as archive:
        archive.writestr("02_jacobian_free_gradients.ipynb", json.dumps({"cells": []}))
    reports = collect(src, GradingPaths(tmp_path / "grading"))
    assert any("not a valid zip" in p for p in reports["broken"].problems)
    assert reports["good"].notebooks["02_jacobian_free_gradients"] != "missing"


def test_cli_errors_are_clear(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "autograder", "collect", str(tmp_path / "nowhere")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1
    assert "is not a folder of student folders or zip files" in result.stdout


def run_cli(
    *args: str, grading_dir: Path, path: str | None = None
) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, "CS231KIT_GRADING_DIR": str(grading_dir)}
    if path is not None:
        env["PATH"] = path
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("grade", "no collected submissions"),
        ("export", "no grading results"),
        ("feedback", "no grading results"),
    ],
)
def test_commands_before_their_inputs_exist_say_what_to_run(tmp_path, command, message):
    result = run_cli(command, grading_dir=tmp_path / "grading")
    assert result.returncode == 1
    assert message in result.stdout and "python -m autograder" in result.stdout


def test_command_line_collect_grade_feedback_export(tmp_path):
    src = tmp_path / "src" / "Ada Lovelace"
    src.mkdir(parents=True)
    name = "02_jacobian_free_gradients.ipynb"
    (src / name).write_text((ROOT / "solutions" / "a2" / name).read_text())
    grading = tmp_path / "grading"
    for args in (("collect", str(src.parent)), ("grade", "--jobs", "1"), ("feedback",),
                 ("export",)):
        result = run_cli(*args, grading_dir=grading)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
    row = next(csv.DictReader((grading / "grades.csv").open()))
    assert (row["student_id"], row["status"], row["02_jacobian_free_gradients"]) == (
        "ada-lovelace", "graded", "15")
    assert (grading / "report" / "feedback" / "ada-lovelace.html").exists()
    assert (grading / "report" / "index.html").exists()


def test_grade_refuses_without_a_sandbox_unless_told_and_then_marks_every_grade(tmp_path):
    src = tmp_path / "src" / "ada"
    src.mkdir(parents=True)
    name = "02_jacobian_free_gradients.ipynb"
    (src / name).write_text((ROOT / "solutions" / "a2" / name).read_text())
    grading = tmp_path / "grading"
    assert run_cli("collect", str(src.parent), grading_dir=grading).returncode == 0
    no_bwrap = str(Path(sys.executable).parent)  # python and nbgrader, but no bubblewrap
    refused = run_cli("grade", "--jobs", "1", grading_dir=grading, path=no_bwrap)
    assert refused.returncode == 2, refused.stdout
    assert "bubblewrap (bwrap) is not installed" in refused.stdout
    assert "--unsafe-no-sandbox" in refused.stdout and "can read solutions/" in refused.stdout
    assert not (grading / "results").exists() or not list((grading / "results").iterdir())
    unsafe = run_cli("grade", "--jobs", "1", "--unsafe-no-sandbox", grading_dir=grading,
                     path=no_bwrap)
    assert unsafe.returncode == 0 and "WARNING: grading without a sandbox" in unsafe.stdout
    assert run_cli("export", grading_dir=grading).returncode == 0
    row = next(csv.DictReader((grading / "grades.csv").open()))
    assert (row["student_id"], row["02_jacobian_free_gradients"], row["sandbox"]) == (
        "ada", "15", "none")
    assert "unsandboxed" in (grading / "report" / "index.html").read_text()


def test_collect_lists_missing_notebooks_on_one_line_per_student(tmp_path):
    """One "missing" line per student naming every notebook not handed in, not one per notebook."""
    src = tmp_path / "src"
    name = "02_jacobian_free_gradients.ipynb"
    (src / "Ada Lovelace").mkdir(parents=True)
    (src / "Ada Lovelace" / name).write_text((ROOT / "solutions" / "a2" / name).read_text())
    (src / "Bob").mkdir()  # handed in nothing
    result = run_cli("collect", str(src), grading_dir=tmp_path / "grading")
    assert result.returncode == 0, result.stdout + result.stderr

    blocks: dict[str, list[str]] = {}  # student id -> the indented lines under its header
    for line in result.stdout.splitlines():
        if ": from " in line and not line.startswith(" "):
            student = line.split(":")[0]
            blocks[student] = []
        elif line.startswith(" ") and blocks:
            blocks[student].append(line.strip())
    others = [n for n in rubric.POINTS if n != name.removesuffix(".ipynb")]
    assert blocks["ada-lovelace"] == [f"- missing: {', '.join(others)}"]
    assert blocks["bob"] == [f"- missing: {', '.join(rubric.POINTS)}"]


def test_report_shows_the_grade_table_above_the_plots(tmp_path):
    results = {
        student: SubmissionResult(
            student, GRADED, cells=[CellResult("02_jacobian_free_gradients", "test_relu", p, 2.0)]
        )
        for student, p in (("ada", 2.0), ("bob", 0.0), ("cy", 2.0))
    }
    results["dee"] = SubmissionResult("dee", MISSING, reason="no notebooks")
    page = write_report(results, tmp_path / "report").read_text()
    assert page.index("<table") < page.index("<img"), "the grade table must come first"
    assert page.index("<td>dee</td>") < page.index("<img")


def test_score_histogram_counts_students_in_whole_numbers():
    import matplotlib.pyplot as plt

    figure = score_histogram([94.0, 100.0, 100.0])  # at most 2 per bin: matplotlib's default
    try:  # ticks would be 0, 0.25, 0.5, ...
        (ax,) = figure.axes
        figure.canvas.draw()
        low, high = ax.get_ylim()
        ticks = [t for t in ax.get_yticks() if low <= t <= high]
        assert len(ticks) >= 2
        assert all(float(t).is_integer() for t in ticks), ticks
    finally:
        plt.close(figure)


def test_release_command_help():
    result = subprocess.run([sys.executable, "-m", "autograder", "release", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "leak check" in result.stdout
