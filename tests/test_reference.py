"""Tests for the reference implementations in autograder/judge/reference/ (the judge's answers).

Every backward pass is checked against a numeric gradient (float64, small shapes); the defining
properties are checked with hypothesis on random shapes (explicit Jacobian products equal the
implicit backward passes, the broadcast backward pass is the adjoint of broadcasting, dropout's
documented mask, its backward pass as the adjoint of the forward pass, the vanilla-dropout
expectation, graph gradients against a numeric gradient); the update rules against single steps
worked out by hand; the models by gradient checks and by overfitting a tiny training set.

The normalization layers (batch norm, layer norm, spatial batch norm) are checked against
*complex-step* derivatives (``complex_step_backward``): f'(x) = Im f(x + ih) / h with h = 1e-20
involves no subtraction, so it is exact to rounding and can hold them to a relative error below
1e-8 in float64 on any shape, including a one-example batch, a one-feature layer and a constant
feature (zero variance), where centred differences lose digits.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from autograder.judge.reference import (
    circuits,
    jacobians,
    layers,
    linear_classifiers,
    normalization,
    search,
)
from autograder.judge.reference import conv as conv_layers
from autograder.judge.reference.models import FullyConnectedNet, ThreeLayerConvNet, two_layer_net
from autograder.judge.reference.optim import adam, rmsprop, sgd_momentum
from cs231kit import tolerances
from cs231kit.fast_layers import (
    conv_backward_fast,
    conv_forward_fast,
    max_pool_backward_fast,
    max_pool_forward_fast,
)
from cs231kit.gradient_check import check_gradient, rel_error
from cs231kit.solver import Solver

SMOOTH = tolerances.REL_ERROR_SMOOTH
KINK = tolerances.REL_ERROR_KINK


def away_from_zero(rng: np.random.Generator, *shape: int) -> np.ndarray:
    """Random values with |v| >= 0.1, so no ReLU kink lies within a finite-difference step."""
    v = rng.standard_normal(shape)
    return np.where(v >= 0, v + 0.1, v - 0.1)


def assert_backward_matches_numeric(
    forward: Callable[..., Any],
    backward: Callable[[Any, Any], Any],
    inputs: list[np.ndarray],
    rng: np.random.Generator,
    tol: float = SMOOTH,
) -> None:
    """Check every gradient that ``backward`` returns against a numeric gradient of ``forward``."""
    out, cache = forward(*inputs)
    dout = rng.standard_normal(out.shape)
    grads = backward(dout, cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    for i, grad in enumerate(grads):
        assert grad.shape == inputs[i].shape

        def f(_: np.ndarray, i: int = i) -> Any:
            return forward(*inputs)[0]

        report = check_gradient(f, inputs[i], grad, dout=dout, name=f"input {i}")
        assert report.passed(tol), str(report)


# ---------------------------------------------------------------------- layers


def test_affine_forward_flattens_each_example() -> None:
    x = np.arange(12, dtype=np.float64).reshape(2, 2, 3)
    w = np.ones((6, 2))
    w[:, 1] = 2
    b = np.array([0.5, -1.0])
    out, _ = layers.affine_forward(x, w, b)
    # Row sums are 0+...+5 = 15 and 6+...+11 = 51.
    np.testing.assert_allclose(out, [[15.5, 29.0], [51.5, 101.0]])


def test_affine_backward_matches_numeric() -> None:
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal((3, 2, 4)), rng.standard_normal((8, 5)), rng.standard_normal(5)]
    assert_backward_matches_numeric(layers.affine_forward, layers.affine_backward, inputs, rng)


def test_relu_forward_and_backward() -> None:
    x = np.array([1.0, -2.0, 3.0, -1.0])
    out, cache = layers.relu_forward(x)
    np.testing.assert_array_equal(out, [1.0, 0.0, 3.0, 0.0])
    # Upstream [4, -1, 5, 9]: only the positive inputs pass their gradient back.
    np.testing.assert_array_equal(layers.relu_backward(np.array([4.0, -1.0, 5.0, 9.0]), cache),
                                  [4.0, 0.0, 5.0, 0.0])
    rng = np.random.default_rng(1)
    assert_backward_matches_numeric(
        layers.relu_forward, layers.relu_backward, [away_from_zero(rng, 4, 6)], rng
    )


def test_sigmoid_values_gradient_and_no_overflow() -> None:
    out, _ = layers.sigmoid_forward(np.array([0.0, math.log(3.0), -math.log(3.0)]))
    np.testing.assert_allclose(out, [0.5, 0.75, 0.25], rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # exp must not overflow for large |x|
        out, _ = layers.sigmoid_forward(np.array([-1000.0, 1000.0]))
    np.testing.assert_array_equal(out, [0.0, 1.0])
    rng = np.random.default_rng(2)
    assert_backward_matches_numeric(
        layers.sigmoid_forward, layers.sigmoid_backward, [3 * rng.standard_normal((5, 4))], rng
    )


def test_affine_relu_sandwich_matches_numeric() -> None:
    rng = np.random.default_rng(3)
    inputs = [rng.standard_normal((4, 6)), rng.standard_normal((6, 5)), rng.standard_normal(5)]
    assert_backward_matches_numeric(
        layers.affine_relu_forward, layers.affine_relu_backward, inputs, rng, tol=KINK
    )


def test_softmax_loss_value_gradient_and_stability() -> None:
    rng = np.random.default_rng(4)
    num_classes = 10
    x = 1e-3 * rng.standard_normal((50, num_classes))
    y = rng.integers(0, num_classes, size=50)
    loss, dx = layers.softmax_loss(x, y)
    assert isinstance(loss, float)
    assert loss == pytest.approx(math.log(num_classes), abs=1e-2)  # near-uniform scores

    x = rng.standard_normal((6, 4))
    y = rng.integers(0, 4, size=6)
    _, dx = layers.softmax_loss(x, y)
    report = check_gradient(lambda _: layers.softmax_loss(x, y)[0], x, dx)
    assert report.passed(SMOOTH), str(report)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, dx = layers.softmax_loss(np.array([[1000.0, 0.0], [0.0, 1000.0]]), np.array([0, 0]))
    assert loss == pytest.approx(500.0)  # 0 for the first row, 1000 for the second, averaged
    assert np.all(np.isfinite(dx))


def test_svm_loss_hand_example_and_gradient() -> None:
    # Scores [1, 2, 3], correct class 0: margins 2 - 1 + 1 = 2 and 3 - 1 + 1 = 3.
    loss, dx = layers.svm_loss(np.array([[1.0, 2.0, 3.0]]), np.array([0]))
    assert loss == pytest.approx(5.0)
    np.testing.assert_allclose(dx, [[-2.0, 1.0, 1.0]])

    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 4))
    y = rng.integers(0, 4, size=6)
    _, dx = layers.svm_loss(x, y)
    report = check_gradient(lambda _: layers.svm_loss(x, y)[0], x, dx)
    assert report.passed(KINK), str(report)


def test_dropout_keeps_a_fraction_p_and_preserves_the_mean() -> None:
    """Seeded or from NumPy's global generator: a fraction p is kept, E[out] = x (inverted)."""
    x = np.ones((500, 400)) + 10
    np.random.seed(0)  # noqa: NPY002 (without a seed the reference draws from the global generator)
    for p in (0.25, 0.5, 0.75):
        for param in ({"mode": "train", "p": p, "seed": 0}, {"mode": "train", "p": p}):
            out, _ = layers.dropout_forward(x, param)
            assert np.mean(out != 0) == pytest.approx(p, abs=0.01)
            assert out.mean() == pytest.approx(x.mean(), rel=0.02)
        test_out, _ = layers.dropout_forward(x, {"mode": "test", "p": p})
        np.testing.assert_array_equal(test_out, x)


def test_dropout_backward_matches_numeric_and_is_seeded() -> None:
    rng = np.random.default_rng(6)
    x = rng.standard_normal((5, 7))
    param = {"mode": "train", "p": 0.6, "seed": 123}
    np.testing.assert_array_equal(
        layers.dropout_forward(x, param)[0], layers.dropout_forward(x, param)[0]
    )

    def forward(x: np.ndarray) -> Any:
        return layers.dropout_forward(x, param)

    assert_backward_matches_numeric(forward, layers.dropout_backward, [x], rng)


def test_dropout_rejects_bad_parameters() -> None:
    x = np.ones(3)
    with pytest.raises(ValueError, match="keep probability"):
        layers.dropout_forward(x, {"p": 0.0, "mode": "train"})
    with pytest.raises(ValueError, match="mode"):
        layers.dropout_forward(x, {"p": 0.5, "mode": "eval"})
    with pytest.raises(ValueError, match="keep probability"):
        layers.vanilla_dropout_predict(np.ones((1, 2)), np.ones((2, 1)), 1.5)


shapes = st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=4).map(tuple)
keep_probs = st.floats(min_value=0.05, max_value=1.0)
seeds = st.integers(min_value=0, max_value=2**32 - 1)


@settings(max_examples=60, deadline=None)
@given(shape=shapes, p=keep_probs, seed=seeds, dtype=st.sampled_from(["float32", "float64"]))
def test_dropout_forward_uses_the_documented_mask(
    shape: tuple[int, ...], p: float, seed: int, dtype: str
) -> None:
    """The keep-mask is default_rng(seed).random(shape) < p; kept units are divided by p."""
    x = np.random.default_rng(seed).normal(size=shape).astype(dtype)
    out, (_, mask) = layers.dropout_forward(x, {"p": p, "mode": "train", "seed": seed})
    keep = np.random.default_rng(seed).random(shape) < p
    assert out.dtype == x.dtype and mask.dtype == x.dtype
    np.testing.assert_array_equal(mask != 0, keep)
    np.testing.assert_allclose(mask[keep], 1 / p, rtol=1e-6)
    np.testing.assert_array_equal(out, x * mask)
    test_out, (_, test_mask) = layers.dropout_forward(x, {"p": p, "mode": "test", "seed": seed})
    assert test_out is x and test_mask is None


@settings(max_examples=40, deadline=None)
@given(shape=shapes, p=keep_probs, seed=seeds)
def test_dropout_backward_is_the_adjoint_of_the_forward_pass(
    shape: tuple[int, ...], p: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    x, dout = rng.normal(size=shape), rng.normal(size=shape)
    out, cache = layers.dropout_forward(x, {"p": p, "mode": "train", "seed": seed})
    dx = layers.dropout_backward(dout, cache)
    # The layer is linear in x, so <dout, forward(x)> = <backward(dout), x> for every x.
    np.testing.assert_allclose(np.sum(dout * out), np.sum(dx * x), rtol=1e-10, atol=1e-10)
    _, test_cache = layers.dropout_forward(x, {"p": p, "mode": "test"})
    assert layers.dropout_backward(dout, test_cache) is dout


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 4), d=st.integers(1, 6), m=st.integers(1, 4), p=keep_probs, seed=seeds)
def test_vanilla_dropout_predict_is_the_expected_training_output(
    n: int, d: int, m: int, p: float, seed: int
) -> None:
    """Enumerate every mask of one example (d <= 6: at most 64) and average exactly."""
    rng = np.random.default_rng(seed)
    x, W = rng.normal(size=(n, d)), rng.normal(size=(d, m))
    masks = (np.arange(2**d)[:, None] >> np.arange(d)) & 1  # (2**d, d): every 0/1 mask
    probs = np.prod(np.where(masks == 1, p, 1 - p), axis=1)  # the probability of each mask
    expected = np.einsum("k,knm->nm", probs, (masks[:, None, :] * x) @ W)
    np.testing.assert_allclose(layers.vanilla_dropout_predict(x, W, p), expected, atol=1e-10)


# ---------------------------------------------------------------------- explicit Jacobians

sizes = st.integers(min_value=1, max_value=4)


@settings(max_examples=40, deadline=None)
@given(n=sizes, d=sizes, m=sizes, seed=seeds)
def test_jacobian_products_equal_the_implicit_backward_pass(n: int, d: int, m: int, seed: int):
    rng = np.random.default_rng(seed)
    x, w, dy = rng.standard_normal((n, d)), rng.standard_normal((d, m)), rng.standard_normal((n, m))
    jac_x, jac_w = jacobians.matmul_jacobians(x, w)
    dx, dw = jacobians.matmul_backward(x, w, dy)
    np.testing.assert_allclose((jac_x.T @ dy.ravel()).reshape(n, d), dx, atol=1e-12)
    np.testing.assert_allclose((jac_w.T @ dy.ravel()).reshape(d, m), dw, atol=1e-12)
    # The Jacobian is linear in the input: J_x @ vec(x) = vec(y) = J_w @ vec(w).
    np.testing.assert_allclose(jac_x @ x.ravel(), (x @ w).ravel(), atol=1e-12)
    np.testing.assert_allclose(jac_w @ w.ravel(), (x @ w).ravel(), atol=1e-12)
    assert jacobians.explicit_jacobian_bytes(n, d, m) == jac_x.size * 4
    assert jacobians.explicit_jacobian_bytes(n, d, m, bytes_per_element=8) == jac_x.size * 8


@settings(max_examples=40, deadline=None)
@given(d=st.integers(min_value=1, max_value=20), seed=seeds)
def test_relu_jacobian_product_equals_the_implicit_rule(d: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = np.round(rng.standard_normal(d), 1)  # rounding puts some entries exactly at 0
    dz = rng.standard_normal(d)
    jac = jacobians.relu_jacobian(x)
    np.testing.assert_array_equal(jac.T @ dz, jacobians.relu_backward_implicit(x, dz))
    np.testing.assert_array_equal(np.diag(jac), (x > 0).astype(float))


@st.composite
def broadcast_pairs(draw: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    out_shape = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=4)))
    kept = draw(st.integers(0, len(out_shape)))
    shape = [1 if draw(st.booleans()) else size for size in out_shape[len(out_shape) - kept :]]
    return out_shape, tuple(shape)


@settings(max_examples=80, deadline=None)
@given(pair=broadcast_pairs(), seed=seeds)
def test_broadcast_backward_is_the_adjoint_of_broadcasting(
    pair: tuple[tuple[int, ...], tuple[int, ...]], seed: int
) -> None:
    out_shape, shape = pair
    rng = np.random.default_rng(seed)
    dout, b = rng.standard_normal(out_shape), rng.standard_normal(shape)
    grad = jacobians.broadcast_backward(dout, shape)
    assert np.shape(grad) == shape
    # <dout, broadcast(b)> = <broadcast_backward(dout), b> for every b: the defining property.
    lhs = np.sum(dout * np.broadcast_to(b, out_shape))
    rhs = np.sum(grad * b)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12, atol=1e-12)


def test_broadcast_backward_rejects_incompatible_shapes() -> None:
    with pytest.raises(ValueError, match="does not broadcast"):
        jacobians.broadcast_backward(np.zeros((2, 3)), (2, 1, 3))


# ---------------------------------------------------------------------- circuits and the graph


def test_sigmoid_circuit_lecture_example_and_numeric_gradient() -> None:
    # The lecture: w = [2, -3, -3], x = [-1, -2]; w.x + w2 = 1, f = sigmoid(1), f(1 - f) = 0.197.
    f, dw, dx = circuits.sigmoid_circuit(np.array([2.0, -3.0, -3.0]), np.array([-1.0, -2.0]))
    s = 1 / (1 + math.exp(-1))
    assert f == pytest.approx(s, rel=1e-12)
    np.testing.assert_allclose(dw, s * (1 - s) * np.array([-1.0, -2.0, 1.0]), rtol=1e-12)
    np.testing.assert_allclose(dx, s * (1 - s) * np.array([2.0, -3.0]), rtol=1e-12)
    rng = np.random.default_rng(18)
    w, x = rng.standard_normal(3), rng.standard_normal(2)
    _, dw, dx = circuits.sigmoid_circuit(w, x)
    for value, grad in ((w, dw), (x, dx)):
        report = check_gradient(lambda _: circuits.sigmoid_circuit(w, x)[0], value, grad)
        assert report.passed(SMOOTH), str(report)


def test_multiply_gate_swaps_its_inputs_and_keeps_its_own() -> None:
    rng = np.random.default_rng(19)
    gates = [circuits.MultiplyGate() for _ in range(2)]
    pairs = [(rng.standard_normal((2, 3)), rng.standard_normal((2, 3))) for _ in gates]
    outs = [gate.forward(x, y) for gate, (x, y) in zip(gates, pairs, strict=True)]
    for gate, (x, y), z in zip(gates, pairs, outs, strict=True):
        np.testing.assert_array_equal(z, x * y)
        dz = rng.standard_normal(z.shape)
        dx, dy = gate.backward(dz)
        np.testing.assert_array_equal(dx, dz * y)
        np.testing.assert_array_equal(dy, dz * x)


@st.composite
def graph_recipes(draw: Any) -> tuple[list[float], list[tuple[str, int, int]]]:
    """Leaf values, then nodes (op, i, j) over earlier nodes: reuse makes nodes feed several."""
    leaves = draw(st.lists(st.floats(-2, 2), min_size=1, max_size=4))
    steps = []
    for k in range(draw(st.integers(1, 8))):
        count = len(leaves) + k
        op = draw(st.sampled_from(["+", "*", "sigmoid"]))
        steps.append((op, draw(st.integers(0, count - 1)), draw(st.integers(0, count - 1))))
    return leaves, steps


def build_graph(leaves: list[float], steps: list[tuple[str, int, int]]) -> list[Any]:
    nodes = [circuits.Node(v) for v in leaves]
    for op, i, j in steps:
        a, b = nodes[i], nodes[j]
        nodes.append(a + b if op == "+" else a * b if op == "*" else a.sigmoid())
    return nodes


@settings(max_examples=60, deadline=None)
@given(recipe=graph_recipes())
def test_graph_backward_matches_a_numeric_gradient(recipe: Any) -> None:
    leaves, steps = recipe
    nodes = build_graph(leaves, steps)
    output = nodes[-1]
    order = circuits.topological_order(output)
    assert order[-1] is output and len({id(n) for n in order}) == len(order)
    position = {id(n): k for k, n in enumerate(order)}
    assert all(position[id(p)] < position[id(n)] for n in order for p in n.parents)
    circuits.backward(output)
    h = 1e-6
    for k in range(len(leaves)):
        up, down = list(leaves), list(leaves)
        up[k] += h
        down[k] -= h
        numeric = (build_graph(up, steps)[-1].value - build_graph(down, steps)[-1].value) / (2 * h)
        assert nodes[k].grad == pytest.approx(numeric, rel=1e-5, abs=1e-7)


# ---------------------------------------------------------------------- notebook 01


@pytest.mark.parametrize(
    "loss", [linear_classifiers.svm_loss_vectorized, linear_classifiers.softmax_loss_vectorized]
)
@pytest.mark.parametrize("reg", [0.0, 0.3])
def test_linear_classifier_losses_match_numeric(loss: Callable[..., Any], reg: float) -> None:
    rng = np.random.default_rng(20)
    W, X = 0.5 * rng.standard_normal((5, 4)), rng.standard_normal((7, 5))
    y = rng.integers(0, 4, size=7)
    _, dW = loss(W, X, y, reg)
    report = check_gradient(lambda _: loss(W, X, y, reg)[0], W, dW)
    assert report.passed(KINK), str(report)
    # Zero weights: every SVM margin is 1 (loss C - 1), softmax is uniform (loss log C).
    expected = 3.0 if loss is linear_classifiers.svm_loss_vectorized else math.log(4)
    assert loss(np.zeros((5, 4)), X, y, reg)[0] == pytest.approx(expected)
    # L2 is reg * sum(W^2) here (notebook 01), gradient 2 * reg * W.
    plain, dplain = loss(W, X, y, 0.0)
    regular, dregular = loss(W, X, y, reg)
    assert regular - plain == pytest.approx(reg * float(np.sum(W**2)))
    np.testing.assert_allclose(dregular - dplain, 2 * reg * W, atol=1e-12)


def test_two_layer_net_scores_and_gradients() -> None:
    rng = np.random.default_rng(21)
    X, y = rng.standard_normal((4, 5)), rng.integers(0, 3, size=4)
    params = {"W1": rng.standard_normal((5, 6)), "b1": 0.1 * rng.standard_normal(6),
              "W2": rng.standard_normal((6, 3)), "b2": rng.standard_normal(3)}
    assert two_layer_net(X, params).shape == (4, 3)
    _, grads = two_layer_net(X, params, y, reg=0.2)
    assert set(grads) == set(params)
    for name, value in params.items():
        report = check_gradient(lambda _: two_layer_net(X, params, y, reg=0.2)[0], value,
                                grads[name], name=name)
        assert report.passed(KINK), str(report)


def test_sample_log_uniform_is_uniform_in_log_space_and_seeded() -> None:
    values = search.sample_log_uniform(np.random.default_rng(22), 1e-6, 1e-2, size=20000)
    assert values.shape == (20000,) and values.min() >= 1e-6 and values.max() <= 1e-2
    exponents = np.log10(values)
    assert exponents.mean() == pytest.approx(-4.0, abs=0.05)
    # Each decade holds a quarter of the samples (a uniform sample would put ~90% in the last).
    counts = np.histogram(exponents, bins=[-6, -5, -4, -3, -2])[0] / values.size
    np.testing.assert_allclose(counts, 0.25, atol=0.02)
    one = search.sample_log_uniform(np.random.default_rng(5), 1e-3, 1.0)
    assert isinstance(float(one), float)
    assert one == search.sample_log_uniform(np.random.default_rng(5), 1e-3, 1.0)


def test_should_abort_only_above_the_threshold_or_when_not_finite() -> None:
    assert not search.should_abort(6.0, 2.0)  # exactly 3x the start
    assert search.should_abort(6.000001, 2.0)
    assert not search.should_abort(1.0, 2.0)
    assert search.should_abort(5.0, 2.0, factor=2.0)
    assert search.should_abort(float("nan"), 2.0) and search.should_abort(float("inf"), 2.0)


# ---------------------------------------------------------------------- conv and pool


def test_conv_forward_naive_hand_example() -> None:
    # A 3x3 input of ones and one 2x2 filter of ones: every window sums four ones.
    x = np.ones((1, 1, 3, 3))
    out, _ = conv_layers.conv_forward_naive(x, np.ones((1, 1, 2, 2)), np.array([0.5]),
                                            {"stride": 1, "pad": 0})
    np.testing.assert_array_equal(out, np.full((1, 1, 2, 2), 4.5))
    # A 3x3 filter of ones with pad 1 counts the real pixels in each window: 4 at the corners,
    # 6 on the edges, 9 in the centre.
    out, _ = conv_layers.conv_forward_naive(x, np.ones((1, 1, 3, 3)), np.array([0.0]),
                                            {"stride": 1, "pad": 1})
    np.testing.assert_array_equal(out[0, 0], [[4.0, 6.0, 4.0], [6.0, 9.0, 6.0], [4.0, 6.0, 4.0]])
    # Stride 2 keeps every other window.
    out, _ = conv_layers.conv_forward_naive(x, np.ones((1, 1, 3, 3)), np.array([0.0]),
                                            {"stride": 2, "pad": 1})
    np.testing.assert_array_equal(out[0, 0], [[4.0, 4.0], [4.0, 4.0]])


def test_conv_output_size_follows_the_lecture_formula() -> None:
    """(W - F + 2P) / S + 1, an error when the filter does not tile the padded input exactly."""
    assert conv_layers.conv_output_size(32, 5, 2, 1) == 32  # 32x32x3, 5x5 filters, pad 2
    assert conv_layers.conv_output_size(227, 11, 0, 4) == 55  # AlexNet CONV1
    assert conv_layers.conv_output_size(224, 9, 4, 1) == 224
    assert conv_layers.conv_output_size(7, 3, 0, 2) == 3
    with pytest.raises(ValueError, match="does not fit"):
        conv_layers.conv_output_size(224, 9, 4, 2)  # (224 - 9 + 8) / 2 = 111.5
    with pytest.raises(ValueError, match="exceeds the padded input"):
        conv_layers.conv_output_size(3, 7, 1, 1)


def test_naive_conv_ignores_what_the_last_window_cannot_reach() -> None:
    """The naive layer, unlike the formula, floors: 224 wide, filter 9, pad 4, stride 2 -> 112."""
    x = np.zeros((1, 1, 224, 224))
    out, _ = conv_layers.conv_forward_naive(x, np.zeros((4, 1, 9, 9)), np.zeros(4),
                                            {"stride": 2, "pad": 4})
    assert out.shape == (1, 4, 112, 112)
    with pytest.raises(ValueError, match="does not fit"):
        conv_layers.conv_forward_naive(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 7, 7)),
                                       np.zeros(1), {"stride": 1, "pad": 1})


@settings(max_examples=25, deadline=None)
@given(
    size=st.integers(1, 40),
    filter_size=st.integers(1, 9),
    pad=st.integers(0, 4),
    stride=st.integers(1, 4),
)
def test_conv_output_size_is_the_naive_layers_output_where_it_tiles(
    size: int, filter_size: int, pad: int, stride: int
) -> None:
    """Where the formula gives a size, the naive convolution's output has exactly that size."""
    try:
        expected = conv_layers.conv_output_size(size, filter_size, pad, stride)
    except ValueError:
        return
    x = np.zeros((1, 1, size, size))
    out, _ = conv_layers.conv_forward_naive(
        x, np.zeros((1, 1, filter_size, filter_size)), np.zeros(1),
        {"stride": stride, "pad": pad},
    )
    assert out.shape == (1, 1, expected, expected)


def test_conv_param_count_counts_weights_and_biases() -> None:
    assert conv_layers.conv_param_count(10, 3, 5, 5) == 10 * 3 * 5 * 5 + 10  # the lecture: 760
    model = ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=6, filter_size=3, seed=0)
    assert conv_layers.conv_param_count(6, 3, 3, 3) == model.params["W1"].size + 6


def test_hand_set_filters_do_what_they_say() -> None:
    """Identity, box blur (weights sum to 1), horizontal and vertical edges (sum to 0)."""
    w, b = conv_layers.make_filters()
    assert w.shape == (4, 1, 9, 9) and b.shape == (4,) and not b.any()
    image = np.random.default_rng(17).standard_normal((1, 1, 20, 20))
    out, _ = conv_layers.conv_forward_naive(image, w, b, {"stride": 1, "pad": 4})
    np.testing.assert_allclose(out[0, 0], image[0, 0], atol=1e-12)
    assert w[1].sum() == pytest.approx(1.0)
    constant = np.ones((1, 1, 20, 20))
    out, _ = conv_layers.conv_forward_naive(constant, w, b, {"stride": 1, "pad": 0})
    np.testing.assert_allclose(out[0, 2:], 0.0, atol=1e-12)  # no edges in a constant image
    rows = np.repeat(np.arange(20.0)[:, None], 20, axis=1)[None, None]  # changes top to bottom
    out, _ = conv_layers.conv_forward_naive(rows, w, b, {"stride": 1, "pad": 0})
    assert np.all(np.abs(out[0, 2]) > 1e-6)  # the horizontal-edge filter responds
    np.testing.assert_allclose(out[0, 3], 0.0, atol=1e-12)  # the vertical one does not
    np.testing.assert_allclose(w[3, 0], w[2, 0].T)


@pytest.mark.parametrize(("stride", "pad"), [(1, 1), (2, 1), (1, 0)])
def test_conv_backward_naive_matches_numeric(stride: int, pad: int) -> None:
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 5, 5))
    w = rng.standard_normal((3, 3, 3, 3))
    b = rng.standard_normal(3)

    def forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> Any:
        return conv_layers.conv_forward_naive(x, w, b, {"stride": stride, "pad": pad})

    assert_backward_matches_numeric(forward, conv_layers.conv_backward_naive, [x, w, b], rng)


def test_max_pool_naive_forward_hand_example_and_backward() -> None:
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    out, cache = conv_layers.max_pool_forward_naive(x, param)
    np.testing.assert_array_equal(out[0, 0], [[5.0, 7.0], [13.0, 15.0]])
    dx = conv_layers.max_pool_backward_naive(np.ones((1, 1, 2, 2)), cache)
    assert dx.sum() == 4 and dx[0, 0, 1, 1] == dx[0, 0, 3, 3] == 1

    rng = np.random.default_rng(8)
    x = rng.permutation(2 * 3 * 6 * 6).reshape(2, 3, 6, 6) / 10.0  # distinct: no ties, no kinks

    def forward(x: np.ndarray) -> Any:
        return conv_layers.max_pool_forward_naive(x, param)

    assert_backward_matches_numeric(forward, conv_layers.max_pool_backward_naive, [x], rng)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 2),
    c=st.integers(1, 3),
    f=st.integers(1, 3),
    size=st.integers(3, 8),
    filter_size=st.sampled_from([1, 2, 3]),
    stride=st.integers(1, 3),
    pad=st.integers(0, 2),
    seed=st.integers(0, 2**16),
)
def test_naive_conv_agrees_with_the_fast_layer(
    n: int, c: int, f: int, size: int, filter_size: int, stride: int, pad: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, size, size))
    w = rng.standard_normal((f, c, filter_size, filter_size))
    b = rng.standard_normal(f)
    param = {"stride": stride, "pad": pad}
    naive, naive_cache = conv_layers.conv_forward_naive(x, w, b, param)
    fast, fast_cache = conv_forward_fast(x, w, b, param)
    assert naive.shape == fast.shape
    assert rel_error(naive, fast) < tolerances.FAST_VS_NAIVE_FLOAT64

    dout = rng.standard_normal(naive.shape)
    naive_grads = conv_layers.conv_backward_naive(dout, naive_cache)
    fast_grads = conv_backward_fast(dout, fast_cache)
    for name, ours, theirs in zip(("dx", "dw", "db"), naive_grads, fast_grads, strict=True):
        assert rel_error(ours, theirs) < tolerances.FAST_VS_NAIVE_FLOAT64, name


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 2), c=st.integers(1, 3), half=st.integers(1, 4), seed=st.integers(0, 999))
def test_naive_max_pool_agrees_with_the_fast_layer(n: int, c: int, half: int, seed: int) -> None:
    x = np.random.default_rng(seed).standard_normal((n, c, 2 * half, 2 * half))
    param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    naive, naive_cache = conv_layers.max_pool_forward_naive(x, param)
    fast, fast_cache = max_pool_forward_fast(x, param)
    np.testing.assert_array_equal(naive, fast)
    dout = np.random.default_rng(seed + 1).standard_normal(naive.shape)
    np.testing.assert_array_equal(
        conv_layers.max_pool_backward_naive(dout, naive_cache),
        max_pool_backward_fast(dout, fast_cache),
    )


def test_conv_sandwiches_match_numeric() -> None:
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 3, 6, 6))
    w = rng.standard_normal((4, 3, 3, 3))
    b = rng.standard_normal(4)
    conv_param = {"stride": 1, "pad": 1}
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}

    def conv_relu(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> Any:
        return conv_layers.conv_relu_forward(x, w, b, conv_param)

    def conv_relu_pool(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> Any:
        return conv_layers.conv_relu_pool_forward(x, w, b, conv_param, pool_param)

    assert_backward_matches_numeric(conv_relu, conv_layers.conv_relu_backward, [x, w, b], rng,
                                    tol=KINK)
    assert_backward_matches_numeric(
        conv_relu_pool, conv_layers.conv_relu_pool_backward, [x, w, b], rng, tol=KINK
    )


# ---------------------------------------------------------------------- update rules


def assert_close(actual: Any, expected: Any) -> None:
    assert rel_error(np.asarray(actual), np.asarray(expected)) < tolerances.UPDATE_RULE_REL_ERROR


def test_sgd_momentum_single_step_by_hand() -> None:
    w = np.array([1.0, -2.0])
    dw = np.array([0.5, 0.25])
    config = {"learning_rate": 0.1, "momentum": 0.9, "velocity": np.array([0.1, -0.2])}
    next_w, config = sgd_momentum(w, dw, config)
    # v = 0.9 * [0.1, -0.2] - 0.1 * [0.5, 0.25] = [0.04, -0.205]
    assert_close(config["velocity"], [0.04, -0.205])
    assert_close(next_w, [1.04, -2.205])

    # Defaults: learning rate 1e-2, zero initial velocity, so the first step is plain SGD.
    next_w, config = sgd_momentum(w, dw)
    assert config["momentum"] == 0.9
    assert_close(next_w, [0.995, -2.0025])


def test_rmsprop_single_step_by_hand() -> None:
    w = np.array([1.0, -2.0])
    dw = np.array([2.0, 1.0])
    config = {"learning_rate": 0.1, "decay_rate": 0.5, "cache": np.array([0.0, 0.5])}
    next_w, config = rmsprop(w, dw, config)
    # cache = 0.5 * [0, 0.5] + 0.5 * [4, 1] = [2, 0.75]
    assert_close(config["cache"], [2.0, 0.75])
    # step = 0.1 * [2 / sqrt(2), 1 / sqrt(0.75)] = [0.14142136, 0.11547005]
    assert_close(next_w, [1.0 - 0.14142136, -2.0 - 0.11547005])
    assert config["epsilon"] == 1e-8


def test_adam_first_step_moves_each_weight_by_the_learning_rate() -> None:
    # After bias correction the first step is lr * dw / |dw|: a step of exactly lr per weight.
    w = np.array([1.0, -2.0, 0.5])
    dw = np.array([2.0, -0.5, 0.25])
    next_w, config = adam(w, dw, {"learning_rate": 0.1})
    assert config["t"] == 1
    assert_close(next_w, [0.9, -1.9, 0.4])
    assert_close(config["m"], 0.1 * dw)
    assert_close(config["v"], 0.001 * dw**2)


def test_adam_second_step_by_hand() -> None:
    w = np.array([1.0, -2.0])
    dw = np.array([1.0, 0.0])
    config = {
        "learning_rate": 0.1, "beta1": 0.5, "beta2": 0.75, "epsilon": 0.0,
        "m": np.array([0.1, 0.2]), "v": np.array([0.01, 0.04]), "t": 1,
    }
    next_w, config = adam(w, dw, config)
    # t = 2; m = 0.5 * m + 0.5 * dw = [0.55, 0.1]; v = 0.75 * v + 0.25 * dw^2 = [0.2575, 0.03]
    # m_hat = m / 0.75 = [0.73333333, 0.13333333]; v_hat = v / 0.4375 = [0.58857143, 0.06857143]
    # step = 0.1 * m_hat / sqrt(v_hat) = [0.09558766, 0.05091751]
    assert config["t"] == 2
    assert_close(config["m"], [0.55, 0.1])
    assert_close(config["v"], [0.2575, 0.03])
    assert_close(next_w, [1.0 - 0.09558766, -2.0 - 0.05091751])


def test_adam_weight_decay_shrinks_the_weights() -> None:
    w = np.array([1.0, -2.0])
    dw = np.array([2.0, -0.5])
    next_w, _ = adam(w, dw, {"learning_rate": 0.1, "weight_decay": 0.1})
    # w - 0.1 * (sign(dw) + 0.1 * w) = [1 - 0.11, -2 + 0.12]
    assert_close(next_w, [0.89, -1.88])


@pytest.mark.parametrize("rule", [sgd_momentum, rmsprop, adam])
def test_update_rules_keep_dtype_and_shape(rule: Callable[..., Any]) -> None:
    rng = np.random.default_rng(10)
    w = rng.standard_normal((3, 4)).astype(np.float32)
    dw = rng.standard_normal((3, 4)).astype(np.float32)
    config = None
    for _ in range(3):
        w, config = rule(w, dw, config)
    assert w.dtype == np.float32 and w.shape == (3, 4)


# ---------------------------------------------------------------------- models


def check_model_gradients(
    model: Any, X: np.ndarray, y: np.ndarray, tol: float, zero: tuple[str, ...] = ()
) -> None:
    """Numeric versus analytic gradient for every parameter of ``model``; the parameters in
    ``zero`` have no effect on the loss (a bias right before batch norm): their gradient is 0."""
    rng = np.random.default_rng(0)
    for name, value in model.params.items():
        if name.startswith("b"):  # zero biases put ReLU inputs exactly on the kink
            value[...] = 0.1 * rng.standard_normal(value.shape)
    _, grads = model.loss(X, y)
    assert set(grads) == set(model.params)
    for name, param in model.params.items():
        if name in zero:
            np.testing.assert_allclose(grads[name], 0.0, atol=1e-12)
            continue
        report = check_gradient(lambda _: model.loss(X, y)[0], param, grads[name], name=name)
        assert report.passed(tol), str(report)


@pytest.mark.parametrize(
    ("hidden_dims", "reg", "keep"), [([], 0.0, 1.0), ([7, 6], 0.0, 1.0), ([7, 6], 0.7, 1.0),
                                     ([7, 6], 0.0, 0.5)],
)
def test_fully_connected_net_gradients(hidden_dims: list[int], reg: float, keep: float) -> None:
    rng = np.random.default_rng(11)
    X = rng.standard_normal((4, 5))
    y = rng.integers(0, 3, size=4)
    model = FullyConnectedNet(hidden_dims, input_dim=5, num_classes=3, reg=reg, weight_scale=0.5,
                              dropout_keep_ratio=keep, dtype=np.float64, seed=0)
    check_model_gradients(model, X, y, KINK)


def test_fully_connected_net_shapes_loss_and_regularisation() -> None:
    model = FullyConnectedNet([20, 30], input_dim=15, num_classes=10, weight_scale=1e-3, seed=1)
    assert {k: v.shape for k, v in model.params.items()} == {
        "W1": (15, 20), "b1": (20,), "W2": (20, 30), "b2": (30,), "W3": (30, 10), "b3": (10,),
    }
    assert all(v.dtype == np.float32 for v in model.params.values())

    rng = np.random.default_rng(12)
    X = rng.standard_normal((8, 15))
    y = rng.integers(0, 10, size=8)
    assert model.loss(X).shape == (8, 10)
    loss, _ = model.loss(X, y)
    assert loss == pytest.approx(math.log(10), abs=1e-3)  # tiny weights: uniform scores

    model.reg = 2.0
    weight_norms = sum(float((model.params[f"W{k}"].astype(np.float64) ** 2).sum())
                       for k in (1, 2, 3))
    assert model.loss(X, y)[0] - loss == pytest.approx(0.5 * 2.0 * weight_norms, rel=1e-4)


def test_fully_connected_net_dropout_is_off_at_test_time() -> None:
    model = FullyConnectedNet([50], input_dim=6, num_classes=3, dropout_keep_ratio=0.3,
                              dtype=np.float64)
    X = np.random.default_rng(13).standard_normal((5, 6))
    np.testing.assert_array_equal(model.loss(X), model.loss(X))


def test_three_layer_convnet_default_shapes() -> None:
    model = ThreeLayerConvNet(seed=0)
    shapes = {k: v.shape for k, v in model.params.items()}
    assert shapes == {
        "W1": (32, 3, 7, 7), "b1": (32,),
        "W2": (32 * 16 * 16, 100), "b2": (100,),  # 2x2 pooling halves 32x32
        "W3": (100, 10), "b3": (10,),
    }
    assert all(v.dtype == np.float32 for v in model.params.values())
    assert model.conv_param == {"stride": 1, "pad": 3}
    assert float(model.params["W1"].std()) == pytest.approx(1e-3, rel=0.05)


def test_three_layer_convnet_gradients() -> None:
    rng = np.random.default_rng(14)
    X = rng.standard_normal((2, 3, 6, 6))
    y = rng.integers(0, 4, size=2)
    for reg in (0.0, 0.5):
        model = ThreeLayerConvNet(input_dim=(3, 6, 6), num_filters=3, filter_size=3, hidden_dim=5,
                                  num_classes=4, weight_scale=0.3, reg=reg, dtype=np.float64,
                                  seed=1)
        check_model_gradients(model, X, y, KINK)


def tiny_image_set(num: int, shape: tuple[int, ...], num_classes: int, seed: int) -> dict[str, Any]:
    """``num`` random images with random labels: only memorising them gives high accuracy."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((num, *shape)).astype(np.float32)
    y = rng.integers(0, num_classes, size=num)
    return {"X_train": X, "y_train": y, "X_val": X[:10], "y_val": y[:10]}


def test_fully_connected_net_overfits_50_images() -> None:
    data = tiny_image_set(50, (3, 32, 32), 10, seed=15)
    model = FullyConnectedNet([100, 100], weight_scale=5e-2, seed=0)
    solver = Solver(model, data, update_rule=adam, optim_config={"learning_rate": 1e-3},
                    batch_size=25, num_epochs=20, num_train_samples=None, verbose=False,
                    progress=False, seed=0)
    solver.train()
    # The last epoch's accuracy on all 50 (the restored best parameters are chosen on val).
    assert solver.train_acc_history[-1] == 1.0


def test_three_layer_convnet_overfits_50_images() -> None:
    data = tiny_image_set(50, (3, 16, 16), 10, seed=16)
    model = ThreeLayerConvNet(input_dim=(3, 16, 16), num_filters=8, filter_size=5, hidden_dim=50,
                              weight_scale=5e-2, seed=0)
    solver = Solver(model, data, update_rule=adam, optim_config={"learning_rate": 3e-3},
                    batch_size=25, num_epochs=20, num_train_samples=None, verbose=False,
                    progress=False, seed=0)
    solver.train()
    assert solver.train_acc_history[-1] >= 0.9


# ---------------------------------------------------------------------- normalization (nb 06)

# The acceptance bar for the normalization layers' gradients (float64, complex-step reference).
NORM_GRAD_TOL = 1e-8
COMPLEX_STEP = 1e-20


def complex_step_backward(
    forward: Callable[..., Any], inputs: list[np.ndarray], dout: np.ndarray
) -> list[np.ndarray]:
    """d<dout, forward(*inputs)>/d input, for every input, by complex steps (exact to rounding).

    ``forward`` must be analytic in its inputs (the reference layers are written to be)."""
    grads = []
    for i, value in enumerate(inputs):
        grad = np.zeros(value.shape)
        for ix in np.ndindex(*value.shape):
            args = [a.astype(np.complex128) for a in inputs]
            args[i][ix] += 1j * COMPLEX_STEP
            grad[ix] = float(np.sum(dout * np.imag(forward(*args))) / COMPLEX_STEP)
        grads.append(grad)
    return grads


def assert_normalization_gradients(
    forward: Callable[..., Any],
    backward: Callable[[Any, Any], Any],
    inputs: list[np.ndarray],
    dout: np.ndarray,
) -> float:
    """Analytic gradients within NORM_GRAD_TOL of the complex-step ones; returns the worst."""
    _, cache = forward(*inputs)
    grads = backward(dout, cache)
    numeric = complex_step_backward(lambda *a: forward(*a)[0], inputs, dout)
    worst = 0.0
    for name, grad, expected in zip(("dx", "dgamma", "dbeta"), grads, numeric, strict=True):
        assert grad.shape == expected.shape, name
        assert np.all(np.isfinite(grad)), f"{name} has NaN or inf"
        error = rel_error(grad, expected)
        assert error < NORM_GRAD_TOL, f"{name}: relative error {error:.2e}"
        worst = max(worst, error)
    return worst


# Two values per statistic (N = 2 for batch norm, D = 2 for layer norm) is the one regime where
# float64 itself cannot hold the bar: both normalized values are +-1 up to eps / var, the layer is
# nearly constant in x, and dx is a difference of O(1) terms that cancel to ~1e-8 * |terms|, so
# its last digits are rounding (about 1 in 4000 draws exceeds 1e-8). The sweeps leave that size
# out; ``test_two_values_per_statistic`` checks it with the bar scaled to the terms.
SIZES_WITHOUT_TWO = st.integers(1, 8).filter(lambda size: size != 2)


@st.composite
def norm_problems(
    draw: st.DrawFn, min_n: int = 1, two_rows: bool = True, two_columns: bool = True
) -> dict[str, np.ndarray]:
    """x (N, D) at a random offset and scale, gamma, beta and dout; sometimes a constant feature."""
    n = draw(st.integers(min_n, 8) if two_rows else SIZES_WITHOUT_TWO)
    d = draw(st.integers(1, 6) if two_columns else SIZES_WITHOUT_TWO)
    rng = np.random.default_rng(draw(seeds))
    x = rng.uniform(-10, 10) + rng.uniform(0.1, 10) * rng.standard_normal((n, d))
    if draw(st.booleans()):
        # A constant feature (var = 0), e.g. a unit that is always 0. Its value is a multiple of
        # 1/4, so that its mean is exact and x - mean is exactly 0: otherwise x_hat is rounding
        # noise (~1e-16 / sqrt(eps)) and dgamma a difference of noise that no tolerance can judge.
        x[:, draw(st.integers(0, d - 1))] = draw(st.integers(-20, 20)) / 4
    return {"x": x, "gamma": rng.uniform(0.2, 3) * rng.standard_normal(d),
            "beta": rng.standard_normal(d), "dout": rng.standard_normal((n, d))}


def _train_bn(x: Any, gamma: Any, beta: Any) -> Any:
    return normalization.batchnorm_forward(x, gamma, beta, {"mode": "train"})


def _ln(x: Any, gamma: Any, beta: Any) -> Any:
    return normalization.layernorm_forward(x, gamma, beta, {})


@settings(max_examples=80, deadline=None)
@given(problem=norm_problems(two_rows=False),
       backward=st.sampled_from([normalization.batchnorm_backward,
                                 normalization.batchnorm_backward_alt]))
def test_batchnorm_backward_matches_complex_step(problem: dict[str, Any], backward: Any) -> None:
    """Both backward passes (staged on the graph, closed form), constant features and N = 1
    included: no NaN, relative error < 1e-8."""
    inputs = [problem["x"], problem["gamma"], problem["beta"]]
    assert_normalization_gradients(_train_bn, backward, inputs, problem["dout"])


@settings(max_examples=80, deadline=None)
@given(problem=norm_problems(two_columns=False))
def test_layernorm_backward_matches_complex_step(problem: dict[str, Any]) -> None:
    """One-example batches (N = 1) and one-feature layers (D = 1, zero variance) included."""
    inputs = [problem["x"], problem["gamma"], problem["beta"]]
    assert_normalization_gradients(_ln, normalization.layernorm_backward, inputs, problem["dout"])


@pytest.mark.parametrize("kind", ["batchnorm", "layernorm"])
def test_two_values_per_statistic(kind: str) -> None:
    """N = 2 (batch norm) or D = 2 (layer norm): dx agrees with the complex-step derivative to
    1e-8 of the size of the terms it is computed from (gamma * dout / std), no NaN."""
    rng = np.random.default_rng(26)
    forward, backward = (_train_bn, normalization.batchnorm_backward_alt) if (
        kind == "batchnorm") else (_ln, normalization.layernorm_backward)
    for _ in range(200):
        x = rng.uniform(-10, 10) + rng.uniform(0.1, 10) * rng.standard_normal((2, 2))
        gamma, beta, dout = rng.normal(size=2), rng.normal(size=2), rng.normal(size=(2, 2))
        _, cache = forward(x, gamma, beta)
        dx = backward(dout, cache)[0]
        numeric = complex_step_backward(lambda *a: forward(*a)[0], [x, gamma, beta], dout)[0]
        terms = np.max(np.abs(gamma * dout * cache["istd"]))
        assert np.all(np.isfinite(dx)) and np.max(np.abs(dx - numeric)) <= 1e-8 * terms


def test_layernorm_handles_a_single_example() -> None:
    rng = np.random.default_rng(21)
    x, gamma, beta = rng.normal(size=(1, 5)), rng.normal(size=5), rng.normal(size=5)
    worst = assert_normalization_gradients(
        _ln, normalization.layernorm_backward, [x, gamma, beta], rng.normal(size=(1, 5))
    )
    assert worst < NORM_GRAD_TOL


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 3), c=st.integers(1, 4), h=st.integers(1, 3), w=st.integers(1, 3),
       seed=seeds, constant=st.booleans())
def test_spatial_batchnorm_backward_matches_complex_step(
    n: int, c: int, h: int, w: int, seed: int, constant: bool
) -> None:
    assume(n * h * w != 2)  # two values per channel: see SIZES_WITHOUT_TWO
    rng = np.random.default_rng(seed)
    x = rng.uniform(-5, 5) + rng.uniform(0.1, 5) * rng.standard_normal((n, c, h, w))
    if constant:
        x[:, 0] = 2.5  # channel 0 constant over the batch and every position
    gamma, beta = rng.standard_normal(c), rng.standard_normal(c)

    def forward(x: Any, gamma: Any, beta: Any) -> Any:
        return normalization.spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})

    assert_normalization_gradients(forward, normalization.spatial_batchnorm_backward,
                                   [x, gamma, beta], rng.standard_normal((n, c, h, w)))


def test_constant_feature_gives_no_nan() -> None:
    x = np.array([[1.0, 3.0], [1.0, -2.0], [1.0, 0.5]])
    out, cache = _train_bn(x, np.array([2.0, 1.0]), np.array([0.5, 0.0]))
    np.testing.assert_allclose(out[:, 0], 0.5)  # x_hat = 0: only beta is left
    for backward in (normalization.batchnorm_backward, normalization.batchnorm_backward_alt):
        grads = backward(np.arange(6.0).reshape(3, 2), cache)
        assert all(np.all(np.isfinite(g)) for g in grads)


@settings(max_examples=40, deadline=None)
@given(problem=norm_problems(min_n=2))
def test_batchnorm_forward_follows_the_lecture_algorithm(problem: dict[str, Any]) -> None:
    """Per-feature mean beta and std |gamma| (up to eps) in training; the graph's nodes in the
    cache; running statistics moved by the momentum rule; test mode uses them."""
    x, gamma, beta = problem["x"], problem["gamma"], problem["beta"]
    param: dict[str, Any] = {"mode": "train", "momentum": 0.8}
    out, cache = normalization.batchnorm_forward(x, gamma, beta, param)
    var = x.var(axis=0)
    np.testing.assert_allclose(out.mean(axis=0), beta, atol=1e-10)
    np.testing.assert_allclose(out.std(axis=0), np.abs(gamma) * np.sqrt(var / (var + 1e-5)),
                               rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(cache["mu"], x.mean(axis=0))
    np.testing.assert_allclose(cache["var"], var, atol=1e-12)
    np.testing.assert_allclose(cache["x_hat"] * cache["std"], x - x.mean(axis=0), atol=1e-10)
    np.testing.assert_allclose(param["running_mean"], 0.2 * x.mean(axis=0))
    np.testing.assert_allclose(param["running_var"], 0.2 * var)
    test_param = dict(param, mode="test")
    test_out, test_cache = normalization.batchnorm_forward(x, gamma, beta, test_param)
    expected = gamma * (x - param["running_mean"]) / np.sqrt(param["running_var"] + 1e-5) + beta
    np.testing.assert_allclose(test_out, expected)
    assert test_cache is None and test_param["running_mean"] is param["running_mean"]


def test_batchnorm_keeps_float32_and_rejects_a_missing_mode() -> None:
    x = np.random.default_rng(22).normal(size=(6, 3)).astype(np.float32)
    param: dict[str, Any] = {"mode": "train"}
    out, _ = normalization.batchnorm_forward(x, np.ones(3), np.zeros(3), param)
    assert out.dtype == np.float32 and param["running_mean"].dtype == np.float32
    with pytest.raises(ValueError, match="mode"):
        normalization.batchnorm_forward(x, np.ones(3), np.zeros(3), {})


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 4), c=st.integers(1, 4), h=st.integers(1, 3), w=st.integers(1, 3),
       seed=seeds)
def test_spatial_batchnorm_is_the_vanilla_layer_on_channel_columns(
    n: int, c: int, h: int, w: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w))
    gamma, beta = rng.standard_normal(c), rng.standard_normal(c)
    spatial_param: dict[str, Any] = {"mode": "train"}
    out, _ = normalization.spatial_batchnorm_forward(x, gamma, beta, spatial_param)
    for channel in range(c):
        values = x[:, channel].ravel()
        expected = gamma[channel] * (values - values.mean()) / np.sqrt(values.var() + 1e-5)
        np.testing.assert_allclose(out[:, channel].ravel(), expected + beta[channel], atol=1e-12)
    np.testing.assert_allclose(spatial_param["running_mean"], 0.1 * x.mean(axis=(0, 2, 3)))


@pytest.mark.parametrize("normalization_kind", ["batchnorm", "layernorm"])
@pytest.mark.parametrize("reg", [0.0, 0.4])
def test_fully_connected_net_with_normalization_gradients(
    normalization_kind: str, reg: float
) -> None:
    rng = np.random.default_rng(23)
    X = rng.standard_normal((5, 6))
    y = rng.integers(0, 3, size=5)
    model = FullyConnectedNet([7, 6], input_dim=6, num_classes=3, reg=reg, weight_scale=0.5,
                              normalization=normalization_kind, dtype=np.float64, seed=0)
    assert set(model.params) == {"W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2",
                                 "W3", "b3"}
    np.testing.assert_array_equal(model.params["gamma1"], np.ones(7))
    # Batch norm subtracts the batch mean right after the affine layer: its bias has no effect.
    zero = ("b1", "b2") if normalization_kind == "batchnorm" else ()
    check_model_gradients(model, X, y, KINK, zero)


def test_batchnorm_net_runs_on_running_statistics_at_test_time() -> None:
    rng = np.random.default_rng(24)
    X = 3 + 2 * rng.standard_normal((20, 6))
    model = FullyConnectedNet([8], input_dim=6, num_classes=3, normalization="batchnorm",
                              weight_scale=0.5, dtype=np.float64, seed=0)
    model.loss(X, rng.integers(0, 3, size=20))
    assert model.norm_params[0]["mode"] == "train"
    first = model.loss(X[:1])  # one example: batch statistics would make every score beta-based
    assert model.norm_params[0]["mode"] == "test"
    np.testing.assert_allclose(first, model.loss(X)[:1], rtol=1e-12)  # rows are independent
    with pytest.raises(ValueError, match="normalization"):
        FullyConnectedNet([8], normalization="groupnorm")


def test_batchnorm_net_trains_where_the_plain_net_does_not() -> None:
    """The notebook's claim in miniature: a deep net with tiny initial weights learns with batch
    normalization and is stuck without it."""
    data = tiny_image_set(50, (3, 8, 8), 5, seed=25)
    accuracies = {}
    for kind in (None, "batchnorm"):
        model = FullyConnectedNet([40] * 5, input_dim=3 * 8 * 8, num_classes=5, weight_scale=1e-3,
                                  normalization=kind, seed=0)
        solver = Solver(model, data, update_rule=adam, optim_config={"learning_rate": 1e-3},
                        batch_size=25, num_epochs=15, num_train_samples=None, verbose=False,
                        progress=False, seed=0)
        solver.train()
        accuracies[kind] = solver.train_acc_history[-1]
    assert accuracies["batchnorm"] >= 0.8 and accuracies[None] <= 0.4, accuracies
