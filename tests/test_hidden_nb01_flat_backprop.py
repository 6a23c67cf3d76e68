"""Notebook 01 (flat backprop): hidden checks, visible tests and mutants, checked without nbgrader.

* The solution notebook's own answers pass every hidden check, for random seeds too.
* Every mutant of ``tests/mutants/nb01_flat_backprop.py`` fails its own check and no other one,
  alone and with one mutant per function in the same notebook namespace.
* The visible test cells pass on the solution and catch at least one mutant per function.
* The notebook's cells carry the nbgrader metadata and points of ``autograder/rubric.py``.
"""

from __future__ import annotations

import json
import re
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.hidden_tests import nb01_flat_backprop as hidden
from autograder.hidden_tests.harness import CheckFailure, run_case
from autograder.rubric import POINTS
from cs231kit.notebook import load_definitions
from tests.mutants.nb01_flat_backprop import MUTANTS

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "solutions" / "a2" / "01_flat_backprop.ipynb"
RUBRIC = POINTS["01_flat_backprop"]
# grade_id of each test cell -> the graded function (= grade_id of its answer cell)
FUNCTIONS = {test_id: test_id.removeprefix("test_") for test_id in RUBRIC}


def fresh_solution() -> types.ModuleType:
    """The solution notebook's definitions in a new module (one notebook namespace)."""
    return load_definitions(NOTEBOOK)


def with_mutants(*sources: str) -> types.ModuleType:
    """A fresh notebook namespace in which each mutant's cell source replaced the answer cell."""
    module = fresh_solution()
    for source in sources:
        exec(compile(source, "<mutant>", "exec"), module.__dict__)
    return module


def failures(module: types.ModuleType) -> dict[str, str]:
    """test_id -> CheckFailure message for every hidden check the module's functions fail."""
    failed = {}
    with np.errstate(all="ignore"):  # wrong variants may overflow; that is their failure
        for test_id, function in FUNCTIONS.items():
            try:
                hidden.check(test_id, getattr(module, function))
            except CheckFailure as error:
                failed[test_id] = str(error)
    return failed


def notebook_cells() -> list[dict[str, Any]]:
    return json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]


def cell_source(cell: dict[str, Any]) -> str:
    source = cell["source"]
    return "".join(source) if isinstance(source, list) else source


def cell_by_id(cell_id: str) -> dict[str, Any]:
    matches = [cell for cell in notebook_cells() if cell.get("id") == cell_id]
    assert len(matches) == 1, f"expected one cell with id {cell_id!r}, found {len(matches)}"
    return matches[0]


# ---------------------------------------------------------------------------------------------
# The solution passes the hidden checks
# ---------------------------------------------------------------------------------------------


def test_every_rubric_test_has_hidden_cases() -> None:
    assert set(hidden.CASES) == set(RUBRIC)
    assert all(hidden.CASES[test_id] for test_id in RUBRIC)


@pytest.mark.parametrize("test_id", sorted(RUBRIC))
def test_solution_passes_hidden_check(test_id: str) -> None:
    hidden.check(test_id, getattr(fresh_solution(), FUNCTIONS[test_id]))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_solution_passes_every_case_for_random_seeds(seed: int) -> None:
    solution = fresh_solution()
    for test_id, cases in hidden.CASES.items():
        student = getattr(solution, FUNCTIONS[test_id])
        for case in cases:
            assert run_case(case, student, seed) is None


def test_unknown_test_id_is_a_clear_error() -> None:
    with pytest.raises(KeyError, match="no hidden tests named"):
        hidden.check("test_nothing", print)


def test_check_reports_a_missing_implementation() -> None:
    def sigmoid_circuit(w: Any, x: Any) -> Any:
        raise NotImplementedError()

    with pytest.raises(CheckFailure, match="not implemented yet"):
        hidden.check("test_sigmoid_circuit", sigmoid_circuit)


# ---------------------------------------------------------------------------------------------
# The mutant catalogue
# ---------------------------------------------------------------------------------------------


def test_catalogue_has_three_mutants_per_graded_function() -> None:
    for test_id, function in FUNCTIONS.items():
        mine = [m for m in MUTANTS if m.answer == function]
        assert len(mine) >= 3, f"{function} has only {len(mine)} mutants"
        assert all(m.loses == test_id for m in mine)


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: f"{m.answer}: {m.name}")
def test_mutant_loses_only_its_own_points(mutant: Any) -> None:
    assert "BEGIN SOLUTION" not in mutant.source
    failed = failures(with_mutants(mutant.source))
    assert set(failed) == {mutant.loses}, f"failed checks: {sorted(failed)}"


def test_one_mutant_per_function_in_one_notebook() -> None:
    for round_ in range(3):
        chosen = {}
        for mutant in MUTANTS:
            mine = [m for m in MUTANTS if m.answer == mutant.answer]
            chosen[mutant.answer] = mine[round_ % len(mine)]
        failed = failures(with_mutants(*(m.source for m in chosen.values())))
        assert set(failed) == set(RUBRIC), f"round {round_}: failed only {sorted(failed)}"


def test_failure_messages_name_the_case() -> None:
    # The ">=" mutant differs from the answer only exactly at the threshold.
    mutant = next(m for m in MUTANTS if m.name.startswith(">="))
    message = failures(with_mutants(mutant.source))["test_should_abort"]
    assert "exactly at the threshold" in message
    # Softmax without the max shift: the large-score cases report NaN/inf.
    mutant = next(m for m in MUTANTS if m.name.startswith("no max shift"))
    message = failures(with_mutants(mutant.source))["test_softmax_loss_vectorized"]
    assert "1e4" in message and "NaN or inf" in message


# ---------------------------------------------------------------------------------------------
# Visible test cells
# ---------------------------------------------------------------------------------------------


def setup_namespace(*mutant_sources: str) -> dict[str, Any]:
    """Run the notebook's setup cell (IPython magics dropped), then the answers (or mutants)."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    setup = re.sub(r"(?m)^%.*$", "", cell_source(cell_by_id("setup")))
    exec(compile(setup, "<setup>", "exec"), namespace)
    for function in FUNCTIONS.values():
        exec(compile(cell_source(cell_by_id(function)), function, "exec"), namespace)
    for source in mutant_sources:
        exec(compile(source, "<mutant>", "exec"), namespace)
    return namespace


def run_visible(function: str, namespace: dict[str, Any]) -> None:
    source = cell_source(cell_by_id(f"{function}_visible"))
    exec(compile(source, f"{function}_visible", "exec"), namespace)


@pytest.mark.parametrize("function", sorted(FUNCTIONS.values()))
def test_visible_cell_passes_on_the_solution(
    function: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run_visible(function, setup_namespace())
    assert f"{function}: visible tests passed" in capsys.readouterr().out


@pytest.mark.parametrize("function", sorted(FUNCTIONS.values()))
def test_visible_cell_catches_some_mutants(function: str) -> None:
    caught = []
    for mutant in (m for m in MUTANTS if m.answer == function):
        try:
            with np.errstate(all="ignore"):
                run_visible(function, setup_namespace(mutant.source))
        except AssertionError as error:
            assert str(error), "a visible test failed without a message"
            caught.append(mutant.name)
    assert caught, f"no mutant of {function} fails its visible test cell"


def test_visible_message_names_the_bug() -> None:
    mutant = next(m for m in MUTANTS if m.name.startswith("regularisation gradient reg * W"))
    with pytest.raises(AssertionError, match="2 \\* reg \\* W"):
        run_visible("svm_loss_vectorized", setup_namespace(mutant.source))


# ---------------------------------------------------------------------------------------------
# Notebook structure (nbgrader metadata)
# ---------------------------------------------------------------------------------------------


def test_notebook_metadata_and_ids() -> None:
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    assert nb["metadata"]["kernelspec"] == {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    ids = [cell.get("id") for cell in nb["cells"]]
    assert all(ids) and len(set(ids)) == len(ids), "every cell needs a unique, stable id"
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, cell["id"]


def test_answer_visible_and_graded_cells_follow_each_other() -> None:
    cells = notebook_cells()
    index = {cell["id"]: i for i, cell in enumerate(cells)}
    for test_id, function in FUNCTIONS.items():
        answer = cells[index[function]]
        shown = cells[index[f"{function}_visible"]]
        graded = cells[index[test_id]]
        assert index[f"{function}_visible"] == index[function] + 1
        assert index[test_id] == index[function] + 2
        assert answer["metadata"]["nbgrader"] == {
            "schema_version": 3,
            "grade": False,
            "solution": True,
            "locked": False,
            "grade_id": function,
        }
        assert shown["metadata"]["nbgrader"] == {
            "schema_version": 3,
            "grade": False,
            "solution": False,
            "locked": True,
            "grade_id": f"{function}_visible",
        }
        assert graded["metadata"]["nbgrader"] == {
            "schema_version": 3,
            "grade": True,
            "solution": False,
            "locked": True,
            "points": RUBRIC[test_id],
            "grade_id": test_id,
        }
        source = cell_source(answer)
        assert source.startswith(f"def {function}(") and '"""' in source
        assert "### BEGIN SOLUTION" in source and "### END SOLUTION" in source
        assert cell_source(graded) == (
            f"# Hidden tests for `{function}` ({RUBRIC[test_id]} points) run here when your "
            "notebook is graded.\n"
            "### BEGIN HIDDEN TESTS\n"
            "from autograder.hidden_tests import nb01_flat_backprop as hidden\n"
            f'hidden.check("{test_id}", {function})\n'
            "### END HIDDEN TESTS"
        )


def test_graded_points_match_the_rubric() -> None:
    points = {
        cell["metadata"]["nbgrader"]["grade_id"]: cell["metadata"]["nbgrader"]["points"]
        for cell in notebook_cells()
        if cell["metadata"].get("nbgrader", {}).get("grade")
    }
    assert points == RUBRIC
