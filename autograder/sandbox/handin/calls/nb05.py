"""Adapters of notebook 05 (convolutional networks); see the package docstring."""

from __future__ import annotations

from typing import Any

import numpy as np

PARAM_NAMES = ("W1", "b1", "W2", "b2", "W3", "b3")


def conv_output_size(student: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"size": student(inputs["W"], inputs["F"], inputs["P"], inputs["S"])}


def conv_output_size_misfit(student: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """What conv_output_size does on a shape that does not fit: its result or its exception."""
    try:
        size = student(inputs["W"], inputs["F"], inputs["P"], inputs["S"])
    except NotImplementedError:
        raise
    except Exception as error:
        return {"raised": type(error).__name__, "message": str(error)[:300]}
    return {"returned": repr(size)[:80]}


def conv_param_count(student: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"count": student(inputs["F"], inputs["C"], inputs["HH"], inputs["WW"])}


def _cache(cache: Any) -> dict[str, Any]:
    """The cache's items when it is a tuple or list (the judge compares them with the inputs)."""
    if isinstance(cache, (tuple, list)):
        return {"cache type": "tuple", "cache items": list(cache)}
    return {"cache type": type(cache).__name__, "cache items": []}


def conv_forward_naive(student: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    out, cache = student(inputs["x"], inputs["w"], inputs["b"], dict(inputs["conv_param"]))
    return {"out": out, **_cache(cache)}


def conv_backward_naive(student: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    # The documented cache layout, built here: a forward bug never costs backward points.
    cache = (inputs["x"], inputs["w"], inputs["b"], dict(inputs["conv_param"]))
    dx, dw, db = student(inputs["dout"], cache)
    return {"dx": dx, "dw": dw, "db": db}


def max_pool_forward_naive(student: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    out, cache = student(inputs["x"], dict(inputs["pool_param"]))
    return {"out": out, **_cache(cache)}


def max_pool_backward_naive(student: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    cache = (inputs["x"], dict(inputs["pool_param"]))  # the documented layout, built here
    return {"dx": student(inputs["dout"], cache)}


def _loaded(model: Any, params: dict[str, np.ndarray]) -> Any:
    """Put the grader's parameters into the model (in place, so the model's own dict is used)."""
    got = getattr(model, "params", None)
    if not isinstance(got, dict) or set(got) != set(PARAM_NAMES):
        keys = sorted(got) if isinstance(got, dict) else type(got).__name__
        wanted = f"a dict with exactly the keys {list(PARAM_NAMES)}"
        raise ValueError(f"model.params must be {wanted}, got {keys}")
    for name in PARAM_NAMES:
        shape, grader_shape = tuple(np.shape(got[name])), params[name].shape
        if shape != grader_shape:
            problem = f"model.params[{name!r}] has shape {shape}, expected {grader_shape}"
            raise ValueError(f"{problem} for this architecture")
        got[name] = params[name].copy()
    return model


def three_layer_convnet(cls: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """Scores, then loss and gradients, of a net holding the judge's parameters."""
    model = _loaded(cls(**inputs["config"]), inputs["params"])
    scores = model.loss(inputs["X"])
    loss, grads = model.loss(inputs["X"], inputs["y"])
    missing = [name for name in PARAM_NAMES if name not in grads]
    if missing:
        raise ValueError(f"grads has no entry for {missing}; it needs one per parameter")
    outputs: dict[str, Any] = {"scores (loss(X) with y=None)": scores, "loss": float(loss)}
    outputs.update({f"grads[{name!r}]": grads[name] for name in PARAM_NAMES})
    return outputs


def three_layer_convnet_init(cls: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    # Students draw initial weights from NumPy's global generator: seeding it makes grading
    # deterministic.
    np.random.seed(inputs["numpy_seed"])  # noqa: NPY002
    params = getattr(cls(**inputs["config"]), "params", None)
    if not isinstance(params, dict):
        return {"params type": type(params).__name__, "params": {}}
    return {"params type": "dict", "params": params}


def make_filters(student: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    w, b = student()
    return {"w": w, "b": b}
