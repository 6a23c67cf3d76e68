"""Reference results on demand: what a student's function gets when it calls a graded dependency.

A test of F swaps the graded functions F calls (by name, in F's module) for stubs; a stub sends
its arguments to the judge, which answers with the reference function's result, as plain data.
Only the names a case lists in ``Case.oracles`` are answered, only while that case runs.

A reference *class* (``FullyConnectedNet`` in notebook 04, whose dropout net builds the plain
net to get its parameters) is answered with the plain-data attributes of a reference instance.

A reference that updates a dict argument in place (``batchnorm_forward`` stores the running
statistics in its ``bn_param``) works on the judge's decoded copy; :func:`updated_dicts` returns
those dicts after the call, and the stub copies them back into the student's own dicts, so that
state kept in a dict survives the trip exactly as it would with a local call.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from autograder.judge.reference import conv, layers, linear_classifiers, models, normalization

# Largest total size of the arrays one reference call may be asked to work on: a hidden case's
# arrays are far smaller, and the limit keeps a submission from making the judge do heavy work.
MAX_ORACLE_ELEMENTS = 2_000_000

ORACLES: dict[str, Callable[..., Any]] = {
    "affine_forward": layers.affine_forward,
    "affine_backward": layers.affine_backward,
    "relu_forward": layers.relu_forward,
    "relu_backward": layers.relu_backward,
    "sigmoid_forward": layers.sigmoid_forward,
    "sigmoid_backward": layers.sigmoid_backward,
    "affine_relu_forward": layers.affine_relu_forward,
    "affine_relu_backward": layers.affine_relu_backward,
    "softmax_loss": layers.softmax_loss,
    "svm_loss": layers.svm_loss,
    "dropout_forward": layers.dropout_forward,
    "dropout_backward": layers.dropout_backward,
    "softmax_loss_vectorized": linear_classifiers.softmax_loss_vectorized,
    "svm_loss_vectorized": linear_classifiers.svm_loss_vectorized,
    "conv_output_size": conv.conv_output_size,
    "conv_forward_naive": conv.conv_forward_naive,
    "conv_backward_naive": conv.conv_backward_naive,
    "max_pool_forward_naive": conv.max_pool_forward_naive,
    "max_pool_backward_naive": conv.max_pool_backward_naive,
    "batchnorm_forward": normalization.batchnorm_forward,
    "batchnorm_backward": normalization.batchnorm_backward,
    "batchnorm_backward_alt": normalization.batchnorm_backward_alt,
    "layernorm_forward": normalization.layernorm_forward,
    "layernorm_backward": normalization.layernorm_backward,
    "spatial_batchnorm_forward": normalization.spatial_batchnorm_forward,
    "spatial_batchnorm_backward": normalization.spatial_batchnorm_backward,
    "FullyConnectedNet": models.FullyConnectedNet,
}


class OracleRefused(ValueError):
    """A reference call the judge will not make (arguments too large)."""


def _elements(value: Any) -> int:
    if isinstance(value, np.ndarray):
        return int(value.size)
    if isinstance(value, (list, tuple)):
        return sum(_elements(item) for item in value)
    if isinstance(value, dict):
        return sum(_elements(item) for item in value.values())
    return 1


def call_oracle(function: Callable[..., Any], args: list[Any], kwargs: dict[str, Any]) -> Any:
    """The reference result of ``function(*args, **kwargs)`` as plain data.

    For a class, the plain-data attributes (numbers, strings, arrays and containers of them) of a
    new instance, as a dict; the sandbox side turns it into an object with those attributes.
    """
    if _elements(args) + _elements(kwargs) > MAX_ORACLE_ELEMENTS:
        raise OracleRefused(f"reference call with more than {MAX_ORACLE_ELEMENTS} numbers")
    if any(not isinstance(key, str) for key in kwargs):
        raise OracleRefused("keyword arguments must be named by strings")
    result = function(*args, **kwargs)
    if inspect.isclass(function):
        return {"$instance": {k: v for k, v in vars(result).items() if _plain(v)}}
    return result


def updated_dicts(args: list[Any], kwargs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The dict arguments of a reference call as they are after it, by position ("0", "1", ...)
    or keyword name, keeping only their plain-data entries (what the stub copies back)."""
    named = {str(index): value for index, value in enumerate(args)} | dict(kwargs)
    return {
        where: {k: v for k, v in value.items() if isinstance(k, str) and _plain(v)}
        for where, value in named.items()
        if isinstance(value, dict)
    }


def _plain(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str, np.ndarray, np.generic)):
        return not isinstance(value, np.ndarray) or value.dtype.kind in "biufc"
    if isinstance(value, (list, tuple)):
        return all(_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, (str, int)) and _plain(v) for k, v in value.items())
    return isinstance(value, type) and issubclass(value, np.generic)
