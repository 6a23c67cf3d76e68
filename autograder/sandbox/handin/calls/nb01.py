"""Adapters of notebook 01 (flat backprop); see the package docstring."""

from __future__ import annotations

from typing import Any

import numpy as np


def sigmoid_circuit(student: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    f, dw, dx = student(inputs["w"], inputs["x"])
    return {"f": f, "dw": dw, "dx": dx}


def loss(student: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """svm_loss_vectorized or softmax_loss_vectorized: (loss, dW)."""
    value, dW = student(inputs["W"], inputs["X"], inputs["y"], inputs["reg"])
    return {"loss": value, "dW": dW}


def two_layer_net(student: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    X, params, y = inputs["X"], inputs["params"], inputs["y"]
    if y is None:
        return {"result": student(X, params)}
    return {"result": student(X, params, y, reg=inputs["reg"])}


def sample_log_uniform(student: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    rng = np.random.default_rng(inputs["seed"])
    return {"samples": student(rng, inputs["low"], inputs["high"], size=inputs["size"])}


def sample_log_uniform_shapes(student: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    rng = np.random.default_rng(inputs["seed"])
    low, high = inputs["low"], inputs["high"]
    return {
        "size=None": student(rng, low, high),
        "size=7": student(rng, low, high, size=7),
        "size=(3, 4)": student(rng, low, high, size=(3, 4)),
    }


def sample_log_uniform_repeat(student: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    low, high, seed = inputs["low"], inputs["high"], inputs["seed"]
    return {
        "first": student(np.random.default_rng(seed), low, high, size=50),
        "same seed": student(np.random.default_rng(seed), low, high, size=50),
        "next seed": student(np.random.default_rng(seed + 1), low, high, size=50),
    }


def should_abort(student: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    args = (inputs["loss"], inputs["initial_loss"])
    if inputs["factor"] is None:
        return {"result": student(*args)}
    return {"result": student(*args, factor=inputs["factor"])}
