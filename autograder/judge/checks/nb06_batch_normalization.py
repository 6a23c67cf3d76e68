"""Hidden tests of notebook 06 (batch normalization, layer normalization, a normalized net).

Every graded function is compared with the reference (``autograder.judge.reference.
normalization``, and ``models.FullyConnectedNet`` with ``normalization=...`` for the net) on
grader-chosen inputs the notebook never shows: random batch and feature sizes with every feature at
its own offset and scale, a feature that never changes (zero variance: eps must keep everything
finite; its value is a multiple of 1/4, so that its mean is exact and any correct code agrees on
x_hat = 0 to the last bit), bn_param with and without eps, momentum and running averages, several
training calls on one bn_param followed by a test call, test calls on a single example,
float32 inputs, one-example batches for layer norm, and nets of one to three hidden layers with
either normalization or none.

Isolation: the backward passes receive the reference forward pass's cache (its documented format,
the dict of graph nodes); the spatial layers run with the reference vanilla layers swapped in for
the student's (a reference call stores the running averages in the student's own bn_param, as a
local call would); ``NormalizedFullyConnectedNet`` runs with the reference affine, ReLU, softmax and
normalization layers and the reference ``FullyConnectedNet`` (whose parameters its ``__init__``
takes). A bug costs the points of its own function only.

When an output is wrong the message names it and, where a common bug explains it (statistics over
the wrong axis, the variance divided by N - 1, eps outside the square root, the momentum the wrong
way round, batch statistics at test time, dgamma multiplied by x instead of x_hat, a missing path of
the graph, a reshape without the transpose), says so.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from autograder.judge.cases import Case, Outputs, Suspects
from autograder.judge.reference import models as ref_models
from autograder.judge.reference import normalization as ref
from autograder.sandbox.handin.calls import nb06 as calls
from cs231kit import tolerances

NOTEBOOK = "06_batch_normalization"
CALLS = "nb06"
VALUE_TESTS: frozenset[str] = frozenset()

# Forward values and gradients in float64 against the reference in float64: correct code agrees to
# ~1e-13 (the same sums in another order; the 1e-8 floor of rel_error covers entries near 0, and
# the smallest gradients, those of two-example batches, are ~1e-6, computed to ~1e-10 relative).
TOL = tolerances.FORWARD_REL_ERROR
# float32 inputs are judged by whether the output has float32 precision relative to its largest
# entry (a float32 x_hat is good to ~1e-6 of its size; entries near 0 have no relative precision).
FLOAT32_ABS = 1e-4

EPS = ref.DEFAULT_EPS
MOMENTUM = ref.DEFAULT_MOMENTUM

# The names the spatial layers and the net may look up; isolation answers them all.
VANILLA_LAYERS = ("batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt")
NET_LAYERS = (
    "affine_forward",
    "affine_backward",
    "relu_forward",
    "relu_backward",
    "affine_relu_forward",
    "affine_relu_backward",
    "softmax_loss",
    *VANILLA_LAYERS,
    "layernorm_forward",
    "layernorm_backward",
    # __init__ takes W and b from notebook 03's net; the reference has the same keywords.
    "FullyConnectedNet",
)

CACHE_OUTPUTS = ("mu", "xmu", "var", "std", "istd", "x_hat", "eps")


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


def _batch(rng: np.random.Generator, n: int, d: int, constant: bool = False) -> np.ndarray:
    """N examples of D features, every feature at its own offset and scale."""
    x = rng.uniform(-5, 5, size=d) + rng.uniform(0.5, 4, size=d) * rng.standard_normal((n, d))
    if constant:  # a feature that never changes; a multiple of 1/4, so its mean is exact
        x[:, int(rng.integers(0, d))] = int(rng.integers(-20, 21)) / 4
    return x


def _affine(rng: np.random.Generator, d: int) -> tuple[np.ndarray, np.ndarray]:
    """gamma (either sign, away from 0) and beta."""
    sign = np.where(rng.random(d) < 0.8, 1.0, -1.0)
    return sign * rng.uniform(0.3, 3, size=d), rng.standard_normal(d)


def _sizes(rng: np.random.Generator, n: tuple[int, int], d: tuple[int, int]) -> tuple[int, int]:
    return int(rng.integers(n[0], n[1], endpoint=True)), int(rng.integers(d[0], d[1],
                                                                          endpoint=True))


def _problem(
    rng: np.random.Generator,
    n: tuple[int, int] = (2, 8),
    d: tuple[int, int] = (1, 6),
    constant: bool = False,
    params: bool = False,
) -> dict[str, Any]:
    """A batch x, gamma, beta, an upstream gradient; bn_param with eps, momentum and running
    averages when ``params``."""
    N, D = _sizes(rng, n, d)
    gamma, beta = _affine(rng, D)
    problem: dict[str, Any] = {
        "x": _batch(rng, N, D, constant),
        "gamma": gamma,
        "beta": beta,
        "dout": rng.standard_normal((N, D)),
        "bn_param": {},
    }
    if params:
        problem["bn_param"] = {
            "eps": float(10 ** rng.uniform(-4, -1)),
            "momentum": float(rng.uniform(0.5, 0.99)),
            "running_mean": rng.uniform(-3, 3, size=D),
            "running_var": rng.uniform(0.5, 5, size=D),
        }
    return problem


def _ref_bn_param(inputs: dict[str, Any], mode: str) -> dict[str, Any]:
    return calls._bn_param(inputs, mode)


def _flatten(raw: Any, inputs: dict[str, Any], with_cache: bool = True) -> Outputs:
    """The named outputs: out, the cache's documented entries, the running averages, x kept."""
    outputs = {key: value for key, value in raw.items() if key not in ("cache", "x after")}
    if with_cache:
        for key in CACHE_OUTPUTS:
            outputs[f"cache[{key!r}]"] = raw["cache"][key]
    outputs["x left unchanged"] = bool(np.array_equal(raw["x after"], inputs["x"]))
    return outputs


# ---------------------------------------------------------------------------------------------
# batchnorm_forward
# ---------------------------------------------------------------------------------------------


def _bn_train_derive(inputs: dict[str, Any], raw: Any) -> Outputs:
    outputs = _flatten(raw, inputs)
    outputs["dtype of out"] = str(np.asarray(raw["out"]).dtype)
    return outputs


def _bn_train_reference(inputs: dict[str, Any]) -> Outputs:
    return _bn_train_derive(inputs, calls.batchnorm_train(ref.batchnorm_forward, inputs))


def _bn_forward_suspects(inputs: dict[str, Any]) -> Suspects:
    """What common bugs make of out, the variance and the running averages."""
    x, gamma, beta = inputs["x"], inputs["gamma"], inputs["beta"]
    param = inputs["bn_param"]
    eps, momentum = param.get("eps", EPS), param.get("momentum", MOMENTUM)
    mu, var = x.mean(axis=0), x.var(axis=0)
    xmu = x - mu
    rows = (x - x.mean(axis=1, keepdims=True)) / np.sqrt(x.var(axis=1, keepdims=True) + eps)
    unbiased = x.var(axis=0, ddof=1) if len(x) > 1 else np.full_like(var, np.nan)
    running_mean = param.get("running_mean", np.zeros_like(mu))
    running_var = param.get("running_var", np.zeros_like(var))
    return {
        "out": [
            (gamma * xmu / np.sqrt(unbiased + eps) + beta,
             "the variance divides by N - 1: the lecture's mini-batch variance divides by m = N"),
            (gamma * xmu / (np.sqrt(var) + eps) + beta,
             "eps is added to the standard deviation instead of the variance"),
            (gamma * rows + beta,
             "each example is normalized over its features: batch norm takes every feature's "
             "statistics over the batch, axis 0"),
            (gamma * xmu / np.sqrt(var + eps),
             "beta is not added"),
        ],
        "cache['var']": [(unbiased, "the variance divides by N - 1 instead of N")],
        "bn_param['running_mean'] after the call": [
            ((1 - momentum) * running_mean + momentum * mu,
             "the momentum is applied the wrong way round: running = momentum * running + "
             "(1 - momentum) * batch mean"),
            (mu, "the running mean is replaced by the batch mean instead of averaged"),
            (running_mean, "the running mean is not updated (store the new array in bn_param)"),
        ],
        "bn_param['running_var'] after the call": [
            ((1 - momentum) * running_var + momentum * var,
             "the momentum is applied the wrong way round: running = momentum * running + "
             "(1 - momentum) * batch variance"),
            (momentum * running_var + (1 - momentum) * np.sqrt(var + eps),
             "the running average is taken of the standard deviation, not of the variance"),
            (running_var, "the running variance is not updated (store the new array in bn_param)"),
        ],
    }


BN_FORWARD_HINTS = {
    "out": "out = gamma * (x - mean) / sqrt(var + eps) + beta, statistics of every feature over "
           "the batch axis 0",
    "cache['x_hat']": "x_hat = (x - mu) / sqrt(var + eps)",
    "cache['istd']": "istd = 1 / sqrt(var + eps)",
    "cache['std']": "std = sqrt(var + eps)",
    "x left unchanged": "compute new arrays instead of changing x in place",
    "dtype of out": "return out in x's dtype (a float32 input gives a float32 output)",
    "bn_param['running_mean'] after the call": "a training call stores bn_param['running_mean'] "
    "= momentum * running_mean + (1 - momentum) * batch mean (running_mean zeros at first)",
    "bn_param['running_var'] after the call": "a training call stores bn_param['running_var'] "
    "= momentum * running_var + (1 - momentum) * batch variance (running_var zeros at first)",
}


def _bn_calls_problem(rng: np.random.Generator) -> dict[str, Any]:
    """A few training batches from one distribution, then new examples for a test call."""
    D = int(rng.integers(1, 6, endpoint=True))
    loc, scale = rng.uniform(-5, 5, size=D), rng.uniform(0.5, 4, size=D)
    gamma, beta = _affine(rng, D)
    batches = [loc + scale * rng.standard_normal((int(rng.integers(2, 8, endpoint=True)), D))
               for _ in range(int(rng.integers(2, 5, endpoint=True)))]
    return {"batches": batches, "x_test": loc + scale * rng.standard_normal(
        (int(rng.integers(1, 4, endpoint=True)), D)), "gamma": gamma, "beta": beta,
        "bn_param": {"momentum": float(rng.uniform(0.5, 0.95))} if rng.random() < 0.5 else {}}


def _bn_calls_reference(inputs: dict[str, Any]) -> Outputs:
    return calls.batchnorm_calls(ref.batchnorm_forward, inputs)


def _bn_calls_suspects(inputs: dict[str, Any]) -> Suspects:
    x, gamma, beta = inputs["x_test"], inputs["gamma"], inputs["beta"]
    batch_stats = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + EPS)
    last = inputs["batches"][-1]
    return {
        "test-mode out": [(gamma * batch_stats + beta,
                           "test mode used the batch's statistics instead of the running ones")],
        "bn_param['running_mean'] after the training calls": [
            ((1 - inputs["bn_param"].get("momentum", MOMENTUM)) * last.mean(axis=0),
             "every call starts the running mean from zeros again: read bn_param's running "
             "average and store the new one there")],
    }


def _bn_test_problem(rng: np.random.Generator, n: tuple[int, int] = (1, 6)) -> dict[str, Any]:
    return _problem(rng, n=n, params=True)


def _bn_test_derive(inputs: dict[str, Any], raw: Any) -> Outputs:
    outputs = _flatten(raw, inputs, with_cache=False)
    for key in calls.RUNNING:
        name = f"bn_param[{key!r}] after the call"
        outputs[f"{name} (unchanged)"] = bool(
            np.array_equal(outputs.pop(name), inputs["bn_param"][key]))
    return outputs


def _bn_test_reference(inputs: dict[str, Any]) -> Outputs:
    return _bn_test_derive(inputs, calls.batchnorm_test(ref.batchnorm_forward, inputs))


def _bn_test_suspects(inputs: dict[str, Any]) -> Suspects:
    x, gamma, beta, param = inputs["x"], inputs["gamma"], inputs["beta"], inputs["bn_param"]
    batch_stats = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + param["eps"])
    centred = x - param["running_mean"]
    return {"out": [
        (gamma * batch_stats + beta,
         "test mode used the batch's statistics: it must use bn_param's running averages"),
        (gamma * centred / (param["running_var"] + param["eps"]) + beta,
         "the running variance is used without its square root"),
        (gamma * centred / np.sqrt(param["running_var"]) + beta, "eps is left out in test mode"),
    ]}


def _float32_derive(inputs: dict[str, Any], raw: Any) -> Outputs:
    out = np.asarray(raw["out"])
    expected, _ = ref.batchnorm_forward(inputs["x"].astype(np.float64), inputs["gamma"],
                                        inputs["beta"], _ref_bn_param(inputs, "train"))
    close = out.shape == expected.shape and bool(np.max(np.abs(out - expected)) <= FLOAT32_ABS * (
        np.max(np.abs(expected))))
    running = np.asarray(raw["bn_param['running_mean'] after the call"])
    return {"dtype of out": str(out.dtype), "dtype of bn_param['running_mean']": str(running.dtype),
            "out agrees with the float64 result to float32 precision": close}


def _float32_reference(inputs: dict[str, Any]) -> Outputs:
    return {"dtype of out": "float32", "dtype of bn_param['running_mean']": "float32",
            "out agrees with the float64 result to float32 precision": True}


def _float32_problem(rng: np.random.Generator) -> dict[str, Any]:
    problem = _problem(rng)
    problem["x"] = problem["x"].astype(np.float32)
    return problem


def _bn_case(name: str, make: Any, runs: int) -> Case:
    return Case(name, make, "batchnorm_train", _bn_train_reference, derive=_bn_train_derive,
                tol=TOL, runs=runs, suspects=_bn_forward_suspects, hints=BN_FORWARD_HINTS)


BN_FORWARD_CASES = [
    _bn_case("batchnorm_forward: training mode, random batches, default eps and momentum, no "
             "running averages yet", _problem, 5),
    _bn_case("batchnorm_forward: training mode with eps, momentum and running averages in "
             "bn_param", lambda rng: _problem(rng, params=True), 3),
    _bn_case("batchnorm_forward: a feature that never changes (variance 0: x_hat = 0, out = beta, "
             "no NaN)", lambda rng: _problem(rng, d=(2, 6), constant=True), 2),
    Case(
        "batchnorm_forward: several training calls on one bn_param, then test mode on new "
        "examples",
        _bn_calls_problem,
        "batchnorm_calls",
        _bn_calls_reference,
        tol=TOL,
        runs=3,
        suspects=_bn_calls_suspects,
        hints={"test-mode out": "test mode: out = gamma * (x - running_mean) / "
                                "sqrt(running_var + eps) + beta"},
    ),
    Case(
        "batchnorm_forward: test mode (the running averages, never the batch's statistics; "
        "nothing updated; cache None)",
        _bn_test_problem,
        "batchnorm_test",
        _bn_test_reference,
        derive=_bn_test_derive,
        tol=TOL,
        runs=3,
        suspects=_bn_test_suspects,
        hints={"cache is None": "in test mode return cache = None",
               "bn_param['running_mean'] after the call (unchanged)":
                   "test mode must not change the running averages"},
    ),
    Case(
        "batchnorm_forward: test mode on a single example",
        lambda rng: _bn_test_problem(rng, n=(1, 1)),
        "batchnorm_test",
        _bn_test_reference,
        derive=_bn_test_derive,
        tol=TOL,
        runs=2,
        suspects=_bn_test_suspects,
    ),
    Case(
        "batchnorm_forward: float32 input (out and the running averages stay float32)",
        _float32_problem,
        "batchnorm_train",
        _float32_reference,
        derive=_float32_derive,
        runs=2,
    ),
]


# ---------------------------------------------------------------------------------------------
# Backward passes: staged, closed form, layer norm, spatial
# ---------------------------------------------------------------------------------------------


def _with_cache(problem: dict[str, Any], forward: Any, param: dict[str, Any]) -> dict[str, Any]:
    """The problem with the reference forward pass's cache (its documented format)."""
    _, problem["cache"] = forward(problem["x"], problem["gamma"], problem["beta"], param)
    return problem


def _bn_backward_problem(rng: np.random.Generator, **kwargs: Any) -> dict[str, Any]:
    return _with_cache(_problem(rng, **kwargs), ref.batchnorm_forward, {"mode": "train"})


def _backward_reference(backward: Any) -> Any:
    def reference(inputs: dict[str, Any]) -> Outputs:
        return calls.backward(backward, inputs)

    return reference


def _bn_backward_suspects(inputs: dict[str, Any]) -> Suspects:
    cache, dout = inputs["cache"], inputs["dout"]
    x_hat, istd, gamma = cache["x_hat"], cache["istd"], cache["gamma"]
    direct = gamma * dout * istd
    no_var = direct - direct.mean(axis=0)
    # The path through the variance alone: -x_hat * istd * mean(gamma * dout * x_hat).
    through_var = -x_hat * istd * (gamma * dout * x_hat).mean(axis=0)
    return {
        "dgamma": [
            ((dout * cache["x"]).sum(axis=0),
             "dgamma multiplies dout by x: use x_hat, the normalized input, which gamma scales"),
            ((dout * x_hat).mean(axis=0),
             "dgamma is averaged over the batch: gamma was broadcast to every row, so its "
             "gradient is the sum over the batch axis 0"),
        ],
        "dbeta": [(dout.mean(axis=0), "dbeta is averaged over the batch instead of summed")],
        "dx": [
            (direct, "only the direct path x_hat -> xmu -> x is followed: add the paths through "
                     "the mean and through the variance"),
            (no_var, "the path through the variance (istd -> std -> var -> sq -> xmu) is missing"),
            (direct + through_var, "the path through the mean (mu -> x) is missing: x feeds xmu "
                                   "and mu, and their gradients add up"),
        ],
    }


BACKWARD_HINTS = {
    "dbeta": "dbeta = dout summed over the batch axis 0",
    "dgamma": "dgamma = (dout * x_hat) summed over the batch axis 0",
}


def _bn_backward_cases(
    label: str, call_reference: Any, with_two: bool, dx_hint: str
) -> list[Case]:
    reference = _backward_reference(call_reference)
    hints = {**BACKWARD_HINTS, "dx": dx_hint}
    cases = [
        Case(f"{label}: random batches", _bn_backward_problem, "backward", reference, tol=TOL,
             runs=5, suspects=_bn_backward_suspects, hints=hints),
        Case(f"{label}: a feature that never changes (no NaN)",
             lambda rng: _bn_backward_problem(rng, d=(2, 6), constant=True), "backward",
             reference, tol=TOL, runs=2, suspects=_bn_backward_suspects, hints=hints),
        Case(f"{label}: large batches", lambda rng: _bn_backward_problem(rng, n=(20, 60)),
             "backward", reference, tol=TOL, runs=2, suspects=_bn_backward_suspects,
             hints=hints),
    ]
    if with_two:
        cases.append(Case(f"{label}: two-example batches",
                          lambda rng: _bn_backward_problem(rng, n=(2, 2)), "backward", reference,
                          tol=TOL, runs=2, suspects=_bn_backward_suspects, hints=hints))
    return cases


BN_BACKWARD_CASES = _bn_backward_cases(
    "batchnorm_backward", ref.batchnorm_backward, True,
    "follow every path from y back to x (directly, through the mean, through the variance), "
    "node by node; at a fan-out (x, xmu) the gradients add up",
)
BN_BACKWARD_ALT_CASES = _bn_backward_cases(
    "batchnorm_backward_alt", ref.batchnorm_backward_alt, False,
    "dx = gamma * istd / N * (N * dout - dbeta - x_hat * dgamma)",
)


# ---------------------------------------------------------------------------------------------
# Layer normalization
# ---------------------------------------------------------------------------------------------


def _ln_problem(rng: np.random.Generator, n: tuple[int, int] = (1, 8),
                d: tuple[int, int] = (2, 8), eps: bool = False) -> dict[str, Any]:
    problem = _problem(rng, n=n, d=d)
    problem["ln_param"] = {"eps": float(10 ** rng.uniform(-4, -1))} if eps else {}
    if rng.random() < 0.3:  # a net may pass its mode along: it changes nothing
        problem["ln_param"]["mode"] = str(rng.choice(["train", "test"]))
    return problem


def _ln_derive(inputs: dict[str, Any], raw: Any) -> Outputs:
    return _flatten(raw, inputs)


def _ln_reference(inputs: dict[str, Any]) -> Outputs:
    return _ln_derive(inputs, calls.layernorm(ref.layernorm_forward, inputs))


def _ln_suspects(inputs: dict[str, Any]) -> Suspects:
    x, gamma, beta = inputs["x"], inputs["gamma"], inputs["beta"]
    eps = inputs["ln_param"].get("eps", EPS)
    columns = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps)
    return {
        "out": [(gamma * columns + beta,
                 "each feature is normalized over the batch, as in batch norm: layer norm "
                 "normalizes each example over its features, axis 1")],
        "cache['mu']": [(x.mean(axis=1), "the statistics have shape (N,): keep the axis, (N, 1)")],
        "cache['var']": [(x.var(axis=1), "the statistics have shape (N,): keep the axis, (N, 1)")],
    }


LN_FORWARD_HINTS = {
    "out": "per example: x_hat = (x - mean) / sqrt(var + eps) over the features (axis 1); "
           "out = gamma * x_hat + beta",
    "cache['mu']": "one mean per example, of shape (N, 1)",
}


def _ln_case(name: str, make: Any, runs: int) -> Case:
    return Case(name, make, "layernorm", _ln_reference, derive=_ln_derive, tol=TOL, runs=runs,
                suspects=_ln_suspects, hints=LN_FORWARD_HINTS)


LN_FORWARD_CASES = [
    _ln_case("layernorm_forward: random batches", _ln_problem, 5),
    _ln_case("layernorm_forward: a single example (N = 1)",
             lambda rng: _ln_problem(rng, n=(1, 1)), 2),
    _ln_case("layernorm_forward: eps given in ln_param", lambda rng: _ln_problem(rng, eps=True),
             2),
]


def _ln_backward_problem(rng: np.random.Generator, **kwargs: Any) -> dict[str, Any]:
    return _with_cache(_ln_problem(rng, **kwargs), ref.layernorm_forward, {})


def _ln_backward_suspects(inputs: dict[str, Any]) -> Suspects:
    cache, dout = inputs["cache"], inputs["dout"]
    rows = _bn_backward_suspects(inputs)
    return {
        "dgamma": rows["dgamma"],
        "dbeta": rows["dbeta"],
        "dx": [(cache["gamma"] * dout * cache["istd"],
                "only the direct path is followed: add the paths through the example's mean "
                "and variance")],
    }


def _ln_backward_case(name: str, make: Any, runs: int) -> Case:
    return Case(name, make, "backward", _backward_reference(ref.layernorm_backward), tol=TOL,
                runs=runs, suspects=_ln_backward_suspects,
                hints={**BACKWARD_HINTS, "dx": "the sums of the closed form run over the "
                                               "features of each example (axis 1)"})


LN_BACKWARD_CASES = [
    _ln_backward_case("layernorm_backward: random batches", _ln_backward_problem, 5),
    _ln_backward_case("layernorm_backward: a single example (N = 1)",
                      lambda rng: _ln_backward_problem(rng, n=(1, 1)), 2),
    _ln_backward_case("layernorm_backward: wide layers",
                      lambda rng: _ln_backward_problem(rng, d=(20, 60)), 2),
]


# ---------------------------------------------------------------------------------------------
# Spatial batch normalization (reference vanilla layers swapped in)
# ---------------------------------------------------------------------------------------------


def _spatial_problem(rng: np.random.Generator, mode: str = "train") -> dict[str, Any]:
    N, C = int(rng.integers(1, 4, endpoint=True)), int(rng.integers(1, 4, endpoint=True))
    H, W = (int(v) for v in rng.integers(1, 5, size=2, endpoint=True))
    if N * H * W == 1:
        H = 2
    gamma, beta = _affine(rng, C)
    x = rng.uniform(-3, 3, size=(1, C, 1, 1)) + rng.uniform(0.5, 3, size=(1, C, 1, 1)) * (
        rng.standard_normal((N, C, H, W)))
    problem: dict[str, Any] = {"x": x, "gamma": gamma, "beta": beta, "mode": mode,
                               "dout": rng.standard_normal((N, C, H, W)), "bn_param": {}}
    if mode == "test" or rng.random() < 0.5:
        problem["bn_param"] = {"running_mean": rng.uniform(-3, 3, size=C),
                               "running_var": rng.uniform(0.5, 5, size=C)}
    return problem


def _spatial_derive(inputs: dict[str, Any], raw: Any) -> Outputs:
    return _flatten(raw, inputs, with_cache=False)


def _spatial_forward_reference(inputs: dict[str, Any]) -> Outputs:
    student = {"spatial_batchnorm_forward": ref.spatial_batchnorm_forward}
    return _spatial_derive(inputs, calls.spatial_forward(student, inputs))


def _spatial_suspects(inputs: dict[str, Any]) -> Suspects:
    x, gamma, beta = inputs["x"], inputs["gamma"], inputs["beta"]
    N, C, H, W = x.shape
    if inputs["mode"] == "test":
        return {}
    # x.reshape(-1, C) without the transpose: every column mixes the channels.
    mixed, _ = ref.batchnorm_forward(x.reshape(-1, C), gamma, beta, {"mode": "train"})
    bug = ("x is reshaped to (N*H*W, C) without moving the channel axis last, so each column "
           "mixes channels: transpose to (N, H, W, C) first, and undo both steps on the way out")
    return {"out": [(mixed.reshape(x.shape), bug),
                    (mixed.reshape(N, H, W, C).transpose(0, 3, 1, 2), bug)]}


def _spatial_backward_problem(rng: np.random.Generator) -> dict[str, Any]:
    problem = _spatial_problem(rng)
    _, problem["cache"] = ref.spatial_batchnorm_forward(problem["x"], problem["gamma"],
                                                        problem["beta"], {"mode": "train"})
    return problem


def _spatial_backward_reference(inputs: dict[str, Any]) -> Outputs:
    student = {"spatial_batchnorm_backward": ref.spatial_batchnorm_backward}
    return calls.spatial_backward(student, inputs)


SPATIAL_HINTS = {
    "out": "one mean and variance per channel over the batch and every position: "
           "x.transpose(0, 2, 3, 1).reshape(N * H * W, C), batchnorm_forward, then back",
    "bn_param['running_mean'] after the call": "pass bn_param itself on to batchnorm_forward",
    "dx": "reshape dout like x in the forward pass, call the vanilla backward pass, then undo "
          "the reshape and the transpose",
}

SPATIAL_CASES = [
    Case("spatial_batchnorm_forward: training mode, random shapes", _spatial_problem,
         "spatial_forward", _spatial_forward_reference, derive=_spatial_derive, tol=TOL, runs=4,
         oracles=VANILLA_LAYERS, suspects=_spatial_suspects, hints=SPATIAL_HINTS),
    Case("spatial_batchnorm_forward: test mode (the running averages)",
         lambda rng: _spatial_problem(rng, "test"), "spatial_forward",
         _spatial_forward_reference, derive=_spatial_derive, tol=TOL, runs=2,
         oracles=VANILLA_LAYERS, hints=SPATIAL_HINTS),
    Case("spatial_batchnorm_backward: random shapes (given a correct forward pass's cache)",
         _spatial_backward_problem, "spatial_backward", _spatial_backward_reference, tol=TOL,
         runs=4, oracles=VANILLA_LAYERS, hints=SPATIAL_HINTS),
]


# ---------------------------------------------------------------------------------------------
# NormalizedFullyConnectedNet (reference layers and FullyConnectedNet swapped in)
# ---------------------------------------------------------------------------------------------


def _init_problem(rng: np.random.Generator) -> dict[str, Any]:
    return {
        "hidden_dims": [int(h) for h in rng.integers(3, 12, size=int(rng.integers(1, 4)))],
        "input_dim": int(rng.integers(4, 20, endpoint=True)),
        "num_classes": int(rng.integers(2, 8, endpoint=True)),
        "normalization": [None, "batchnorm", "layernorm"][int(rng.integers(0, 3))],
        "weight_scale": float(10 ** rng.uniform(-3, -1)),
        "dtype": str(rng.choice(["float32", "float64"])),
        "seed": int(rng.integers(0, 2**31)),
    }


def _describe_shapes(shapes: dict[str, tuple[int, ...]]) -> str:
    def key(name: str) -> tuple[int, str]:
        digits = "".join(c for c in name if c.isdigit())
        return (int(digits) if digits else 0, name)

    return ", ".join(f"{name} {tuple(shapes[name])}" for name in sorted(shapes, key=key))


def _init_derive(inputs: dict[str, Any], raw: Any) -> Outputs:
    params, norm_params = raw["params"], raw["norm_params"]
    if not isinstance(params, dict):
        raise TypeError(f"net.params must be a dict, got {type(params).__name__}")
    scales = [np.asarray(v) for k, v in params.items() if k.startswith("gamma")]
    shifts = [np.asarray(v) for k, v in params.items() if k.startswith("beta")]
    return {
        "parameter names and shapes": _describe_shapes(
            {k: np.shape(v) for k, v in params.items()}),
        "dtype of every parameter": ", ".join(sorted({str(np.asarray(v).dtype)
                                                      for v in params.values()})),
        "every gamma starts at 1 and every beta at 0": bool(
            all(np.all(g == 1) for g in scales) and all(np.all(b == 0) for b in shifts)),
        "net.norm_params: one dict per hidden layer (none without a normalization)": (
            isinstance(norm_params, list) and all(isinstance(p, dict) for p in norm_params)
            and len(norm_params) == (0 if inputs["normalization"] is None
                                     else len(inputs["hidden_dims"]))),
    }


def _init_reference(inputs: dict[str, Any]) -> Outputs:
    return _init_derive(inputs, calls.fc_net_norm_init(ref_models.FullyConnectedNet, inputs))


def _net_problem(rng: np.random.Generator, normalization: str | None,
                 reg: float | None = None) -> dict[str, Any]:
    channels, height, width = 3, int(rng.integers(1, 3, endpoint=True)), 2
    input_dim = channels * height * width
    hidden_dims = [int(h) for h in rng.integers(3, 10, size=int(rng.integers(1, 3, endpoint=True)))]
    num_classes = int(rng.integers(2, 6, endpoint=True))
    dims = [input_dim, *hidden_dims, num_classes]
    params: dict[str, np.ndarray] = {}
    for k in range(1, len(dims)):
        params[f"W{k}"] = rng.normal(scale=1.5 / math.sqrt(dims[k - 1]), size=(dims[k - 1],
                                                                                dims[k]))
        params[f"b{k}"] = rng.normal(scale=0.2, size=dims[k])
        if normalization is not None and k < len(dims) - 1:
            params[f"gamma{k}"], params[f"beta{k}"] = _affine(rng, dims[k])
    N = int(rng.integers(3, 8, endpoint=True))

    def images(n: int) -> np.ndarray:
        return rng.uniform(-1, 1) + rng.normal(size=(n, channels, height, width))

    return {
        "hidden_dims": hidden_dims, "input_dim": input_dim, "num_classes": num_classes,
        "normalization": normalization,
        "reg": float(10 ** rng.uniform(-2, 0)) if reg is None else reg,
        "params": params,
        "X": images(N), "y": rng.integers(0, num_classes, size=N),
        "X2": images(N + 1), "y2": rng.integers(0, num_classes, size=N + 1),
        "X_test": images(int(rng.integers(1, 4, endpoint=True))),
    }


def _net_derive(inputs: dict[str, Any], raw: Any) -> Outputs:
    for name in inputs["params"]:
        if raw[f"grads[{name!r}]"] is None:
            raise KeyError(f"loss(X, y) returned no gradient grads[{name!r}]")
    return raw


def _net_reference(inputs: dict[str, Any]) -> Outputs:
    return _net_derive(inputs, calls.fc_net_norm(ref_models.FullyConnectedNet, inputs))


NET_HINTS = {
    "test-time scores, after two training calls":
        "at test time (y None) set 'mode' to 'test' in every norm_params dict, and pass each "
        "layer the same dict on every call (its running averages live there)",
    "training loss again, after a test-time call":
        "set 'mode' back to 'train' in every norm_params dict on a training call",
    "training loss": "hidden layers: affine - normalization - ReLU; the scores layer: affine "
                     "only; L2 on the weights only",
}


def _net_case(name: str, normalization: str | None, runs: int, reg: float | None = None) -> Case:
    return Case(name, lambda rng: _net_problem(rng, normalization, reg), "fc_net_norm",
                _net_reference, derive=_net_derive, tol=TOL, runs=runs, oracles=NET_LAYERS,
                hints=NET_HINTS)


FC_NET_NORM_CASES = [
    Case("NormalizedFullyConnectedNet: parameters (gamma1 ... and beta1 ... for every hidden "
         "layer) and norm_params", _init_problem, "fc_net_norm_init", _init_reference,
         derive=_init_derive, runs=4, oracles=NET_LAYERS),
    _net_case("NormalizedFullyConnectedNet: batch norm, reg > 0 (loss, gradients, test-time scores "
              "on the running averages)", "batchnorm", 3),
    _net_case("NormalizedFullyConnectedNet: layer norm, reg > 0", "layernorm", 2),
    _net_case("NormalizedFullyConnectedNet: batch norm, reg = 0", "batchnorm", 1, reg=0.0),
    _net_case("NormalizedFullyConnectedNet: normalization=None (notebook 03's net)", None, 1),
]


CASES: dict[str, list[Case]] = {
    "test_batchnorm_forward": BN_FORWARD_CASES,
    "test_batchnorm_backward": BN_BACKWARD_CASES,
    "test_batchnorm_backward_alt": BN_BACKWARD_ALT_CASES,
    "test_layernorm_forward": LN_FORWARD_CASES,
    "test_layernorm_backward": LN_BACKWARD_CASES,
    "test_spatial_batchnorm": SPATIAL_CASES,
    "test_fc_net_norm": FC_NET_NORM_CASES,
}
