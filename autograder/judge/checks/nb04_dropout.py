"""Hidden tests of notebook 04 (dropout).

Every graded function is compared with the reference (``autograder.judge.reference.layers``, and
``models.FullyConnectedNet`` for the network) on grader-chosen inputs the notebook never shows:
random shapes with one to four axes, float32 and float64 inputs, keep probabilities away from 1/2
(so that a p mixed up with 1 - p always shows), p = 1, a large input drawn without a seed (the mean
must be preserved and a fraction of about 1 - p of the units dropped, with fresh masks on every
call), and networks of one to three hidden layers called in training, then test, then training
mode.

Statistical checks use bounds of about 8 standard errors or more, so correct code fails them with
a probability below 1e-12 per call, whatever random numbers it draws.

Isolation: ``dropout_backward`` receives the reference forward pass's cache (its documented format
``(dropout_param, mask)``), and ``DropoutFullyConnectedNet`` runs with the reference affine, ReLU,
softmax and dropout layers and the reference ``FullyConnectedNet`` (whose parameters its
``__init__`` takes) swapped in for the student's, so a bug costs the points of its own function
only.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from autograder.judge.cases import Case, Outputs
from autograder.judge.reference import layers as ref
from autograder.judge.reference import models as ref_models
from autograder.sandbox.handin.calls import nb04 as calls
from cs231kit import tolerances

NOTEBOOK = "04_dropout"
CALLS = "nb04"
VALUE_TESTS: frozenset[str] = frozenset()

# Forward values and analytic gradients in float64 against the reference in float64: correct code
# agrees to ~1e-15 (the same products, perhaps in another order).
TOL = tolerances.FORWARD_REL_ERROR
# float32 outputs: x * mask may be computed as x * float32(1/p) or as x / p rounded once or twice,
# which differ by a few float32 ulps (eps ~ 1.2e-7), i.e. rel_error ~ 1e-7; 1e-6 keeps a margin
# and still catches any wrong scale (off by far more than 1e-3).
FLOAT32_TOL = 1e-6

# The large no-seed case: NUM_LARGE units of x ~ U(0.5, 1.5), keep probability p in KEEP_RANGES.
NUM_LARGE = 240_000
# mean(out) / mean(x) has standard error sqrt((1 - p) / (p n)) * rms(x) / mean(x) <= 5.1e-3 for
# p >= 0.15; rel_error(r, 1) ~ |r - 1| / 2 has s.e. <= 2.6e-3, so 0.02 is ~8 standard errors.
# Every wrong scale is far outside: p, 1/p, (1 - p)/p or p/(1 - p) differ from 1 by >= 0.33.
MEAN_RATIO_TOL = 0.02
# The fraction of zeros has s.e. sqrt(p (1 - p) / n) <= 1.0e-3; relative to 2 (1 - p) >= 0.1 that
# is rel_error s.e. <= 4.5e-3, so 0.05 is ~11 standard errors; a mask with p and 1 - p swapped is
# off by |2p - 1| >= 0.2 in absolute terms, a rel_error >= 0.1.
ZERO_FRACTION_TOL = 0.05
# Keep probabilities are drawn from these ranges, never near 1/2 where p and 1 - p coincide.
KEEP_RANGES = ((0.15, 0.4), (0.6, 0.95))

# The names DropoutFullyConnectedNet may look up (notebook 03's layers and net, this notebook's
# dropout layers); isolation swaps them all for the references.
REFERENCE_LAYERS = (
    "affine_forward",
    "affine_backward",
    "relu_forward",
    "relu_backward",
    "affine_relu_forward",
    "affine_relu_backward",
    "softmax_loss",
    "dropout_forward",
    "dropout_backward",
    # __init__ takes the parameters from notebook 03's net; the reference has the same keywords.
    "FullyConnectedNet",
)


def _keep_prob(rng: np.random.Generator) -> float:
    low, high = KEEP_RANGES[int(rng.integers(0, len(KEEP_RANGES)))]
    return float(rng.uniform(low, high))


def _shape(rng: np.random.Generator, max_axes: int = 4) -> tuple[int, ...]:
    axes = int(rng.integers(1, max_axes, endpoint=True))
    return tuple(int(d) for d in rng.integers(1, 7, size=axes, endpoint=True))




# ---------------------------------------------------------------------------------------------
# dropout_forward
# ---------------------------------------------------------------------------------------------


def _seeded_problem(rng: np.random.Generator, dtype: str = "float64", p: float | None = None):
    shape = _shape(rng)
    return {
        "x": rng.normal(size=shape).astype(dtype),
        "p": _keep_prob(rng) if p is None else p,
        "seed": int(rng.integers(0, 2**31)),
    }



def _forward_seeded_derive(inputs: dict[str, Any], raw: Any) -> Outputs:
    out = raw["out"]
    return {
        "out": out,
        "dtype of out": str(np.asarray(out).dtype),
        "cache[1] (the mask x was multiplied by: 0 or 1/p)": raw["mask"],
        "x left unchanged by dropout_forward": bool(np.array_equal(raw["x after"], inputs["x"])),
        "a second call with the same seed gives the same out": bool(
            np.array_equal(out, raw["out of a second call"])
        ),
    }


def _forward_seeded_reference(inputs: dict[str, Any]) -> Outputs:
    param = {"p": inputs["p"], "mode": "train", "seed": inputs["seed"]}
    out, (_, mask) = ref.dropout_forward(inputs["x"], param)
    return {
        "out": out,
        "dtype of out": str(inputs["x"].dtype),
        "cache[1] (the mask x was multiplied by: 0 or 1/p)": mask,
        "x left unchanged by dropout_forward": True,
        "a second call with the same seed gives the same out": True,
    }


def _large_problem(rng: np.random.Generator) -> dict[str, Any]:
    rows = int(rng.integers(300, 800))
    return {
        "x": rng.uniform(0.5, 1.5, size=(rows, math.ceil(NUM_LARGE / rows))),
        "p": _keep_prob(rng),
    }



def _forward_statistics_derive(inputs: dict[str, Any], raw: Any) -> Outputs:
    x, p = inputs["x"], inputs["p"]
    first = np.asarray(raw["first out"], dtype=np.float64)
    second = np.asarray(raw["second out"], dtype=np.float64)
    if first.shape != x.shape or second.shape != x.shape:
        raise ValueError(f"out has shape {first.shape}, expected the shape of x, {x.shape}")
    kept = first != 0
    return {
        "mean of out / mean of x (inverted dropout keeps the mean)": float(first.mean() / x.mean()),
        "fraction of the units dropped (expected 1 - p)": float(1.0 - kept.mean()),
        "every kept unit equals x / p": bool(
            np.allclose(first[kept], x[kept] / p, rtol=1e-12, atol=0)
        ),
        "a second call without a seed draws a new mask": bool(
            np.any((first != 0) != (second != 0))
        ),
    }


def _forward_statistics_reference(inputs: dict[str, Any]) -> Outputs:
    return {
        "mean of out / mean of x (inverted dropout keeps the mean)": 1.0,
        "fraction of the units dropped (expected 1 - p)": 1.0 - inputs["p"],
        "every kept unit equals x / p": True,
        "a second call without a seed draws a new mask": True,
    }


def _test_mode_problem(rng: np.random.Generator) -> dict[str, Any]:
    problem = _seeded_problem(rng)
    problem["with_seed"] = bool(rng.integers(0, 2))
    return problem



def _forward_test_mode_derive(inputs: dict[str, Any], raw: Any) -> Outputs:
    return {
        "out in test mode (should be x itself: no drop, no scaling)": raw["out"],
        "x left unchanged by dropout_forward": bool(np.array_equal(raw["x after"], inputs["x"])),
    }


def _forward_test_mode_reference(inputs: dict[str, Any]) -> Outputs:
    return {
        "out in test mode (should be x itself: no drop, no scaling)": inputs["x"],
        "x left unchanged by dropout_forward": True,
    }


DROPOUT_FORWARD_CASES = [
    Case(
        "dropout_forward: training mode with a seed, float64 (mask from "
        "np.random.default_rng(seed).random(x.shape) < p)",
        _seeded_problem,
        "dropout_forward_seeded",
        _forward_seeded_reference,
        derive=_forward_seeded_derive,
        tol=TOL,
        runs=5,
    ),
    Case(
        "dropout_forward: training mode with a seed, float32 input (out must stay float32)",
        lambda rng: _seeded_problem(rng, dtype="float32"),
        "dropout_forward_seeded",
        _forward_seeded_reference,
        derive=_forward_seeded_derive,
        tol=FLOAT32_TOL,
    ),
    Case(
        "dropout_forward: keep probability p = 1 (nothing is dropped)",
        lambda rng: _seeded_problem(rng, p=1.0),
        "dropout_forward_seeded",
        _forward_seeded_reference,
        derive=_forward_seeded_derive,
        tol=TOL,
    ),
    Case(
        f"dropout_forward: {NUM_LARGE:,} units without a seed (mean kept, about 1 - p dropped)",
        _large_problem,
        "dropout_forward_twice",
        _forward_statistics_reference,
        derive=_forward_statistics_derive,
        tols={
            "mean of out / mean of x (inverted dropout keeps the mean)": MEAN_RATIO_TOL,
            "fraction of the units dropped (expected 1 - p)": ZERO_FRACTION_TOL,
        },
    ),
    Case(
        "dropout_forward: test mode",
        _test_mode_problem,
        "dropout_forward_test_mode",
        _forward_test_mode_reference,
        derive=_forward_test_mode_derive,
        tol=TOL,
        runs=4,
    ),
]


# ---------------------------------------------------------------------------------------------
# dropout_backward (given the reference forward pass's cache)
# ---------------------------------------------------------------------------------------------


def _backward_problem(
    rng: np.random.Generator, mode: str = "train", dtype: str = "float64"
) -> dict[str, Any]:
    problem = _seeded_problem(rng, dtype=dtype)
    problem["mode"] = mode
    problem["dout"] = rng.normal(size=problem["x"].shape).astype(dtype)
    # The reference forward pass's cache, in its documented format (dropout_param, mask): a
    # forward bug never costs backward points.
    problem["cache"] = _reference_cache(problem)
    return problem


def _reference_cache(inputs: dict[str, Any]) -> Any:
    param = {"p": inputs["p"], "mode": inputs["mode"], "seed": inputs["seed"]}
    _, cache = ref.dropout_forward(inputs["x"], param)
    return cache



def _backward_derive(inputs: dict[str, Any], raw: Any) -> Outputs:
    return {"dx": raw["dx"], "dtype of dx": str(np.asarray(raw["dx"]).dtype)}


def _backward_reference(inputs: dict[str, Any]) -> Outputs:
    dx = ref.dropout_backward(inputs["dout"], _reference_cache(inputs))
    return {"dx": dx, "dtype of dx": str(inputs["dout"].dtype)}


DROPOUT_BACKWARD_CASES = [
    Case(
        "dropout_backward: training mode, random shapes",
        _backward_problem,
        "dropout_backward",
        _backward_reference,
        derive=_backward_derive,
        tol=TOL,
        runs=5,
    ),
    Case(
        "dropout_backward: training mode, float32 (dx must stay float32)",
        lambda rng: _backward_problem(rng, dtype="float32"),
        "dropout_backward",
        _backward_reference,
        derive=_backward_derive,
        tol=FLOAT32_TOL,
    ),
    Case(
        "dropout_backward: test mode (the cache is (dropout_param, None); dx = dout)",
        lambda rng: _backward_problem(rng, mode="test"),
        "dropout_backward",
        _backward_reference,
        derive=_backward_derive,
        tol=TOL,
    ),
]


# ---------------------------------------------------------------------------------------------
# DropoutFullyConnectedNet (reference layers and dropout swapped in)
# ---------------------------------------------------------------------------------------------


def _net_problem(
    rng: np.random.Generator, keep: float | None = None, reg: float | None = None
) -> dict[str, Any]:
    """Architecture, parameters (mixed ReLU activity), a minibatch and a dropout seed."""
    channels, height, width = 3, int(rng.integers(2, 4, endpoint=True)), 2
    input_dim = channels * height * width
    hidden_dims = [int(h) for h in rng.integers(4, 12, size=int(rng.integers(1, 3, endpoint=True)))]
    num_classes = int(rng.integers(2, 8, endpoint=True))
    dims = [input_dim, *hidden_dims, num_classes]
    params = {}
    for k in range(1, len(dims)):
        params[f"W{k}"] = rng.normal(
            scale=1.5 / math.sqrt(dims[k - 1]), size=(dims[k - 1], dims[k])
        )
        params[f"b{k}"] = rng.normal(scale=0.2, size=dims[k])
    N = int(rng.integers(2, 8, endpoint=True))
    return {
        "hidden_dims": hidden_dims,
        "input_dim": input_dim,
        "num_classes": num_classes,
        "keep": _keep_prob(rng) if keep is None else keep,
        "reg": float(10 ** rng.uniform(-2, 0.5)) if reg is None else reg,
        "seed": int(rng.integers(0, 2**31)),
        "params": params,
        "X": rng.normal(size=(N, channels, height, width)),
        "y": rng.integers(0, num_classes, size=N),
    }


def _net_derive(inputs: dict[str, Any], raw: Any) -> Outputs:
    for name in inputs["params"]:
        if raw[f"grads[{name!r}]"] is None:
            raise KeyError(f"loss(X, y) returned no gradient grads[{name!r}]")
    return raw


def _net_reference(inputs: dict[str, Any]) -> Outputs:
    # The reference net is the plain FullyConnectedNet, whose dropout layers are this notebook's.
    return _net_derive(inputs, calls.fc_net_dropout(ref_models.FullyConnectedNet, inputs))


FC_NET_DROPOUT_CASES = [
    Case(
        "DropoutFullyConnectedNet: dropout_keep_ratio = 1 (must equal the plain net)",
        lambda rng: _net_problem(rng, keep=1.0),
        "fc_net_dropout",
        _net_reference,
        derive=_net_derive,
        oracles=REFERENCE_LAYERS,
        tol=TOL,
    ),
    Case(
        "DropoutFullyConnectedNet: dropout_keep_ratio < 1 with a seed, reg > 0 (training loss "
        "and gradients with the seeded masks; test-time scores without dropout)",
        _net_problem,
        "fc_net_dropout",
        _net_reference,
        derive=_net_derive,
        oracles=REFERENCE_LAYERS,
        tol=TOL,
        runs=5,
    ),
    Case(
        "DropoutFullyConnectedNet: dropout_keep_ratio < 1 with a seed, reg = 0",
        lambda rng: _net_problem(rng, reg=0.0),
        "fc_net_dropout",
        _net_reference,
        derive=_net_derive,
        oracles=REFERENCE_LAYERS,
        tol=TOL,
    ),
]


# ---------------------------------------------------------------------------------------------
# vanilla_dropout_predict
# ---------------------------------------------------------------------------------------------


def _vanilla_problem(rng: np.random.Generator) -> dict[str, Any]:
    N, D, M = (int(v) for v in rng.integers(1, 9, size=3, endpoint=True))
    return {"x": rng.normal(size=(N, D)), "W": rng.normal(size=(D, M)), "p": _keep_prob(rng)}


def _lecture_neuron(rng: np.random.Generator) -> dict[str, Any]:
    """The lecture's neuron a = w0*x + w1*y with both inputs behind a p = 1/2 dropout layer."""
    return {"x": rng.uniform(-3, 3, size=(1, 2)), "W": rng.uniform(-3, 3, size=(2, 1)), "p": 0.5}



def _vanilla_derive(inputs: dict[str, Any], raw: Any) -> Outputs:
    unchanged = bool(np.array_equal(raw["x after"], inputs["x"]))
    return {"out": raw["out"], "x left unchanged": unchanged}


def _vanilla_reference(inputs: dict[str, Any]) -> Outputs:
    return {
        "out": ref.vanilla_dropout_predict(inputs["x"], inputs["W"], inputs["p"]),
        "x left unchanged": True,
    }


VANILLA_PREDICT_CASES = [
    Case(
        "vanilla_dropout_predict: random shapes and keep probabilities",
        _vanilla_problem,
        "vanilla_dropout_predict",
        _vanilla_reference,
        derive=_vanilla_derive,
        tol=TOL,
        runs=5,
    ),
    Case(
        "vanilla_dropout_predict: the lecture's neuron w0*x + w1*y with p = 1/2",
        _lecture_neuron,
        "vanilla_dropout_predict",
        _vanilla_reference,
        derive=_vanilla_derive,
        tol=TOL,
    ),
]


CASES: dict[str, list[Case]] = {
    "test_dropout_forward": DROPOUT_FORWARD_CASES,
    "test_dropout_backward": DROPOUT_BACKWARD_CASES,
    "test_fc_net_dropout": FC_NET_DROPOUT_CASES,
    "test_vanilla_dropout_predict": VANILLA_PREDICT_CASES,
}

