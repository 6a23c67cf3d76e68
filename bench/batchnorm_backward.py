"""CPU benchmark of notebook 06's two batch-norm backward passes: staged against closed form.

The staged pass walks the computational graph node by node and materialises every node's
gradient (``autograder.judge.reference.normalization.batchnorm_backward``); the closed form
(``batchnorm_backward_alt``) needs two sums over the batch and a few elementwise operations. Both
get the same cache of one forward pass. Shapes: a hidden layer of the notebook's nets (N 50,
D 100), two wider layers, and the (N*H*W, C) matrix spatial batch norm gives a conv layer's
output (50 images of 32x32 with 32 channels). float64 and float32.

Every time is the median of several runs after warm-up runs, the two passes alternating (staged,
closed, staged, ...) so that both see the same background load; ratio = staged_s / closed_s (the
speed-up of the closed form; the notebook claims at least 2x). Before timing, the two are checked
to agree: the largest difference, relative to the largest gradient entry, below 1e-10 (float64) or
1e-4 (float32).

Run from the repository root:

    python bench/batchnorm_backward.py [--json results.json] [--repeats 15]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np

# Run from a checkout: the references live with the grader (students write their own).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from timing import interleaved_median_times, write_records  # noqa: E402

from autograder.judge.reference.normalization import (  # noqa: E402
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
)

# (name, N, D): the rows are the examples (or, for spatial batch norm, the positions).
CASES = [
    ("hidden layer N50 D100", 50, 100),
    ("wide layer N256 D1024", 256, 1024),
    ("large batch N4096 D1024", 4096, 1024),
    ("spatial 50x32x32x32 as (51200, 32)", 50 * 32 * 32, 32),
]
TARGET_SPEEDUP = 2.0
Record = dict[str, Any]


def bench(repeats: int) -> list[Record]:
    records = []
    for name, N, D in CASES:
        for dtype in (np.float64, np.float32):
            rng = np.random.default_rng(0)
            x = (3 + 2 * rng.standard_normal((N, D))).astype(dtype)
            gamma, beta = rng.standard_normal(D).astype(dtype), rng.standard_normal(D).astype(dtype)
            dout = rng.standard_normal((N, D)).astype(dtype)
            _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
            staged, closed = batchnorm_backward(dout, cache), batchnorm_backward_alt(dout, cache)
            # Largest difference relative to the largest gradient entry (an entry near 0 has no
            # relative precision in float32, so the course's elementwise rel_error is no bar here).
            agree = max(float(np.max(np.abs(a - b)) / np.max(np.abs(b)))
                        for a, b in zip(staged, closed, strict=True))
            tol = 1e-10 if dtype == np.float64 else 1e-4
            if not agree <= tol:
                raise SystemExit(f"{name} {np.dtype(dtype).name}: the two backward passes "
                                 f"disagree (relative error {agree:.1e})")
            staged_s, closed_s = interleaved_median_times(
                [lambda dout=dout, cache=cache: batchnorm_backward(dout, cache),
                 lambda dout=dout, cache=cache: batchnorm_backward_alt(dout, cache)], repeats)
            records.append({"case": name, "dtype": np.dtype(dtype).name, "staged_s": staged_s,
                            "closed_s": closed_s, "ratio": staged_s / closed_s,
                            "max_rel_difference": agree})
            print(f"  {name:<36} {np.dtype(dtype).name:<8} done", flush=True)
    return records


def print_table(records: list[Record]) -> None:
    print(f"{'case':<36} {'dtype':<8} {'staged (ms)':>12} {'closed (ms)':>12} "
          f"{'speed-up':>9}  {'difference':>12}")
    for r in records:
        print(f"{r['case']:<36} {r['dtype']:<8} {1e3 * r['staged_s']:12.3f} "
              f"{1e3 * r['closed_s']:12.3f} {r['ratio']:8.2f}x  {r['max_rel_difference']:12.1e}")
    worst = min(r["ratio"] for r in records)
    verdict = "met" if worst >= TARGET_SPEEDUP else "NOT met"
    print(f"smallest speed-up of the closed form: {worst:.2f}x (target at least "
          f"{TARGET_SPEEDUP:g}x: {verdict})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="write the records to this JSON file")
    parser.add_argument("--repeats", type=int, default=15, help="timed runs of each pass")
    args = parser.parse_args(argv)
    print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; "
          f"NumPy {np.__version__}")
    records = bench(args.repeats)
    print()
    print_table(records)
    write_records(records, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
