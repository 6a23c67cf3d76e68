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

from collections.abc import Callable
from typing import Any

import numpy as np

from autograder.hidden_tests.harness import Case, Outputs, run_cases, substituted
from autograder.reference import conv_layers, layers, models
from autograder.reference import nb05_conv_nets as ref
from cs231kit import tolerances

# Forward values and gradients are float64 sums of products; a correct implementation differs from
# the reference by summation order only (~1e-15 relative), so the forward tolerance applies.
TOL = tolerances.FORWARD_REL_ERROR
# Integers (sizes, counts) and flags must match exactly.
EXACT = 0.0
# The ConvNet's loss and gradients pass through a softmax, exp/log and several layers: still
# ~1e-14 apart in float64, but the margin is widened for sums over many terms.
CONVNET_TOL = 1e-6

# What the ConvNet (and the layers) may call by global name, replaced by the reference versions.
LAYER_REFERENCES: dict[str, Any] = {"conv_output_size": ref.conv_output_size}
CONVNET_REFERENCES: dict[str, Any] = {
    **LAYER_REFERENCES,
    "affine_forward": layers.affine_forward,
    "affine_backward": layers.affine_backward,
    "relu_forward": layers.relu_forward,
    "relu_backward": layers.relu_backward,
    "affine_relu_forward": layers.affine_relu_forward,
    "affine_relu_backward": layers.affine_relu_backward,
    "softmax_loss": layers.softmax_loss,
    "conv_forward_naive": conv_layers.conv_forward_naive,
    "conv_backward_naive": conv_layers.conv_backward_naive,
    "max_pool_forward_naive": conv_layers.max_pool_forward_naive,
    "max_pool_backward_naive": conv_layers.max_pool_backward_naive,
}
PARAM_NAMES = ("W1", "b1", "W2", "b2", "W3", "b3")


def _references(student: Any, replacements: dict[str, Any]) -> dict[str, Any]:
    """The substitutions to make around ``student``: none when it is reference code itself.

    (The reference modules already call reference helpers, some with other argument orders, e.g.
    ``conv_layers.conv_output_size(size, filter_size, stride, pad)``; a tolerance sweep that runs
    the reference through these checks must leave them alone.)
    """
    if getattr(student, "__module__", "").startswith("autograder.reference"):
        return {}
    return replacements

MANY = tuple(range(12))  # seeds for the cheap cases


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
            out, _ = conv_layers.conv_forward_naive(
                inputs["x"], inputs["w"], inputs["b"], inputs["conv_param"]
            )
        else:
            out, _ = conv_layers.max_pool_forward_naive(inputs["x"], inputs["pool_param"])
        inputs["dout"] = rng.standard_normal(out.shape)
        return inputs

    return make_with_dout


# ---------------------------------------------------------------------------------------------
# conv_output_size and conv_param_count
# ---------------------------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def _size_call(inputs: dict[str, Any]) -> str:
    return "conv_output_size(W={W}, F={F}, P={P}, S={S})".format(**inputs)


def _output_size_call(student: Any, inputs: dict[str, Any]) -> Outputs:
    size = student(inputs["W"], inputs["F"], inputs["P"], inputs["S"])
    return {"returns an int (not a float)": _is_int(size), _size_call(inputs): str(size)}


def _output_size_ref(inputs: dict[str, Any]) -> Outputs:
    size = ref.conv_output_size(inputs["W"], inputs["F"], inputs["P"], inputs["S"])
    return {"returns an int (not a float)": True, _size_call(inputs): str(size)}


def _raise_outcome(student: Any, inputs: dict[str, Any]) -> str:
    """What conv_output_size does on a shape that does not fit."""
    try:
        size = student(inputs["W"], inputs["F"], inputs["P"], inputs["S"])
    except ValueError as error:
        if not str(error).strip():
            return "raised ValueError without a message (say what does not fit)"
        return "raised ValueError"
    except NotImplementedError:
        raise
    except Exception as error:
        return f"raised {type(error).__name__} instead of ValueError"
    return f"returned {size!r} instead of raising ValueError"


def _misfit_call(student: Any, inputs: dict[str, Any]) -> Outputs:
    return {f"{_size_call(inputs)}, which does not fit,": _raise_outcome(student, inputs)}


def _misfit_ref(inputs: dict[str, Any]) -> Outputs:
    outcome = _raise_outcome(ref.conv_output_size, inputs)
    return {f"{_size_call(inputs)}, which does not fit,": outcome}


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
    Case("conv_output_size, random layers that fit", _fitting_layer, _output_size_call,
         _output_size_ref, tol=EXACT, seeds=MANY),
    Case("conv_output_size, the lecture's 32x32 input, 5x5 filters, stride 1, pad 2",
         _fixed(W=32, F=5, P=2, S=1), _output_size_call, _output_size_ref, tol=EXACT, seeds=(0,)),
    Case("conv_output_size, AlexNet CONV1 (227, 11x11, stride 4, pad 0)",
         _fixed(W=227, F=11, P=0, S=4), _output_size_call, _output_size_ref, tol=EXACT,
         seeds=(0,)),
    Case("conv_output_size, a stride that does not fit (must raise ValueError)",
         _misfitting_layer, _misfit_call, _misfit_ref, seeds=MANY),
    Case("conv_output_size, the lecture's 7x7 input, 3x3 filter, stride 3 (does not fit)",
         _fixed(W=7, F=3, P=0, S=3), _misfit_call, _misfit_ref, seeds=(0,)),
    Case("conv_output_size, a filter larger than the padded input (must raise ValueError)",
         _too_big_filter, _misfit_call, _misfit_ref, seeds=MANY),
]


def _count_call(inputs: dict[str, Any]) -> str:
    return "conv_param_count(F={F}, C={C}, HH={HH}, WW={WW})".format(**inputs)


def _param_count_call(student: Any, inputs: dict[str, Any]) -> Outputs:
    count = student(inputs["F"], inputs["C"], inputs["HH"], inputs["WW"])
    return {"returns an int (not a float)": _is_int(count), _count_call(inputs): str(count)}


def _param_count_ref(inputs: dict[str, Any]) -> Outputs:
    count = ref.conv_param_count(inputs["F"], inputs["C"], inputs["HH"], inputs["WW"])
    return {"returns an int (not a float)": True, _count_call(inputs): str(count)}


def _random_layer(rng: np.random.Generator) -> dict[str, int]:
    f, c, hh, ww = (int(v) for v in rng.integers(1, [600, 600, 12, 12]))
    return {"F": f, "C": c, "HH": hh, "WW": ww}


PARAM_COUNT_CASES = [
    Case("conv_param_count, random layers (rectangular filters)", _random_layer,
         _param_count_call, _param_count_ref, tol=EXACT, seeds=MANY),
    Case("conv_param_count, the lecture's 10 5x5 filters on 3 channels",
         _fixed(F=10, C=3, HH=5, WW=5), _param_count_call, _param_count_ref, tol=EXACT, seeds=(0,)),
    Case("conv_param_count, 1x1 filters (F=32 on C=64)", _fixed(F=32, C=64, HH=1, WW=1),
         _param_count_call, _param_count_ref, tol=EXACT, seeds=(0,)),
]


# ---------------------------------------------------------------------------------------------
# Naive convolution
# ---------------------------------------------------------------------------------------------


def _describe_cache(cache: Any, inputs: dict[str, Any], names: tuple[str, ...]) -> str:
    """'(x, w, b, ...)' if the cache holds exactly the inputs in that order, else what is off."""
    wanted = "(" + ", ".join(names) + ")"
    if not isinstance(cache, tuple | list):
        return f"a {type(cache).__name__}, not the tuple {wanted}"
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


def _conv_forward_call(student: Any, inputs: dict[str, Any]) -> Outputs:
    with substituted(student, **_references(student, LAYER_REFERENCES)):
        out, cache = student(inputs["x"], inputs["w"], inputs["b"], dict(inputs["conv_param"]))
    return {"out": out, "cache": _describe_cache(cache, inputs, ("x", "w", "b", "conv_param"))}


def _conv_forward_ref(inputs: dict[str, Any]) -> Outputs:
    out, _ = conv_layers.conv_forward_naive(
        inputs["x"], inputs["w"], inputs["b"], inputs["conv_param"]
    )
    return {"out": out, "cache": "(x, w, b, conv_param)"}


def _conv_forward_case(name: str, make: Any, seeds: tuple[int, ...] = (0, 1, 2, 3)) -> Case:
    return Case(name, make, _conv_forward_call, _conv_forward_ref, tol=TOL, seeds=seeds)


CONV_FORWARD_CASES = [
    _conv_forward_case("conv_forward_naive, 5x5 filters, stride 1, pad 2 (the lecture's layer)",
                       _lecture_conv, seeds=(0,)),
    _conv_forward_case("conv_forward_naive, random shapes: strides 1-3, pads 0-3, rectangular "
                       "filters, odd sizes", _conv_inputs, seeds=tuple(range(8))),
    _conv_forward_case("conv_forward_naive, stride larger than the filter",
                       _stride_beyond_filter),
    _conv_forward_case("conv_forward_naive, no padding",
                       lambda rng: _conv_inputs(rng, pads=(0, 0))),
]


def _conv_backward_call(student: Any, inputs: dict[str, Any]) -> Outputs:
    # The documented cache layout, built here: a forward bug never costs backward points.
    cache = (inputs["x"], inputs["w"], inputs["b"], dict(inputs["conv_param"]))
    replacements = {"conv_forward_naive": conv_layers.conv_forward_naive, **LAYER_REFERENCES}
    with substituted(student, **_references(student, replacements)):
        dx, dw, db = student(inputs["dout"], cache)
    return {"dx": dx, "dw": dw, "db": db}


def _conv_backward_ref(inputs: dict[str, Any]) -> Outputs:
    cache = (inputs["x"], inputs["w"], inputs["b"], inputs["conv_param"])
    dx, dw, db = conv_layers.conv_backward_naive(inputs["dout"], cache)
    return {"dx": dx, "dw": dw, "db": db}


def _conv_backward_case(name: str, make: Any, seeds: tuple[int, ...] = (0, 1, 2, 3)) -> Case:
    return Case(name, _with_dout(make, "conv"), _conv_backward_call, _conv_backward_ref, tol=TOL,
                seeds=seeds)


CONV_BACKWARD_CASES = [
    _conv_backward_case("conv_backward_naive, 5x5 filters, stride 1, pad 2 (the lecture's layer)",
                        _lecture_conv, seeds=(0,)),
    _conv_backward_case("conv_backward_naive, random shapes: strides 1-3, pads 0-3, rectangular "
                        "filters, odd sizes", _conv_inputs, seeds=tuple(range(8))),
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


def _pool_forward_call(student: Any, inputs: dict[str, Any]) -> Outputs:
    with substituted(student, **_references(student, LAYER_REFERENCES)):
        out, cache = student(inputs["x"], dict(inputs["pool_param"]))
    return {"out": out, "cache": _describe_cache(cache, inputs, ("x", "pool_param"))}


def _pool_forward_ref(inputs: dict[str, Any]) -> Outputs:
    out, _ = conv_layers.max_pool_forward_naive(inputs["x"], inputs["pool_param"])
    return {"out": out, "cache": "(x, pool_param)"}


def _pool_forward_case(name: str, make: Any, seeds: tuple[int, ...] = (0, 1, 2, 3)) -> Case:
    return Case(name, make, _pool_forward_call, _pool_forward_ref, tol=TOL, seeds=seeds)


POOL_FORWARD_CASES = [
    _pool_forward_case("max_pool_forward_naive, the lecture's 4x4 example (2x2, stride 2)",
                       _lecture_pool, seeds=(0,)),
    _pool_forward_case("max_pool_forward_naive, random shapes, non-square pools, strides 1-3",
                       _pool_inputs, seeds=tuple(range(8))),
    _pool_forward_case("max_pool_forward_naive, overlapping windows (stride < pool)",
                       lambda rng: _pool_inputs(rng, overlap=True)),
    _pool_forward_case("max_pool_forward_naive, integer values with ties",
                       lambda rng: _pool_inputs(rng, ties=True)),
]


def _pool_backward_call(student: Any, inputs: dict[str, Any]) -> Outputs:
    cache = (inputs["x"], dict(inputs["pool_param"]))  # the documented layout, built here
    replacements = {"max_pool_forward_naive": conv_layers.max_pool_forward_naive,
                    **LAYER_REFERENCES}
    with substituted(student, **_references(student, replacements)):
        dx = student(inputs["dout"], cache)
    return {"dx": dx}


def _pool_backward_ref(inputs: dict[str, Any]) -> Outputs:
    dx = conv_layers.max_pool_backward_naive(inputs["dout"], (inputs["x"], inputs["pool_param"]))
    return {"dx": dx}


def _pool_backward_case(name: str, make: Any, seeds: tuple[int, ...] = (0, 1, 2, 3)) -> Case:
    return Case(name, _with_dout(make, "pool"), _pool_backward_call, _pool_backward_ref, tol=TOL,
                seeds=seeds)


POOL_BACKWARD_CASES = [
    _pool_backward_case("max_pool_backward_naive, the lecture's 4x4 example (2x2, stride 2)",
                        _lecture_pool, seeds=(0,)),
    _pool_backward_case("max_pool_backward_naive, random shapes, non-square pools, strides 1-3",
                        _pool_inputs, seeds=tuple(range(8))),
    _pool_backward_case("max_pool_backward_naive, overlapping windows (stride < pool): an input "
                        "that wins several windows collects all their gradients",
                        lambda rng: _pool_inputs(rng, overlap=True)),
    _pool_backward_case("max_pool_backward_naive, tied maxima: only the FIRST maximum of a window "
                        "(row-major order) gets its gradient",
                        lambda rng: _pool_inputs(rng, ties=True), seeds=tuple(range(6))),
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


def _convnet_outputs(model: Any, inputs: dict[str, Any]) -> Outputs:
    scores = model.loss(inputs["X"])
    loss, grads = model.loss(inputs["X"], inputs["y"])
    missing = [name for name in PARAM_NAMES if name not in grads]
    if missing:
        raise ValueError(f"grads has no entry for {missing}; it needs one per parameter")
    outputs: Outputs = {"scores (loss(X) with y=None)": scores, "loss": float(loss)}
    outputs.update({f"grads[{name!r}]": grads[name] for name in PARAM_NAMES})
    return outputs


def _convnet_call(student: Any, inputs: dict[str, Any]) -> Outputs:
    with substituted(student, **_references(student, CONVNET_REFERENCES)):
        model = _loaded(student(**inputs["config"]), inputs["params"])
        return _convnet_outputs(model, inputs)


def _convnet_ref(inputs: dict[str, Any]) -> Outputs:
    model = _loaded(models.ThreeLayerConvNet(**inputs["config"], seed=0), inputs["params"])
    return _convnet_outputs(model, inputs)


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


def _init_report(model: Any, config: dict[str, Any]) -> Outputs:
    params = getattr(model, "params", None)
    if not isinstance(params, dict):
        return {"model.params": f"a {type(params).__name__}, not a dict"}
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


def _init_call(student: Any, inputs: dict[str, Any]) -> Outputs:
    # Students draw initial weights from NumPy's global generator: seeding it makes grading
    # deterministic.
    np.random.seed(inputs["numpy_seed"])  # noqa: NPY002
    with substituted(student, **_references(student, CONVNET_REFERENCES)):
        model = student(**inputs["config"])
    return _init_report(model, inputs["config"])


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
         "std weight_scale", _init_inputs, _init_call, _init_ref, tol=EXACT, seeds=(0, 1, 2, 3)),
    Case("ThreeLayerConvNet.loss, square input, reg = 0 (same params as the reference model)",
         _convnet_inputs(square=True, reg=False), _convnet_call, _convnet_ref, tol=CONVNET_TOL),
    Case("ThreeLayerConvNet.loss, square input, reg > 0 (0.5 * reg * sum of W**2 for W1, W2, W3)",
         _convnet_inputs(square=True, reg=True), _convnet_call, _convnet_ref, tol=CONVNET_TOL),
    Case("ThreeLayerConvNet.loss, non-square input (H != W)",
         _convnet_inputs(square=False, reg=True), _convnet_call, _convnet_ref, tol=CONVNET_TOL),
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
    out, _ = conv_layers.conv_forward_naive(x, w, b, {"stride": 1, "pad": 4})  # (5, 4, H, W)
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


def _filters_call(student: Any, inputs: dict[str, Any]) -> Outputs:
    w, b = student()
    w = np.asarray(w, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
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
         "on grader images", _filter_images, _filters_call, _filters_ref, tol=EXACT,
         seeds=(0, 1, 2, 3)),
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


def check(test_id: str, student: Any) -> None:
    """Run the hidden cases of ``test_id`` on the student's function or class.

    Prints nothing on success; raises ``CheckFailure`` saying what is wrong otherwise.
    """
    if test_id not in CASES:
        raise KeyError(f"no hidden test named {test_id!r} in notebook 05; known: {sorted(CASES)}")
    run_cases(CASES[test_id], student)
