"""Notebook 04 (dropout): hidden checks, references and mutants, without nbgrader.

* The solution notebook's own answers pass every hidden check.
* Every mutant of the catalogue fails the check of its own test cell and passes all others.
* The reference dropout layer has the properties the notebook teaches (checked with hypothesis on
  random shapes): the documented mask, a preserved mean, the backward pass as the forward pass's
  adjoint, and the vanilla-dropout expectation.

The notebook's net calls notebook 03's layers and ``FullyConnectedNet`` by name;
``load_definitions`` does not run the cell that binds them (it is an assignment), so the tests bind
the reference versions in their place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.hidden_tests import nb04_dropout as hidden
from autograder.hidden_tests.harness import CheckFailure, run_case
from autograder.reference import nb04_dropout as ref
from autograder.rubric import POINTS
from cs231kit.notebook import load_definitions
from tests.mutants.nb04_dropout import MUTANTS

NOTEBOOK = Path(__file__).resolve().parents[1] / "solutions" / "a2" / "04_dropout.ipynb"
RUBRIC = POINTS["04_dropout"]
TEST_IDS = sorted(hidden.CASES)

# Test cell id -> the name of the graded function or class it checks.
GRADED = {
    "test_dropout_forward": "dropout_forward",
    "test_dropout_backward": "dropout_backward",
    "test_fc_net_dropout": "DropoutFullyConnectedNet",
    "test_vanilla_dropout_predict": "vanilla_dropout_predict",
}
# What the notebook's "load-nb03" cell binds from notebook 03 (the reference versions stand in).
NB03_NAMES = (
    "affine_forward",
    "affine_backward",
    "relu_forward",
    "relu_backward",
    "affine_relu_forward",
    "affine_relu_backward",
    "softmax_loss",
    "FullyConnectedNet",
)


def _load_solution() -> dict[str, Any]:
    """A fresh load of the notebook's definitions, with notebook 03's layers bound by name.

    The result is the module's own namespace (the dict the functions look names up in).
    """
    namespace = vars(load_definitions(NOTEBOOK))
    namespace.update({name: hidden.REFERENCE_LAYERS[name] for name in NB03_NAMES})
    return namespace


@pytest.fixture(scope="module")
def solution() -> dict[str, Any]:
    return _load_solution()


# ---------------------------------------------------------------------------------------------
# The notebook, the rubric and the hidden checks agree
# ---------------------------------------------------------------------------------------------


def test_hidden_checks_cover_exactly_the_rubric() -> None:
    assert set(hidden.CASES) == set(RUBRIC) == set(GRADED)


def test_notebook_cells_follow_the_course_conventions() -> None:
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    assert notebook["metadata"]["kernelspec"] == {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    ids = [cell.get("id") for cell in notebook["cells"]]
    assert all(ids) and len(set(ids)) == len(ids), "every cell needs a unique, stable id"
    graded, answers = {}, {}
    for cell in notebook["cells"]:
        assert not cell.get("outputs"), f"cell {cell['id']} has outputs committed"
        meta = cell["metadata"].get("nbgrader")
        if meta is None:
            continue
        if meta["grade"]:
            graded[meta["grade_id"]] = (meta, "".join(cell["source"]))
        if meta["solution"]:
            answers[meta["grade_id"]] = "".join(cell["source"])
    assert set(graded) == set(RUBRIC)
    for test_id, (meta, source) in graded.items():
        assert meta["points"] == RUBRIC[test_id]
        assert meta["locked"] and not meta["solution"]
        assert f'hidden.check("{test_id}", {GRADED[test_id]})' in source
        assert source.rstrip().endswith("### END HIDDEN TESTS"), "no trailing expression"
    assert set(answers) == set(GRADED.values())
    for name, source in answers.items():
        assert "### BEGIN SOLUTION" in source and "### END SOLUTION" in source, name


@pytest.mark.parametrize("test_id", TEST_IDS)
def test_solution_passes_hidden_check(solution: dict[str, Any], test_id: str) -> None:
    hidden.check(test_id, solution[GRADED[test_id]])


def test_unknown_test_id_is_reported() -> None:
    with pytest.raises(KeyError, match="no hidden test"):
        hidden.check("test_nothing", lambda: None)


def test_a_crash_is_reported_with_the_case_name() -> None:
    def broken(x: Any, dropout_param: Any) -> Any:
        raise ValueError("boom")

    with pytest.raises(CheckFailure, match="dropout_forward: .*raised ValueError: boom"):
        hidden.check("test_dropout_forward", broken)


# ---------------------------------------------------------------------------------------------
# Mutants
# ---------------------------------------------------------------------------------------------


def test_catalogue_has_three_mutants_per_graded_function() -> None:
    for test_id, name in GRADED.items():
        mutants = [m for m in MUTANTS if m.loses == test_id]
        assert len(mutants) >= 3, f"{test_id} has only {len(mutants)} mutants"
        for mutant in mutants:
            assert mutant.answer == name
            assert f"def {name}(" in mutant.source or f"class {name}:" in mutant.source
            assert "### BEGIN" not in mutant.source
    names = [m.name for m in MUTANTS]
    assert len(set(names)) == len(names), "mutant names must be unique"


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_mutant_fails_its_own_check_only(mutant: Any) -> None:
    namespace = _load_solution()  # fresh, so that mutants never leak into each other
    exec(compile(mutant.source, "<mutant>", "exec"), namespace)
    with pytest.raises(CheckFailure):
        hidden.check(mutant.loses, namespace[GRADED[mutant.loses]])
    for test_id in TEST_IDS:
        if test_id != mutant.loses:
            hidden.check(test_id, namespace[GRADED[test_id]])


# ---------------------------------------------------------------------------------------------
# Properties of the reference implementations
# ---------------------------------------------------------------------------------------------

shapes = st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=4).map(tuple)
keep_probs = st.floats(min_value=0.05, max_value=1.0)
seeds = st.integers(min_value=0, max_value=2**32 - 1)


@settings(max_examples=60, deadline=None)
@given(shape=shapes, p=keep_probs, seed=seeds, dtype=st.sampled_from(["float32", "float64"]))
def test_reference_forward_uses_the_documented_mask(
    shape: tuple[int, ...], p: float, seed: int, dtype: str
) -> None:
    x = np.random.default_rng(seed).normal(size=shape).astype(dtype)
    out, (param, mask) = ref.dropout_forward(x, {"p": p, "mode": "train", "seed": seed})
    keep = np.random.default_rng(seed).random(shape) < p
    assert out.dtype == x.dtype and mask.dtype == x.dtype
    np.testing.assert_array_equal(mask != 0, keep)
    np.testing.assert_allclose(mask[keep], 1 / p, rtol=1e-6)
    np.testing.assert_array_equal(out, x * mask)
    test_out, (_, test_mask) = ref.dropout_forward(x, {"p": p, "mode": "test", "seed": seed})
    assert test_out is x and test_mask is None


@settings(max_examples=40, deadline=None)
@given(shape=shapes, p=keep_probs, seed=seeds)
def test_reference_backward_is_the_adjoint_of_the_forward_pass(
    shape: tuple[int, ...], p: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    x, dout = rng.normal(size=shape), rng.normal(size=shape)
    param = {"p": p, "mode": "train", "seed": seed}
    out, cache = ref.dropout_forward(x, param)
    dx = ref.dropout_backward(dout, cache)
    # The layer is linear in x, so <dout, forward(x)> = <backward(dout), x> for every x.
    np.testing.assert_allclose(np.sum(dout * out), np.sum(dx * x), rtol=1e-10, atol=1e-10)
    _, test_cache = ref.dropout_forward(x, {"p": p, "mode": "test"})
    assert ref.dropout_backward(dout, test_cache) is dout


def test_reference_forward_keeps_the_mean_and_drops_one_minus_p() -> None:
    np.random.seed(0)  # noqa: NPY002 (without a seed the reference draws from the global generator)
    x = np.ones((400, 500))
    for p in (0.2, 0.5, 0.9):
        out, _ = ref.dropout_forward(x, {"p": p, "mode": "train"})
        assert abs(out.mean() - 1) < 0.02
        assert abs(np.mean(out == 0) - (1 - p)) < 0.01


def test_reference_forward_rejects_bad_parameters() -> None:
    x = np.ones(3)
    with pytest.raises(ValueError, match="keep probability"):
        ref.dropout_forward(x, {"p": 0.0, "mode": "train"})
    with pytest.raises(ValueError, match="mode"):
        ref.dropout_forward(x, {"p": 0.5, "mode": "eval"})


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 4), d=st.integers(1, 6), m=st.integers(1, 4), p=keep_probs, seed=seeds)
def test_reference_vanilla_predict_is_the_expected_training_output(
    n: int, d: int, m: int, p: float, seed: int
) -> None:
    """Enumerate every mask of one example (d <= 6: at most 64) and average exactly."""
    rng = np.random.default_rng(seed)
    x, W = rng.normal(size=(n, d)), rng.normal(size=(d, m))
    masks = (np.arange(2**d)[:, None] >> np.arange(d)) & 1  # (2**d, d): every 0/1 mask
    probs = np.prod(np.where(masks == 1, p, 1 - p), axis=1)  # the probability of each mask
    expected = np.einsum("k,knm->nm", probs, (masks[:, None, :] * x) @ W)
    np.testing.assert_allclose(ref.vanilla_dropout_predict(x, W, p), expected, atol=1e-10)


# ---------------------------------------------------------------------------------------------
# Tolerance sweep: the notebook's answers pass every case for 1000 seeds
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("test_id", TEST_IDS)
def test_solution_passes_every_case_for_1000_seeds(solution: dict[str, Any], test_id: str) -> None:
    student = solution[GRADED[test_id]]
    failures = [
        message
        for case in hidden.CASES[test_id]
        for seed in range(1000)
        if (message := run_case(case, student, seed)) is not None
    ]
    assert not failures, failures[:5]
