"""Hidden tests of notebook 01 (flat backprop).

Every graded function is compared with the reference (``autograder.judge.reference``: circuits,
linear_classifiers, models, search) on grader-chosen inputs the notebook never shows: random
shapes and values, one-example batches,
two-class problems, every / no SVM margin violated, and scores offset by +-1e4 (which overflow a
softmax computed without the max shift). The random-search helpers are checked by their
properties (range, log-space distribution, determinism for a seeded rng; the abort rule at and
around its threshold).

``two_layer_net`` runs with the reference linear-classifier losses in place of the student's, so a
bug there is not charged twice.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from autograder.judge.cases import Case, Outputs
from autograder.judge.reference import circuits, linear_classifiers, models, search
from cs231kit import tolerances

NOTEBOOK = "01_flat_backprop"
CALLS = "nb01"
VALUE_TESTS: frozenset[str] = frozenset()

# Forward values and analytic gradients are compared with a reference computed in float64 by a
# different route (the reference layers); both agree to ~1e-12, so the course's forward tolerance
# applies to every output.
TOL = tolerances.FORWARD_REL_ERROR

# Statistics of log-uniform samples (100,000 draws): the fraction per decade has a standard
# deviation of ~0.0015 and log10(median) ~0.008, so these relative tolerances sit more than ten
# standard deviations from a correct sampler and orders of magnitude below a linear-space one.
NUM_DRAWS = 100_000
DECADE_FRACTION_TOL = 0.05
MEDIAN_RATIO_TOL = 0.1


# ---------------------------------------------------------------------------------------------
# sigmoid_circuit
# ---------------------------------------------------------------------------------------------



def _circuit_reference(inputs: dict[str, Any]) -> Outputs:
    f, dw, dx = circuits.sigmoid_circuit(inputs["w"], inputs["x"])
    return {"f": f, "dw": dw, "dx": dx}


def _circuit_case(name: str, make: Callable[[np.random.Generator], dict[str, Any]]) -> Case:
    return Case(name, make, "sigmoid_circuit", _circuit_reference, tol=TOL)


SIGMOID_CIRCUIT_CASES = [
    _circuit_case(
        "sigmoid_circuit on random w and x",
        lambda rng: {"w": rng.uniform(-3, 3, size=3), "x": rng.uniform(-3, 3, size=2)},
    ),
    # Saturated sigmoid (|s| between 5 and 12): the local gradient L * (1 - L) is tiny there.
    _circuit_case(
        "sigmoid_circuit with a saturated sigmoid",
        lambda rng: _saturated_circuit(rng),
    ),
    _circuit_case(
        "sigmoid_circuit with a zero input",
        lambda rng: {"w": rng.uniform(-2, 2, size=3), "x": np.array([0.0, rng.uniform(-2, 2)])},
    ),
]


def _saturated_circuit(rng: np.random.Generator) -> dict[str, Any]:
    w = rng.uniform(-2, 2, size=3)
    x = rng.uniform(-2, 2, size=2)
    target = rng.choice([-1.0, 1.0]) * rng.uniform(5, 12)
    # Move the bias so that the sigmoid's input is the target.
    w[2] += target - float(w[:2] @ x + w[2])
    return {"w": w, "x": x}


# ---------------------------------------------------------------------------------------------
# Linear-classifier losses (shared input makers)
# ---------------------------------------------------------------------------------------------



def _loss_reference(reference: Callable[..., Any]) -> Callable[[dict[str, Any]], Outputs]:
    def run(inputs: dict[str, Any]) -> Outputs:
        loss, dW = reference(inputs["W"], inputs["X"], inputs["y"], inputs["reg"])
        return {"loss": loss, "dW": dW}

    return run


def _random_problem(
    rng: np.random.Generator,
    n_range: tuple[int, int] = (2, 40),
    reg: float | None = None,
    num_classes: int | None = None,
) -> dict[str, Any]:
    """A random linear-classifier problem: W (D, C), X (N, D), y (N,), reg."""
    N = int(rng.integers(*n_range, endpoint=True))
    D = int(rng.integers(2, 40, endpoint=True))
    C = num_classes if num_classes is not None else int(rng.integers(2, 12, endpoint=True))
    X = rng.normal(size=(N, D))
    # Scores of size ~1: some margins violated, some not.
    W = rng.normal(scale=1.5 / math.sqrt(D), size=(D, C))
    y = rng.integers(0, C, size=N)
    if reg is None:
        reg = float(10 ** rng.uniform(-3, 0))
    return {"W": W, "X": X, "y": y, "reg": reg}


def _separated_problem(rng: np.random.Generator, sign: float) -> dict[str, Any]:
    """Scores where the correct class leads (sign=+1) or trails (sign=-1) every other by ~5.

    The first C features are a one-hot code of the label and W's first C rows are 5 * I, so the
    correct score is ~+5 (every SVM margin satisfied) or ~-5 (every margin violated).
    """
    N = int(rng.integers(3, 30, endpoint=True))
    C = int(rng.integers(2, 8, endpoint=True))
    D = C + int(rng.integers(1, 10, endpoint=True))
    y = rng.integers(0, C, size=N)
    X = rng.normal(scale=0.1, size=(N, D))
    X[np.arange(N), y] += 1.0
    W = rng.normal(scale=0.05, size=(D, C))
    W[:C] += sign * 5.0 * np.eye(C)
    return {"W": W, "X": X, "y": y, "reg": float(rng.uniform(0.01, 0.5))}


def _offset_problem(rng: np.random.Generator, offset: float) -> dict[str, Any]:
    """Scores of size ~|offset| (1e4): example i's scores are all shifted by a_i * offset.

    The last feature a_i lies in [0.5, 2] and the last row of W is ~offset for every class, so
    exp(score) overflows (offset > 0) or underflows to 0 (offset < 0) unless each row's maximum
    is subtracted first; the row offsets differ by thousands, so a single maximum over the whole
    batch does not help either. Within a row the scores differ by ~10, as in a real problem.
    reg = 0: the L2 term of such weights would drown the data loss.
    """
    problem = _random_problem(rng, reg=0.0)
    X, W = problem["X"], problem["W"]
    X[:, -1] = rng.uniform(0.5, 2.0, size=X.shape[0])
    W[-1] = offset + rng.normal(scale=3.0, size=W.shape[1])
    return problem


def _loss_cases(prefix: str, reference: Callable[..., Any], huge: bool) -> list[Case]:
    def case(name: str, make: Callable[[np.random.Generator], dict[str, Any]]) -> Case:
        return Case(f"{prefix}: {name}", make, "loss", _loss_reference(reference), tol=TOL)

    cases = [
        case("random shapes, reg > 0", lambda rng: _random_problem(rng)),
        case("random shapes, reg = 0", lambda rng: _random_problem(rng, reg=0.0)),
        case("one example (N = 1)", lambda rng: _random_problem(rng, n_range=(1, 1))),
        case("two classes (C = 2)", lambda rng: _random_problem(rng, num_classes=2)),
        case("correct class far ahead", lambda rng: _separated_problem(rng, +1.0)),
        case("correct class far behind", lambda rng: _separated_problem(rng, -1.0)),
    ]
    if huge:
        cases += [
            case("scores near +1e4", lambda rng: _offset_problem(rng, 1e4)),
            case("scores near -1e4", lambda rng: _offset_problem(rng, -1e4)),
        ]
    return cases


SVM_CASES = _loss_cases(
    "svm_loss_vectorized", linear_classifiers.svm_loss_vectorized, huge=False
)
SOFTMAX_CASES = _loss_cases(
    "softmax_loss_vectorized", linear_classifiers.softmax_loss_vectorized, huge=True
)


# ---------------------------------------------------------------------------------------------
# two_layer_net
# ---------------------------------------------------------------------------------------------


def _net_problem(
    rng: np.random.Generator,
    with_labels: bool = True,
    reg: float | None = None,
    n_range: tuple[int, int] = (2, 30),
    score_offset: float = 0.0,
) -> dict[str, Any]:
    N = int(rng.integers(*n_range, endpoint=True))
    D = int(rng.integers(2, 30, endpoint=True))
    H = int(rng.integers(1, 25, endpoint=True))
    C = int(rng.integers(2, 10, endpoint=True))
    params = {
        "W1": rng.normal(scale=1.0 / math.sqrt(D), size=(D, H)),
        "b1": rng.normal(scale=0.3, size=H),
        "W2": rng.normal(scale=2.0 / math.sqrt(H), size=(H, C)),
        "b2": rng.normal(scale=0.3, size=C) + score_offset,
    }
    if reg is None:
        reg = float(10 ** rng.uniform(-3, 0))
    return {
        "X": rng.normal(size=(N, D)),
        "params": params,
        "y": rng.integers(0, C, size=N) if with_labels else None,
        "reg": reg,
    }


def _net_outputs(inputs: dict[str, Any], result: Any) -> Outputs:
    """The compared outputs of a two_layer_net call: scores, or the loss and every gradient."""
    if inputs["y"] is None:
        return {"scores": result}
    loss_value, grads = result
    if not isinstance(grads, dict) or set(grads) != set(models.TWO_LAYER_PARAMS):
        got = sorted(grads) if isinstance(grads, dict) else type(grads).__name__
        raise ValueError(f"grads must be a dict with keys W1, b1, W2, b2; got {got}")
    return {"loss": loss_value, **{f"d{name}": grads[name] for name in models.TWO_LAYER_PARAMS}}


def _net_derive(inputs: dict[str, Any], raw: Any) -> Outputs:
    return _net_outputs(inputs, raw["result"])


def _net_reference(inputs: dict[str, Any]) -> Outputs:
    X, params, y, reg = inputs["X"], inputs["params"], inputs["y"], inputs["reg"]
    if y is None:
        return _net_outputs(inputs, models.two_layer_net(X, params))
    result = models.two_layer_net(X, params, y, reg)
    return _net_outputs(inputs, result)


def _net_case(name: str, make: Callable[[np.random.Generator], dict[str, Any]]) -> Case:
    # A student may reuse their own loss inside the net: the reference one answers instead.
    return Case(
        f"two_layer_net: {name}",
        make,
        "two_layer_net",
        _net_reference,
        derive=_net_derive,
        tol=TOL,
        oracles=("softmax_loss_vectorized", "svm_loss_vectorized"),
    )


TWO_LAYER_NET_CASES = [
    _net_case("scores (y is None)", lambda rng: _net_problem(rng, with_labels=False)),
    _net_case("loss and gradients, reg > 0", lambda rng: _net_problem(rng)),
    _net_case("loss and gradients, reg = 0", lambda rng: _net_problem(rng, reg=0.0)),
    _net_case("one example (N = 1)", lambda rng: _net_problem(rng, n_range=(1, 1))),
    _net_case("scores near 1e4", lambda rng: _net_problem(rng, reg=0.0, score_offset=1e4)),
]


# ---------------------------------------------------------------------------------------------
# sample_log_uniform
# ---------------------------------------------------------------------------------------------


def _bounds(rng: np.random.Generator, whole_decades: bool) -> tuple[float, float]:
    """Random positive bounds spanning 1 to 5 decades, e.g. (1e-6, 1e-2)."""
    if whole_decades:
        first = int(rng.integers(-7, 2, endpoint=True))
        return 10.0**first, 10.0 ** (first + int(rng.integers(2, 5, endpoint=True)))
    start = float(rng.uniform(-7, 1))
    return 10.0**start, 10.0 ** (start + float(rng.uniform(1, 5)))


def _sampler_inputs(rng: np.random.Generator, whole_decades: bool = False) -> dict[str, Any]:
    low, high = _bounds(rng, whole_decades)
    return {"low": low, "high": high, "seed": int(rng.integers(2**31))}


def _log_stats(samples: Any, low: float, high: float) -> Outputs:
    """Range, decade fractions and median of samples, as the check compares them."""
    values = np.asarray(samples, dtype=np.float64).ravel()
    start, stop = round(math.log10(low)), round(math.log10(high))
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log10(values)
    counts, _ = np.histogram(logs, bins=np.arange(start, stop + 1))
    return {
        "fraction_in_range": float(np.mean((values >= low) & (values <= high))),
        "fraction_per_decade": counts / values.size,
        "median_over_geometric_mean": float(np.median(values)) / math.sqrt(low * high),
    }



def _sampler_range_derive(inputs: dict[str, Any], raw: Any) -> Outputs:
    values = np.asarray(raw["samples"], dtype=np.float64)
    low, high = inputs["low"], inputs["high"]
    return {
        "shape": str(values.shape),
        "fraction_in_range": float(np.mean((values >= low) & (values <= high))),
    }


def _sampler_range_reference(inputs: dict[str, Any]) -> Outputs:
    return {"shape": str((2000,)), "fraction_in_range": 1.0}



def _sampler_shape_derive(inputs: dict[str, Any], raw: Any) -> Outputs:
    return {
        f"shape for size={size}": str(np.shape(raw[f"size={size}"]))
        for size in ("None", "7", "(3, 4)")
    }


def _sampler_shape_reference(inputs: dict[str, Any]) -> Outputs:
    return {
        "shape for size=None": str(()),
        "shape for size=7": str((7,)),
        "shape for size=(3, 4)": str((3, 4)),
    }



def _sampler_distribution_derive(inputs: dict[str, Any], raw: Any) -> Outputs:
    return _log_stats(raw["samples"], inputs["low"], inputs["high"])


def _sampler_distribution_reference(inputs: dict[str, Any]) -> Outputs:
    low, high = inputs["low"], inputs["high"]
    decades = round(math.log10(high / low))
    return {
        "fraction_in_range": 1.0,
        "fraction_per_decade": np.full(decades, 1.0 / decades),
        "median_over_geometric_mean": 1.0,
    }



def _sampler_determinism_derive(inputs: dict[str, Any], raw: Any) -> Outputs:
    first, again, other = (np.asarray(raw[k]) for k in ("first", "same seed", "next seed"))
    return {
        "same samples for the same seeded rng": bool(np.array_equal(first, again)),
        "different samples for another seed": not np.array_equal(first, other),
    }


def _sampler_determinism_reference(inputs: dict[str, Any]) -> Outputs:
    return {
        "same samples for the same seeded rng": True,
        "different samples for another seed": True,
    }


SAMPLE_LOG_UNIFORM_CASES = [
    Case(
        "sample_log_uniform: every sample lies in [low, high]",
        lambda rng: {**_sampler_inputs(rng), "size": 2000},
        "sample_log_uniform",
        _sampler_range_reference,
        derive=_sampler_range_derive,
        tols={"fraction_in_range": 1e-12},
    ),
    Case(
        "sample_log_uniform: output shape follows size",
        _sampler_inputs,
        "sample_log_uniform_shapes",
        _sampler_shape_reference,
        derive=_sampler_shape_derive,
    ),
    Case(
        "sample_log_uniform: uniform in log space (same fraction in every decade, median at "
        "the geometric mean sqrt(low * high))",
        lambda rng: {**_sampler_inputs(rng, whole_decades=True), "size": NUM_DRAWS},
        "sample_log_uniform",
        _sampler_distribution_reference,
        derive=_sampler_distribution_derive,
        tols={
            "fraction_in_range": 1e-12,
            "fraction_per_decade": DECADE_FRACTION_TOL,
            "median_over_geometric_mean": MEDIAN_RATIO_TOL,
        },
    ),
    Case(
        "sample_log_uniform: draws only from the rng it is given",
        _sampler_inputs,
        "sample_log_uniform_repeat",
        _sampler_determinism_reference,
        derive=_sampler_determinism_derive,
    ),
]


# ---------------------------------------------------------------------------------------------
# should_abort
# ---------------------------------------------------------------------------------------------



def _abort_derive(inputs: dict[str, Any], raw: Any) -> Outputs:
    return {"abort": bool(np.asarray(raw["result"]))}


def _abort_reference(inputs: dict[str, Any]) -> Outputs:
    factor = 3.0 if inputs["factor"] is None else inputs["factor"]
    return {"abort": search.should_abort(inputs["loss"], inputs["initial_loss"], factor)}


def _abort_inputs(
    rng: np.random.Generator, ratio: float, factor: float | None = None, as_numpy: bool = False
) -> dict[str, Any]:
    """loss = ratio * threshold, where threshold = factor * initial_loss (factor 3 if None)."""
    initial_loss = float(rng.uniform(0.5, 5.0))
    threshold = (3.0 if factor is None else factor) * initial_loss
    loss: Any = ratio * threshold
    if as_numpy:
        loss, initial_loss = np.float64(loss), np.float64(initial_loss)
    return {"loss": loss, "initial_loss": initial_loss, "factor": factor}


def _exact_threshold(rng: np.random.Generator) -> dict[str, Any]:
    """loss exactly factor * initial_loss, with values whose products and quotients are exact.

    "Exceeds" is strict, so this must not abort; with these values ``loss > factor * initial``
    and ``loss / initial > factor`` agree, whichever way a student writes the test.
    """
    initial_loss = float(rng.choice([0.5, 1.0, 1.5, 2.0, 2.5, 4.0]))
    factor = (None, 2.0, 3.0, 4.0)[int(rng.integers(4))]
    return {
        "loss": (3.0 if factor is None else factor) * initial_loss,
        "initial_loss": initial_loss,
        "factor": factor,
    }


def _non_finite(rng: np.random.Generator, loss: Any, factor: float | None) -> dict[str, Any]:
    """A trial whose loss blew up to NaN or inf: it must abort whatever the threshold."""
    return {"loss": loss, "initial_loss": float(rng.uniform(0.5, 5.0)), "factor": factor}


def _abort_case(name: str, make: Callable[[np.random.Generator], dict[str, Any]]) -> Case:
    return Case(
        f"should_abort: {name}", make, "should_abort", _abort_reference, derive=_abort_derive
    )


SHOULD_ABORT_CASES = [
    _abort_case(
        "loss below 3x the initial loss (default factor)",
        lambda rng: _abort_inputs(rng, float(rng.uniform(0.05, 0.99))),
    ),
    _abort_case(
        "loss above 3x the initial loss (default factor)",
        lambda rng: _abort_inputs(rng, float(rng.uniform(1.01, 50.0))),
    ),
    _abort_case(
        "loss just above the threshold",
        lambda rng: _abort_inputs(rng, 1.0 + 1e-9, factor=float(rng.uniform(1.5, 5.0))),
    ),
    _abort_case("loss exactly at the threshold (not above it)", _exact_threshold),
    _abort_case(
        "another factor, loss between 3x and the factor",
        lambda rng: _abort_inputs(rng, float(rng.uniform(0.65, 0.95)), factor=10.0),
    ),
    _abort_case(
        "another factor, loss above it",
        lambda rng: _abort_inputs(rng, float(rng.uniform(1.05, 1.5)), factor=2.0),
    ),
    _abort_case(
        "NumPy float inputs",
        lambda rng: _abort_inputs(rng, float(rng.choice([0.5, 2.0])), as_numpy=True),
    ),
    _abort_case("loss is NaN", lambda rng: _non_finite(rng, float("nan"), None)),
    _abort_case(
        "loss is NumPy NaN, with a factor", lambda rng: _non_finite(rng, np.float64("nan"), 3.0)
    ),
    _abort_case("loss is +inf", lambda rng: _non_finite(rng, float("inf"), None)),
]


CASES: dict[str, list[Case]] = {
    "test_sigmoid_circuit": SIGMOID_CIRCUIT_CASES,
    "test_svm_loss_vectorized": SVM_CASES,
    "test_softmax_loss_vectorized": SOFTMAX_CASES,
    "test_two_layer_net": TWO_LAYER_NET_CASES,
    "test_sample_log_uniform": SAMPLE_LOG_UNIFORM_CASES,
    "test_should_abort": SHOULD_ABORT_CASES,
}

