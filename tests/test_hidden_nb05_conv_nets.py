"""Fast check of notebook 05's hidden tests and mutant catalogue, without nbgrader.

- The solution notebook's definitions (loaded with ``cs231kit.notebook.load_definitions``) pass
  every hidden check, on the fixed seeds and on random ones.
- Each mutant, put in place of its answer cell, fails its own check and passes every other one
  (isolation: one bug costs the points of one test cell).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograder.hidden_tests import nb05_conv_nets as hidden
from autograder.hidden_tests.harness import CheckFailure, run_case
from autograder.rubric import POINTS
from cs231kit.notebook import load_definitions
from tests.mutants import Mutant
from tests.mutants.nb05_conv_nets import MUTANTS

NOTEBOOK = Path(__file__).resolve().parents[1] / "solutions" / "a2" / "05_conv_nets.ipynb"

# Which notebook definition each hidden test checks.
STUDENT_NAMES = {
    "test_conv_output_size": "conv_output_size",
    "test_conv_param_count": "conv_param_count",
    "test_conv_forward_naive": "conv_forward_naive",
    "test_conv_backward_naive": "conv_backward_naive",
    "test_max_pool_forward_naive": "max_pool_forward_naive",
    "test_max_pool_backward_naive": "max_pool_backward_naive",
    "test_three_layer_convnet": "ThreeLayerConvNet",
    "test_hand_set_filters": "make_filters",
}


def _cells() -> list[dict]:
    return json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]


def _nbgrader(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


@pytest.fixture(scope="module")
def solution() -> ModuleType:
    return load_definitions(NOTEBOOK)


def _check_all(module: ModuleType) -> dict[str, str | None]:
    """Run every hidden check on the module's definitions: test id -> failure message or None."""
    results: dict[str, str | None] = {}
    for test_id, name in STUDENT_NAMES.items():
        try:
            hidden.check(test_id, getattr(module, name))
        except CheckFailure as failure:
            results[test_id] = str(failure)
        else:
            results[test_id] = None
    return results


def _with_mutant(mutant: Mutant, folder: Path) -> ModuleType:
    """Load the solution notebook with the mutant's source in place of its answer cell."""
    content = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    replaced = 0
    for cell in content["cells"]:
        if _nbgrader(cell).get("solution") and _nbgrader(cell).get("grade_id") == mutant.answer:
            cell["source"] = mutant.source
            replaced += 1
    assert replaced == 1, f"answer cell {mutant.answer!r} found {replaced} times in the notebook"
    path = folder / NOTEBOOK.name
    path.write_text(json.dumps(content), encoding="utf-8")
    return load_definitions(path)


def test_the_hidden_module_covers_exactly_the_rubric() -> None:
    assert set(hidden.CASES) == set(POINTS["05_conv_nets"]) == set(STUDENT_NAMES)


def test_the_notebook_grade_cells_match_the_rubric() -> None:
    graded = {
        _nbgrader(c)["grade_id"]: _nbgrader(c)["points"]
        for c in _cells() if _nbgrader(c).get("grade")
    }
    assert graded == POINTS["05_conv_nets"]


@pytest.mark.parametrize("test_id", sorted(STUDENT_NAMES))
def test_solution_passes_the_hidden_check(solution: ModuleType, test_id: str) -> None:
    hidden.check(test_id, getattr(solution, STUDENT_NAMES[test_id]))


@pytest.mark.parametrize("test_id", sorted(STUDENT_NAMES))
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_solution_passes_on_random_seeds(solution: ModuleType, test_id: str, seed: int) -> None:
    student = getattr(solution, STUDENT_NAMES[test_id])
    for case in hidden.CASES[test_id]:
        assert run_case(case, student, seed) is None


def test_the_catalogue_has_three_mutants_per_graded_function() -> None:
    answers = {
        _nbgrader(c)["grade_id"] for c in _cells() if _nbgrader(c).get("solution")
    }
    for test_id, name in STUDENT_NAMES.items():
        assert name in answers
        mine = [m for m in MUTANTS if m.answer == name]
        assert len(mine) >= 3, f"{name} has only {len(mine)} mutants"
        assert all(m.loses == test_id for m in mine)
    assert len({m.name for m in MUTANTS}) == len(MUTANTS), "mutant names must be unique"


@pytest.mark.parametrize("mutant", MUTANTS, ids=[f"{m.answer}: {m.name}" for m in MUTANTS])
def test_mutant_fails_its_own_check_and_only_that(mutant: Mutant, tmp_path: Path) -> None:
    results = _check_all(_with_mutant(mutant, tmp_path))
    assert results[mutant.loses] is not None, f"the mutant {mutant.name!r} passed its check"
    others = {test_id: msg for test_id, msg in results.items() if test_id != mutant.loses}
    assert all(msg is None for msg in others.values()), f"isolation broken: {others}"
