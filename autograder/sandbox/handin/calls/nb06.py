"""Adapters of notebook 06 (batch normalization); see the package docstring."""

from __future__ import annotations

from typing import Any

import numpy as np

# The documented keys of a normalization layer's cache (notebook 06, part 1).
CACHE_KEYS = ("x", "mu", "xmu", "var", "std", "istd", "x_hat", "gamma", "eps")
RUNNING = ("running_mean", "running_var")


def _unpack(result: Any, what: str) -> tuple[Any, Any]:
    """(out, cache) from what the student's function returned, or a clear error."""
    if not isinstance(result, tuple) or len(result) != 2:
        raise TypeError(f"{what} must return a tuple (out, cache), got {type(result).__name__}")
    return result


def _cache_entries(cache: Any, what: str) -> dict[str, Any]:
    """The documented entries of a training-mode cache (a missing key is None)."""
    if not isinstance(cache, dict):
        raise TypeError(
            f"the cache of {what} must be a dict with the keys {', '.join(CACHE_KEYS)}, got "
            f"{type(cache).__name__}"
        )
    return {key: cache.get(key) for key in CACHE_KEYS if key not in ("x", "gamma")}


def _running(bn_param: dict[str, Any]) -> dict[str, Any]:
    return {f"bn_param[{key!r}] after the call": bn_param.get(key) for key in RUNNING}


def _bn_param(inputs: dict[str, Any], mode: str) -> dict[str, Any]:
    param = {key: value.copy() if isinstance(value, np.ndarray) else value
             for key, value in inputs.get("bn_param", {}).items()}
    param["mode"] = mode
    return param


# ---------------------------------------------------------------------------------------------
# batchnorm_forward, layernorm_forward
# ---------------------------------------------------------------------------------------------


def batchnorm_train(student: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """One training call: the output, the cache's entries, the running averages, x afterwards."""
    x = inputs["x"]
    param = _bn_param(inputs, "train")
    out, cache = _unpack(student(x, inputs["gamma"].copy(), inputs["beta"].copy(), param),
                         "batchnorm_forward")
    return {"out": out, "cache": _cache_entries(cache, "batchnorm_forward"), **_running(param),
            "x after": x}


def batchnorm_calls(student: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """Several training calls on one bn_param, then a test call on new examples."""
    param = _bn_param(inputs, "train")
    gamma, beta = inputs["gamma"], inputs["beta"]
    for batch in inputs["batches"]:
        _unpack(student(batch, gamma.copy(), beta.copy(), param), "batchnorm_forward")
    running = {f"bn_param[{key!r}] after the training calls": param.get(key) for key in RUNNING}
    param["mode"] = "test"
    out, _ = _unpack(student(inputs["x_test"], gamma.copy(), beta.copy(), param),
                     "batchnorm_forward")
    return {**running, "test-mode out": out}


def batchnorm_test(student: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """One test-mode call: the output, whether the cache is None, the running averages after."""
    x = inputs["x"]
    param = _bn_param(inputs, "test")
    out, cache = _unpack(student(x, inputs["gamma"].copy(), inputs["beta"].copy(), param),
                         "batchnorm_forward")
    return {"out": out, "cache is None": cache is None, **_running(param), "x after": x}


def layernorm(student: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    x = inputs["x"]
    out, cache = _unpack(student(x, inputs["gamma"].copy(), inputs["beta"].copy(),
                                 dict(inputs["ln_param"])), "layernorm_forward")
    return {"out": out, "cache": _cache_entries(cache, "layernorm_forward"), "x after": x}


# ---------------------------------------------------------------------------------------------
# Backward passes (given a correct forward pass's cache)
# ---------------------------------------------------------------------------------------------


def backward(student: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    result = student(inputs["dout"], inputs["cache"])
    if not isinstance(result, tuple) or len(result) != 3:
        raise TypeError(f"the backward pass must return (dx, dgamma, dbeta), got "
                        f"{type(result).__name__}")
    dx, dgamma, dbeta = result
    return {"dx": dx, "dgamma": dgamma, "dbeta": dbeta}


# ---------------------------------------------------------------------------------------------
# Spatial batch normalization: a dict of the forward and the backward pass
# ---------------------------------------------------------------------------------------------


def spatial_forward(student: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    x = inputs["x"]
    param = _bn_param(inputs, inputs["mode"])
    out, _ = _unpack(student["spatial_batchnorm_forward"](x, inputs["gamma"].copy(),
                                                          inputs["beta"].copy(), param),
                     "spatial_batchnorm_forward")
    return {"out": out, **_running(param), "x after": x}


def spatial_backward(student: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    return backward(student["spatial_batchnorm_backward"], inputs)


# ---------------------------------------------------------------------------------------------
# NormalizedFullyConnectedNet
# ---------------------------------------------------------------------------------------------


def _net(cls: Any, inputs: dict[str, Any], dtype: Any) -> Any:
    return cls(
        inputs["hidden_dims"],
        input_dim=inputs["input_dim"],
        num_classes=inputs["num_classes"],
        normalization=inputs["normalization"],
        reg=inputs.get("reg", 0.0),
        weight_scale=inputs.get("weight_scale", 1e-2),
        dtype=dtype,
        seed=inputs.get("seed", 0),
    )


def fc_net_norm_init(cls: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """The parameters and normalization dicts of a new net."""
    net = _net(cls, inputs, np.dtype(inputs["dtype"]).type)
    norm_params = getattr(net, "norm_params", None)
    return {"params": dict(net.params),
            "norm_params": list(norm_params) if isinstance(norm_params, list) else norm_params}


def fc_net_norm(cls: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """Training call (loss, gradients), a second training call, test-time scores, training again."""
    net = _net(cls, inputs, np.float64)
    for name, value in inputs["params"].items():
        net.params[name] = value.copy()
    loss, grads = net.loss(inputs["X"], inputs["y"])
    outputs: dict[str, Any] = {"training loss": loss}
    for name in inputs["params"]:
        outputs[f"grads[{name!r}]"] = grads.get(name) if isinstance(grads, dict) else None
    net.loss(inputs["X2"], inputs["y2"])
    outputs["test-time scores, after two training calls"] = net.loss(inputs["X_test"])
    again, _ = net.loss(inputs["X"], inputs["y"])
    outputs["training loss again, after a test-time call"] = again
    return outputs
