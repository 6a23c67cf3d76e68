"""Grade the collected submissions, in parallel, each in its own sandbox; the judge decides.

One failing or runaway submission never stops the batch; unchanged submissions are skipped unless
--force. Every submission ends graded, failed-to-grade (with the reason) or missing, and any
flags for a TA are listed with it.

The tasks run on Dask: a local cluster of --jobs worker processes, or an existing cluster
(--scheduler tcp://host:8786, e.g. on SLURM or Kubernetes). The gradebook is grading/gradebook.db
or any database nbgrader accepts (--db postgresql+psycopg://user@host/db for several graders at
once). Interrupted (Ctrl-C, or SIGTERM from a batch system), run the same command again: what was
recorded is skipped.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading

from autograder.engine import ENGINES, EngineUnavailable, WorkerUnfit
from autograder.gradebook import GradebookUnavailable, redact
from autograder.grading import POINTS_RULE, GradingPaths, grade_all
from autograder.progress import Progress
from autograder.sandbox.bubblewrap import UNPROTECTED, SandboxUnavailable
from autograder.sandbox.limits import Limits

DEFAULTS = Limits()


def add_db_argument(parser: argparse.ArgumentParser) -> None:
    """``--db URL``: grade, export and feedback read the same gradebook."""
    parser.add_argument(
        "--db", metavar="URL", default=None,
        help="the course gradebook as an SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db "
             "for several graders at once (default: $CS231KIT_DB_URL, else "
             "sqlite:///grading/gradebook.db)",
    )


def grading_paths(args: argparse.Namespace) -> GradingPaths:
    """The grading folder, with the gradebook ``--db`` names."""
    return GradingPaths() if args.db is None else GradingPaths(db_url=args.db)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        f"Limits in force unless set here: {DEFAULTS.describe()}. {POINTS_RULE} "
        "Regrade one student: --student ID --force, with the limit it hit raised; the report "
        "gives the command for each failed-to-grade submission."
    )
    parser.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=os.cpu_count() or 1,
        help="parallel workers (default: the number of CPUs)",
    )
    parser.add_argument("--force", action="store_true", help="regrade unchanged submissions too")
    parser.add_argument(
        "--engine", choices=ENGINES, default="dask",
        help="dask: one task per submission on Dask distributed (default); threads: a thread "
             "pool in this process (no Dask needed)",
    )
    parser.add_argument(
        "--scheduler", metavar="ADDRESS", default=None,
        help="grade on the existing Dask cluster whose scheduler is at ADDRESS "
             "(tcp://host:8786) instead of a local cluster of --jobs workers",
    )
    add_db_argument(parser)
    parser.add_argument(
        "--max-tries", type=int, default=3,
        help="tries per submission on workers that die under it (killed, out of memory) before "
             "it is failed-to-grade (default %(default)s)",
    )
    parser.add_argument("--student", action="append", help="grade only this student (repeatable)")
    limits = parser.add_argument_group("limits per submission")
    limits.add_argument(
        "--cell-timeout",
        type=int,
        default=DEFAULTS.cell_timeout_s,
        help="seconds one notebook cell may run (default %(default)s)",
    )
    limits.add_argument(
        "--notebook-timeout",
        type=int,
        default=DEFAULTS.notebook_timeout_s,
        help="seconds one notebook may take on average (default %(default)s)",
    )
    limits.add_argument(
        "--test-timeout",
        type=int,
        default=DEFAULTS.test_timeout_s,
        help="seconds one hidden test may take in the sandboxed re-check (default %(default)s)",
    )
    limits.add_argument(
        "--memory-mb",
        type=int,
        default=DEFAULTS.memory_mb,
        help="memory of each sandboxed process in MB (default %(default)s)",
    )
    limits.add_argument(
        "--max-file-mb",
        type=int,
        default=DEFAULTS.max_file_mb,
        help="largest file a submission may write (default %(default)s)",
    )
    limits.add_argument(
        "--max-processes",
        type=int,
        default=DEFAULTS.max_processes,
        help="processes and threads in one sandbox (default %(default)s)",
    )
    parser.add_argument(
        "--unsafe-no-sandbox",
        action="store_true",
        help="grade without bubblewrap (only where it cannot run); every grade is marked",
    )


def limits_from(args: argparse.Namespace) -> Limits:
    return Limits(
        cell_timeout_s=args.cell_timeout,
        notebook_timeout_s=args.notebook_timeout,
        test_timeout_s=args.test_timeout,
        memory_mb=args.memory_mb,
        max_file_mb=args.max_file_mb,
        max_processes=args.max_processes,
    )


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # a batch system stopping the job: stop as on Ctrl-C


def run(args: argparse.Namespace) -> int:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop_on_sigterm)
    if args.unsafe_no_sandbox:
        print(f"WARNING: grading without a sandbox. {UNPROTECTED}", flush=True)
    paths = grading_paths(args)
    progress = Progress()
    try:
        results = grade_all(
            paths,
            jobs=args.jobs,
            force=args.force,
            limits=limits_from(args),
            students=args.student,
            report=progress,
            sandboxed=not args.unsafe_no_sandbox,
            engine=args.engine,
            scheduler=args.scheduler,
            max_tries=args.max_tries,
        )
    except KeyboardInterrupt:
        progress.close()
        print(f"\ninterrupted: {progress.done} of {progress.total} submission(s) recorded. Run the "
              "same command again to resume: recorded submissions are skipped, the others "
              "graded.", flush=True)
        return 130
    except SandboxUnavailable as exc:
        progress.close()
        print(f"grade refused: {exc}\n\n{UNPROTECTED}\n\nTo grade anyway, without protection, "
              "run again with --unsafe-no-sandbox; every grade is then marked unsandboxed.")
        return 2
    except (GradebookUnavailable, EngineUnavailable, WorkerUnfit) as exc:
        progress.close()
        print(f"grade failed: {exc}\nNothing more was written; fix this and run the same "
              "command again.", flush=True)
        return 3
    except (FileNotFoundError, ValueError) as exc:
        progress.close()
        print(f"grade failed: {exc}")
        return 1
    progress.close()
    failed = progress.failed
    print(f"graded {len(results)} submission(s)" + (f", {failed} failed to grade" if failed
                                                  else "")
          + f"; results in {paths.results}, gradebook {redact(paths.course_db)}")
    return 0
