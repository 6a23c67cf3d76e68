"""Notebook 02 (Jacobian-free gradients): hidden checks, references and mutants, without nbgrader.

* The solution notebook's own answers pass every hidden check.
* Every mutant of the catalogue fails the check of its own test cell and passes all others.
* The reference implementations satisfy the defining properties (explicit Jacobian products
  equal the implicit formulas, the broadcast backward pass is the adjoint of broadcasting), checked
  with hypothesis on random shapes.
"""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.hidden_tests import nb02_jacobian_free_gradients as hidden
from autograder.hidden_tests.harness import CheckFailure, run_case
from autograder.reference import nb02_jacobian_free_gradients as ref
from autograder.rubric import POINTS
from cs231kit.notebook import load_definitions
from tests.mutants.nb02_jacobian_free_gradients import MUTANTS

NOTEBOOK = (
    Path(__file__).resolve().parents[1] / "solutions" / "a2" / "02_jacobian_free_gradients.ipynb"
)
TEST_IDS = sorted(hidden.CASES)


@pytest.fixture(scope="module")
def solution() -> types.ModuleType:
    return load_definitions(NOTEBOOK)


def _function_for(test_id: str, namespace: Any) -> Any:
    """The graded function that the hidden test cell ``test_id`` checks."""
    return getattr(namespace, test_id.removeprefix("test_"))


# ---------------------------------------------------------------------------------------------
# The notebook, the rubric and the hidden checks agree
# ---------------------------------------------------------------------------------------------


def test_hidden_checks_cover_exactly_the_rubric() -> None:
    assert set(hidden.CASES) == set(POINTS["02_jacobian_free_gradients"])


def test_notebook_grade_cells_call_the_hidden_checks_with_rubric_points() -> None:
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    graded = {
        cell["metadata"]["nbgrader"]["grade_id"]: cell
        for cell in cells
        if cell["metadata"].get("nbgrader", {}).get("grade")
    }
    points = POINTS["02_jacobian_free_gradients"]
    assert set(graded) == set(points)
    for test_id, cell in graded.items():
        source = "".join(cell["source"])
        assert cell["metadata"]["nbgrader"]["points"] == points[test_id]
        assert f'hidden.check("{test_id}", {test_id.removeprefix("test_")})' in source


@pytest.mark.parametrize("test_id", TEST_IDS)
def test_solution_passes_hidden_check(solution: types.ModuleType, test_id: str) -> None:
    hidden.check(test_id, _function_for(test_id, solution))


def test_unknown_test_id_is_reported() -> None:
    with pytest.raises(KeyError, match="no hidden tests named"):
        hidden.check("test_nothing", lambda: None)


# ---------------------------------------------------------------------------------------------
# Mutants
# ---------------------------------------------------------------------------------------------


def _mutant_namespace(solution: types.ModuleType, source: str) -> types.SimpleNamespace:
    """The solution's definitions with the mutant's answer cell executed over them."""
    namespace = {k: v for k, v in vars(solution).items() if k != "__getattr__"}
    exec(compile(source, "<mutant>", "exec"), namespace)
    return types.SimpleNamespace(**namespace)


def test_catalogue_has_three_mutants_per_graded_function() -> None:
    for test_id in TEST_IDS:
        count = sum(m.loses == test_id for m in MUTANTS)
        assert count >= 3, f"{test_id} has only {count} mutants"
    for mutant in MUTANTS:
        assert mutant.loses == f"test_{mutant.answer}"
        assert f"def {mutant.answer}(" in mutant.source, mutant.name


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_mutant_fails_its_own_check_only(solution: types.ModuleType, mutant: Any) -> None:
    namespace = _mutant_namespace(solution, mutant.source)
    with pytest.raises(CheckFailure):
        hidden.check(mutant.loses, _function_for(mutant.loses, namespace))
    for test_id in TEST_IDS:
        if test_id != mutant.loses:
            hidden.check(test_id, _function_for(test_id, namespace))


# ---------------------------------------------------------------------------------------------
# Properties of the reference implementations
# ---------------------------------------------------------------------------------------------

sizes = st.integers(min_value=1, max_value=4)
seeds = st.integers(min_value=0, max_value=2**32 - 1)


@settings(max_examples=40, deadline=None)
@given(n=sizes, d=sizes, m=sizes, seed=seeds)
def test_reference_jacobian_products_equal_implicit_backward(n: int, d: int, m: int, seed: int):
    rng = np.random.default_rng(seed)
    x, w, dy = rng.standard_normal((n, d)), rng.standard_normal((d, m)), rng.standard_normal((n, m))
    jac_x, jac_w = ref.matmul_jacobians(x, w)
    dx, dw = ref.matmul_backward(x, w, dy)
    np.testing.assert_allclose((jac_x.T @ dy.ravel()).reshape(n, d), dx, atol=1e-12)
    np.testing.assert_allclose((jac_w.T @ dy.ravel()).reshape(d, m), dw, atol=1e-12)
    # The Jacobian is linear in the input: J_x @ vec(x) = vec(y) = J_w @ vec(w).
    np.testing.assert_allclose(jac_x @ x.ravel(), (x @ w).ravel(), atol=1e-12)
    np.testing.assert_allclose(jac_w @ w.ravel(), (x @ w).ravel(), atol=1e-12)
    assert ref.explicit_jacobian_bytes(n, d, m) == jac_x.size * 4
    assert ref.explicit_jacobian_bytes(n, d, m, bytes_per_element=8) == jac_x.size * 8


@settings(max_examples=40, deadline=None)
@given(d=st.integers(min_value=1, max_value=20), seed=seeds)
def test_reference_relu_jacobian_product_equals_implicit_rule(d: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = np.round(rng.standard_normal(d), 1)  # rounding puts some entries exactly at 0
    dz = rng.standard_normal(d)
    jac = ref.relu_jacobian(x)
    np.testing.assert_array_equal(jac.T @ dz, ref.relu_backward_implicit(x, dz))
    np.testing.assert_array_equal(np.diag(jac), (x > 0).astype(float))


@st.composite
def broadcast_pairs(draw: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    out_shape = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=4)))
    kept = draw(st.integers(0, len(out_shape)))
    shape = [1 if draw(st.booleans()) else size for size in out_shape[len(out_shape) - kept :]]
    return out_shape, tuple(shape)


@settings(max_examples=80, deadline=None)
@given(pair=broadcast_pairs(), seed=seeds)
def test_reference_broadcast_backward_is_the_adjoint_of_broadcasting(
    pair: tuple[tuple[int, ...], tuple[int, ...]], seed: int
) -> None:
    out_shape, shape = pair
    rng = np.random.default_rng(seed)
    dout, b = rng.standard_normal(out_shape), rng.standard_normal(shape)
    grad = ref.broadcast_backward(dout, shape)
    assert np.shape(grad) == shape
    # <dout, broadcast(b)> = <broadcast_backward(dout), b> for every b: the defining property.
    lhs = np.sum(dout * np.broadcast_to(b, out_shape))
    rhs = np.sum(grad * b)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12, atol=1e-12)


def test_reference_broadcast_backward_rejects_incompatible_shapes() -> None:
    with pytest.raises(ValueError, match="does not broadcast"):
        ref.broadcast_backward(np.zeros((2, 3)), (2, 1, 3))


# ---------------------------------------------------------------------------------------------
# Tolerance sweep: the notebook's answers pass every case for 1000 seeds
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("test_id", TEST_IDS)
def test_solution_passes_every_case_for_1000_seeds(
    solution: types.ModuleType, test_id: str
) -> None:
    student = _function_for(test_id, solution)
    failures = [
        message
        for case in hidden.CASES[test_id]
        for seed in range(1000)
        if (message := run_case(case, student, seed)) is not None
    ]
    assert not failures, failures[:5]
