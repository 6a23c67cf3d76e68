"""Tests for the reference implementations in autograder/reference/.

Every backward pass is checked against a numeric gradient (float64, small shapes); the update
rules against single steps worked out by hand; the models by gradient checks and by overfitting a
tiny training set.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from autograder.reference import conv_layers, layers
from autograder.reference.models import FullyConnectedNet, ThreeLayerConvNet
from autograder.reference.optim import adam, rmsprop, sgd_momentum
from hypothesis import given, settings
from hypothesis import strategies as st

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
    x = np.ones((500, 400)) + 10
    for p in (0.25, 0.5, 0.75):
        out, _ = layers.dropout_forward(x, {"mode": "train", "p": p, "seed": 0})
        kept = np.mean(out != 0)
        assert kept == pytest.approx(p, abs=0.01)
        assert out.mean() == pytest.approx(x.mean(), rel=0.02)  # inverted dropout: E[out] = x
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
    with pytest.raises(ValueError, match="keep probability"):
        layers.dropout_forward(x, {"mode": "train", "p": 0.0})


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
    assert conv_layers.conv_output_size(32, 5, 1, 2) == 32  # 32x32x3, 5x5 filters, pad 2
    assert conv_layers.conv_output_size(227, 11, 4, 0) == 55  # AlexNet CONV1
    assert conv_layers.conv_output_size(224, 9, 1, 4) == 224
    assert conv_layers.conv_output_size(224, 9, 2, 4) == 112  # the last column is never reached
    with pytest.raises(ValueError, match="does not fit"):
        conv_layers.conv_output_size(3, 7, 1, 1)
    x = np.zeros((1, 1, 224, 224))
    out, _ = conv_layers.conv_forward_naive(x, np.zeros((4, 1, 9, 9)), np.zeros(4),
                                            {"stride": 2, "pad": 4})
    assert out.shape == (1, 4, 112, 112)


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


def check_model_gradients(model: Any, X: np.ndarray, y: np.ndarray, tol: float) -> None:
    """Numeric versus analytic gradient for every parameter of ``model``."""
    rng = np.random.default_rng(0)
    for name, value in model.params.items():
        if name.startswith("b"):  # zero biases put ReLU inputs exactly on the kink
            value[...] = 0.1 * rng.standard_normal(value.shape)
    _, grads = model.loss(X, y)
    assert set(grads) == set(model.params)
    for name, param in model.params.items():
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
