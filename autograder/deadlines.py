"""Deadlines and late penalties, from ``course.yml``.

The rule, for a submission handed in ``t`` after the deadline (its time comes from the LMS, see
``collect``): within ``grace_minutes`` it is on time; otherwise it is late by ``days`` = t in days,
rounded up (a part of a day counts as a day), and loses ``percent_per_day`` × days percent of its
points (judge's and written answers' alike), all of them after ``max_days``. Like nbgrader's
late-submission plugins, the penalty is stored in the gradebook per notebook
(``SubmittedNotebook.late_submission_penalty``); grades.csv, the report, the feedback and the
LMS upload files show it and subtract it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from autograder.course import ASSIGNMENT, ROOT

CONFIG = ROOT / "course.yml"


class PolicyError(ValueError):
    """``course.yml`` cannot be used; the message says what to change."""


@dataclass(frozen=True)
class Lateness:
    """How late one submission is, and what that costs."""

    seconds: float = 0.0  # after the deadline and its grace (0: on time)
    days: int = 0  # charged: whole days, rounded up
    fraction: float = 0.0  # of the points taken away, 0 to 1

    def describe(self) -> str:
        if not self.seconds:
            return ""
        hours = self.seconds / 3600
        late = f"{hours:.1f} h late" if hours < 48 else f"{hours / 24:.1f} days late"
        return f"{late}: -{100 * self.fraction:g}%"


@dataclass(frozen=True)
class LatePolicy:
    """One assignment's deadline and penalty rule (no deadline: nothing is late)."""

    deadline: datetime | None = None
    grace_minutes: float = 0.0
    percent_per_day: float = 0.0
    max_days: float | None = None

    def lateness(self, submitted_at: str) -> Lateness:
        """How late a submission handed in at ``submitted_at`` (ISO 8601) is."""
        if self.deadline is None or not submitted_at:
            return Lateness()
        when = _aware(datetime.fromisoformat(submitted_at))
        seconds = (when - self.deadline).total_seconds() - 60 * self.grace_minutes
        if seconds <= 0:
            return Lateness()
        days = math.ceil(seconds / 86400)
        too_late = self.max_days is not None and days > self.max_days
        fraction = 1.0 if too_late else min(1.0, days * self.percent_per_day / 100)
        return Lateness(seconds, days, fraction)

    def describe(self) -> str:
        if self.deadline is None:
            return "No deadline is set (course.yml): nothing is late."
        cutoff = "" if self.max_days is None else f"; 0 points after {self.max_days:g} days"
        return (f"Deadline {self.deadline.isoformat()} (grace {self.grace_minutes:g} min); "
                f"-{self.percent_per_day:g}% per day or part of a day late{cutoff}.")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise PolicyError(f"{CONFIG.name}: {what} must be a number >= 0, not {value!r}")
    return float(value)


def load_policy(path: Path = CONFIG, assignment: str = ASSIGNMENT) -> LatePolicy:
    """The late policy of ``assignment`` in ``path`` (none there: no deadline)."""
    import yaml

    if not path.exists():
        return LatePolicy()
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path.name} is not valid YAML: {exc}") from exc
    settings = config.get(assignment) if isinstance(config, dict) else None
    if not settings:
        return LatePolicy()
    deadline = settings.get("deadline")
    if isinstance(deadline, str):
        try:
            deadline = datetime.fromisoformat(deadline)
        except ValueError as exc:
            raise PolicyError(f"{path.name}: {assignment}.deadline {deadline!r} is not an ISO "
                              "8601 time such as 2026-12-18T23:59:00-08:00") from exc
    if deadline is not None and not isinstance(deadline, datetime):
        raise PolicyError(f"{path.name}: {assignment}.deadline must be a date and time, such as "
                          f"2026-12-18T23:59:00-08:00, not {deadline!r}")
    if isinstance(deadline, datetime) and deadline.tzinfo is None:
        raise PolicyError(f"{path.name}: {assignment}.deadline needs its UTC offset (e.g. "
                          "2026-12-18T23:59:00-08:00): without it, 'late' depends on the machine")
    rule = settings.get("late_penalty") or {}
    max_days = rule.get("max_days")
    return LatePolicy(
        deadline=deadline,
        grace_minutes=_number(rule.get("grace_minutes", 0), f"{assignment}.grace_minutes"),
        percent_per_day=_number(rule.get("percent_per_day", 0), f"{assignment}.percent_per_day"),
        max_days=None if max_days is None else _number(max_days, f"{assignment}.max_days"),
    )
