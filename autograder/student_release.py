"""Regenerate the student release (``assignments/``) from the instructor's ``solutions/``.

One command does it all: check the rubric against the notebooks, run nbgrader's
``generate_assignment``, put the Google Colab cell first and describe the assignment in each
notebook, then run the leak check on the result. The release is committed, and a
test proves that regenerating it reproduces the committed files exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

from autograder import rubric
from autograder.course import (
    ASSIGNMENT,
    COLAB_CELL,
    COLAB_CELL_ID,
    SOURCE_DIR,
    CourseDirs,
    run_nbgrader,
)
from autograder.leak_check import find_leaks, format_leaks


class ReleaseError(RuntimeError):
    """The release could not be generated, or it leaks; the message says what to fix."""


def notebook_points(notebook: Path, manual: bool = False) -> dict[str, float]:
    """grade_id -> points of every autograded test cell of a notebook, or with ``manual`` of
    every manually graded cell (a written answer: ``solution`` and ``grade``; or a task)."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    points = {}
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        graded_by_hand = bool(meta.get("task") or (meta.get("grade") and meta.get("solution")))
        autograded = bool(meta.get("grade") and not meta.get("solution"))
        if graded_by_hand if manual else autograded:
            points[meta["grade_id"]] = meta.get("points", 0)
    return points


def rubric_mismatches(source_dir: Path = SOURCE_DIR) -> list[str]:
    """Differences between autograder/rubric.py and the source notebooks' points: test cells
    against ``POINTS``, manually graded cells against ``MANUAL_POINTS``."""
    problems = []
    folder = source_dir / rubric.ASSIGNMENT
    found = {p.stem for p in folder.glob("*.ipynb")}
    for name in sorted(set(rubric.POINTS) - found):
        problems.append(f"{name}.ipynb is in the rubric but not in {folder}")
    for name in sorted(found - set(rubric.POINTS)):
        problems.append(f"{name}.ipynb is in {folder} but not in autograder/rubric.py")
    for name in sorted(found & set(rubric.POINTS)):
        for manual, table, what, where in (
            (False, rubric.POINTS, "test cell", "POINTS"),
            (True, rubric.MANUAL_POINTS, "manually graded cell", "MANUAL_POINTS"),
        ):
            have = notebook_points(folder / f"{name}.ipynb", manual=manual)
            want = table.get(name, {})
            for grade_id in sorted(set(have) | set(want)):
                if have.get(grade_id) != want.get(grade_id):
                    problems.append(
                        f"{name}: {what} {grade_id!r} has {have.get(grade_id)} points in the "
                        f"notebook but {want.get(grade_id)} in autograder/rubric.py {where}"
                    )
    return problems


def add_colab_cell(notebooks: list[Path]) -> None:
    """Make :data:`~autograder.course.COLAB_CELL` the first code cell of each release notebook.

    It is an ordinary cell (no nbgrader metadata): off Colab, the grader's run included, it does
    nothing.
    """
    for path in notebooks:
        notebook = nbformat.read(path, as_version=nbformat.NO_CONVERT)
        first_code = next(i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code")
        cell = nbformat.v4.new_code_cell(COLAB_CELL)
        cell.id = COLAB_CELL_ID
        notebook.cells.insert(first_code, cell)
        nbformat.write(notebook, path)


def describe_assignment(notebooks: list[Path]) -> None:
    """Write into each release notebook what the students' pre-submission check compares with.

    ``metadata.cs231kit`` holds the assignment, the notebook's own name, every notebook of the
    assignment, and the notebook's graded cells (answer and test cells, in order): with these the
    check finds deleted graded cells, stray copies of a notebook and missing notebooks, the way
    ``collect`` does with the release beside it (the student has only their own copy).
    """
    names = [path.stem for path in notebooks]
    for path in notebooks:
        notebook = nbformat.read(path, as_version=nbformat.NO_CONVERT)
        notebook.metadata["cs231kit"] = {
            "assignment": ASSIGNMENT,
            "notebook": path.stem,
            "notebooks": names,
            "graded_cells": [
                cell.metadata.nbgrader.grade_id
                for cell in notebook.cells
                if cell.metadata.get("nbgrader", {}).get("grade_id")
            ],
        }
        nbformat.write(notebook, path)


def generate_release(dirs: CourseDirs | None = None, *, check_leaks: bool = True) -> list[Path]:
    """Write ``<release>/a2/*.ipynb`` from ``solutions/a2``; return the notebooks written."""
    dirs = dirs or CourseDirs()
    problems = rubric_mismatches()
    if problems:
        raise ReleaseError("the rubric and the notebooks disagree:\n  " + "\n  ".join(problems))
    run_nbgrader(["generate_assignment", ASSIGNMENT, "--force"], dirs, timeout=600)
    notebooks = sorted((dirs.release / ASSIGNMENT).glob("*.ipynb"))
    add_colab_cell(notebooks)
    describe_assignment(notebooks)
    if check_leaks:
        leaks = find_leaks(release_dir=dirs.release)
        if leaks:
            raise ReleaseError(
                f"{len(leaks)} solution/hidden-test/reference line(s) found in what students "
                f"receive:\n{format_leaks(leaks)}"
            )
    return notebooks
