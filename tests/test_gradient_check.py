"""Tests for cs231kit.gradient_check: numeric gradients, rel_error and the check report."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cs231kit import tolerances
from cs231kit.gradient_check import (
    GradCheckReport,
    check_gradient,
    grad_check_sparse,
    has_kink,
    numeric_gradient,
    numeric_gradient_array,
    rel_error,
)

small_shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
moderate_floats = st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False)


def float64_arrays(shape=small_shapes):
    return hnp.arrays(np.float64, shape, elements=moderate_floats)


def softmax_loss(scores, y):
    """Mean softmax cross-entropy of scores (N, C) with labels y (N,), and its gradient."""
    shifted = scores - scores.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    n = scores.shape[0]
    loss = -np.mean(np.log(probs[np.arange(n), y]))
    dscores = probs.copy()
    dscores[np.arange(n), y] -= 1
    return loss, dscores / n


# ---------------------------------------------------------------------------------------------
# rel_error
# ---------------------------------------------------------------------------------------------


def test_rel_error_matches_its_documented_definition():
    x = np.array([1.0, -2.0, 0.0, 1e-12])
    y = np.array([1.1, -2.0, 0.0, 0.0])
    # |x - y| / max(1e-8, |x| + |y|): 0.1 / 2.1 for the first entry, 0 or tiny elsewhere.
    assert rel_error(x, y) == pytest.approx(0.1 / 2.1, rel=1e-12)
    assert rel_error(np.array([1e-12]), np.array([0.0])) == pytest.approx(1e-4)


def test_rel_error_returns_a_python_float_and_takes_numbers():
    value = rel_error(3.0, 3.0)
    assert type(value) is float and value == 0.0
    assert rel_error(1.0, -1.0) == 1.0


def test_rel_error_rejects_mismatched_shapes_instead_of_broadcasting():
    with pytest.raises(ValueError, match=r"same shape.*\(3,\).*\(3, 1\)"):
        rel_error(np.zeros(3), np.zeros((3, 1)))


def test_rel_error_rejects_empty_arrays():
    with pytest.raises(ValueError, match="empty"):
        rel_error(np.zeros(0), np.zeros(0))


def test_rel_error_is_nan_when_an_input_is_nan():
    assert np.isnan(rel_error(np.array([1.0, np.nan]), np.array([1.0, 2.0])))


@given(float64_arrays(), st.data())
def test_rel_error_is_symmetric_and_bounded(x, data):
    y = data.draw(hnp.arrays(np.float64, x.shape, elements=moderate_floats))
    e = rel_error(x, y)
    assert e == rel_error(y, x)
    assert 0.0 <= e <= 1.0
    assert rel_error(x, x) == 0.0


# ---------------------------------------------------------------------------------------------
# numeric gradients against known derivatives
# ---------------------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(float64_arrays())
def test_numeric_gradient_of_sum_of_squares_is_2x(x):
    grad = numeric_gradient(lambda x: np.sum(x**2), x)
    assert grad.shape == x.shape and grad.dtype == np.float64
    np.testing.assert_allclose(grad, 2 * x, rtol=1e-7, atol=1e-7)


@settings(max_examples=30, deadline=None)
@given(float64_arrays())
def test_numeric_gradient_of_sum_of_sines_is_cos(x):
    grad = numeric_gradient(lambda x: np.sum(np.sin(x)), x)
    np.testing.assert_allclose(grad, np.cos(x), rtol=1e-7, atol=1e-7)


def test_numeric_gradient_of_matrix_product_loss():
    rng = np.random.default_rng(0)
    x, w, upstream = rng.normal(size=(4, 5)), rng.normal(size=(5, 3)), rng.normal(size=(4, 3))
    # L = sum(upstream * (x @ w)) has dL/dx = upstream @ w.T and dL/dw = x.T @ upstream.
    dx = numeric_gradient(lambda x: np.sum(upstream * (x @ w)), x)
    dw = numeric_gradient(lambda w: np.sum(upstream * (x @ w)), w)
    assert rel_error(dx, upstream @ w.T) < 1e-9
    assert rel_error(dw, x.T @ upstream) < 1e-9


def test_numeric_gradient_of_softmax_loss():
    rng = np.random.default_rng(1)
    scores, y = rng.normal(size=(6, 4)), rng.integers(0, 4, size=6)
    _, dscores = softmax_loss(scores, y)
    numeric = numeric_gradient(lambda s: softmax_loss(s, y)[0], scores)
    assert rel_error(numeric, dscores) < tolerances.REL_ERROR_SMOOTH


def test_numeric_gradient_array_is_the_backward_pass_of_a_matrix_product():
    rng = np.random.default_rng(2)
    x, w, dout = rng.normal(size=(3, 4)), rng.normal(size=(4, 2)), rng.normal(size=(3, 2))
    dx = numeric_gradient_array(lambda x: x @ w, x, dout)
    dw = numeric_gradient_array(lambda w: x @ w, w, dout)
    assert rel_error(dx, dout @ w.T) < 1e-9
    assert rel_error(dw, x.T @ dout) < 1e-9


@settings(max_examples=30, deadline=None)
@given(float64_arrays(), st.data())
def test_numeric_gradient_array_of_elementwise_functions(x, data):
    dout = data.draw(hnp.arrays(np.float64, x.shape, elements=moderate_floats))
    np.testing.assert_allclose(
        numeric_gradient_array(np.tanh, x, dout), dout * (1 - np.tanh(x) ** 2), atol=1e-8
    )


def test_numeric_gradient_array_survives_f_returning_x_itself():
    # The identity returns the array that is being perturbed; outputs must be copied.
    x = np.array([1.0, 2.0, 3.0])
    dout = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(numeric_gradient_array(lambda x: x, x, dout), dout, rtol=1e-9)


def test_numeric_gradient_array_is_not_spoiled_by_large_unrelated_outputs():
    # Half of the output is huge and does not depend on x. Differencing whole outputs before
    # summing cancels it exactly; a difference of two sums would lose the derivative in rounding.
    rng = np.random.default_rng(3)
    x = rng.normal(size=(5,))
    huge = 1e8 * rng.normal(size=(200,))
    dout = rng.normal(size=(205,))
    dx = numeric_gradient_array(lambda x: np.concatenate([huge, 1e-3 * x]), x, dout)
    assert rel_error(dx, 1e-3 * dout[200:]) < 1e-8


def test_scalar_check_rejects_array_valued_f_with_a_hint():
    with pytest.raises(ValueError, match="numeric_gradient_array"):
        numeric_gradient(lambda x: x * 2, np.ones(3))


def test_array_check_rejects_dout_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"f\(x\) has shape \(3,\) but dout has shape \(2,\)"):
        numeric_gradient_array(lambda x: x * 2, np.ones(3), np.ones(2))


# ---------------------------------------------------------------------------------------------
# float64 is enforced
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_low_precision_input_is_rejected_with_an_explanation(dtype):
    x = np.ones(3, dtype=dtype)
    with pytest.raises(TypeError, match=r"float64.*astype\(np\.float64\)") as info:
        numeric_gradient(lambda x: np.sum(x**2), x)
    assert "h = 1e-5" in str(info.value) and str(np.dtype(dtype)) in str(info.value)
    with pytest.raises(TypeError, match="float64"):
        check_gradient(lambda x: np.sum(x**2), x, analytic_grad=2 * x)
    with pytest.raises(TypeError, match="float64"):
        grad_check_sparse(lambda x: np.sum(x**2), x, analytic_grad=2 * x)


def test_integer_and_list_inputs_are_rejected():
    with pytest.raises(TypeError, match="astype"):
        numeric_gradient(lambda x: np.sum(x), np.arange(3))
    with pytest.raises(TypeError, match="float64 array"):
        numeric_gradient(lambda x: sum(x), [1.0, 2.0])


# ---------------------------------------------------------------------------------------------
# x is restored
# ---------------------------------------------------------------------------------------------


@settings(max_examples=20, deadline=None)
@given(float64_arrays())
def test_every_checker_restores_x_exactly(x):
    original = x.copy()
    numeric_gradient(lambda x: np.sum(np.sin(x)), x)
    numeric_gradient_array(np.sin, x, np.ones_like(x))
    check_gradient(lambda x: np.sum(np.sin(x)), x, np.cos(x))
    grad_check_sparse(lambda x: np.sum(np.sin(x)), x, np.cos(x), num_checks=3, seed=0)
    has_kink(lambda x: np.sum(np.abs(x)), x, (0,) * x.ndim)
    np.testing.assert_array_equal(x, original)


def test_x_is_restored_when_f_raises():
    x = np.array([1.0, 2.0])
    calls = []

    def f(x):
        calls.append(x.copy())
        if len(calls) == 2:
            raise RuntimeError("boom")
        return np.sum(x)

    with pytest.raises(RuntimeError, match="boom"):
        numeric_gradient(f, x)
    np.testing.assert_array_equal(x, [1.0, 2.0])


def test_f_that_reads_a_copy_sees_no_change():
    # Documented pitfall: f must read x itself. A copy gives a zero numeric gradient.
    x = np.array([1.0, 2.0])
    frozen = x.copy()
    report = check_gradient(lambda _: np.sum(frozen**2), x, analytic_grad=2 * x)
    assert report.numeric == 0.0 and not report.passed()


# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------


def test_report_of_a_correct_gradient_passes():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 4))
    report = check_gradient(lambda x: np.sum(np.sin(x) * x), x, np.cos(x) * x + np.sin(x))
    assert isinstance(report, GradCheckReport)
    assert report.num_checked == 12
    assert report.max_rel_error < 1e-8
    assert report.passed() and not report.kink
    assert str(report).startswith("max rel error ")
    assert "12 entries checked" in str(report)


def test_report_names_the_planted_wrong_entry_and_its_values():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 5))
    analytic = 2 * x
    analytic[1, 4] += 0.5  # planted bug
    report = check_gradient(lambda x: np.sum(x**2), x, analytic, name="dx")
    assert report.worst_index == (1, 4)
    assert report.analytic == pytest.approx(2 * x[1, 4] + 0.5)
    assert report.numeric == pytest.approx(2 * x[1, 4], rel=1e-8)
    assert report.max_rel_error == pytest.approx(rel_error(analytic, 2 * x), rel=1e-6)
    assert not report.passed() and not report.passed(tolerances.REL_ERROR_KINK)
    text = str(report)
    assert text.startswith("dx: max rel error")
    assert "at index (1, 4)" in text
    assert f"analytic {report.analytic:.6g}" in text and f"numeric {report.numeric:.6g}" in text


def test_report_ranks_a_nan_gradient_worst():
    x = np.array([1.0, 2.0, 3.0])
    analytic = 2 * x
    analytic[2] = np.nan
    report = check_gradient(lambda x: np.sum(x**2), x, analytic)
    assert report.worst_index == (2,) and not report.passed()


def test_check_gradient_with_dout_checks_an_array_valued_function():
    rng = np.random.default_rng(6)
    x, w, dout = rng.normal(size=(2, 3)), rng.normal(size=(3, 4)), rng.normal(size=(2, 4))
    assert check_gradient(lambda x: x @ w, x, dout @ w.T, dout=dout).passed()
    wrong = (dout @ w.T) * 1.01
    assert not check_gradient(lambda x: x @ w, x, wrong, dout=dout).passed()


def test_check_gradient_rejects_analytic_gradient_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"shape \(3, 2\).*x has shape \(2, 3\)"):
        check_gradient(lambda x: np.sum(x), np.ones((2, 3)), np.ones((3, 2)))


def test_softmax_loss_gradient_passes_the_smooth_tolerance():
    rng = np.random.default_rng(7)
    scores, y = rng.normal(size=(10, 5)), rng.integers(0, 5, size=10)
    _, dscores = softmax_loss(scores, y)
    report = check_gradient(lambda s: softmax_loss(s, y)[0], scores, dscores)
    assert report.passed(tolerances.REL_ERROR_SMOOTH), str(report)
    assert not report.kink


# ---------------------------------------------------------------------------------------------
# Kinks
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [-0.9, -0.3, 0.0, 0.3, 0.9])
def test_relu_kink_within_h_is_flagged(offset):
    h = tolerances.GRAD_CHECK_H
    x = np.array([1.0, offset * h, -2.0])
    relu_sum = lambda x: np.sum(np.maximum(0, x))  # noqa: E731
    assert has_kink(relu_sum, x, (1,))
    assert not has_kink(relu_sum, x, (0,)) and not has_kink(relu_sum, x, (2,))


@pytest.mark.parametrize("offset", [-2.5, -1.5, 1.5, 2.5])
def test_relu_kink_beyond_h_is_not_flagged(offset):
    # The centred difference only spans [x - h, x + h], so a kink further away does not matter.
    x = np.array([offset * tolerances.GRAD_CHECK_H])
    assert not has_kink(lambda x: np.sum(np.maximum(0, x)), x, (0,))


def test_smooth_network_with_large_inputs_is_never_flagged():
    # Large inputs make the third derivative large; the prediction of the gap must allow for it.
    rng = np.random.default_rng(10)
    x_in, w2, y = 100 * rng.normal(size=(5, 4)), rng.normal(size=(6, 3)), rng.integers(0, 3, 5)
    w1 = rng.normal(size=(4, 6)) / 200

    def loss(w1):
        return softmax_loss(np.tanh(x_in @ w1) @ w2, y)[0]

    assert not any(has_kink(loss, w1, ix) for ix in np.ndindex(*w1.shape))


def test_report_flags_the_kink_that_explains_a_large_error():
    h = tolerances.GRAD_CHECK_H
    x = np.array([0.5, 0.3 * h, -1.5])
    analytic = (x > 0).astype(np.float64)  # the true derivative of relu at x
    report = check_gradient(lambda x: np.sum(np.maximum(0, x)), x, analytic)
    assert report.worst_index == (1,)
    assert report.numeric == pytest.approx(0.65)  # (1.3h - 0) / 2h: the difference straddles 0
    assert report.kink
    assert "kink" in str(report) and "within h" in str(report)


def test_kink_of_an_array_valued_function_with_dout_is_flagged():
    h = tolerances.GRAD_CHECK_H
    x = np.array([[0.2 * h, 1.0], [-1.0, 2.0]])
    dout = np.array([[3.0, -1.0], [0.5, 2.0]])
    relu = lambda x: np.maximum(0, x)  # noqa: E731
    assert has_kink(relu, x, (0, 0), dout=dout)
    assert not has_kink(relu, x, (1, 1), dout=dout)
    report = check_gradient(relu, x, dout * (x > 0), dout=dout)
    assert report.worst_index == (0, 0) and report.kink


def test_kink_of_max_is_flagged():
    h = tolerances.GRAD_CHECK_H
    x = np.array([1.0, 1.0 + 0.5 * h, 0.2])  # the two largest entries tie within h
    assert has_kink(lambda x: np.max(x), x, (0,))
    assert not has_kink(lambda x: np.max(x), x, (2,))


@settings(max_examples=40, deadline=None)
@given(float64_arrays(), st.sampled_from(["sin", "square", "exp", "softplus", "cube"]))
def test_smooth_functions_are_never_flagged(x, name):
    f = {
        "sin": lambda x: np.sum(np.sin(3 * x)),
        "square": lambda x: np.sum(x**2),
        "exp": lambda x: np.sum(np.exp(x)),
        "softplus": lambda x: np.sum(np.logaddexp(0, 5 * x)),
        "cube": lambda x: np.sum(x**3),
    }[name]
    for ix in np.ndindex(*x.shape):
        assert not has_kink(f, x, ix), (name, ix, x[ix])


def test_smooth_function_at_stationary_and_inflection_points_is_not_flagged():
    x = np.array([0.0, np.pi / 2, 1e-7])
    for f in (lambda x: np.sum(x**2), lambda x: np.sum(np.sin(x)), lambda x: np.sum(x**3)):
        for ix in np.ndindex(*x.shape):
            assert not has_kink(f, x, ix)


def test_softmax_loss_report_is_not_flagged():
    rng = np.random.default_rng(8)
    scores, y = 10 * rng.normal(size=(4, 3)), rng.integers(0, 3, size=4)
    for ix in np.ndindex(*scores.shape):
        assert not has_kink(lambda s: softmax_loss(s, y)[0], scores, ix)


# ---------------------------------------------------------------------------------------------
# Sparse checks
# ---------------------------------------------------------------------------------------------


def test_sparse_check_is_deterministic_with_a_seed_and_checks_distinct_entries():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(20, 30))
    analytic = np.cos(x) + 1e-3 * rng.normal(size=x.shape)  # every entry a little wrong
    f = lambda x: np.sum(np.sin(x))  # noqa: E731
    first = grad_check_sparse(f, x, analytic, num_checks=7, seed=123)
    second = grad_check_sparse(f, x, analytic, num_checks=7, seed=123)
    other = grad_check_sparse(f, x, analytic, num_checks=7, seed=124)
    assert first == second
    assert first.num_checked == 7
    assert (other.worst_index, other.max_rel_error) != (first.worst_index, first.max_rel_error)


def test_sparse_check_finds_the_only_bug_when_it_checks_everything():
    x = np.arange(6, dtype=np.float64).reshape(2, 3)
    analytic = 2 * x
    analytic[1, 2] = -1.0
    report = grad_check_sparse(lambda x: np.sum(x**2), x, analytic, num_checks=100, seed=0)
    assert report.num_checked == 6  # capped at x.size, no entry twice
    assert report.worst_index == (1, 2) and report.numeric == pytest.approx(10.0)


def test_sparse_check_visits_only_a_few_entries():
    x = np.zeros((50, 50))
    calls = []

    def f(x):
        calls.append(1)
        return np.sum(x**2)

    report = grad_check_sparse(f, x, np.zeros_like(x), num_checks=5, seed=0)
    assert report.passed()
    assert len(calls) == 5 * 2 + 7  # two per checked entry, seven for the kink probe


def test_sparse_check_rejects_nonpositive_num_checks():
    with pytest.raises(ValueError, match="num_checks"):
        grad_check_sparse(lambda x: np.sum(x), np.ones(3), np.ones(3), num_checks=0)
