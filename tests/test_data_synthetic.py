"""Synthetic CIFAR-shaped data: shapes, determinism, speed, and that it can be learned."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cs231kit.data.prepare import get_cifar10_data
from cs231kit.data.synthetic import make_synthetic_cifar10


@settings(max_examples=25, deadline=None)
@given(num_train=st.integers(0, 60), num_test=st.integers(0, 30), seed=st.integers(0, 2**32 - 1))
def test_shapes_types_and_labels(num_train, num_test, seed):
    X_train, y_train, X_test, y_test = make_synthetic_cifar10(num_train, num_test, seed)
    assert X_train.shape == (num_train, 32, 32, 3) and X_test.shape == (num_test, 32, 32, 3)
    assert X_train.dtype == X_test.dtype == np.uint8
    assert y_train.shape == (num_train,) and y_test.shape == (num_test,)
    assert y_train.dtype == y_test.dtype == np.int64
    labels = np.concatenate([y_train, y_test])
    assert labels.min(initial=0) >= 0 and labels.max(initial=0) <= 9
    counts = np.bincount(labels, minlength=10)
    assert counts.max() - counts.min() <= 1  # balanced up to rounding


def test_deterministic_for_a_seed_and_different_across_seeds():
    first = make_synthetic_cifar10(200, 50, seed=7)
    again = make_synthetic_cifar10(200, 50, seed=7)
    other = make_synthetic_cifar10(200, 50, seed=8)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])


def test_images_vary_within_a_class():
    X, y, _, _ = make_synthetic_cifar10(500, 0, seed=1)
    for label in range(10):
        members = X[y == label].astype(np.float64)
        # Random placement, size, colours and noise: no two images of a class are alike.
        assert members.std(axis=0).mean() > 20


def test_rejects_negative_sizes():
    with pytest.raises(ValueError, match="must be >= 0"):
        make_synthetic_cifar10(-1, 10)


def test_fast():
    make_synthetic_cifar10(10, 0)  # warm-up
    # CPU time of this process: other programs on a busy machine do not count against it.
    start = time.process_time()
    make_synthetic_cifar10(2500, 500, seed=0)
    elapsed = time.process_time() - start
    assert elapsed < 1.0, f"3,000 synthetic images took {elapsed:.2f} s of CPU time"


def softmax_accuracy(data: dict, steps: int, learning_rate: float) -> tuple[float, float]:
    """Train a linear softmax classifier with minibatch SGD; return (train, val) accuracy."""
    rng = np.random.default_rng(0)
    X_train = data["X_train"].reshape(len(data["X_train"]), -1) / 255.0
    X_val = data["X_val"].reshape(len(data["X_val"]), -1) / 255.0
    y_train = data["y_train"]
    W = 1e-3 * rng.standard_normal((X_train.shape[1], 10))
    b = np.zeros(10)
    for _ in range(steps):
        batch = rng.integers(0, len(X_train), 100)
        x, y = X_train[batch], y_train[batch]
        scores = x @ W + b
        scores -= scores.max(axis=1, keepdims=True)
        probs = np.exp(scores)
        probs /= probs.sum(axis=1, keepdims=True)
        probs[np.arange(len(y)), y] -= 1.0  # d(loss)/d(scores), times the batch size
        W -= learning_rate * (x.T @ probs / len(y) + 1e-4 * W)
        b -= learning_rate * probs.mean(axis=0)

    def accuracy(X: np.ndarray, labels: np.ndarray) -> float:
        return float(np.mean((X @ W + b).argmax(axis=1) == labels))

    return accuracy(X_train, y_train), accuracy(X_val, data["y_val"])


def test_a_linear_classifier_learns_it_well_above_chance_but_not_perfectly():
    data = get_cifar10_data(2000, 500, 0, source="synthetic", seed=0, verbose=False)
    train_acc, val_acc = softmax_accuracy(data, steps=300, learning_rate=0.05)
    assert val_acc > 0.4, f"held-out accuracy {val_acc:.3f}: barely above chance (0.1)"
    assert train_acc < 0.95, f"train accuracy {train_acc:.3f}: too easy for a linear model"
