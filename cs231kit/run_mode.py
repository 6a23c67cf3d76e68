"""Full runs versus short grading runs.

Training cells are slow. When the notebook is being graded (nbgrader, CI) they only need to show
that the code runs and learns, so they use a small budget:

    >>> num_epochs = budget(full=10, grading=1)
    >>> print(describe_mode())                                    # doctest: +SKIP
    cs231kit run mode: full (set CS231KIT_GRADING=1 for short grading-mode runs)

The mode comes from environment variables, checked in this order:

1. ``CS231KIT_FULL=1``: full mode (e.g. to reproduce a full run under CI); the pre-submission
   check (``cs231kit.submission``) does not pass it on to the notebooks it runs
2. ``NBGRADER_EXECUTION`` set (nbgrader sets it to "autograde" or "validate"): grading mode
3. ``CI`` set to a true value (CI services set ``CI=true``): grading mode
4. ``CS231KIT_GRADING=1``: grading mode
5. otherwise: full mode
"""

from __future__ import annotations

import os
from typing import TypeVar

T = TypeVar("T")

_FALSE_WORDS = {"", "0", "false", "no", "off"}


def grading_mode() -> bool:
    """True when the notebook runs under a grader or CI and should use short budgets.

    Returns a bool; see the module docstring for the environment variables and their order.
    """
    return _mode()[0]


def being_graded() -> bool:
    """True when a grader runs the notebook (nbgrader, or ``CS231KIT_GRADING=1``), unlike CI.

    Used by steps that only make sense for the student, such as the pre-submission check.
    """
    return bool(os.environ.get("NBGRADER_EXECUTION")) or _is_true("CS231KIT_GRADING")


def budget(full: T, grading: T) -> T:
    """The value for the current run mode.

    Inputs:
    - full: value for a normal run, e.g. the number of epochs (10)
    - grading: value for a grading run, e.g. 1

    Returns ``grading`` in grading mode, ``full`` otherwise.
    Example: ``num_epochs = budget(full=10, grading=1)``.
    """
    return grading if grading_mode() else full


def describe_mode() -> str:
    """One line saying which mode is active and why, for a notebook to print."""
    grading, reason = _mode()
    if grading:
        return (
            f"cs231kit run mode: grading, with short budgets ({reason}; set CS231KIT_FULL=1 "
            "for full runs)"
        )
    if reason:
        return f"cs231kit run mode: full ({reason})"
    return "cs231kit run mode: full (set CS231KIT_GRADING=1 for short grading-mode runs)"


def _mode() -> tuple[bool, str]:
    """(grading?, the environment variable that decided it, or "" for the default)."""
    if _is_true("CS231KIT_FULL"):
        return False, "CS231KIT_FULL is set"
    if os.environ.get("NBGRADER_EXECUTION"):
        return True, f"nbgrader is running: NBGRADER_EXECUTION={os.environ['NBGRADER_EXECUTION']}"
    if _is_true("CI"):
        return True, f"running under CI: CI={os.environ['CI']}"
    if _is_true("CS231KIT_GRADING"):
        return True, "CS231KIT_GRADING is set"
    return False, ""


def _is_true(variable: str) -> bool:
    """Whether an environment variable is set to something other than empty/0/false/no/off."""
    return os.environ.get(variable, "").strip().lower() not in _FALSE_WORDS
