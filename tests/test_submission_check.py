"""The students' pre-submission check, on notebooks built from the real release."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from autograder.course import RELEASE_DIR, SOURCE_DIR
from autograder.grading import GradingPaths
from autograder.submissions import collect
from cs231kit.submission import cell_checksum, check, main, run_notebook

NB = "02_jacobian_free_gradients"
RELEASE_NOTEBOOKS = sorted(p.stem for p in (RELEASE_DIR / "a2").glob("*.ipynb"))


def completed_release(name: str) -> dict:
    """The release notebook with every answer cell filled in from the solutions (a good student)."""
    release = json.loads((RELEASE_DIR / "a2" / f"{name}.ipynb").read_text())
    solution = json.loads((SOURCE_DIR / "a2" / f"{name}.ipynb").read_text())
    answers = {
        c["metadata"]["nbgrader"]["grade_id"]: c["source"]
        for c in solution["cells"]
        if c.get("metadata", {}).get("nbgrader", {}).get("solution")
    }
    for cell in release["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution"):
            cell["source"] = answers[meta["grade_id"]]
    return release


@pytest.fixture(autouse=True)
def as_a_student(monkeypatch):
    """The check skips itself while a grader runs the notebooks; tests run it as a student."""
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv("CS231KIT_GRADING", raising=False)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    work = tmp_path / "a2"
    work.mkdir()
    (work / f"{NB}.ipynb").write_text(json.dumps(completed_release(NB)))
    return work


def test_release_checksums_match_nbgraders():
    release = json.loads((RELEASE_DIR / "a2" / f"{NB}.ipynb").read_text())
    checked = 0
    for cell in release["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("checksum") and not meta.get("solution"):
            assert cell_checksum(cell) == meta["checksum"], meta["grade_id"]
            checked += 1
    assert checked >= 6


def test_a_finished_notebook_passes_and_is_zipped(folder, capsys):
    result = check(folder)  # runs the notebook in a real kernel
    assert result.ok, str(result)
    out = capsys.readouterr().out
    # A line as each notebook starts running and as it ends, before the summary.
    running = out.index(f"[1/1] {NB}.ipynb: running it in a fresh kernel...")
    ready = f"Ready to submit 1 of {len(RELEASE_NOTEBOOKS)}"
    assert running < out.index(f"[1/1] {NB}.ipynb: OK") < out.index(ready)
    assert "Wrote " in out and "(upload this file)" in out
    with zipfile.ZipFile(result.zip_path) as archive:
        assert archive.namelist() == [f"{NB}.ipynb"]


def test_the_zip_is_named_after_the_assignment_not_the_folder(tmp_path):
    work = tmp_path / "my work"
    work.mkdir()
    (work / f"{NB}.ipynb").write_text(json.dumps(completed_release(NB)))
    result = check(work, run=False, verbose=False)
    assert result.ok, str(result)
    assert result.zip_path == work / "a2_submission.zip"


def test_missing_notebooks_are_named(folder):
    result = check(folder, run=False, verbose=False)
    assert result.missing == [name for name in RELEASE_NOTEBOOKS if name != NB]
    assert "MISSING 05_conv_nets.ipynb: not in this folder" in str(result)


def test_a_deleted_test_cell_is_caught(folder):
    nb = json.loads((folder / f"{NB}.ipynb").read_text())
    nb["cells"] = [c for c in nb["cells"]
                   if c["metadata"].get("nbgrader", {}).get("grade_id") != "test_matmul_backward"]
    (folder / f"{NB}.ipynb").write_text(json.dumps(nb))
    result = check(folder, run=False, verbose=False)
    assert not result.ok
    (problem,) = result.notebooks[0].problems
    assert "graded cell 'test_matmul_backward' was deleted" in problem
    assert "came after graded cell 'matmul_backward_visible'" in problem


def test_stray_notebooks_are_flagged(folder):
    nb = (folder / f"{NB}.ipynb").read_text()
    (folder / f"{NB}_out.ipynb").write_text(nb)  # e.g. left behind by nbconvert --execute
    scratch = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    (folder / "scratch.ipynb").write_text(nbformat.writes(scratch))
    result = check(folder, run=False, verbose=False)
    problems = {r.name: " | ".join(r.problems) for r in result.notebooks}
    assert f"a copy of {NB}.ipynb" in problems[f"{NB}_out.ipynb"]
    assert "not a notebook of assignment a2" in problems["scratch.ipynb"]
    assert problems[f"{NB}.ipynb"] == ""
    assert not result.ok and result.zip_path is None


def test_not_ready_writes_no_zip_and_never_says_upload(folder, capsys):
    assert check(folder, run=False, verbose=False).ok  # an earlier, good check wrote a zip
    nb = json.loads((folder / f"{NB}.ipynb").read_text())
    answer = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("solution"))
    answer["source"] = "raise NotImplementedError()"
    (folder / f"{NB}.ipynb").write_text(json.dumps(nb))
    result = check(folder, run=False)
    out = capsys.readouterr().out
    assert not result.ok and result.zip_path is None
    assert "upload" not in out and "No zip was written" in out
    assert "a2_submission.zip is from an earlier check" in out


def test_the_zip_is_what_collect_accepts(folder, tmp_path):
    result = check(folder, run=False, verbose=False)
    src = tmp_path / "lms"
    src.mkdir()
    result.zip_path.rename(src / "student_a2.zip")
    reports = collect(src, GradingPaths(tmp_path / "grading"))
    assert reports["student"].notebooks[NB] == "ok"


def test_the_untouched_release_says_what_to_fill_in(tmp_path):
    (tmp_path / f"{NB}.ipynb").write_text((RELEASE_DIR / "a2" / f"{NB}.ipynb").read_text())
    result = check(tmp_path, run=False, verbose=False)
    assert not result.ok
    problems = result.notebooks[0].problems
    assert any("'relu_jacobian'" in p and "not filled in" in p for p in problems)


def test_written_answers_and_the_notebooks_a_notebook_loads_are_checked(tmp_path):
    """Notebook 06: its written answers (markdown cells a TA grades) must be written, and may be
    changed without counting as an edited test cell; the notebooks it loads must be there."""
    name = "06_batch_normalization"
    nb = completed_release(name)  # code answers filled in, written answers as released:
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution") and (
                cell["cell_type"] == "markdown"):
            cell["source"] = "*Your answer:*\n\nYOUR ANSWER HERE"
    (tmp_path / f"{name}.ipynb").write_text(json.dumps(nb))
    problems = " | ".join(check(tmp_path, run=False, verbose=False).notebooks[0].problems)
    for needed in ("03_modular_backprop.ipynb", "05_conv_nets.ipynb"):
        assert f"loads your definitions from {needed}" in problems
    assert "written answer 'bn_graph_answer'" in problems and "YOUR ANSWER HERE" in problems
    assert "answer cell 'batchnorm_forward'" not in problems

    for needed in ("03_modular_backprop", "05_conv_nets"):
        (tmp_path / f"{needed}.ipynb").write_text(json.dumps(completed_release(needed)))
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and cell["cell_type"] == "markdown":
            cell["source"] = "*Your answer:* the statistics come from the mini-batch."
    (tmp_path / f"{name}.ipynb").write_text(json.dumps(nb))
    result = check(tmp_path, run=False, verbose=False)
    assert result.ok, str(result)


def test_edited_test_cell_copied_cell_and_broken_json_are_reported(folder):
    nb = json.loads((folder / f"{NB}.ipynb").read_text())
    test_cell = next(c for c in nb["cells"]
                     if c.get("metadata", {}).get("nbgrader", {}).get("grade"))
    test_cell["source"] = "pass"
    answer = next(c for c in nb["cells"]
                  if c.get("metadata", {}).get("nbgrader", {}).get("solution"))
    nb["cells"].append(json.loads(json.dumps(answer)))
    (folder / f"{NB}.ipynb").write_text(json.dumps(nb))
    (folder / "01_flat_backprop.ipynb").write_text("{ not json")
    result = check(folder, run=False, verbose=False)
    problems = {r.name: " | ".join(r.problems) for r in result.notebooks}
    assert "was edited" in problems[f"{NB}.ipynb"]
    assert "is a copy of graded cell" in problems[f"{NB}.ipynb"]
    assert "not a readable notebook" in problems["01_flat_backprop.ipynb"]


def test_failing_visible_test_is_reported(folder):
    nb = json.loads((folder / f"{NB}.ipynb").read_text())
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "relu_jacobian":
            cell["source"] = "def relu_jacobian(x):\n    return np.eye(x.shape[0])\n"
    (folder / f"{NB}.ipynb").write_text(json.dumps(nb))
    result = check(folder, verbose=False)
    assert not result.ok
    assert any("relu_jacobian_visible" in p for p in result.notebooks[0].problems)


def test_command_line_exit_codes(folder):
    assert main([str(folder), "--no-run"]) == 0
    (folder / f"{NB}.ipynb").write_text("{")
    assert main([str(folder), "--no-run"]) == 1


def test_the_check_skips_itself_while_grading(folder, monkeypatch, capsys):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    result = check(folder)
    assert result.notebooks == [] and result.zip_path is None
    assert "skipped" in capsys.readouterr().out
    assert not list(folder.glob("*.zip"))


# ---------------------------------------------------------------------- run mode inside the check

# The source of a graded cell that records the run mode it sees (in mode.txt beside the notebook)
# and fails unless that mode is grading: the check's promise is short budgets, whatever the
# student's own session uses.
MODE_PROBE = """\
from pathlib import Path

from cs231kit.run_mode import budget, describe_mode, grading_mode

Path("mode.txt").write_text(describe_mode() + "\\n" + budget(full="full", grading="grading"))
assert grading_mode(), describe_mode()
"""


def write_mode_probe(folder: Path, name: str = "01_mode_probe.ipynb") -> Path:
    """A tiny stand-in for a course notebook: one graded (locked test) cell, MODE_PROBE.

    Returns the path of the notebook written into ``folder``.
    """
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(MODE_PROBE)
    cell.metadata["nbgrader"] = {
        "grade": False, "grade_id": "mode_probe", "locked": True, "schema_version": 3,
        "solution": False,
    }
    nb.cells.append(cell)
    path = folder / name
    nbformat.write(nb, path)
    return path


def test_the_check_runs_notebooks_on_grading_budgets_even_in_full_mode(tmp_path, monkeypatch):
    """CS231KIT_FULL=1 in the caller's environment must not reach the notebooks the check runs."""
    monkeypatch.setenv("CS231KIT_FULL", "1")
    probe = write_mode_probe(tmp_path)
    failures = run_notebook(probe, timeout=120)  # a real kernel
    assert failures == []
    mode, chosen = (tmp_path / "mode.txt").read_text().splitlines()
    assert mode.startswith("cs231kit run mode: grading") and chosen == "grading"
    assert os.environ["CS231KIT_FULL"] == "1"  # the caller's environment is left as it was


def test_notebook_05s_last_cell_in_full_mode_checks_on_grading_budgets(tmp_path, monkeypatch):
    """Notebook 05's own last cell, run in a kernel started with CS231KIT_FULL=1, CI-sized.

    The folder holds tiny stand-ins for the course notebooks (MODE_PROBE), so the check's
    re-runs take seconds; in full mode the probes would fail and the check would say FIX.
    """
    release = nbformat.read(RELEASE_DIR / "a2" / "05_conv_nets.ipynb", as_version=4)
    last = [c for c in release.cells if c.cell_type == "code"][-1]
    assert "check(" in last.source, "notebook 05 no longer ends with the pre-submission check"
    write_mode_probe(tmp_path, "01_mode_probe.ipynb")
    write_mode_probe(tmp_path, "02_mode_probe.ipynb")

    monkeypatch.setenv("CS231KIT_FULL", "1")  # the kernel inherits it, as in a full-mode session
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(last.source)])
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()

    printed = "".join(out.get("text", "") for out in nb.cells[0].outputs)
    assert "Ready to submit." in printed, printed
    assert "FIX" not in printed, printed
    assert (tmp_path / "mode.txt").read_text().startswith("cs231kit run mode: grading")
    assert (tmp_path / "a2_submission.zip").is_file()
