"""Grading throughput: seconds per full submission (every notebook) with 1 and 2 workers.

Usage: python bench/grading.py [--submissions 4] [--jobs 1 2] [--json PATH]
                               [--baseline OTHER_CHECKOUT [--rounds 2]]

Each run grades the same N copies of the reference solutions from scratch (fresh grading folder,
so nothing is skipped) with ``autograder.grading.grade_all``, the path ``python -m autograder
grade`` takes: per submission, the notebook run in a sandboxed kernel and the sandboxed re-check,
both served by the judge. Plain ``nbgrader autograde`` is strictly serial, so the 1-worker row is
the nbgrader baseline plus our per-submission work.

``--baseline`` compares with another checkout of the project (e.g. an earlier commit, checked out
with ``git worktree add``): its own ``bench/grading.py`` and this one run one after the other, in
turns, ``--rounds`` times each with one worker, and the table gives the ratio of the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autograder import rubric  # noqa: E402
from autograder.course import ASSIGNMENT, SOURCE_DIR  # noqa: E402
from autograder.grading import GradingPaths, grade_all, prepare_template  # noqa: E402
from autograder.submissions import collect  # noqa: E402


def make_submissions(src: Path, count: int) -> None:
    for i in range(count):
        folder = src / f"student{i + 1:02d}"
        folder.mkdir(parents=True)
        for notebook in sorted((SOURCE_DIR / ASSIGNMENT).glob("*.ipynb")):
            shutil.copy2(notebook, folder / notebook.name)


def time_grading(src: Path, workdir: Path, jobs: int) -> tuple[float, list[str]]:
    paths = GradingPaths(workdir)
    collect(src, paths)
    prepare_template(paths)  # the one-off gradebook set-up is not per-submission work
    start = time.perf_counter()
    results = grade_all(paths, jobs=jobs, force=True)
    seconds = time.perf_counter() - start
    bad = [f"{s}: {r.status} {r.score:g} {r.reason}" for s, r in results.items()
           if r.status != "graded" or r.score != rubric.TOTAL]
    return seconds, bad


def seconds_per_submission(checkout: Path, submissions: int) -> float:
    """One-worker seconds per submission measured by ``checkout``'s own bench/grading.py."""
    with tempfile.TemporaryDirectory(prefix="cs231kit-bench-") as tmp:
        out = Path(tmp) / "records.json"
        subprocess.run(
            [sys.executable, str(checkout / "bench" / "grading.py"), "--submissions",
             str(submissions), "--jobs", "1", "--json", str(out)],
            cwd=checkout, check=True, stdout=subprocess.DEVNULL,
        )
        return float(json.loads(out.read_text())[0]["seconds_per_submission"])


def compare(baseline: Path, submissions: int, rounds: int) -> int:
    """Baseline and this checkout in turns; print both medians and their ratio."""
    here = Path(__file__).resolve().parent.parent
    times: dict[str, list[float]] = {"baseline": [], "this checkout": []}
    for round_number in range(rounds):
        for label, checkout in (("baseline", baseline), ("this checkout", here)):
            times[label].append(seconds_per_submission(checkout, submissions))
            print(f"round {round_number + 1}: {label}: {times[label][-1]:.1f} s/submission",
                  flush=True)
    base, ours = (statistics.median(times[k]) for k in ("baseline", "this checkout"))
    print(f"\n{'checkout':<15}{'s/submission (median)':>24}\n{'baseline':<15}{base:>24.1f}\n"
          f"{'this checkout':<15}{ours:>24.1f}\nratio (this / baseline): {ours / base:.2f}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=4)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--baseline", type=Path, default=None,
                        help="another checkout of the project to compare with (one worker)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if args.baseline:
        return compare(args.baseline.resolve(), args.submissions, args.rounds)

    python = platform.python_version()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {python}")
    records = []
    with tempfile.TemporaryDirectory(prefix="cs231kit-bench-") as tmp:
        src = Path(tmp) / "submissions"
        make_submissions(src, args.submissions)
        for jobs in args.jobs:
            seconds, bad = time_grading(src, Path(tmp) / f"grading-{jobs}", jobs)
            if bad:
                print("unexpected results:\n  " + "\n  ".join(bad))
                return 1
            records.append({"jobs": jobs, "submissions": args.submissions, "seconds": seconds,
                            "seconds_per_submission": seconds / args.submissions})

    base = records[0]["seconds"]
    header = ("jobs", "submissions", "seconds", "s/submission", "speed-up")
    print("\n{:>4}  {:>11}  {:>8}  {:>12}  {:>8}".format(*header))
    for r in records:
        print(f"{r['jobs']:>4}  {r['submissions']:>11}  {r['seconds']:>8.1f}  "
              f"{r['seconds_per_submission']:>12.1f}  {base / r['seconds']:>7.2f}x")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(records, indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
