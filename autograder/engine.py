"""Where grading tasks run: Dask distributed (the default) or a thread pool in this process.

One task grades one submission. The engine runs as many tasks at once as it has workers, and
hands the next one out only as a slot frees, so an interrupted batch leaves little behind and a
worker that dies takes at most its own task with it. Each finished task comes back to the caller
(the trusted client, :func:`autograder.grading.grade_all`), which alone writes results, autograded
notebooks and the gradebook.

* ``dask`` (:class:`DaskEngine`): by default a ``LocalCluster`` of ``jobs`` worker processes on
  this machine (one thread each, scheduler on tcp://127.0.0.1); or an existing cluster by its
  scheduler's address (SLURM, Kubernetes: see the README). No shared filesystem is assumed: a
  task carries the submission's files and the grader's template (release notebooks and template
  gradebook) as bytes, grades in a private temporary folder on the worker (:func:`grade_job`) and
  returns the result with the autograded notebooks' bytes. A worker that dies mid-task (killed,
  out of memory) is replaced by its nanny and the task runs again elsewhere, up to ``max_tries``
  times in all (Dask's ``distributed.scheduler.allowed-failures``); then the submission is
  failed-to-grade with the reason and the batch goes on.
* ``threads`` (:class:`ThreadsEngine`): the earlier local pool, grading in ``grading/work/``.

A worker grades only with the grader code the client has (same digest) and only with a working
sandbox: otherwise it refuses (:class:`WorkerUnfit`) and the batch stops, as nothing it graded
could be trusted.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import queue
import signal
import socket
import tempfile
import threading
import time
import uuid
import warnings
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any

from autograder.course import CourseDirs
from autograder.grading import GradingPaths, SubmissionResult, grade_one, grader_digest
from autograder.sandbox.limits import Limits

ENGINES = ("dask", "threads")
SCHEDULER_TIMEOUT_S = 8
DASHBOARD = "127.0.0.1:8787"  # the usual port; another one when it is taken
# Test hook, read from the worker's environment (set only by whoever starts the grader, never
# reachable from a submission, whose sandbox has an empty environment and no view of the worker):
# the worker process exits at once when asked to grade one of these (comma-separated) students.
KILL_WORKER_FOR = "CS231KIT_TEST_KILL_WORKER_FOR"


class EngineUnavailable(RuntimeError):
    """The engine cannot start or its scheduler cannot be reached; the message says why."""


class WorkerUnfit(RuntimeError):
    """A worker cannot grade here (other grader code, no sandbox): a set-up problem, not the
    submission's. The batch stops."""


@dataclass(frozen=True)
class Template:
    """What a worker needs besides the submission: the release notebooks and the template
    gradebook (the assignment and nothing else), as bytes."""

    gradebook: bytes
    release: dict[str, bytes]

    @classmethod
    def read(cls, template_dir: Path, template_db: Path) -> Template:
        release = template_dir / "release"
        return cls(template_db.read_bytes(), _read_tree(release))

    def unpack(self, template_dir: Path) -> Path:
        """Write it under ``template_dir`` (as :func:`prepare_template` lays it out); return the
        template gradebook's path."""
        _write_tree(template_dir / "release", self.release)
        db = template_dir / "gradebook.db"
        db.write_bytes(self.gradebook)
        return db


@dataclass(frozen=True)
class Job:
    """One submission to grade: its collected folder's files (``a2/*.ipynb``, ``timestamp.txt``)
    as bytes, the limits, and the grader's digest a worker must match."""

    student: str
    files: dict[str, bytes]
    limits: Limits
    sandboxed: bool
    grader: str


@dataclass
class Graded:
    """A task's answer: the result, the autograded notebooks (path under
    ``autograded/<student>/`` -> bytes) and the grading logs (name -> bytes, for
    ``grading/work/<student>/``; empty when grading happened there)."""

    result: SubmissionResult
    autograded: dict[str, bytes] = field(default_factory=dict)
    logs: dict[str, bytes] = field(default_factory=dict)
    worker: str = ""


def _read_tree(folder: Path) -> dict[str, bytes]:
    if not folder.is_dir():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _write_tree(folder: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        target = (folder / name).resolve()
        if not target.is_relative_to(folder.resolve()):
            raise ValueError(f"refusing to write {name!r} outside {folder}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def submission_files(paths: GradingPaths, student: str) -> dict[str, bytes]:
    """The collected submission of ``student`` (the folder ``grading/submitted/<student>/``)."""
    return _read_tree(paths.submitted / student)


def autograded_files(work: Path, student: str) -> dict[str, bytes]:
    """The autograded notebooks a grading workspace (``work/<student>``) holds."""
    return _read_tree(CourseDirs.under(work / student).autograded / student)


# --- the task, on a worker ------------------------------------------------------------------


@functools.cache
def _worker_grader() -> str:
    return grader_digest()


@functools.cache
def _worker_sandbox_problem() -> str | None:
    from autograder.sandbox.bubblewrap import preflight

    return preflight()


def grade_job(job: Job, template: Template) -> Graded:
    """Grade one submission in a private temporary folder (runs on a Dask worker)."""
    host = socket.gethostname()
    if _worker_grader() != job.grader:
        raise WorkerUnfit(
            f"the worker on {host} has other grader code than the client (a different checkout "
            "or commit): start the workers from the same checkout as `grade`"
        )
    if job.sandboxed and _worker_sandbox_problem():
        raise WorkerUnfit(f"the worker on {host} cannot sandbox: {_worker_sandbox_problem()}")
    if job.student in os.environ.get(KILL_WORKER_FOR, "").split(","):
        os._exit(70)
    with tempfile.TemporaryDirectory(prefix="cs231kit-task-") as tmp:
        os.chmod(tmp, 0o755)
        paths = GradingPaths(Path(tmp) / "grading", db_url="")
        template_db = template.unpack(paths.template)
        _write_tree(paths.submitted / job.student, job.files)
        result = grade_one(job.student, paths, template_db, job.limits, sandboxed=job.sandboxed)
        return Graded(result, autograded_files(paths.work, job.student),
                      logs=_logs(paths.work / job.student), worker=host)


LOG_LIMIT = 2**20  # the end of each log is what tells why


def _logs(folder: Path) -> dict[str, bytes]:
    logs = {}
    for name in ("nbgrader.log", "worker.log"):
        if (folder / name).is_file():
            data = (folder / name).read_bytes()
            logs[name] = data[-LOG_LIMIT:]
    return logs


# --- the engines, in the client ---------------------------------------------------------------

# What an engine yields per submission: the job and its Graded, or the exception that ended it.
Outcome = tuple[Job, "Graded | BaseException"]


class ThreadsEngine:
    """``jobs`` threads in this process, grading in ``paths.work`` (as before Dask)."""

    def __init__(self, jobs: int, paths: GradingPaths) -> None:
        self.jobs = jobs
        self.paths = paths
        self.description = f"{jobs} thread(s) in this process"
        self.dashboard = ""

    def __enter__(self) -> ThreadsEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def slots(self) -> int:
        return self.jobs

    def run(self, students: list[str], make_job: Callable[[str], Job],
            template_db: Path) -> Generator[Outcome, None, None]:
        done: queue.Queue[Outcome] = queue.Queue()
        pending = deque(students)
        running = 0

        def work(job: Job) -> None:
            try:
                result = grade_one(job.student, self.paths, template_db, job.limits,
                                   sandboxed=job.sandboxed)
                done.put((job, Graded(result, autograded_files(self.paths.work, job.student))))
            except BaseException as exc:  # handed to the caller, which reports it
                done.put((job, exc))

        while pending or running:
            while pending and running < self.jobs:
                # Daemon threads: an interrupted batch exits without waiting for them, and the
                # sandboxes they started die with this process.
                threading.Thread(target=work, args=(make_job(pending.popleft()),),
                                 daemon=True).start()
                running += 1
            while True:
                try:
                    outcome = done.get(timeout=0.5)
                    break
                except queue.Empty:
                    continue
            running -= 1
            yield outcome


class DaskEngine:
    """Dask distributed: a LocalCluster of ``jobs`` worker processes, or the cluster at
    ``scheduler``."""

    def __init__(self, jobs: int, scheduler: str | None = None, max_tries: int = 3) -> None:
        self.jobs = jobs
        self.scheduler = scheduler
        self.max_tries = max_tries
        self.cluster: Any = None
        self.client: Any = None
        self.description = ""
        self.dashboard = ""
        self._config: Any = None

    def __enter__(self) -> DaskEngine:
        try:
            import dask
            import distributed
        except ModuleNotFoundError as exc:
            raise EngineUnavailable(
                f"Dask is not installed ({exc}): pip install -e '.[grader]', or grade with "
                "--engine threads"
            ) from exc
        self._config = dask.config.set({
            # a submission gets max_tries attempts on workers that die under it
            "distributed.scheduler.allowed-failures": self.max_tries - 1,
            # one task per worker thread, no more queued on a worker
            "distributed.scheduler.worker-saturation": 1.0,
        })
        self._config.__enter__()
        try:
            if self.scheduler:
                self._connect(distributed)
            else:
                self._start_local(distributed)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _connect(self, distributed: object) -> None:
        from distributed import Client

        try:
            self.client = Client(self.scheduler, timeout=SCHEDULER_TIMEOUT_S,
                                 set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise EngineUnavailable(
                f"cannot reach the Dask scheduler at {self.scheduler} within "
                f"{SCHEDULER_TIMEOUT_S} s ({type(exc).__name__}: {' '.join(str(exc).split())})"
                ": is it running, and is the address right (tcp://host:8786)?"
            ) from exc
        workers = len(self.client.scheduler_info()["workers"])
        self.description = f"Dask cluster at {self.scheduler} ({workers} worker(s) now)"
        self.dashboard = self.client.dashboard_link or ""

    def _start_local(self, distributed: object) -> None:
        from distributed import Client, LocalCluster

        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*[Pp]ort.*already in use.*")
                self.cluster = LocalCluster(
                    n_workers=self.jobs, threads_per_worker=1, processes=True,
                    host="127.0.0.1", protocol="tcp", scheduler_port=0,
                    dashboard_address=DASHBOARD, memory_limit=0,
                    silence_logs=logging.CRITICAL,
                )
            self.client = Client(self.cluster, set_as_default=False)
        except (OSError, TimeoutError, RuntimeError) as exc:
            raise EngineUnavailable(f"the local Dask cluster did not start: {exc}") from exc
        self.description = (f"Dask LocalCluster: {self.jobs} worker process(es), scheduler "
                            f"{self.cluster.scheduler_address}")
        self.dashboard = self.client.dashboard_link or ""

    def __exit__(self, exc_type: type[BaseException] | None = None,
                 exc: BaseException | None = None, tb: TracebackType | None = None) -> None:
        try:
            if self.client is not None:
                self.client.close(timeout=10)
            if self.cluster is not None:
                if exc_type is not None:  # interrupted (Ctrl-C, SIGTERM) or failed
                    self._kill_local_workers()
                self.cluster.close(timeout=20)
        except Exception:  # closing is best effort; the worker processes die with us anyway
            pass
        finally:
            self.client = self.cluster = None
            if self._config is not None:
                self._config.__exit__(None, None, None)
                self._config = None

    def _kill_local_workers(self) -> None:
        """Kill the local worker processes now, so the sandboxes they run die with them at once
        (they are started with kill-on-parent-death). A graceful close waits for the submissions
        being graded; a stopped grader must not leave them running."""
        for nanny in list(self.cluster.workers.values()):
            pid = getattr(nanny, "pid", None)
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def slots(self) -> int:
        """Worker threads alive now (at least 1: tasks wait for workers that are starting)."""
        assert self.client is not None
        workers = self.client.scheduler_info()["workers"].values()
        return max(1, sum(w.get("nthreads", 1) for w in workers))

    def run(self, students: list[str], make_job: Callable[[str], Job],
            template_db: Path) -> Generator[Outcome, None, None]:
        from distributed import KilledWorker, as_completed

        assert self.client is not None
        client = self.client
        template = Template.read(template_db.parent, template_db)
        pending = deque(students)
        futures: dict = {}
        finished = as_completed(loop=client.loop)

        def top_up() -> None:
            # Only as many in flight as live worker threads: a task never waits on a worker
            # behind another, where that worker's death would count against it too.
            slots = self.slots()
            while pending and len(futures) < slots:
                job = make_job(pending.popleft())
                key = f"grade-{job.student}-{uuid.uuid4().hex[:8]}"
                future = client.submit(grade_job, job, template, key=key, pure=False)
                futures[future] = job
                finished.add(future)

        try:
            top_up()
            last_top_up = time.monotonic()
            while futures:
                if not finished.has_ready():
                    time.sleep(0.1)
                    if time.monotonic() - last_top_up > 2:  # workers that joined meanwhile
                        top_up()
                        last_top_up = time.monotonic()
                    continue
                for future in finished.next_batch(block=False):
                    job = futures.pop(future)
                    outcome: Graded | BaseException
                    try:
                        outcome = future.result()
                    except KilledWorker as exc:
                        tries = getattr(exc, "allowed_failures", self.max_tries - 1) + 1
                        outcome = WorkerDied(
                            f"the grading worker died {tries} time(s) while grading this "
                            "submission (killed for memory, or the process was stopped); gave "
                            f"up after {tries} tries"
                        )
                    except Exception as exc:
                        outcome = exc
                    future.release()
                    yield job, outcome
                top_up()
                last_top_up = time.monotonic()
        finally:
            for future in futures:
                future.cancel()


class WorkerDied(RuntimeError):
    """Every try of a task ended with its worker dead."""


def check_choice(kind: str, scheduler: str | None) -> None:
    """Raise ValueError for an engine that does not exist or cannot use ``scheduler``."""
    if kind not in ENGINES:
        raise ValueError(f"unknown engine {kind!r}: one of {', '.join(ENGINES)}")
    if scheduler and kind != "dask":
        raise ValueError("--scheduler needs --engine dask")


def open_engine(kind: str, jobs: int, paths: GradingPaths, *, scheduler: str | None = None,
                max_tries: int = 3) -> ThreadsEngine | DaskEngine:
    """The engine, not started yet (``with`` starts it)."""
    check_choice(kind, scheduler)
    if kind == "threads":
        return ThreadsEngine(jobs, paths)
    return DaskEngine(jobs, scheduler, max_tries)


def local_limits(limits: Limits, jobs: int, scheduler: str | None) -> Limits:
    """BLAS threads per sandbox when the caller set none: this machine's share per worker, or
    one on a cluster (one worker per core)."""
    if limits.threads:
        return limits
    if scheduler:
        return replace(limits, threads=1)
    if jobs > 1:
        # Parallel workers each get their share of the cores: oversubscribed BLAS threads spin
        # and make small matrix products many times slower.
        return replace(limits, threads=max(1, (os.cpu_count() or 1) // jobs))
    return limits
