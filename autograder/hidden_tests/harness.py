"""The machinery every hidden test uses.

A hidden check of a graded function is a list of :class:`Case` objects. Each case says

* ``make_inputs(rng)``: the grader-chosen inputs (randomised shapes and values, edge cases);
* ``call(student, inputs)``: how to call the student's code on them, returning plain arrays/floats;
* ``reference(inputs)``: the same outputs from the reference implementation;
* ``tol``/``tols``: the relative-error tolerance each output is compared with
  (:func:`compare_outputs`; strings and booleans must match exactly).

Keeping these apart lets the same case run in two places: inside the student's kernel (nbgrader's
hidden test cell calls :func:`run_cases`) and split across processes by the trusted re-check, where
``call`` runs in the sandbox and ``reference``/``compare`` run in a process that never runs student
code.

Isolation: a test of F runs F with the *reference* versions of the graded functions F calls
(:func:`substituted`), so one bug costs points once.
"""

from __future__ import annotations

import contextlib
import copy
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Outputs = dict[str, Any]


def rel_error(x: Any, y: Any) -> float:
    """max |x - y| / max(1e-8, |x| + |y|), elementwise; the course's one definition."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.size == 0 and y.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


class CheckFailure(AssertionError):
    """A hidden check found a wrong answer; the message says what and where."""


@dataclass
class Case:
    """One grader-chosen test case of a graded function (see the module docstring)."""

    name: str
    make_inputs: Callable[[np.random.Generator], dict[str, Any]]
    call: Callable[[Any, dict[str, Any]], Outputs]
    reference: Callable[[dict[str, Any]], Outputs]
    tol: float = 1e-7
    # Per-output tolerances that differ from ``tol`` (e.g. a numerically checked gradient).
    tols: Mapping[str, float] = field(default_factory=dict)
    seeds: Sequence[int] = (0, 1, 2)


def compare_outputs(case: Case, seed: int, got: Outputs, want: Outputs) -> str | None:
    """Return None when ``got`` matches ``want``, else a message naming the first mismatch."""
    for key, expected in want.items():
        if key not in got:
            return f"{case.name} (seed {seed}): no output named {key!r} was returned"
        actual = got[key]
        if expected is None:
            continue
        if isinstance(expected, (bool, str)) or expected is None:
            if actual != expected:
                return f"{case.name} (seed {seed}): {key} is {actual!r}, expected {expected!r}"
            continue
        exp = np.asarray(expected)
        try:
            act = np.asarray(actual, dtype=np.float64)
        except (TypeError, ValueError):
            return f"{case.name} (seed {seed}): {key} is not numeric (got {type(actual).__name__})"
        if act.shape != exp.shape:
            return f"{case.name} (seed {seed}): {key} has shape {act.shape}, expected {exp.shape}"
        if not np.all(np.isfinite(act)):
            return f"{case.name} (seed {seed}): {key} contains NaN or inf"
        tol = case.tols.get(key, case.tol)
        err = rel_error(act, exp)
        if err > tol:
            return (
                f"{case.name} (seed {seed}): {key} is wrong "
                f"(relative error {err:.2e} > tolerance {tol:.0e})"
            )
    return None


def run_case(case: Case, student: Any, seed: int) -> str | None:
    """Run one case for one seed in this process; return a failure message or None."""
    rng = np.random.default_rng(seed)
    inputs = case.make_inputs(rng)
    want = case.reference(copy.deepcopy(inputs))
    try:
        got = case.call(student, copy.deepcopy(inputs))
    except NotImplementedError:
        return f"{case.name}: not implemented yet (the function raised NotImplementedError)"
    except Exception as exc:  # a crash is a failed check, reported with its type
        return f"{case.name} (seed {seed}): raised {type(exc).__name__}: {exc}"
    return compare_outputs(case, seed, got, want)


def run_cases(cases: Sequence[Case], student: Any) -> None:
    """Run every case on every seed; raise CheckFailure listing what failed.

    This is what a hidden test cell calls. It prints nothing on success, so the cell's only
    output is an error when something is wrong.
    """
    failures = []
    for case in cases:
        for seed in case.seeds:
            msg = run_case(case, student, seed)
            if msg is not None:
                failures.append(msg)
                break  # one message per case is enough
    if failures:
        raise CheckFailure("\n".join(failures))


def _globals_of(obj: Any) -> dict[str, Any]:
    """The module namespace a student function (or a class's methods) looks names up in."""
    if isinstance(obj, types.FunctionType):
        return obj.__globals__
    if isinstance(obj, type):
        for value in vars(obj).values():
            func = getattr(value, "__func__", value)
            if isinstance(func, types.FunctionType):
                return func.__globals__
    raise TypeError(f"cannot find the namespace of {obj!r}: expected a function or a class")


_MISSING = object()


@contextlib.contextmanager
def substituted(student: Any, **replacements: Any) -> Iterator[None]:
    """Run ``student`` with reference versions of the graded functions it calls.

    Student code looks its helpers up by name in its module's globals (the notebook's namespace),
    so we swap those names for the duration of the block and always restore them.
    """
    namespace = _globals_of(student)
    saved = {name: namespace.get(name, _MISSING) for name in replacements}
    namespace.update(replacements)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is _MISSING:
                namespace.pop(name, None)
            else:
                namespace[name] = value
