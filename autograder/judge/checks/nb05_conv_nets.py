"""Hidden tests of notebook 05 (convolutional networks).

Every graded function is checked against the reference on inputs the student never sees:

- sizes and counts: random layer shapes that fit, shapes whose stride does not fit (a ValueError
  with a message is required), and the lecture's examples;
- naive conv/pool: random shapes with strides 1-3, pads 0-3, rectangular filters and non-square
  pools, odd sizes, strides larger than the filter, overlapping pooling windows (stride < pool) and
  integer-valued inputs full of tied maxima (the documented rule: the gradient goes to the *first*
  maximum of a window, in row-major order). Only shapes where the stride fits evenly are used, as
  the notebook documents;
- the three-layer ConvNet: parameter shapes, dtypes and initial statistics; scores, loss and
  gradients against the reference model given identical float64 parameters;
- the hand-set filters: their defining properties, measured on grader-made images.

Isolation: a case runs the student's function with reference versions of the graded functions it
may call by global name (``conv_output_size`` in the layers; the notebook-03 layers and the naive
layers in the ConvNet), so one bug costs points once. The backward tests build the documented
caches themselves, so a forward bug never costs backward points.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from autograder.judge.cases import Case, Outputs
from autograder.judge.reference import conv as ref
from autograder.judge.reference import models
from autograder.sandbox.handin.calls import nb05 as calls
from cs231kit import tolerances

NOTEBOOK = "05_conv_nets"
CALLS = "nb05"
VALUE_TESTS: frozenset[str] = frozenset()

# Forward values and gradients are float64 sums of products; a correct implementation differs from
# the reference by summation order only (~1e-15 relative), so the forward tolerance applies.
TOL = tolerances.FORWARD_REL_ERROR
# Integers (sizes, counts) and flags must match exactly.
EXACT = 0.0
# The ConvNet's loss and gradients pass through a softmax, exp/log and several layers: still
# ~1e-14 apart in float64, but the margin is widened for sums over many terms.
CONVNET_TOL = 1e-6

# What the ConvNet (and the layers) may call by global name, answered by the reference.
LAYER_REFERENCES = ("conv_output_size",)
CONVNET_REFERENCES = (
    *LAYER_REFERENCES,
    "affine_forward",
    "affine_backward",
    "relu_forward",
    "relu_backward",
    "affine_relu_forward",
    "affine_relu_backward",
    "softmax_loss",
    "conv_forward_naive",
    "conv_backward_naive",
    "max_pool_forward_naive",
    "max_pool_backward_naive",
)
PARAM_NAMES = calls.PARAM_NAMES
MANY = 12  # runs of the cheap cases


# ---------------------------------------------------------------------------------------------
# Shapes that fit
# ---------------------------------------------------------------------------------------------


def _fitting_size(rng: np.random.Generator, filt: int, pad: int, stride: int, span: int = 4) -> int:
    """An input size W >= 1 for which (W - filt + 2 pad) is a non-negative multiple of stride."""
    # W = (out - 1) * stride + filt - 2 pad must be >= 1: out - 1 >= (1 + 2 pad - filt) / stride.
    lowest_out = 1 + max(0, -(-(1 + 2 * pad - filt) // stride))
    out = int(rng.integers(lowest_out, lowest_out + span))
    return (out - 1) * stride + filt - 2 * pad


def _conv_inputs(
    rng: np.random.Generator,
    *,
    max_filter: int = 5,
    strides: tuple[int, int] = (1, 3),
    pads: tuple[int, int] = (0, 3),
) -> dict[str, Any]:
    """x, w, b, conv_param with random sizes: rectangular filters, strides and pads as given."""
    n, c, f = (int(v) for v in rng.integers(1, [4, 4, 5]))
    hh, ww = (int(v) for v in rng.integers(1, max_filter + 1, size=2))
    stride = int(rng.integers(strides[0], strides[1] + 1))
    pad = int(rng.integers(pads[0], pads[1] + 1))
    h = _fitting_size(rng, hh, pad, stride)
    w = _fitting_size(rng, ww, pad, stride)
    return {
        "x": rng.standard_normal((n, c, h, w)),
        "w": rng.standard_normal((f, c, hh, ww)),
        "b": rng.standard_normal(f),
        "conv_param": {"stride": stride, "pad": pad},
    }


def _stride_beyond_filter(rng: np.random.Generator) -> dict[str, Any]:
    """A filter smaller than the stride: some input pixels are never looked at (their dx is 0)."""
    inputs = _conv_inputs(rng, max_filter=2, strides=(3, 3), pads=(0, 1))
    return inputs


def _lecture_conv(rng: np.random.Generator) -> dict[str, Any]:
    """A scaled-down version of the lecture's layer: 5x5 filters, stride 1, pad 2 keep the size."""
    return {
        "x": rng.standard_normal((2, 3, 8, 8)),
        "w": rng.standard_normal((4, 3, 5, 5)),
        "b": rng.standard_normal(4),
        "conv_param": {"stride": 1, "pad": 2},
    }


def _pool_inputs(
    rng: np.random.Generator, *, ties: bool = False, overlap: bool = False
) -> dict[str, Any]:
    """x and pool_param with a random (possibly non-square) pool and a stride that fits.

    ties: integer values 0..2, so most windows hold several equal maxima.
    overlap: stride smaller than the pool in both directions, so windows share inputs.
    """
    n, c = (int(v) for v in rng.integers(1, [4, 4]))
    pool_h, pool_w = (int(v) for v in rng.integers(2 if overlap else 1, 5, size=2))
    top = min(pool_h, pool_w) - 1 if overlap else 3
    stride = int(rng.integers(1, max(1, top) + 1))
    h = _fitting_size(rng, pool_h, 0, stride)
    w = _fitting_size(rng, pool_w, 0, stride)
    shape = (n, c, h, w)
    x = rng.integers(0, 3, size=shape).astype(np.float64) if ties else rng.standard_normal(shape)
    return {"x": x, "pool_param": {"pool_height": pool_h, "pool_width": pool_w, "stride": stride}}


def _lecture_pool(rng: np.random.Generator) -> dict[str, Any]:
    """The lecture's 4x4 example (2x2 pool, stride 2 gives [[6, 8], [3, 4]]), randomly scaled."""
    x = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]], dtype=np.float64)
    scale = float(rng.uniform(0.5, 2.0))
    return {
        "x": (scale * x)[None, None],
        "pool_param": {"pool_height": 2, "pool_width": 2, "stride": 2},
    }


def _with_dout(make: Callable[[np.random.Generator], dict[str, Any]], kind: str) -> Any:
    """Wrap an input maker: add a random upstream gradient shaped like the forward output."""

    def make_with_dout(rng: np.random.Generator) -> dict[str, Any]:
        inputs = make(rng)
        if kind == "conv":
            out, _ = ref.conv_forward_naive(
                inputs["x"], inputs["w"], inputs["b"], inputs["conv_param"]
            )
        else:
            out, _ = ref.max_pool_forward_naive(inputs["x"], inputs["pool_param"])
        inputs["dout"] = rng.standard_normal(out.shape)
        return inputs

    return make_with_dout


# ---------------------------------------------------------------------------------------------
# conv_output_size and conv_param_count
# ---------------------------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def _size_label(inputs: dict[str, Any]) -> str:
    return "conv_output_size(W={W}, F={F}, P={P}, S={S})".format(**inputs)



def _output_size_derive(inputs: dict[str, Any], raw: Any) -> Outputs:
    size = raw["size"]
    return {"returns an int (not a float)": _is_int(size), _size_label(inputs): str(size)}


def _output_size_ref(inputs: dict[str, Any]) -> Outputs:
    size = ref.conv_output_size(inputs["W"], inputs["F"], inputs["P"], inputs["S"])
    return {"returns an int (not a float)": True, _size_label(inputs): str(size)}


def _raise_outcome(raw: Any) -> str:
    """What conv_output_size did on a shape that does not fit, in words."""
    if "returned" in raw:
        return f"returned {raw['returned']} instead of raising ValueError"
    if raw["raised"] != "ValueError":
        return f"raised {raw['raised']} instead of ValueError"
    if not str(raw["message"]).strip():
        return "raised ValueError without a message (say what does not fit)"
    return "raised ValueError"


def _misfit_derive(inputs: dict[str, Any], raw: Any) -> Outputs:
    return {f"{_size_label(inputs)}, which does not fit,": _raise_outcome(raw)}


def _misfit_ref(inputs: dict[str, Any]) -> Outputs:
    return _misfit_derive(inputs, calls.conv_output_size_misfit(ref.conv_output_size, inputs))


def _fitting_layer(rng: np.random.Generator) -> dict[str, int]:
    filt = int(rng.integers(1, 12))
    pad = int(rng.integers(0, 5))
    stride = int(rng.integers(1, 6))
    return {"W": _fitting_size(rng, filt, pad, stride, span=60), "F": filt, "P": pad, "S": stride}


def _misfitting_layer(rng: np.random.Generator) -> dict[str, int]:
    """(W - F + 2P) >= 0 but not a multiple of S (so S >= 2)."""
    filt = int(rng.integers(1, 12))
    pad = int(rng.integers(0, 5))
    stride = int(rng.integers(2, 6))
    fitting = _fitting_size(rng, filt, pad, stride, span=60)
    return {"W": fitting + int(rng.integers(1, stride)), "F": filt, "P": pad, "S": stride}


def _too_big_filter(rng: np.random.Generator) -> dict[str, int]:
    """A filter larger than the padded input: (W - F + 2P) < 0."""
    size = int(rng.integers(1, 10))
    pad = int(rng.integers(0, 3))
    return {"W": size, "F": size + 2 * pad + int(rng.integers(1, 4)), "P": pad, "S": 1}


def _fixed(**values: int) -> Callable[[np.random.Generator], dict[str, int]]:
    return lambda rng: dict(values)


OUTPUT_SIZE_CASES = [
    Case("conv_output_size, random layers that fit", _fitting_layer, "conv_output_size",
         _output_size_ref, derive=_output_size_derive, tol=EXACT, runs=MANY),
    Case("conv_output_size, the lecture's 32x32 input, 5x5 filters, stride 1, pad 2",
         _fixed(W=32, F=5, P=2, S=1), "conv_output_size", _output_size_ref,
         derive=_output_size_derive, tol=EXACT, runs=1),
    Case("conv_output_size, AlexNet CONV1 (227, 11x11, stride 4, pad 0)",
         _fixed(W=227, F=11, P=0, S=4), "conv_output_size", _output_size_ref,
         derive=_output_size_derive, tol=EXACT,
         runs=1),
    Case("conv_output_size, a stride that does not fit (must raise ValueError)",
         _misfitting_layer, "conv_output_size_misfit", _misfit_ref,
         derive=_misfit_derive, runs=MANY),
    Case("conv_output_size, the lecture's 7x7 input, 3x3 filter, stride 3 (does not fit)",
         _fixed(W=7, F=3, P=0, S=3), "conv_output_size_misfit", _misfit_ref,
         derive=_misfit_derive, runs=1),
    Case("conv_output_size, a filter larger than the padded input (must raise ValueError)",
         _too_big_filter, "conv_output_size_misfit", _misfit_ref,
         derive=_misfit_derive, runs=MANY),
]


def _count_label(inputs: dict[str, Any]) -> str:
    return "conv_param_count(F={F}, C={C}, HH={HH}, WW={WW})".format(**inputs)



def _param_count_derive(inputs: dict[str, Any], raw: Any) -> Outputs:
    count = raw["count"]
    return {"returns an int (not a float)": _is_int(count), _count_label(inputs): str(count)}


def _param_count_ref(inputs: dict[str, Any]) -> Outputs:
    count = ref.conv_param_count(inputs["F"], inputs["C"], inputs["HH"], inputs["WW"])
    return {"returns an int (not a float)": True, _count_label(inputs): str(count)}


def _random_layer(rng: np.random.Generator) -> dict[str, int]:
    f, c, hh, ww = (int(v) for v in rng.integers(1, [600, 600, 12, 12]))
    return {"F": f, "C": c, "HH": hh, "WW": ww}


PARAM_COUNT_CASES = [
    Case("conv_param_count, random layers (rectangular filters)", _random_layer,
         "conv_param_count", _param_count_ref,
         derive=_param_count_derive, tol=EXACT, runs=MANY),
    Case("conv_param_count, the lecture's 10 5x5 filters on 3 channels",
         _fixed(F=10, C=3, HH=5, WW=5), "conv_param_count", _param_count_ref,
         derive=_param_count_derive, tol=EXACT, runs=1),
    Case("conv_param_count, 1x1 filters (F=32 on C=64)", _fixed(F=32, C=64, HH=1, WW=1),
         "conv_param_count", _param_count_ref,
         derive=_param_count_derive, tol=EXACT, runs=1),
]


# ---------------------------------------------------------------------------------------------
# Naive convolution
# ---------------------------------------------------------------------------------------------


def _describe_cache(raw: Any, inputs: dict[str, Any], names: tuple[str, ...]) -> str:
    """'(x, w, b, ...)' if the cache holds exactly the inputs in that order, else what is off."""
    wanted = "(" + ", ".join(names) + ")"
    if raw["cache type"] != "tuple":
        return f"a {raw['cache type']}, not the tuple {wanted}"
    cache = raw["cache items"]
    if len(cache) != len(names):
        return f"a tuple of {len(cache)} items, not the {len(names)} items {wanted}"
    for position, name in enumerate(names):
        item, expected = cache[position], inputs[name]
        if isinstance(expected, dict):
            same = isinstance(item, dict) and item == expected
        else:
            item_array = np.asarray(item) if hasattr(item, "shape") else None
            same = (
                item_array is not None
                and item_array.shape == expected.shape
                and np.array_equal(item_array, expected)
            )
        if not same:
            return f"a tuple whose item {position} is not {name} (expected {wanted})"
    return wanted



def _conv_forward_derive(inputs: dict[str, Any], raw: Any) -> Outputs:
    return {"out": raw["out"], "cache": _describe_cache(raw, inputs, ("x", "w", "b", "conv_param"))}


def _conv_forward_ref(inputs: dict[str, Any]) -> Outputs:
    out, _ = ref.conv_forward_naive(
        inputs["x"], inputs["w"], inputs["b"], inputs["conv_param"]
    )
    return {"out": out, "cache": "(x, w, b, conv_param)"}


def _conv_forward_case(name: str, make: Any, runs: int = 4) -> Case:
    return Case(name, make, "conv_forward_naive", _conv_forward_ref, derive=_conv_forward_derive,
                tol=TOL, runs=runs, oracles=LAYER_REFERENCES)


CONV_FORWARD_CASES = [
    _conv_forward_case("conv_forward_naive, 5x5 filters, stride 1, pad 2 (the lecture's layer)",
                       _lecture_conv, runs=1),
    _conv_forward_case("conv_forward_naive, random shapes: strides 1-3, pads 0-3, rectangular "
                       "filters, odd sizes", _conv_inputs, runs=8),
    _conv_forward_case("conv_forward_naive, stride larger than the filter",
                       _stride_beyond_filter),
    _conv_forward_case("conv_forward_naive, no padding",
                       lambda rng: _conv_inputs(rng, pads=(0, 0))),
]



def _conv_backward_ref(inputs: dict[str, Any]) -> Outputs:
    cache = (inputs["x"], inputs["w"], inputs["b"], inputs["conv_param"])
    dx, dw, db = ref.conv_backward_naive(inputs["dout"], cache)
    return {"dx": dx, "dw": dw, "db": db}


def _conv_backward_case(name: str, make: Any, runs: int = 4) -> Case:
    return Case(name, _with_dout(make, "conv"), "conv_backward_naive", _conv_backward_ref, tol=TOL,
                runs=runs, oracles=("conv_forward_naive", *LAYER_REFERENCES))


CONV_BACKWARD_CASES = [
    _conv_backward_case("conv_backward_naive, 5x5 filters, stride 1, pad 2 (the lecture's layer)",
                        _lecture_conv, runs=1),
    _conv_backward_case("conv_backward_naive, random shapes: strides 1-3, pads 0-3, rectangular "
                        "filters, odd sizes", _conv_inputs, runs=8),
    _conv_backward_case("conv_backward_naive, stride 2-3 with padding",
                        lambda rng: _conv_inputs(rng, strides=(2, 3), pads=(1, 3))),
    _conv_backward_case("conv_backward_naive, stride larger than the filter (skipped pixels get "
                        "dx = 0)", _stride_beyond_filter),
    _conv_backward_case("conv_backward_naive, no padding",
                        lambda rng: _conv_inputs(rng, pads=(0, 0))),
]


# ---------------------------------------------------------------------------------------------
# Naive max pooling
# ---------------------------------------------------------------------------------------------



def _pool_forward_derive(inputs: dict[str, Any], raw: Any) -> Outputs:
    return {"out": raw["out"], "cache": _describe_cache(raw, inputs, ("x", "pool_param"))}


def _pool_forward_ref(inputs: dict[str, Any]) -> Outputs:
    out, _ = ref.max_pool_forward_naive(inputs["x"], inputs["pool_param"])
    return {"out": out, "cache": "(x, pool_param)"}


def _pool_forward_case(name: str, make: Any, runs: int = 4) -> Case:
    return Case(name, make, "max_pool_forward_naive", _pool_forward_ref,
                derive=_pool_forward_derive, tol=TOL, runs=runs, oracles=LAYER_REFERENCES)


POOL_FORWARD_CASES = [
    _pool_forward_case("max_pool_forward_naive, the lecture's 4x4 example (2x2, stride 2)",
                       _lecture_pool, runs=1),
    _pool_forward_case("max_pool_forward_naive, random shapes, non-square pools, strides 1-3",
                       _pool_inputs, runs=8),
    _pool_forward_case("max_pool_forward_naive, overlapping windows (stride < pool)",
                       lambda rng: _pool_inputs(rng, overlap=True)),
    _pool_forward_case("max_pool_forward_naive, integer values with ties",
                       lambda rng: _pool_inputs(rng, ties=True)),
]



def _pool_backward_ref(inputs: dict[str, Any]) -> Outputs:
    dx = ref.max_pool_backward_naive(inputs["dout"], (inputs["x"], inputs["pool_param"]))
    return {"dx": dx}


def _pool_backward_case(name: str, make: Any, runs: int = 4) -> Case:
    return Case(name, _with_dout(make, "pool"), "max_pool_backward_naive", _pool_backward_ref,
                tol=TOL, runs=runs, oracles=("max_pool_forward_naive", *LAYER_REFERENCES))


POOL_BACKWARD_CASES = [
    _pool_backward_case("max_pool_backward_naive, the lecture's 4x4 example (2x2, stride 2)",
                        _lecture_pool, runs=1),
    _pool_backward_case("max_pool_backward_naive, random shapes, non-square pools, strides 1-3",
                        _pool_inputs, runs=8),
    _pool_backward_case("max_pool_backward_naive, overlapping windows (stride < pool): an input "
                        "that wins several windows collects all their gradients",
                        lambda rng: _pool_inputs(rng, overlap=True)),
    _pool_backward_case("max_pool_backward_naive, tied maxima: only the FIRST maximum of a window "
                        "(row-major order) gets its gradient",
                        lambda rng: _pool_inputs(rng, ties=True), runs=6),
    _pool_backward_case("max_pool_backward_naive, tied maxima in overlapping windows",
                        lambda rng: _pool_inputs(rng, ties=True, overlap=True)),
]


# ---------------------------------------------------------------------------------------------
# ThreeLayerConvNet
# ---------------------------------------------------------------------------------------------


def _convnet_config(rng: np.random.Generator, *, square: bool, reg: bool) -> dict[str, Any]:
    """A small random architecture; H and W are even (the 2x2 pool needs it)."""
    channels = int(rng.integers(1, 4))
    height = 2 * int(rng.integers(2, 6))
    width = height if square else 2 * int(rng.integers(2, 6))
    if not square and width == height:
        width = height + 2
    return {
        "input_dim": (channels, height, width),
        "num_filters": int(rng.integers(2, 6)),
        "filter_size": int(rng.choice([1, 3, 5])),
        "hidden_dim": int(rng.integers(3, 13)),
        "num_classes": int(rng.integers(2, 7)),
        "weight_scale": 1e-2,
        "reg": float(10 ** rng.uniform(-2, 0)) if reg else 0.0,
        "dtype": np.float64,
    }


def _param_shapes(config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    channels, height, width = config["input_dim"]
    f, fs, hidden = config["num_filters"], config["filter_size"], config["hidden_dim"]
    pooled = f * (height // 2) * (width // 2)
    return {
        "W1": (f, channels, fs, fs), "b1": (f,),
        "W2": (pooled, hidden), "b2": (hidden,),
        "W3": (hidden, config["num_classes"]), "b3": (config["num_classes"],),
    }


def _convnet_inputs(square: bool, reg: bool) -> Callable[[np.random.Generator], dict[str, Any]]:
    def make(rng: np.random.Generator) -> dict[str, Any]:
        config = _convnet_config(rng, square=square, reg=reg)
        # Weights of order 1/sqrt(fan-in) keep every layer's values of order 1 and far from
        # the ReLU and max-pool kinks.
        params = {}
        for name, shape in _param_shapes(config).items():
            fan_in = int(np.prod(shape[1:])) if name == "W1" else shape[0]
            scale = 1.0 / np.sqrt(fan_in) if name.startswith("W") else 0.1
            params[name] = scale * rng.standard_normal(shape)
        n = int(rng.integers(2, 6))
        return {
            "config": config,
            "params": params,
            "X": rng.standard_normal((n, *config["input_dim"])),
            "y": rng.integers(0, config["num_classes"], size=n),
        }

    return make





def _convnet_ref(inputs: dict[str, Any]) -> Outputs:
    return calls.three_layer_convnet(functools.partial(models.ThreeLayerConvNet, seed=0), inputs)


def _init_inputs(rng: np.random.Generator) -> dict[str, Any]:
    """An architecture with enough weights per matrix (>= 240) to estimate their spread."""
    channels = int(rng.integers(1, 4))
    height, width = (2 * int(v) for v in rng.integers(3, 7, size=2))
    return {
        "config": {
            "input_dim": (channels, height, width),
            "num_filters": int(rng.integers(8, 13)),
            "filter_size": int(rng.choice([3, 5, 7])),
            "hidden_dim": int(rng.integers(30, 51)),
            "num_classes": int(rng.integers(8, 13)),
            "weight_scale": float(10 ** rng.uniform(-3, -1)),
            "reg": 0.0,
            "dtype": np.float32 if rng.random() < 0.5 else np.float64,
        },
        "numpy_seed": int(rng.integers(2**31)),
    }


# The sample standard deviation of n >= 240 draws is within ~6% (one sd) of the true one; a band of
# +-30% (5 sd) accepts a correct init for every seed and still rejects a wrong scale.
_STD_BAND = (0.7, 1.3)


def _init_report(inputs: dict[str, Any], raw: Any) -> Outputs:
    config = inputs["config"]
    params = raw["params"]
    if raw["params type"] != "dict":
        return {"model.params": f"a {raw['params type']}, not a dict"}
    report: Outputs = {"parameter names": str(sorted(params))}
    for name, shape in _param_shapes(config).items():
        value = np.asarray(params.get(name))
        report[f"{name} shape"] = str(tuple(value.shape))
        if value.shape != shape:
            return report
        report[f"{name} dtype"] = np.dtype(value.dtype).name
        if name.startswith("b"):
            report[f"{name} is all zeros"] = bool(np.all(value == 0))
        else:
            ratio = float(np.std(value.astype(np.float64))) / config["weight_scale"]
            report[f"{name} has std close to weight_scale"] = bool(
                _STD_BAND[0] <= ratio <= _STD_BAND[1]
            )
    return report



def _init_ref(inputs: dict[str, Any]) -> Outputs:
    config = inputs["config"]
    report: Outputs = {"parameter names": str(sorted(PARAM_NAMES))}
    dtype = np.dtype(config["dtype"]).name
    for name, shape in _param_shapes(config).items():
        report[f"{name} shape"] = str(shape)
        report[f"{name} dtype"] = dtype
        if name.startswith("b"):
            report[f"{name} is all zeros"] = True
        else:
            report[f"{name} has std close to weight_scale"] = True
    return report


CONVNET_CASES = [
    Case("ThreeLayerConvNet.__init__: parameter names, shapes, dtype, zero biases, weights with "
         "std weight_scale", _init_inputs, "three_layer_convnet_init", _init_ref,
         derive=_init_report, tol=EXACT, runs=4, oracles=CONVNET_REFERENCES),
    Case("ThreeLayerConvNet.loss, square input, reg = 0 (same params as the reference model)",
         _convnet_inputs(square=True, reg=False), "three_layer_convnet", _convnet_ref,
         tol=CONVNET_TOL, oracles=CONVNET_REFERENCES),
    Case("ThreeLayerConvNet.loss, square input, reg > 0 (0.5 * reg * sum of W**2 for W1, W2, W3)",
         _convnet_inputs(square=True, reg=True), "three_layer_convnet", _convnet_ref,
         tol=CONVNET_TOL, oracles=CONVNET_REFERENCES),
    Case("ThreeLayerConvNet.loss, non-square input (H != W)",
         _convnet_inputs(square=False, reg=True), "three_layer_convnet", _convnet_ref,
         tol=CONVNET_TOL, oracles=CONVNET_REFERENCES),
]


# ---------------------------------------------------------------------------------------------
# Hand-set filters
# ---------------------------------------------------------------------------------------------

# A response counts as "zero" below this fraction of the filter's size sum(|w|) (times the image's
# largest value): float64 rounding of a correct filter is ~1e-16 of it, and a filter built in
# float32 still gives exact zeros where its weights cancel in pairs.
_ZERO = 1e-7
# Identity and blur are compared with this absolute/relative slack, which also accepts filters
# built in float32 (weights like 1/81 rounded to ~6e-8 relative).
_CLOSE = 1e-6
# An edge filter must answer a unit step across its edge direction with at least this fraction of
# sum(|w|). A zero-sum filter's largest possible answer is sum(|w|) / 2, which every difference
# filter (Sobel, Prewitt, top-half minus bottom-half) reaches; 0.25 leaves room.
_EDGE_RESPONSE = 0.25
# A blur must cut the standard deviation of white noise at least by this factor (a 3x3 box
# reaches 1/3, a 9x9 box 1/9; the identity, a sharpening filter or a shifted copy do not).
_BLUR_SMOOTHING = 0.5


def _filter_images(rng: np.random.Generator) -> dict[str, Any]:
    height, width = (int(v) for v in rng.integers(20, 33, size=2))
    row, col = int(rng.integers(8, height - 8)), int(rng.integers(8, width - 8))
    horizontal_edge = np.zeros((height, width))
    horizontal_edge[row:] = 1.0  # intensity changes from top to bottom: a horizontal edge
    vertical_edge = np.zeros((height, width))
    vertical_edge[:, col:] = 1.0  # intensity changes from left to right: a vertical edge
    return {
        "random": rng.standard_normal((height, width)),
        "constant": np.full((height, width), float(rng.uniform(0.5, 3.0))),
        "noise": rng.standard_normal((height, width)),
        "horizontal_edge": horizontal_edge,
        "vertical_edge": vertical_edge,
    }


def _filter_properties(w: np.ndarray, b: np.ndarray, images: dict[str, Any]) -> Outputs:
    """The defining property of each filter, measured on the grader's images."""
    names = ("random", "constant", "noise", "horizontal_edge", "vertical_edge")
    x = np.stack([images[name] for name in names])[:, None]  # (5, 1, H, W)
    out, _ = ref.conv_forward_naive(x, w, b, {"stride": 1, "pad": 4})  # (5, 4, H, W)
    response = {name: out[i] for i, name in enumerate(names)}
    inner = (slice(4, -4), slice(4, -4))  # where the 9x9 window lies inside the image
    size = np.abs(w).reshape(4, -1).sum(axis=1)  # sum(|w|) of each filter

    def zero(name: str, k: int) -> bool:
        scale = size[k] * np.abs(images[name]).max()
        return bool(np.abs(response[name][k][inner]).max() <= _ZERO * scale + 1e-12)

    def responds(name: str, k: int) -> bool:
        return bool(np.abs(response[name][k][inner]).max() >= _EDGE_RESPONSE * size[k])

    constant = images["constant"]
    blurred_noise = response["noise"][1][inner]
    return {
        "filter 0 (identity) reproduces the input exactly":
            bool(np.allclose(response["random"][0], images["random"], rtol=0, atol=_CLOSE)),
        "filter 1 (blur) has weights summing to 1 (and bias 0)":
            bool(abs(w[1].sum() - 1) <= _CLOSE and b[1] == 0),
        "filter 1 (blur) keeps a constant image unchanged":
            bool(np.allclose(response["constant"][1][inner], constant[inner], rtol=_CLOSE, atol=0)),
        "filter 1 (blur) smooths noise (std at least halved)":
            bool(blurred_noise.std() <= _BLUR_SMOOTHING * images["noise"].std()),
        "filter 2 (horizontal edges) gives 0 on a constant image": zero("constant", 2),
        "filter 2 (horizontal edges) responds to a horizontal edge (top/bottom change)":
            responds("horizontal_edge", 2),
        "filter 2 (horizontal edges) gives 0 on a vertical edge (left/right change)":
            zero("vertical_edge", 2),
        "filter 3 (vertical edges) gives 0 on a constant image": zero("constant", 3),
        "filter 3 (vertical edges) responds to a vertical edge (left/right change)":
            responds("vertical_edge", 3),
        "filter 3 (vertical edges) gives 0 on a horizontal edge (top/bottom change)":
            zero("horizontal_edge", 3),
    }



def _filters_derive(inputs: dict[str, Any], raw: Any) -> Outputs:
    w = np.asarray(raw["w"], dtype=np.float64)
    b = np.asarray(raw["b"], dtype=np.float64)
    shapes = {"w shape": str(w.shape), "b shape": str(b.shape)}
    if w.shape != (4, 1, 9, 9) or b.shape != (4,):
        return shapes
    if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
        return {**shapes, "w and b are finite": False}
    return {**shapes, "w and b are finite": True, **_filter_properties(w, b, inputs)}


def _filters_ref(inputs: dict[str, Any]) -> Outputs:
    w, b = ref.make_filters()
    return {"w shape": str(w.shape), "b shape": str(b.shape), "w and b are finite": True,
            **_filter_properties(w, b, inputs)}


FILTER_CASES = [
    Case("make_filters: identity, blur, horizontal edges, vertical edges (in that order), checked "
         "on grader images", _filter_images, "make_filters", _filters_ref, derive=_filters_derive,
         tol=EXACT, runs=4),
]


CASES: dict[str, list[Case]] = {
    "test_conv_output_size": OUTPUT_SIZE_CASES,
    "test_conv_param_count": PARAM_COUNT_CASES,
    "test_conv_forward_naive": CONV_FORWARD_CASES,
    "test_conv_backward_naive": CONV_BACKWARD_CASES,
    "test_max_pool_forward_naive": POOL_FORWARD_CASES,
    "test_max_pool_backward_naive": POOL_BACKWARD_CASES,
    "test_three_layer_convnet": CONVNET_CASES,
    "test_hand_set_filters": FILTER_CASES,
}

