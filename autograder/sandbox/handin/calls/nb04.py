"""Adapters of notebook 04 (dropout); see the package docstring."""

from __future__ import annotations

from typing import Any

import numpy as np


def _unpack(result: Any, what: str) -> tuple[Any, Any]:
    """(out, cache) from what the student's function returned, or a clear error."""
    if not isinstance(result, tuple) or len(result) != 2:
        raise TypeError(f"{what} must return a tuple (out, cache), got {type(result).__name__}")
    return result


def _mask_of(cache: Any) -> Any:
    if not (isinstance(cache, tuple) and len(cache) == 2):
        raise TypeError(
            "the cache must be the tuple (dropout_param, mask) that dropout_backward unpacks, "
            f"got {type(cache).__name__}"
        )
    return cache[1]


def dropout_forward_seeded(student: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    x = inputs["x"]
    original = x.copy()
    param = {"p": inputs["p"], "mode": "train", "seed": inputs["seed"]}
    out, cache = _unpack(student(x, param), "dropout_forward")
    again, _ = _unpack(student(original.copy(), dict(param)), "dropout_forward")
    return {"out": out, "mask": _mask_of(cache), "x after": x, "out of a second call": again}


def dropout_forward_twice(student: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """Two calls without a seed: the judge looks at the statistics of the masks."""
    x, p = inputs["x"], inputs["p"]
    first, _ = _unpack(student(x, {"p": p, "mode": "train"}), "dropout_forward")
    second, _ = _unpack(student(x, {"p": p, "mode": "train"}), "dropout_forward")
    return {"first out": first, "second out": second}


def dropout_forward_test_mode(student: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    x = inputs["x"]
    param: dict[str, Any] = {"p": inputs["p"], "mode": "test"}
    if inputs["with_seed"]:
        param["seed"] = inputs["seed"]
    out, _ = _unpack(student(x, param), "dropout_forward")
    return {"out": out, "x after": x}


def dropout_backward(student: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"dx": student(inputs["dout"], inputs["cache"])}


def fc_net_dropout(cls: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """Training call, then a test-time call, then a training call again, on one net."""
    net = cls(
        inputs["hidden_dims"],
        input_dim=inputs["input_dim"],
        num_classes=inputs["num_classes"],
        dropout_keep_ratio=inputs["keep"],
        reg=inputs["reg"],
        weight_scale=1e-2,
        dtype=np.float64,
        seed=inputs["seed"],
    )
    for name, value in inputs["params"].items():
        net.params[name] = value.copy()
    loss, grads = net.loss(inputs["X"], inputs["y"])
    outputs: dict[str, Any] = {"training loss": loss}
    for name in inputs["params"]:
        outputs[f"grads[{name!r}]"] = grads.get(name) if isinstance(grads, dict) else None
    outputs["test-time scores, loss(X) after a training call (no dropout)"] = net.loss(inputs["X"])
    again, _ = net.loss(inputs["X"], inputs["y"])
    outputs["training loss again, after a test-time call (dropout back on)"] = again
    return outputs


def vanilla_dropout_predict(student: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    x = inputs["x"]
    return {"out": student(x, inputs["W"].copy(), inputs["p"]), "x after": x}
