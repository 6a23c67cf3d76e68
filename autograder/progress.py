"""Progress of a grading batch a TA can watch: done/total, failures so far, time left.

On a terminal, a tqdm bar with a line per submission above it; elsewhere (CI, a log file), one
plain line per submission::

    [12/40] alice: graded 88 (31 s) — 1 failed so far, about 6m10s left

The time left is the pace of this run so far (wall time per submission graded, so parallel workers
count) times the submissions still to grade; skipped and missing ones take no time and do not
count towards the pace.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import IO, Any

from autograder.grading import FAILED, MISSING, SubmissionResult


def duration(seconds: float) -> str:
    """``6m10s``, ``1h02m``, ``45s``."""
    seconds = max(0, int(round(seconds)))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


def outcome_text(result: SubmissionResult, skipped: bool) -> str:
    """``alice: graded 88 (31 s)``, with the reason and flags when there are any."""
    what = "unchanged, skipped" if skipped else f"{result.seconds:.0f} s"
    text = f"{result.student}: {result.status} {result.score:g} ({what})"
    if result.reason:
        text += f" [{result.reason}]"
    if result.flags:
        text += f" [{len(result.flags)} flag(s) to review]"
    return text


class Progress:
    """A ``report`` for :func:`autograder.grading.grade_all` that shows the batch's progress."""

    def __init__(self, stream: IO[str] | None = None, tty: bool | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty() if tty is None else tty
        self.total = self.to_grade = self.done = self.graded = self.failed = 0
        self.paced = 0  # graded in this run, missing ones left out (they take no time)
        self.started = clock()
        self.bar: Any = None

    def start(self, total: int, to_grade: int) -> None:
        self.total, self.to_grade = total, to_grade
        self.started = self.clock()
        skipped = total - to_grade
        self._print(f"{total} submission(s): {to_grade} to grade"
                    + (f", {skipped} unchanged (skipped)" if skipped else ""))
        if self.tty and to_grade:
            from tqdm import tqdm

            self.bar = tqdm(total=to_grade, unit="submission", file=self.stream,
                            dynamic_ncols=True, desc="grading")

    def note(self, text: str) -> None:
        self._print(text)

    def _print(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def left(self) -> str:
        """``about 6m10s left`` from this run's pace, or "" before the first graded one."""
        remaining = self.to_grade - self.graded
        if not self.paced or not remaining:
            return ""
        pace = (self.clock() - self.started) / self.paced
        return f"about {duration(pace * remaining)} left"

    def __call__(self, result: SubmissionResult, skipped: bool) -> None:
        self.done += 1
        self.failed += result.status == FAILED
        if not skipped:
            self.graded += 1
            self.paced += result.status != MISSING
        if self.bar is not None:
            if not skipped:
                self.bar.update(1)
                self.bar.set_postfix(failed=self.failed, refresh=True)
            self.bar.write(f"  {outcome_text(result, skipped)}", file=self.stream)
            return
        summary = [f"{self.failed} failed so far", self.left()]
        print(f"[{self.done}/{self.total}] {outcome_text(result, skipped)} — "
              f"{', '.join(filter(None, summary))}", file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
