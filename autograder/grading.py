"""Grade a folder of submissions in parallel, each in its own sandbox, verdicts from the judge.

Each submission goes through two sandboxed passes (:mod:`autograder.passes`): nbgrader executes
the notebooks with a sandboxed kernel (the executed notebooks and nbgrader's in-kernel scores),
then a fresh sandboxed worker re-checks every graded function on new inputs. The judge
(:mod:`autograder.judge`) draws the inputs, compares with the reference and decides every
verdict, outside student code; its verdicts are the grades. Where nbgrader's in-kernel score of a
test differs from the judge's, the submission is flagged for a TA, as is code the static scan
(:mod:`autograder.static_scan`) finds worth a look. Flags never change a grade.

The grading tasks run on an engine (:mod:`autograder.engine`): Dask distributed by default (a
local cluster, or a cluster of many machines), or a thread pool. Only this process, the client,
writes the grader's state: the course gradebook (``grading/gradebook.db`` or any database URL,
:mod:`autograder.gradebook`), the autograded notebooks (``grading/autograded/ID/``), the results
(``grading/results/ID.json``), one submission at a time, whole (:func:`record`). Nothing a
submission writes is read back as a score.

Every submission ends with one status:

* ``graded``: every notebook ran; the points are the judge's;
* ``failed-to-grade``: with the reason (timeout, memory, output flood, kernel died, malformed
  notebook, grader error, a grading worker that kept dying); the judge's points are still
  reported;
* ``missing``: no notebook was submitted.

Re-running skips submissions whose digest (of the submission and of the grader) did not change
unless ``force``.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shlex
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from autograder import gradebook, manual_grades, passes, rubric
from autograder.course import (
    ASSIGNMENT,
    DB_URL_VARIABLE,
    GRADING_DIR,
    ROOT,
    SOURCE_DIR,
    CourseDirs,
    run_nbgrader,
)
from autograder.deadlines import LatePolicy, load_policy
from autograder.judge import checks
from autograder.judge.session import JudgeSession, Verdict
from autograder.sandbox.bubblewrap import SandboxUnavailable, preflight
from autograder.sandbox.limits import Limits
from autograder.static_scan import scan_submission

GRADED, FAILED, MISSING = "graded", "failed-to-grade", "missing"
# What happened to one test: its points are the judge's, 0 unless PASSED.
PASSED, FAILED_TEST, NOT_RUN, NOT_SUBMITTED = "passed", "failed", "not run", "not submitted"
# The one rule for what counts, shown in the report and the README.
POINTS_RULE = (
    "A test's points count when the judge passed it, in the notebook run and in the fresh "
    "re-check, whatever else happened in the submission. A failed-to-grade submission keeps "
    "the points of the tests that ran and passed; the tests it did not reach (not run) score 0. "
    "Its score is left out of the LMS upload files until a TA regrades it (with raised limits "
    "when a limit stopped honest work) or decides."
)
COURSE_ID = gradebook.COURSE_ID
TRUNCATION_MARK = "... Output truncated ..."


@dataclass
class CellResult:
    """One autograded test cell of one submission."""

    notebook: str
    grade_id: str
    points: float  # the judge's
    max_points: float
    message: str = ""  # the judge's diagnostic when it failed (never the hidden test's source)
    kernel_points: float | None = None  # what nbgrader's in-kernel run gave (None: did not run)
    outcome: str = ""  # PASSED, FAILED_TEST, NOT_RUN or NOT_SUBMITTED

    @property
    def state(self) -> str:
        """The outcome (results written before it was recorded: passed or failed by points)."""
        return self.outcome or (PASSED if self.passed else FAILED_TEST)

    @property
    def passed(self) -> bool:
        return self.points >= self.max_points


@dataclass
class SubmissionResult:
    student: str
    status: str
    reason: str = ""
    late: bool = False
    seconds: float = 0.0
    digest: str = ""
    cells: list[CellResult] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)  # for a TA to look at; never change a grade
    sandbox: str = "bubblewrap"  # or "none" when graded with --unsafe-no-sandbox
    limits: dict[str, int] = field(default_factory=dict)  # the Limits it was graded under
    submitted_at: str = ""  # ISO 8601 (from collect)
    late_days: int = 0  # days charged under course.yml's rule (deadlines.LatePolicy)
    late_fraction: float = 0.0  # of the points taken away for lateness

    @property
    def lateness(self) -> str:
        """``"2 days late: -20%"``, or "" when on time."""
        if not self.late_days:
            return ""
        return f"{self.late_days} day{'s' if self.late_days > 1 else ''} late: " \
            f"-{100 * self.late_fraction:g}%"

    @property
    def tests_not_run(self) -> int:
        return sum(c.state == NOT_RUN for c in self.cells)

    def regrade_command(self) -> str:
        """The command that regrades this student alone, with the limit it hit doubled."""
        raised = []
        for key, option, words in (
            ("cell_timeout_s", "--cell-timeout", ("timeout",)),
            ("notebook_timeout_s", "--notebook-timeout", ("timeout",)),
            ("memory_mb", "--memory-mb", ("memory", "kernel died")),
        ):
            if key in self.limits and any(word in self.reason for word in words):
                raised.append(f"{option} {2 * self.limits[key]}")
        return " ".join(
            ["python -m autograder grade", f"--student {shlex.quote(self.student)}", "--force",
             *raised]
        )

    @property
    def score(self) -> float:
        return sum(c.points for c in self.cells)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> SubmissionResult:
        data = json.loads(text)
        data["cells"] = [CellResult(**c) for c in data.get("cells", [])]
        data.setdefault("flags", [])
        return cls(**data)


@dataclass(frozen=True)
class GradingPaths:
    """Where grading reads and writes: the course's ``grading/``, or ``$CS231KIT_GRADING_DIR``;
    the course gradebook: ``db_url`` (``$CS231KIT_DB_URL``), or ``gradebook.db`` in there."""

    root: Path = field(
        default_factory=lambda: Path(os.environ.get("CS231KIT_GRADING_DIR") or GRADING_DIR)
    )
    db_url: str = field(default_factory=lambda: os.environ.get(DB_URL_VARIABLE, ""))

    @property
    def submitted(self) -> Path:
        return self.root / "submitted"

    @property
    def results(self) -> Path:
        return self.root / "results"

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def template(self) -> Path:
        return self.root / "template"

    @property
    def course_dirs(self) -> CourseDirs:
        return CourseDirs(
            release=self.template / "release",
            submitted=self.submitted,
            autograded=self.root / "autograded",
            feedback=self.root / "feedback",
            gradebook=self.root / "gradebook.db",
            db_url=self.db_url,
        )

    @property
    def course_db(self) -> str:
        """The course gradebook's URL."""
        return self.course_dirs.url


def _digest_files(paths: Iterable[Path], base: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(paths):
        h.update(str(path.relative_to(base)).encode())
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def grader_digest() -> str:
    """Changes whenever the notebooks, hidden tests, reference code or rubric change."""
    files = [
        p for p in SOURCE_DIR.rglob("*") if p.is_file() and ".ipynb_checkpoints" not in p.parts
    ]
    files += [p for p in (ROOT / "autograder").rglob("*.py")]
    return _digest_files(files, ROOT)


def submission_digest(folder: Path) -> str:
    return _digest_files([p for p in folder.rglob("*") if p.is_file()], folder)


def prepare_template(paths: GradingPaths) -> Path:
    """A gradebook that knows the assignment and nothing else (copied for every submission); the
    course gradebook gets the assignment too, so that merged grades have cells to land in."""
    template_db = paths.template / "gradebook.db"
    stamp = paths.template / "digest"
    digest = grader_digest()
    paths.root.mkdir(parents=True, exist_ok=True)
    with open(paths.root / "template.lock", "a") as lock:  # graders sharing this folder
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (template_db.exists() and stamp.exists() and stamp.read_text() == digest):
            shutil.rmtree(paths.template, ignore_errors=True)
            paths.template.mkdir(parents=True)
            dirs = replace(paths.course_dirs, gradebook=template_db, db_url="")
            run_nbgrader(["generate_assignment", ASSIGNMENT, "--force"], dirs, timeout=600)
            stamp.write_text(digest)
    gradebook.ensure_assignment(paths.course_db, template_db, paths.course_dirs)
    return template_db


# Errors that stop a notebook run short, by nbclient's exception name.
_STOPPED = {
    "CellTimeoutError": "timeout", "MemoryError": "memory", "DeadKernelError": "kernel died",
}


def _cell_label(cell: dict, index: int) -> str:
    """``cell 5 ('two_layer_net')``: the 1-based number JupyterLab shows, and the grade id."""
    grade_id = (cell.get("metadata", {}).get("nbgrader") or {}).get("grade_id")
    return f"cell {index + 1}" + (f" ({grade_id!r})" if grade_id else "")


def _notebook_reasons(notebook: dict) -> list[str]:
    """Reasons (timeout, memory, output flood, kernel died) visible in an autograded notebook."""
    reasons = []
    for index, cell in enumerate(notebook.get("cells", [])):
        for out in cell.get("outputs", []):
            what = _STOPPED.get(out.get("ename", ""))
            if what:
                reasons.append(f"{what} in {_cell_label(cell, index)}")
            text = out.get("text", "")
            text = "".join(text) if isinstance(text, list) else text
            if TRUNCATION_MARK in text:
                reasons.append(f"output flood in {_cell_label(cell, index)}")
    return reasons


def _stopped_at(notebook: dict) -> tuple[int, str] | None:
    """Where the notebook run stopped short, as (cell index, "timed out in cell 5 (...)")."""
    for index, cell in enumerate(notebook.get("cells", [])):
        for out in cell.get("outputs", []):
            what = _STOPPED.get(out.get("ename", ""))
            if what:
                verb = {"timeout": "timed out", "memory": "ran out of memory"}.get(what, what)
                return index, f"{_cell_label(cell, index)} {verb}"
    return None


def grade_one(
    student: str,
    paths: GradingPaths,
    template_db: Path,
    limits: Limits,
    *,
    sandboxed: bool = True,
) -> SubmissionResult:
    """Grade one collected submission: both sandboxed passes, then the judge's verdicts."""
    source = paths.submitted / student / ASSIGNMENT
    notebooks = sorted(source.glob("*.ipynb")) if source.is_dir() else []
    if not notebooks:
        return SubmissionResult(student, MISSING, "no notebook was submitted")
    start = time.perf_counter()
    ws = paths.work / student
    shutil.rmtree(ws, ignore_errors=True)
    dirs = CourseDirs.under(ws)
    private = dirs.submitted / student / ASSIGNMENT
    shutil.copytree(source, private)
    _readable(private)
    if (source.parent / "timestamp.txt").exists():
        shutil.copy2(source.parent / "timestamp.txt", dirs.submitted / student / "timestamp.txt")
    shutil.copy2(template_db, dirs.gradebook)
    dirs = replace(dirs, release=paths.template / "release")
    # Short, private paths for the sockets (a Unix socket path has at most 107 bytes).
    runtime = Path(tempfile.mkdtemp(prefix="cs231kit-"))
    try:
        run = passes.run_notebooks(student, dirs, runtime, limits, notebooks=len(notebooks),
                                   isolated=sandboxed, log_path=ws / "nbgrader.log")
        worker = passes.recheck(private, passes.worker_plan(private), runtime, limits,
                                isolated=sandboxed, log_path=ws / "worker.log")
    finally:
        shutil.rmtree(runtime, ignore_errors=True)
    result = _judged(student, dirs, run, worker, source)
    result.flags = [f"static scan: {finding}" for finding in scan_submission(source)] + (
        result.flags
    )
    result.sandbox = "bubblewrap" if sandboxed else "none"
    result.limits = {k: v for k, v in asdict(limits).items() if isinstance(v, int)}
    result.seconds = time.perf_counter() - start
    return result


def _readable(folder: Path) -> None:
    """Let the sandbox's own user read the private copy, whatever the grader's umask."""
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def _judged(
    student: str,
    dirs: CourseDirs,
    run: passes.NotebookRun,
    worker: JudgeSession,
    source: Path,
) -> SubmissionResult:
    """The submission's result: the judge's points, the reasons, the flags."""
    reasons: list[str] = []
    if run.timed_out_after_s:
        reasons.append(f"timeout: grading took longer than {run.timed_out_after_s} s")
    scores = (gradebook.read_scores(dirs.url, student, list(rubric.POINTS))
              if run.returncode is not None else {})
    graded_dir = dirs.autograded / student / ASSIGNMENT
    cells: list[CellResult] = []
    flags: list[str] = [f"protocol: {e}" for e in run.session.protocol_errors[:5]]
    flags += [f"protocol (re-check): {e}" for e in worker.protocol_errors[:5]]
    flags += [f"odd return: {note}"[:400] for note in (run.session.notes + worker.notes)[:5]]
    for name, points in rubric.POINTS.items():
        path = graded_dir / f"{name}.ipynb"
        nb = json.loads(path.read_text()) if path.exists() else {}
        notebook_reasons = _notebook_reasons(nb)
        reasons.extend(f"{name}: {r}" for r in notebook_reasons)
        submitted = (source / f"{name}.ipynb").exists()
        if run.returncode is not None and not path.exists() and submitted:
            reasons.append(f"{name}: nbgrader could not grade it ({_log_reason(run.log, name)})")
        ran = _executed_grade_cells(nb)
        stopped = _stopped_at(nb)
        positions = _grade_cell_positions(nb)
        value_tests = checks.module_of(name).VALUE_TESTS
        for grade_id, max_points in points.items():
            in_run = run.session.verdicts.get(grade_id)
            fresh = None if grade_id in value_tests else worker.verdicts.get(grade_id)
            passed = bool(in_run and in_run.passed and (fresh is None or fresh.passed))
            if grade_id not in value_tests and fresh is None:
                passed = False
            kernel = scores.get((name, grade_id)) if grade_id in ran else None
            after_stop = stopped is not None and positions.get(grade_id, -1) > stopped[0]
            outcome, message = _outcome(
                submitted, passed, in_run, fresh, grade_id in ran,
                stopped[1] if after_stop and stopped else None,
            )
            judged = float(max_points) if passed else 0.0
            cells.append(CellResult(name, grade_id, judged, float(max_points), message, kernel,
                                    outcome))
            flag = _disagreement(name, grade_id, judged, kernel, in_run, fresh, notebook_reasons)
            if flag:
                flags.append(flag)
    if run.returncode not in (0, None) and not reasons:
        reasons.append(
            f"grader error: nbgrader exited with {run.returncode} ({_log_reason(run.log)})"
        )
    status = FAILED if reasons else GRADED
    return SubmissionResult(student, status, "; ".join(reasons), cells=cells, flags=flags)


def _executed_grade_cells(notebook: dict) -> set[str]:
    """grade_ids of the test cells the notebook run executed."""
    ran = set()
    for cell in notebook.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and cell.get("execution_count") is not None:
            ran.add(meta.get("grade_id"))
    return ran


def _grade_cell_positions(notebook: dict) -> dict[str, int]:
    """grade_id -> index of its cell in the notebook."""
    return {
        meta["grade_id"]: index
        for index, cell in enumerate(notebook.get("cells", []))
        if (meta := cell.get("metadata", {}).get("nbgrader") or {}).get("grade_id")
    }


def _outcome(
    submitted: bool,
    passed: bool,
    in_run: Verdict | None,
    fresh: Verdict | None,
    ran: bool,
    stopped: str | None,
) -> tuple[str, str]:
    """(outcome, what the feedback says) for one test: the judge's diagnostic, or why there is
    none. ``stopped`` says where the notebook run stopped short when this test came after it."""
    if not submitted:
        return NOT_SUBMITTED, "not submitted: this notebook was not handed in"
    if passed:
        return PASSED, ""
    if stopped and (in_run is None or not in_run.passed):
        # Errors after a timeout (a NameError for a function that was never defined) are
        # consequences, not the student's mistakes: say where the run stopped instead.
        return NOT_RUN, f"not run: an earlier cell stopped the notebook ({stopped})"
    for verdict in (fresh, in_run):
        if verdict is not None and not verdict.passed:
            return FAILED_TEST, verdict.message[:2000]
    if in_run is None and not ran:
        return NOT_RUN, "not run: the notebook run stopped before this test (see the reason)"
    where = "notebook run" if in_run is None else "fresh re-check"
    return FAILED_TEST, f"the hidden test did not reach the grader in the {where}"


def _disagreement(
    notebook: str,
    grade_id: str,
    judged: float,
    kernel: float | None,
    in_run: Verdict | None,
    fresh: Verdict | None,
    notebook_reasons: list[str],
) -> str | None:
    """A flag when the notebook run and the grade tell different stories, else None.

    Flagged: nbgrader's in-kernel points differ from the grade, or the judge passed the test in
    one pass and failed it in the other. A test that failed in the notebook run while that
    notebook ran out of time or memory is explained already: no flag.
    """
    run_passed = bool(in_run and in_run.passed)
    if notebook_reasons and not run_passed:
        return None
    differs = kernel is not None and kernel != judged
    split = fresh is not None and in_run is not None and fresh.passed != in_run.passed
    if not differs and not split:
        return None
    if in_run is None:
        story = "its hidden test cell ran but never reached the judge"
    elif fresh is None:
        story = "the judge " + ("passed" if run_passed else "failed") + " it in the notebook run"
    else:
        story = (
            f"the judge {'passed' if run_passed else 'failed'} it in the notebook run and "
            f"{'passed' if fresh.passed else 'failed'} it in the fresh re-check"
        )
    points = "" if kernel is None else f"nbgrader's in-kernel run gave {kernel:g} points, "
    return f"{notebook}/{grade_id}: {points}the grade is {judged:g}; {story}"


def _log_reason(log_text: str, notebook: str | None = None) -> str:
    """The most telling line of nbgrader's log."""
    lines = [line for line in log_text.splitlines() if "ERROR" in line or "Error" in line]
    if notebook:
        lines = [line for line in lines if notebook in line] or lines
    for key in ("DeadKernelError", "Kernel died", "MemoryError", "Timeout"):
        for line in lines:
            if key in line:
                return "kernel died" if "Kernel" in key else line.strip()[-200:]
    return lines[-1].strip()[-200:] if lines else "see grading/work log"


def record(result: SubmissionResult, autograded: dict[str, bytes], paths: GradingPaths,
           logs: dict[str, bytes] | None = None) -> None:
    """Record one submission's outcome; only the client calls this. ``logs`` (name -> bytes),
    from a worker elsewhere, go to ``grading/work/<student>/``.

    In this order: its autograded notebooks (swapped in whole), its grades in the course
    gradebook (one transaction), then its result file, last and atomically (written aside, then
    renamed). A submission counts as done only once its result file exists: interrupted before
    that, a rerun grades it again and replaces what was written, so nothing counts twice.
    """
    student = result.student
    for name, data in (logs or {}).items():
        (paths.work / student).mkdir(parents=True, exist_ok=True)
        (paths.work / student / Path(name).name).write_bytes(data)
    dest = paths.course_dirs.autograded / student
    answers_before = manual_grades.answers_in(dest / ASSIGNMENT)
    if autograded:
        partial = dest.with_name(f".{student}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        for name, data in autograded.items():
            target = partial / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        shutil.rmtree(dest, ignore_errors=True)
        partial.rename(dest)
    else:
        shutil.rmtree(dest, ignore_errors=True)
    if result.status != MISSING and result.cells:
        scores = {(c.notebook, c.grade_id): c.points for c in result.cells}
        # A TA's points for a written answer stay while its text is the same (manual_grades).
        answers = (answers_before, manual_grades.answers_in(dest / ASSIGNMENT))
        gradebook.record_submission(paths.course_db, student, scores, answers=answers,
                                    late=_late_mark(result))
    paths.results.mkdir(parents=True, exist_ok=True)
    final = paths.results / f"{student}.json"
    partial_result = final.with_name(final.name + ".partial")
    partial_result.write_text(result.to_json())
    os.replace(partial_result, final)


def load_results(paths: GradingPaths) -> dict[str, SubmissionResult]:
    results = {}
    for path in sorted(paths.results.glob("*.json")):
        result = SubmissionResult.from_json(path.read_text())
        results[result.student] = result
    return results


@contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Ctrl-C (or a SIGTERM the caller turned into KeyboardInterrupt) waits until the block is
    done: recording one submission is all or nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {signum: signal.signal(signum, lambda signum, frame: caught.append(signum))
                for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if caught:
            handler = previous[caught[0]]
            if callable(handler):
                handler(caught[0], None)
            elif handler == signal.SIG_DFL:
                raise KeyboardInterrupt


def grade_all(
    paths: GradingPaths | None = None,
    *,
    jobs: int = 1,
    force: bool = False,
    limits: Limits | None = None,
    students: Iterable[str] | None = None,
    report: Callable[[SubmissionResult, bool], None] | None = None,
    sandboxed: bool = True,
    engine: str = "dask",
    scheduler: str | None = None,
    max_tries: int = 3,
    policy: LatePolicy | None = None,
) -> dict[str, SubmissionResult]:
    """Grade every collected submission (or ``students``) with ``jobs`` parallel workers.

    ``engine``: ``"dask"`` (a LocalCluster of ``jobs`` worker processes, or the cluster whose
    scheduler is at ``scheduler``) or ``"threads"``; see :mod:`autograder.engine`. A submission
    whose worker dies ``max_tries`` times is failed-to-grade. ``policy`` (default: course.yml's)
    decides lateness, for skipped submissions too.

    ``report(result, skipped)`` is called as each submission finishes (for progress output); a
    report object may also have ``start(total, to_grade)`` and ``note(text)`` (see
    :class:`autograder.progress.Progress`). ``sandboxed=False`` grades without isolation
    (``--unsafe-no-sandbox``); every such result says so.

    Before anything is written, raises SandboxUnavailable when sandboxes cannot start here,
    GradebookUnavailable when the gradebook cannot be reached, EngineUnavailable when the
    engine cannot start or reach its scheduler, PolicyError when course.yml cannot be used.
    Interrupted (KeyboardInterrupt), it stops the engine and lets the interrupt through: every
    submission recorded so far is whole and a rerun skips it.
    """
    from autograder import engine as engines

    paths = paths or GradingPaths()
    limits = limits or Limits()
    policy = policy or load_policy()
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    if max_tries < 1:
        raise ValueError(f"max_tries must be at least 1, got {max_tries}")
    engines.check_choice(engine, scheduler)
    if sandboxed and not scheduler:
        problem = preflight()
        if problem:
            raise SandboxUnavailable(problem)
    if not paths.submitted.is_dir():
        raise FileNotFoundError(
            f"no collected submissions in {paths.submitted}: run `python -m autograder collect SRC`"
        )
    gradebook.check(paths.course_db)
    everyone = sorted(p.name for p in paths.submitted.iterdir() if p.is_dir())
    wanted = sorted(students) if students is not None else everyone
    grader = grader_digest()
    previous = load_results(paths)
    manifest = _manifest(paths)

    digests: dict[str, str] = {}
    results: dict[str, SubmissionResult] = {}
    for student in wanted:
        folder = paths.submitted / student / ASSIGNMENT
        digest = grader + ":" + (submission_digest(folder) if folder.is_dir() else "none")
        old = previous.get(student)
        if not force and old is not None and old.digest == digest:
            if _apply_lateness(old, manifest.get(student, {}), policy):
                _record_lateness(old, paths)  # course.yml changed since it was graded
            results[student] = old
        else:
            digests[student] = digest
    start = getattr(report, "start", None)
    if start:
        start(len(wanted), len(digests))
    if report:
        for old in results.values():
            report(old, True)
    if not digests:
        return dict(sorted(results.items()))

    workers = min(jobs, len(digests))  # no idle local workers to start
    limits = engines.local_limits(limits, workers, scheduler)
    runner = engines.open_engine(engine, workers, paths, scheduler=scheduler,
                                 max_tries=max_tries)

    def make_job(student: str) -> engines.Job:
        files = engines.submission_files(paths, student) if engine == "dask" else {}
        return engines.Job(student, files, limits, sandboxed, grader)

    with runner:
        note = getattr(report, "note", None)
        if note:
            note(f"engine: {runner.description}")
            if runner.dashboard:
                note(f"dashboard: {runner.dashboard}")
        template_db = prepare_template(paths)
        with closing(runner.run(list(digests), make_job, template_db)) as outcomes:
            for job, outcome in outcomes:
                if isinstance(outcome, engines.WorkerUnfit) or not isinstance(
                    outcome, engines.Graded | Exception
                ):
                    raise outcome
                logs: dict[str, bytes] = {}
                if isinstance(outcome, engines.Graded):
                    result, autograded, logs = outcome.result, outcome.autograded, outcome.logs
                else:  # the grader itself broke, or its worker kept dying: say so, keep going
                    reason = (str(outcome) if isinstance(outcome, engines.WorkerDied)
                              else f"grader error: {outcome}")
                    result, autograded = SubmissionResult(job.student, FAILED, reason), {}
                result.digest = digests[job.student]
                info = manifest.get(job.student, {})
                _apply_lateness(result, info, policy)
                malformed = [info["notebooks"][n] for n in info.get("malformed", [])]
                if malformed:
                    result.status = FAILED
                    result.reason = "; ".join([*malformed, *filter(None, [result.reason])])
                with _interrupts_deferred():
                    record(result, autograded, paths, logs)
                results[job.student] = result
                if report:
                    report(result, False)
    return dict(sorted(results.items()))


def _apply_lateness(result: SubmissionResult, info: dict, policy: LatePolicy) -> bool:
    """Set the result's submission time, late flag and penalty from collect's record and the
    policy; return whether anything changed."""
    before = (result.submitted_at, result.late, result.late_days, result.late_fraction)
    result.submitted_at = info.get("submitted_at", "")
    lateness = policy.lateness(result.submitted_at)
    result.late_days, result.late_fraction = lateness.days, lateness.fraction
    # an LMS's own "late" mark counts too (Canvas and Moodle put it in the file names)
    result.late = bool(info.get("late")) or lateness.days > 0
    return before != (result.submitted_at, result.late, result.late_days, result.late_fraction)


def _late_mark(result: SubmissionResult) -> gradebook.LateMark:
    fraction = result.late_fraction if result.late_days else 0.0
    return gradebook.LateMark(result.submitted_at, fraction)


def _record_lateness(result: SubmissionResult, paths: GradingPaths) -> None:
    """Rewrite a graded result whose lateness changed, and its penalty in the gradebook."""
    if result.status != MISSING and result.cells:
        gradebook.record_late_penalty(paths.course_db, result.student, _late_mark(result))
    final = paths.results / f"{result.student}.json"
    partial = final.with_name(final.name + ".partial")
    partial.write_text(result.to_json())
    os.replace(partial, final)


def _manifest(paths: GradingPaths) -> dict[str, dict]:
    """What ``collect`` found per student (late flag, malformed notebooks)."""
    manifest = paths.root / "collected.json"
    if not manifest.exists():
        return {}
    return json.loads(manifest.read_text()).get("students", {})
