"""Gradient checking: compare an analytic gradient with a numeric (finite-difference) one.

The numeric gradient of a scalar function f at x is the centred difference, one entry at a time:

    df/dx[i] ~= (f(x + h e_i) - f(x - h e_i)) / (2 h)

where e_i is 1 at index i and 0 elsewhere. It is slow (two calls of f per entry) but needs no
calculus, so it is the referee for every backward pass you write.

Conventions used everywhere in this module:

- ``x`` is changed **in place** (one entry at a time) and restored afterwards, so ``f`` must read
  the very array ``x`` it is given, or an array that shares its memory (e.g. a model's parameter
  array that ``x`` *is*). A function that reads a copy sees no change: its numeric gradient is 0.
- ``x`` must be float64. With h = 1e-5, float32 rounding errors (~1e-7 relative) divided by h
  swamp the derivative, so a float32 check is meaningless.
- The relative error has one definition, ``rel_error`` below.

Example:

    >>> x = np.random.randn(3, 4)
    >>> report = check_gradient(lambda x: np.sum(x ** 2), x, analytic_grad=2 * x)
    >>> print(report)                                  # doctest: +SKIP
    max rel error 1.1e-11 at index (2, 1): analytic 1.83, numeric 1.83 (12 entries checked)
    >>> report.passed()
    True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from cs231kit import tolerances
from cs231kit.backend import to_numpy

Index = tuple[int, ...]


# ---------------------------------------------------------------------------------------------
# Relative error
# ---------------------------------------------------------------------------------------------


def rel_error(x: Any, y: Any) -> float:
    """The relative error between two arrays: the course's one definition.

        rel_error(x, y) = max over entries of  |x - y| / max(1e-8, |x| + |y|)

    Inputs:
    - x, y: arrays of the same shape (NumPy or CuPy), or Python numbers

    Returns a Python float (NaN if either input holds a NaN, so it fails every tolerance).
    The 1e-8 floor keeps entries that are both tiny (e.g. 1e-12 and 0) from counting as wrong.
    """
    a, b = _as_float64(x), _as_float64(y)
    if a.shape != b.shape:
        raise ValueError(
            f"rel_error needs two arrays of the same shape, got {a.shape} and {b.shape}. "
            "Compare like with like (no broadcasting), e.g. check the shape your function returns."
        )
    if a.size == 0:
        raise ValueError("rel_error got two empty arrays; there is nothing to compare.")
    return float(np.max(_elementwise_rel_error(a, b)))


def _elementwise_rel_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a - b) / np.maximum(tolerances.REL_ERROR_FLOOR, np.abs(a) + np.abs(b))


# ---------------------------------------------------------------------------------------------
# Numeric gradients
# ---------------------------------------------------------------------------------------------


def numeric_gradient(
    f: Callable[[Any], Any], x: Any, h: float = tolerances.GRAD_CHECK_H
) -> np.ndarray:
    """Numeric gradient of a scalar-valued function by centred differences.

    Inputs:
    - f: function of one argument that returns a scalar; it must read ``x`` (see module docstring)
    - x: float64 array of any shape, e.g. (N, D); modified in place during the call, then restored
    - h: step of the centred difference

    Returns grad: NumPy float64 array of the same shape as x, grad[i] ~= df/dx[i].
    """
    _require_float64(x, "x")
    probe = _Probe(f, None)
    grad = np.zeros(x.shape, dtype=np.float64)
    for ix in np.ndindex(*x.shape):
        grad[ix] = probe.centred_difference(x, ix, h)
    return grad


def numeric_gradient_array(
    f: Callable[[Any], Any], x: Any, dout: Any, h: float = tolerances.GRAD_CHECK_H
) -> np.ndarray:
    """Numeric gradient for an array-valued function, given the upstream gradient.

    For out = f(x) and an upstream gradient dout = dL/dout, this is the backward pass of f,
    computed numerically: dx[i] = sum over j of dout[j] * d out[j] / d x[i].

    Inputs:
    - f: function of one argument returning an array ``out``; it must read ``x``
    - x: float64 array of any shape; modified in place during the call, then restored
    - dout: upstream gradient, same shape as f(x)
    - h: step of the centred difference

    Returns dx: NumPy float64 array of the same shape as x.
    """
    _require_float64(x, "x")
    probe = _Probe(f, dout)
    grad = np.zeros(x.shape, dtype=np.float64)
    for ix in np.ndindex(*x.shape):
        grad[ix] = probe.centred_difference(x, ix, h)
    return grad


class _Probe:
    """Evaluates f with one entry of x shifted, and projects outputs onto the upstream gradient.

    For a scalar f the upstream gradient is 1. Differences are taken between whole outputs
    *before* summing (sum(dout * (f(x+h) - f(x-h)))): summing first would add rounding errors
    of the size of f(x) itself, which the division by h then magnifies.
    """

    def __init__(self, f: Callable[[Any], Any], dout: Any) -> None:
        self.f = f
        self.upstream = None if dout is None else _as_float64(dout)

    def output(self, x: Any) -> np.ndarray:
        """f(x) as a float64 NumPy copy (f may return x itself, which is about to change)."""
        out = self.f(x)
        if self.upstream is None:
            return np.array(_scalar(out))
        out_np = np.array(_as_float64(out), copy=True)
        if out_np.shape != self.upstream.shape:
            raise ValueError(
                f"f(x) has shape {out_np.shape} but dout has shape {self.upstream.shape}; dout is "
                "the upstream gradient of f's output and must have the same shape."
            )
        return out_np

    def shifted_outputs(
        self, x: Any, ix: Index, steps: Iterable[int], h: float
    ) -> list[np.ndarray]:
        """[f(x with x[ix] += step * h) for each step], restoring x[ix] even if f raises."""
        old = x[ix].item()
        try:
            outputs = []
            for step in steps:
                x[ix] = old + step * h
                outputs.append(self.output(x))
        finally:
            x[ix] = old
        return outputs

    def project(self, difference: np.ndarray) -> float:
        """sum(dout * difference), or the difference itself for a scalar f."""
        if self.upstream is None:
            return float(difference)
        return float(np.sum(self.upstream * difference))

    def scale(self, output: np.ndarray) -> float:
        """Size of an output as seen through dout, for the rounding-noise estimate."""
        if self.upstream is None:
            return float(abs(output))
        return float(np.sum(np.abs(self.upstream * output)))

    def centred_difference(self, x: Any, ix: Index, h: float) -> float:
        plus, minus = self.shifted_outputs(x, ix, (1, -1), h)
        return self.project(plus - minus) / (2 * h)


# ---------------------------------------------------------------------------------------------
# Gradient checks with a report
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GradCheckReport:
    """The outcome of a gradient check, summarised at the worst entry.

    Fields:
    - max_rel_error: the largest relative error over the checked entries (see ``rel_error``)
    - worst_index: index into x of that entry, e.g. (1, 4)
    - analytic, numeric: the two gradient values at worst_index
    - num_checked: how many entries of x were checked
    - kink: True when a kink (ReLU, max, hinge) lies within h of x at worst_index, which makes the
      numeric gradient there unreliable (errors up to ~1e-4 are then expected, not a bug)
    - name: optional label shown in the message, e.g. "dW1"
    """

    max_rel_error: float
    worst_index: Index
    analytic: float
    numeric: float
    num_checked: int
    kink: bool
    name: str = ""

    def passed(self, tol: float = tolerances.REL_ERROR_SMOOTH) -> bool:
        """True when max_rel_error <= tol.

        The default suits smooth functions; pass ``tolerances.REL_ERROR_KINK`` for functions with
        kinks (ReLU, max pooling, SVM loss). A NaN error never passes.
        """
        return bool(self.max_rel_error <= tol)

    def __str__(self) -> str:
        prefix = f"{self.name}: " if self.name else ""
        message = (
            f"{prefix}max rel error {self.max_rel_error:.1e} at index {self.worst_index}: "
            f"analytic {self.analytic:.6g}, numeric {self.numeric:.6g} "
            f"({self.num_checked} {'entry' if self.num_checked == 1 else 'entries'} checked)"
        )
        if self.kink:
            message += (
                "\n  note: a kink (e.g. ReLU or max) lies within h of x at this index; the"
                " numeric gradient straddles it and is unreliable there, so this error alone"
                " does not show a bug (try other inputs)."
            )
        return message


def check_gradient(
    f: Callable[[Any], Any],
    x: Any,
    analytic_grad: Any,
    dout: Any = None,
    h: float = tolerances.GRAD_CHECK_H,
    name: str = "",
) -> GradCheckReport:
    """Check every entry of an analytic gradient against the numeric one.

    Inputs:
    - f: function of one argument that reads ``x``; returns a scalar, or an array when dout is given
    - x: float64 array of any shape; modified in place during the check, then restored
    - analytic_grad: your gradient, same shape as x (df/dx, or sum(dout * df/dx) when dout is given)
    - dout: upstream gradient of the same shape as f(x), for array-valued f; None for scalar f
    - h: step of the centred difference
    - name: optional label for the report, e.g. "dx"

    Returns a GradCheckReport; ``print(report)`` explains the result, ``report.passed()`` judges it.
    """
    analytic = _check_analytic(analytic_grad, x)
    indices = list(np.ndindex(*x.shape))
    return _check_entries(_Probe(f, dout), x, analytic, indices, h, name)


def grad_check_sparse(
    f: Callable[[Any], Any],
    x: Any,
    analytic_grad: Any,
    num_checks: int = 10,
    h: float = tolerances.GRAD_CHECK_H,
    seed: int | None = None,
    dout: Any = None,
    name: str = "",
) -> GradCheckReport:
    """Check an analytic gradient at a few randomly chosen entries (fast for large x).

    Inputs:
    - f, x, analytic_grad, dout, h, name: as in ``check_gradient``
    - num_checks: how many distinct entries to check (all of x if it has fewer entries)
    - seed: seed of the random choice of entries; the same seed checks the same entries

    Returns a GradCheckReport over the checked entries.
    """
    if num_checks < 1:
        raise ValueError(f"num_checks must be at least 1, got {num_checks}.")
    analytic = _check_analytic(analytic_grad, x)
    rng = np.random.default_rng(seed)
    flat = rng.choice(x.size, size=min(num_checks, x.size), replace=False)
    indices = [tuple(int(i) for i in np.unravel_index(k, x.shape)) for k in flat]
    return _check_entries(_Probe(f, dout), x, analytic, indices, h, name)


def _check_entries(
    probe: _Probe, x: Any, analytic: np.ndarray, indices: list[Index], h: float, name: str
) -> GradCheckReport:
    """Compare analytic[ix] with the centred difference at every ix; report the worst entry."""
    numeric = np.array([probe.centred_difference(x, ix, h) for ix in indices])
    picked = np.array([analytic[ix] for ix in indices])
    errors = _elementwise_rel_error(picked, numeric)
    worst = int(np.argmax(errors))  # np.argmax picks the first NaN, the worst possible entry
    ix = indices[worst]
    return GradCheckReport(
        max_rel_error=float(errors[worst]),
        worst_index=ix,
        analytic=float(picked[worst]),
        numeric=float(numeric[worst]),
        num_checked=len(indices),
        kink=_kink_near(probe, x, ix, h),
        name=name,
    )


# ---------------------------------------------------------------------------------------------
# Kink detection
# ---------------------------------------------------------------------------------------------


def has_kink(
    f: Callable[[Any], Any],
    x: Any,
    ix: Index,
    h: float = tolerances.GRAD_CHECK_H,
    dout: Any = None,
) -> bool:
    """Whether a kink of f (a sudden change of slope) lies within h of x along entry ix.

    Inputs:
    - f: function that reads x; scalar-valued, or array-valued when dout is given
    - x: float64 array (restored afterwards); ix: index of the entry to probe, e.g. (1, 4)
    - h: the step of the gradient check; dout: upstream gradient for an array-valued f

    How: take the one-sided slopes s_k = (f(x + (k+1)h) - f(x + kh)) / h for k = -3 .. 2. For a
    smooth f, each slope differs from the next by about f'' * h, and these differences change
    slowly (linearly, by about f''' * h^2). So the gap s_0 - s_-1 between the slopes just right and
    just left of x can be predicted by extrapolating the two differences on either side. A kink
    within h adds its jump in slope to the gap alone. We report a kink when the gap is more than
    ``KINK_GAP_FACTOR`` times the smaller prediction (a kink spoils at most one side) plus rounding
    noise, and large enough to matter (to move a check's relative error past
    ``REL_ERROR_SMOOTH``). Cost: 7 calls of f.
    """
    _require_float64(x, "x")
    return _kink_near(_Probe(f, dout), x, ix, h)


def _kink_near(probe: _Probe, x: Any, ix: Index, h: float) -> bool:
    outputs = probe.shifted_outputs(x, ix, range(-3, 4), h)
    # slopes[k + 3] is s_k, the slope between x + k h and x + (k + 1) h, for k = -3 .. 2.
    slopes = [probe.project(b - a) / h for a, b in zip(outputs[:-1], outputs[1:], strict=True)]
    diffs = [b - a for a, b in zip(slopes[:-1], slopes[1:], strict=True)]
    gap = diffs[2]  # s_0 - s_-1
    from_left = 2 * diffs[1] - diffs[0]  # extrapolate the differences linearly to the gap
    from_right = 2 * diffs[3] - diffs[4]
    noise = tolerances.KINK_NOISE_REL * max(probe.scale(v) for v in outputs) / h
    right, left = slopes[3], slopes[2]
    # A kink moves the centred difference by up to gap / 2; one too small to matter is ignored.
    matters = abs(gap) > tolerances.REL_ERROR_SMOOTH * (abs(right) + abs(left))
    predicted = min(abs(from_left), abs(from_right))
    return bool(matters and abs(gap) > tolerances.KINK_GAP_FACTOR * (predicted + noise))


# ---------------------------------------------------------------------------------------------
# Input checks and conversions
# ---------------------------------------------------------------------------------------------


def _require_float64(x: Any, what: str) -> None:
    dtype = getattr(x, "dtype", None)
    if dtype is None or not hasattr(x, "shape"):
        raise TypeError(
            f"{what} must be a float64 array that f reads, got {type(x).__name__}. "
            f"Use np.asarray(..., dtype=np.float64)."
        )
    if dtype == np.float64:
        return
    if np.issubdtype(dtype, np.floating):
        raise TypeError(
            f"{what} has dtype {dtype}, but gradient checks need float64: with h = 1e-5 the "
            f"centred difference divides rounding errors by h, and {dtype} rounding (~1e-7 "
            "relative for float32) then swamps the derivative. Convert first: "
            f"{what} = {what}.astype(np.float64) (and make f use the converted array)."
        )
    raise TypeError(
        f"{what} has dtype {dtype}; gradient checks perturb x by small steps, so it must be "
        f"float64. Convert first: {what} = {what}.astype(np.float64)."
    )


def _check_analytic(analytic_grad: Any, x: Any) -> np.ndarray:
    _require_float64(x, "x")
    analytic = _as_float64(analytic_grad)
    if analytic.shape != x.shape:
        raise ValueError(
            f"the analytic gradient has shape {analytic.shape}, but x has shape {x.shape}: a "
            "gradient has one entry per entry of x. Check what your backward pass returns."
        )
    if x.size == 0:
        raise ValueError("x is empty; there is no gradient to check.")
    return analytic


def _scalar(value: Any) -> float:
    """A Python float from what f returned; a clear error if f returned a whole array."""
    array = to_numpy(value)
    if array.size != 1:
        raise ValueError(
            f"f returned an array of shape {array.shape}, but this check needs a scalar-valued f. "
            "For an array-valued f, pass the upstream gradient: numeric_gradient_array(f, x, dout) "
            "or check_gradient(f, x, analytic_grad, dout=dout)."
        )
    return float(array.reshape(()))


def _as_float64(a: Any) -> np.ndarray:
    """Any array (NumPy, CuPy) or number as a float64 NumPy array."""
    return np.asarray(to_numpy(a), dtype=np.float64)
