"""Notebook 03 (modular backprop): hidden checks and mutants, checked without nbgrader.

* The solution notebook's answers, called exactly as its graded cells call them, pass every hidden
  check (and every case for random seeds; the 1000-seed sweep is marked slow).
* Every mutant of ``tests/mutants/nb03_modular_backprop.py`` fails its own check and no other one,
  alone and with one mutant in every other answer cell at once (as the course test submits them).
* The notebook's cells carry the nbgrader metadata and points of ``autograder/rubric.py``.
"""

from __future__ import annotations

import ast
import json
import re
import types
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.hidden_tests import nb03_modular_backprop as hidden
from autograder.hidden_tests.harness import CheckFailure, run_case
from autograder.rubric import POINTS
from cs231kit.notebook import load_definitions
from tests.mutants import Mutant
from tests.mutants.nb03_modular_backprop import MUTANTS

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "solutions" / "a2" / "03_modular_backprop.ipynb"
RUBRIC = POINTS["03_modular_backprop"]
HYPERPARAMETER_CELLS = ("overfit_hyperparameters",)


def notebook_cells() -> list[dict[str, Any]]:
    return json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]


def cell_source(cell: dict[str, Any]) -> str:
    source = cell["source"]
    return "".join(source) if isinstance(source, list) else source


def nbgrader_meta(cell: dict[str, Any]) -> dict[str, Any]:
    return cell.get("metadata", {}).get("nbgrader", {})


def graded_arguments() -> dict[str, str]:
    """test_id -> source of the second argument of ``hidden.check(test_id, ...)`` in its cell."""
    arguments = {}
    for cell in notebook_cells():
        meta = nbgrader_meta(cell)
        if not meta.get("grade"):
            continue
        source = cell_source(cell)
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "check":
                test_id = ast.literal_eval(node.args[0])
                assert test_id == meta["grade_id"], f"cell {meta['grade_id']} checks {test_id}"
                arguments[test_id] = ast.get_source_segment(source, node.args[1]) or ""
    return arguments


ARGUMENTS = graded_arguments()


def notebook_namespace(mutants: Iterable[Mutant] = ()) -> types.ModuleType:
    """The notebook's definitions and hyper-parameter cells, with ``mutants`` replacing answers.

    Definitions come from ``load_definitions`` (as a later notebook would load them); the
    hyper-parameter answer cells are assignments, so their source is executed here.
    """
    module = load_definitions(NOTEBOOK)
    replaced = {mutant.answer: mutant.source for mutant in mutants}
    for cell in notebook_cells():
        grade_id = nbgrader_meta(cell).get("grade_id")
        if grade_id in HYPERPARAMETER_CELLS and grade_id not in replaced:
            exec(compile(cell_source(cell), grade_id, "exec"), module.__dict__)
    for answer, source in replaced.items():
        exec(compile(source, f"<mutant of {answer}>", "exec"), module.__dict__)
    return module


def student_for(test_id: str, module: types.ModuleType) -> Any:
    """What the graded cell of ``test_id`` passes to ``hidden.check``, evaluated in ``module``."""
    return eval(ARGUMENTS[test_id], module.__dict__)  # noqa: S307 (the notebook's own cell)


def failures(module: types.ModuleType, test_ids: Iterable[str] = RUBRIC) -> dict[str, str]:
    """test_id -> CheckFailure message for every hidden check that ``module`` fails."""
    failed = {}
    with np.errstate(all="ignore"):  # wrong variants may overflow: that is how they fail
        for test_id in test_ids:
            try:
                hidden.check(test_id, student_for(test_id, module))
            except CheckFailure as error:
                failed[test_id] = str(error)
    return failed


@pytest.fixture(scope="module")
def solution() -> types.ModuleType:
    return notebook_namespace()


# ---------------------------------------------------------------------------------------------
# The notebook's structure
# ---------------------------------------------------------------------------------------------


def test_graded_cells_match_the_rubric() -> None:
    points = {
        nbgrader_meta(c)["grade_id"]: nbgrader_meta(c)["points"]
        for c in notebook_cells()
        if nbgrader_meta(c).get("grade")
    }
    assert points == RUBRIC
    assert set(ARGUMENTS) == set(RUBRIC) == set(hidden.CASES)


def test_cells_have_ids_no_outputs_and_a_python3_kernel() -> None:
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    ids = [cell.get("id") for cell in nb["cells"]]
    assert all(ids) and len(ids) == len(set(ids))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, cell["id"]


def test_each_graded_cell_follows_its_answer_and_visible_test() -> None:
    """answer cell(s) -> read-only visible test -> graded cell, and nothing printed by it."""
    cells = notebook_cells()
    for index, cell in enumerate(cells):
        meta = nbgrader_meta(cell)
        if not meta.get("grade"):
            continue
        assert meta["locked"] and not meta["solution"]
        source = cell_source(cell)
        assert re.search(r"### BEGIN HIDDEN TESTS\n.*\n.*\n### END HIDDEN TESTS$", source), source
        before = nbgrader_meta(cells[index - 1])
        assert before.get("solution") or (before.get("locked") and not before.get("grade")), (
            f"{meta['grade_id']} should follow its answer cell or its visible test cell"
        )


def test_mutated_answer_cells_exist() -> None:
    answers = {
        nbgrader_meta(c)["grade_id"]
        for c in notebook_cells()
        if nbgrader_meta(c).get("solution") and not nbgrader_meta(c).get("grade")
    }
    assert {m.answer for m in MUTANTS} <= answers


# ---------------------------------------------------------------------------------------------
# The solution passes the hidden checks
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("test_id", sorted(RUBRIC))
def test_solution_passes_hidden_check(solution: types.ModuleType, test_id: str) -> None:
    hidden.check(test_id, student_for(test_id, solution))


CHEAP_TESTS = sorted(set(RUBRIC) - {"test_overfit_small"})


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_solution_passes_every_case_for_random_seeds(seed: int) -> None:
    module = notebook_namespace()
    for test_id in CHEAP_TESTS:
        for case in hidden.CASES[test_id]:
            assert run_case(case, student_for(test_id, module), seed) is None


@pytest.mark.slow
@pytest.mark.parametrize("test_id", sorted(RUBRIC))
def test_solution_passes_every_case_for_1000_seeds(
    solution: types.ModuleType, test_id: str
) -> None:
    student = student_for(test_id, solution)
    for case in hidden.CASES[test_id]:
        bad = [seed for seed in range(1000) if run_case(case, student, seed) is not None]
        assert not bad, f"{case.name}: fails for seeds {bad[:10]} ({len(bad)} in all)"


def test_unknown_test_id_is_a_clear_error() -> None:
    with pytest.raises(KeyError, match="no hidden test"):
        hidden.check("test_nothing", print)


def test_blank_answers_report_not_implemented() -> None:
    def affine_forward(x: Any, w: Any, b: Any) -> Any:
        raise NotImplementedError()

    with pytest.raises(CheckFailure, match="not implemented yet"):
        hidden.check("test_affine_forward", affine_forward)


def test_overfit_check_explains_bad_hyperparameters() -> None:
    with pytest.raises(CheckFailure, match="must be a positive number"):
        hidden.check("test_overfit_small", {"learning_rate": -1.0, "weight_scale": 1e-2})
    with pytest.raises(CheckFailure, match="must be a number"):
        hidden.check("test_overfit_small", {"learning_rate": "1e-3", "weight_scale": 1e-2})


# ---------------------------------------------------------------------------------------------
# The mutant catalogue
# ---------------------------------------------------------------------------------------------


def test_catalogue_has_three_mutants_per_test() -> None:
    for test_id in RUBRIC:
        assert len([m for m in MUTANTS if m.loses == test_id]) >= 3, test_id
    for mutant in MUTANTS:
        assert "BEGIN SOLUTION" not in mutant.source and "END SOLUTION" not in mutant.source


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: f"{m.answer}: {m.name}")
def test_mutant_fails_its_own_check(mutant: Mutant) -> None:
    failed = failures(notebook_namespace([mutant]), [mutant.loses])
    assert mutant.loses in failed, f"{mutant.name} passed {mutant.loses}"


def mutant_plan(variant: int, parity: int) -> list[Mutant]:
    """One mutant in every other answer cell (notebook order), as the course test submits them."""
    answers = [
        nbgrader_meta(c)["grade_id"]
        for c in notebook_cells()
        if nbgrader_meta(c).get("solution") and not nbgrader_meta(c).get("grade")
    ]
    plan = []
    for index, answer in enumerate(answers):
        mine = [m for m in MUTANTS if m.answer == answer]
        if mine and index % 2 == parity:
            plan.append(mine[variant % len(mine)])
    return plan


@pytest.mark.parametrize("parity", [0, 1])
@pytest.mark.parametrize("variant", range(4))
def test_mutants_together_lose_only_their_own_points(variant: int, parity: int) -> None:
    plan = mutant_plan(variant, parity)
    failed = failures(notebook_namespace(plan))
    assert set(failed) == {m.loses for m in plan}, {
        "unexpected failures": sorted(set(failed) - {m.loses for m in plan}),
        "mutants that passed": sorted({m.name for m in plan if m.loses not in failed}),
    }


# ---------------------------------------------------------------------------------------------
# The visible tests: pass on the solution, and tell students about the common bugs
# ---------------------------------------------------------------------------------------------

# The read-only test cell that follows each answer (the overfitting test needs the data set and is
# covered by executing the whole notebook elsewhere).
VISIBLE_CELL = {
    "MultiplyGate": "MultiplyGate_visible",
    "Node": "graph_visible",
    "topological_order": "graph_visible",
    "backward": "graph_visible",
    "affine_forward": "affine_forward_visible",
    "affine_backward": "affine_backward_visible",
    "relu_forward": "relu_forward_visible",
    "relu_backward": "relu_backward_visible",
    "sigmoid_forward": "sigmoid_layer_visible",
    "sigmoid_backward": "sigmoid_layer_visible",
    "svm_loss": "svm_loss_visible",
    "softmax_loss": "softmax_loss_visible",
    "affine_relu_forward": "affine_relu_visible",
    "affine_relu_backward": "affine_relu_visible",
    "FullyConnectedNet": "FullyConnectedNet_visible",
    "sgd_momentum": "sgd_momentum_visible",
    "rmsprop": "rmsprop_visible",
    "adam": "adam_visible",
}


def run_visible(cell_id: str, mutants: Iterable[Mutant] = ()) -> None:
    """Execute the setup cell and then the visible test cell ``cell_id`` on the notebook's code."""
    module = notebook_namespace(mutants)
    cells = {cell.get("id"): cell_source(cell) for cell in notebook_cells()}
    setup = "\n".join(line for line in cells["setup"].splitlines() if not line.startswith("%"))
    namespace = module.__dict__
    with np.errstate(all="ignore"):
        exec(compile(setup, "setup", "exec"), namespace)
        exec(compile(cells[cell_id], cell_id, "exec"), namespace)


@pytest.mark.parametrize("cell_id", sorted(set(VISIBLE_CELL.values())))
def test_visible_tests_pass_on_the_solution(cell_id: str, capsys: pytest.CaptureFixture) -> None:
    run_visible(cell_id)
    assert "passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "mutant",
    [m for m in MUTANTS if m.answer in VISIBLE_CELL],
    ids=lambda m: f"{m.answer}: {m.name}",
)
def test_visible_tests_catch_the_mutant(mutant: Mutant) -> None:
    with pytest.raises(Exception) as caught:  # noqa: B017 (an assertion or the bug's own crash)
        run_visible(VISIBLE_CELL[mutant.answer], [mutant])
    assert str(caught.value) or caught.type is not AssertionError


@pytest.mark.parametrize(
    ("name", "test_id", "fragment"),
    [
        ("no max shift", "test_softmax_loss", "scores near +1000"),
        ("gradient let through at x == 0", "test_relu_backward", "inputs exactly 0"),
        ("no visited set", "test_graph_backward", "appears 2 times"),
        ("add gate overwrites", "test_graph_backward", "feeds an add gate"),
        ("inputs stored as attributes", "test_multiply_gate", "save_for_backward"),
        ("learning rate far too large", "test_overfit_small", "too large"),
        ("weight decay added to the gradient", "test_adam", "weight_decay > 0"),
        ("cache holds the flattened x", "test_affine_forward", "cache[0] (x) has shape"),
    ],
)
def test_failure_messages_say_what_and_where(name: str, test_id: str, fragment: str) -> None:
    mutant = next(m for m in MUTANTS if m.name.startswith(name))
    message = failures(notebook_namespace([mutant]), [test_id])[test_id]
    assert fragment in message, message
