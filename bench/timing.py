"""Timing and reporting shared by the benchmark scripts: medians of interleaved runs, JSON records.

Shared machines are noisy, so a benchmark runs the things it compares in turn (a, b, a, b, ...)
and keeps medians: both sides see the same background load, and a ratio is steadier than either
time.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Thread pools (OpenMP, OpenBLAS) keep spinning for a moment after a call, which would slow down
# whoever runs next: every timed run starts after the same short pause.
PAUSE_BETWEEN_RUNS_S = 0.02


def median_time(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> float:
    """Median wall time of fn() over ``repeats`` runs, after ``warmup`` untimed runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_median_times(
    fns: list[Callable[[], Any]], repeats: int, warmup: int = 2
) -> list[float]:
    """Median times of several functions, run in turn (a, b, a, b, ...) so they share the load."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, ts in zip(fns, times, strict=True):
            time.sleep(PAUSE_BETWEEN_RUNS_S)
            start = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - start)
    return [statistics.median(ts) for ts in times]


def write_records(records: list[dict[str, Any]], path: Path | None) -> None:
    """Write the records as JSON to ``path`` (nothing when it is None) and say so."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records, indent=2) + "\n")
    print(f"\nwrote {len(records)} records to {path}")
