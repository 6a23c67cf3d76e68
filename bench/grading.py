"""Grading throughput: seconds per full submission (every notebook), 1 and 2 workers, and
the Dask engine against the thread pool, measured in one run.

Usage: python bench/grading.py [--submissions 4] [--runs dask:1 dask:2 threads:2] [--repeat 2]
                               [--json PATH]
       python bench/grading.py [--submissions 4] [--engine dask] --jobs 1 2 [--json PATH]
                               [--baseline OTHER_CHECKOUT [--rounds 2]]

Each run grades the same N copies of the reference solutions from scratch (fresh grading folder,
so nothing is skipped) with ``autograder.grading.grade_all``, the path ``python -m autograder
grade`` takes: per submission, the notebook run in a sandboxed kernel and the sandboxed re-check,
both served by the judge. A run is ENGINE:JOBS: ``dask`` (a LocalCluster of JOBS worker
processes; its start-up, a few seconds, is part of the time, as it is for a TA) or ``threads``
(the thread pool). The template gradebook is prepared before the clock starts (a one-off). Plain
``nbgrader autograde`` is strictly serial, so a 1-worker row is the nbgrader baseline plus our
per-submission work.

The runs take turns, ``--repeat`` rounds of them, and the table gives each run's median, so
that load from elsewhere on a shared machine falls on every run alike. Beside the wall time it
gives the CPU time the run used (this process and every process it started: workers, nbgrader,
sandboxes), which other load hardly changes: the engines' overhead shows there.

``--baseline`` compares with another checkout of the project (e.g. an earlier commit, checked out
with ``git worktree add``): its own ``bench/grading.py`` and this one run one after the other, in
turns, ``--rounds`` times each with one worker, and the table gives the ratio of the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
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


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (and theirs)."""
    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                         resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def time_grading(src: Path, workdir: Path, jobs: int, engine: str = "dask"
                 ) -> tuple[float, list[str], float]:
    """(wall seconds, unexpected results, CPU seconds) of grading every submission in ``src``."""
    paths = GradingPaths(workdir, db_url="")
    collect(src, paths)
    prepare_template(paths)  # the one-off gradebook set-up is not per-submission work
    cpu = _cpu_seconds()
    start = time.perf_counter()
    results = grade_all(paths, jobs=jobs, force=True, engine=engine)
    seconds = time.perf_counter() - start
    cpu = _cpu_seconds() - cpu
    bad = [f"{s}: {r.status} {r.score:g} {r.reason}" for s, r in results.items()
           if r.status != "graded" or r.score != rubric.AUTO_TOTAL]
    return seconds, bad, cpu


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
    parser.add_argument("--runs", nargs="+", default=["dask:1", "dask:2", "threads:2"],
                        metavar="ENGINE:JOBS", help="runs, in order (default: %(default)s)")
    parser.add_argument("--jobs", type=int, nargs="+", default=None,
                        help="instead of --runs: these worker counts on --engine")
    parser.add_argument("--engine", default="dask", choices=["dask", "threads"])
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds of the runs, taken in turns; the table gives medians")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--baseline", type=Path, default=None,
                        help="another checkout of the project to compare with (one worker)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if args.baseline:
        return compare(args.baseline.resolve(), args.submissions, args.rounds)
    runs = ([(args.engine, j) for j in args.jobs] if args.jobs
            else [(r.split(":")[0], int(r.split(":")[1])) for r in args.runs])

    python = platform.python_version()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {python}; "
          f"{args.submissions} submissions, {args.repeat} round(s) of {len(runs)} runs",
          flush=True)
    measured: dict[tuple[str, int], list[tuple[float, float]]] = {run: [] for run in runs}
    with tempfile.TemporaryDirectory(prefix="cs231kit-bench-") as tmp:
        src = Path(tmp) / "submissions"
        make_submissions(src, args.submissions)
        for round_number in range(args.repeat):
            for engine, jobs in runs:
                workdir = Path(tmp) / f"grading-{engine}-{jobs}-{round_number}"
                seconds, bad, cpu = time_grading(src, workdir, jobs, engine)
                shutil.rmtree(workdir, ignore_errors=True)
                if bad:
                    print("unexpected results:\n  " + "\n  ".join(bad))
                    return 1
                print(f"round {round_number + 1}: {engine}, {jobs} worker(s): {seconds:.1f} s "
                      f"(CPU {cpu:.0f} s)", flush=True)
                measured[(engine, jobs)].append((seconds, cpu))

    records = []
    for (engine, jobs), times in measured.items():
        seconds = statistics.median(t for t, _ in times)
        cpu = statistics.median(c for _, c in times)
        records.append({"engine": engine, "jobs": jobs, "submissions": args.submissions,
                        "seconds": seconds, "seconds_per_submission": seconds / args.submissions,
                        "cpu_seconds_per_submission": cpu / args.submissions,
                        "rounds": [list(t) for t in times]})

    one = {r["engine"]: r["seconds"] for r in records if r["jobs"] == 1}
    header = ("engine", "jobs", "submissions", "seconds", "s/submission", "CPU s/subm.",
              "speed-up vs 1")
    print("\n{:<8}  {:>4}  {:>11}  {:>8}  {:>12}  {:>11}  {:>13}".format(*header))
    for r in records:
        base = one.get(r["engine"])
        speedup = f"{base / r['seconds']:.2f}x" if base else "-"
        print(f"{r['engine']:<8}  {r['jobs']:>4}  {r['submissions']:>11}  {r['seconds']:>8.1f}  "
              f"{r['seconds_per_submission']:>12.1f}  {r['cpu_seconds_per_submission']:>11.1f}  "
              f"{speedup:>13}")
    for jobs in sorted({r["jobs"] for r in records}):
        pair = {r["engine"]: r for r in records if r["jobs"] == jobs}
        if {"dask", "threads"} <= set(pair):
            wall = pair["dask"]["seconds"] / pair["threads"]["seconds"]
            cpu = (pair["dask"]["cpu_seconds_per_submission"]
                   / pair["threads"]["cpu_seconds_per_submission"])
            print(f"dask / threads, {jobs} worker(s): wall {wall:.3f}, CPU {cpu:.3f} "
                  "(below 1: Dask is faster)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(records, indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
