"""A hidden check is a list of cases; a case is four roles split across the trust boundary.

For one graded function, each :class:`Case` says

* ``make_inputs(rng)`` (judge): the grader-chosen inputs, drawn afresh in every grading run from a
  secret seed, so reading any source tells nothing about them;
* ``call`` (sandbox): the name of the adapter in ``autograder.sandbox.handin.calls.<module>`` that
  calls the student's code on those inputs and hands back plain arrays and numbers;
* ``derive(inputs, raw)`` (judge, optional): turns what the sandbox handed back into the outputs
  that are compared (e.g. "did x stay unchanged", "does the trained net reach 100%"); it only ever
  sees plain data;
* ``reference(inputs)`` (judge): the same outputs from the reference implementation.

The judge compares derived and reference outputs with :func:`compare_outputs` at the case's
tolerances (``tol``, or ``tols`` per output; strings and booleans must match exactly).

Diagnostics: when an output is wrong, the message says which one and by how much; a case may add
what it usually means. ``suspects(inputs)`` gives, per output, known wrong values with the bug
that produces each (e.g. dgamma summed over the wrong axis); a wrong output that matches one is
named for that bug. Otherwise ``hints`` may say what the output should be.

Isolation: a test of F runs F with the *reference* versions of the graded functions F calls
(``oracles``), so one bug costs points once. Reference code never enters the sandbox: there, each
of those names is a stub that asks the judge to compute the reference result.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cs231kit.gradient_check import rel_error

Outputs = dict[str, Any]
# Known wrong values of some outputs: output name -> [(wrong value, the bug that gives it)].
Suspects = Mapping[str, Sequence[tuple[Any, str]]]


@dataclass(frozen=True)
class Case:
    """One grader-chosen test case of a graded function (see the module docstring)."""

    name: str
    make_inputs: Callable[[np.random.Generator], dict[str, Any]]
    call: str
    reference: Callable[[dict[str, Any]], Outputs]
    derive: Callable[[dict[str, Any], Any], Outputs] | None = None
    tol: float = 1e-7
    # Per-output tolerances that differ from ``tol`` (e.g. a numerically checked gradient).
    tols: Mapping[str, float] = field(default_factory=dict)
    runs: int = 3  # how many fresh inputs this case is tried on
    # Graded functions the student's code may call by name, answered by the reference.
    oracles: tuple[str, ...] = ()
    # What a wrong output usually means (see the module docstring): suspects are computed from
    # the inputs only when an output is wrong; hints are said when no suspect matches.
    suspects: Callable[[dict[str, Any]], Suspects] | None = None
    hints: Mapping[str, str] = field(default_factory=dict)


def case_rng(secret: int, test_id: str, case_index: int, run: int) -> np.random.Generator:
    """The generator of one run of one case: the grading run's secret plus where the run is."""
    where = (zlib.crc32(test_id.encode()), case_index, run)
    return np.random.default_rng(np.random.SeedSequence(secret, spawn_key=where))


def compare_outputs(
    label: str, case: Case, got: Any, want: Outputs, inputs: dict[str, Any] | None = None
) -> str | None:
    """None when ``got`` matches ``want``, else a message naming the first mismatch.

    Numeric outputs must be real numbers (booleans and integers count) with exactly the expected
    shape, all finite, within the tolerance in the course's relative error. With ``inputs``, a
    wrong output is explained by the case's suspects or hints (see the module docstring).
    """
    if not isinstance(got, dict):
        return f"{label}: handed back {type(got).__name__}, not the named outputs"
    for key, expected in want.items():
        if key not in got:
            return f"{label}: no output named {key!r} was returned"
        actual = got[key]
        if expected is None:
            continue
        if isinstance(expected, (bool, str)):
            same_kind = isinstance(actual, str) if isinstance(expected, str) else (
                isinstance(actual, (bool, np.bool_))
            )
            if not same_kind or actual != expected:
                message = f"{label}: {key} is {actual!r:.200}, expected {expected!r}"
                return message + _explain(case, inputs, key, None)
            continue
        problem = _numeric_problem(actual, np.asarray(expected))
        if problem:
            return f"{label}: {key} {problem}" + _explain(case, inputs, key, None)
        tol = case.tols.get(key, case.tol)
        if np.size(expected) == 0:
            continue
        err = rel_error(np.asarray(actual, dtype=np.float64), np.asarray(expected, np.float64))
        if err > tol:
            message = f"{label}: {key} is wrong (relative error {err:.2e} > tolerance {tol:.0e})"
            return message + _explain(case, inputs, key, actual)
    return None


def _explain(case: Case, inputs: dict[str, Any] | None, key: str, actual: Any) -> str:
    """"; <what it means>" for a wrong output ``key``, or "" when the case knows nothing."""
    if inputs is not None and case.suspects is not None and actual is not None:
        try:
            suspects = case.suspects(inputs).get(key, ())
            got = np.asarray(actual, dtype=np.float64)
            for wrong, bug in suspects:
                wrong = np.asarray(wrong, dtype=np.float64)
                if wrong.shape == got.shape and wrong.size and rel_error(got, wrong) <= max(
                    case.tols.get(key, case.tol), 1e-6
                ):
                    return f"; it is what you get when {bug}"
        except Exception:  # a suspect that cannot be computed for these inputs explains nothing
            pass
    hint = case.hints.get(key)
    return f"; {hint}" if hint else ""


def _numeric_problem(actual: Any, expected: np.ndarray) -> str | None:
    """Why ``actual`` cannot be compared with ``expected`` as numbers, or None."""
    try:
        array = np.asarray(actual)
    except (TypeError, ValueError):
        return f"is not numeric (got {type(actual).__name__})"
    if array.dtype.kind not in "biuf":
        what = type(actual).__name__ if array.dtype == object else f"of dtype {array.dtype}"
        return f"is not numeric (got {what})"
    if array.shape != expected.shape:
        return f"has shape {array.shape}, expected {expected.shape}"
    if not np.all(np.isfinite(array)):
        return "contains NaN or inf"
    return None


def run_label(case: Case, run: int) -> str:
    """How messages name one run of a case, e.g. "affine_backward, ... (run 2 of 3)"."""
    return case.name if case.runs == 1 else f"{case.name} (run {run + 1} of {case.runs})"
