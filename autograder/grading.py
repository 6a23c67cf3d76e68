"""Grade a folder of submissions with nbgrader, in parallel, one sandboxed process per submission.

nbgrader's own ``autograde`` is serial and its sqlite gradebook is not safe for concurrent writers.
So each submission is graded by its own ``nbgrader autograde --student=ID`` process, in a private
workspace (``grading/work/ID/``: a copy of the submission and a private gradebook made from the
assignment alone, so student code cannot read anyone else's work or grades), under resource limits
(:mod:`autograder.sandbox`) and wall-clock limits. When a submission is done, its scores are merged,
one at a time, into the course gradebook (``grading/gradebook.db``) and its autograded notebooks are
copied to ``grading/autograded/ID/``, where nbgrader's own commands find them.

Every submission ends with one status:

* ``graded``: every notebook ran; the points are what the tests gave;
* ``failed-to-grade``: with the reason (timeout, memory, output flood, kernel died, malformed
  notebook, grader error); the points of the cells that did run are still reported;
* ``missing``: no notebook was submitted.

A result is saved per submission (``grading/results/ID.json``) with a digest of the submission and
of the grader; re-running skips submissions whose digests did not change unless ``force``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from autograder import rubric
from autograder.course import (
    ASSIGNMENT,
    GRADING_DIR,
    ROOT,
    SOURCE_DIR,
    CourseDirs,
    nbgrader_env,
    run_nbgrader,
)
from autograder.sandbox import Limits

GRADED, FAILED, MISSING = "graded", "failed-to-grade", "missing"
COURSE_ID = "cs231kit"
TRUNCATION_MARK = "... Output truncated ..."


@dataclass
class CellResult:
    """One autograded test cell of one submission."""

    notebook: str
    grade_id: str
    points: float
    max_points: float
    message: str = ""  # the test's diagnostic when it failed (never the hidden test's source)

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

    @property
    def score(self) -> float:
        return sum(c.points for c in self.cells)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> SubmissionResult:
        data = json.loads(text)
        data["cells"] = [CellResult(**c) for c in data.get("cells", [])]
        return cls(**data)


@dataclass(frozen=True)
class GradingPaths:
    """Where grading reads and writes: the course's ``grading/``, or ``$CS231KIT_GRADING_DIR``."""

    root: Path = field(
        default_factory=lambda: Path(os.environ.get("CS231KIT_GRADING_DIR") or GRADING_DIR)
    )

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
        )


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
    """A gradebook that knows the assignment and nothing else (copied for every submission)."""
    template_db = paths.template / "gradebook.db"
    stamp = paths.template / "digest"
    digest = grader_digest()
    if template_db.exists() and stamp.exists() and stamp.read_text() == digest:
        return template_db
    shutil.rmtree(paths.template, ignore_errors=True)
    paths.template.mkdir(parents=True)
    # The template gradebook, and the course gradebook (so merged grades have cells to land in).
    for gradebook in (template_db, paths.course_dirs.gradebook):
        dirs = replace(paths.course_dirs, gradebook=gradebook)
        run_nbgrader(["generate_assignment", ASSIGNMENT, "--force"], dirs, timeout=600)
    stamp.write_text(digest)
    return template_db


def _notebook_reasons(notebook: dict) -> list[str]:
    """Reasons (timeout, memory, output flood, kernel died) visible in an autograded notebook."""
    reasons = []
    for index, cell in enumerate(notebook.get("cells", [])):
        for out in cell.get("outputs", []):
            ename = out.get("ename", "")
            if ename == "CellTimeoutError":
                reasons.append(f"timeout (cell {index})")
            elif ename == "MemoryError":
                reasons.append(f"memory (cell {index})")
            elif ename == "DeadKernelError":
                reasons.append(f"kernel died (cell {index})")
            text = out.get("text", "")
            text = "".join(text) if isinstance(text, list) else text
            if TRUNCATION_MARK in text:
                reasons.append(f"output flood (cell {index})")
    return reasons


def _cell_messages(notebook: dict) -> dict[str, str]:
    """grade_id -> the error a test cell raised (type and message, no traceback source)."""
    messages = {}
    for cell in notebook.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("grade") or meta.get("solution"):
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                messages[meta["grade_id"]] = f"{out.get('ename', '')}: {out.get('evalue', '')}"[
                    :2000
                ]
    return messages


def _read_scores(gradebook: Path, student: str) -> dict[tuple[str, str], float]:
    from nbgrader.api import Gradebook, MissingEntry

    scores: dict[tuple[str, str], float] = {}
    with Gradebook(f"sqlite:///{gradebook}", COURSE_ID) as gb:
        for name in rubric.POINTS:
            try:
                nb = gb.find_submission_notebook(name, ASSIGNMENT, student)
            except MissingEntry:
                continue
            for grade in nb.grades:
                if grade.max_score:
                    scores[(name, grade.name)] = float(grade.score)
    return scores


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def grade_one(
    student: str, paths: GradingPaths, template_db: Path, limits: Limits, threads: int = 0
) -> SubmissionResult:
    """Grade one collected submission in its private, limited workspace.

    ``threads`` caps the BLAS/OpenMP threads of its kernel (0: the library's default). Parallel
    workers each get their share of the cores: oversubscribed BLAS threads spin and make small
    matrix products many times slower.
    """
    source = paths.submitted / student / ASSIGNMENT
    notebooks = sorted(source.glob("*.ipynb")) if source.is_dir() else []
    if not notebooks:
        return SubmissionResult(student, MISSING, "no notebook was submitted")
    start = time.perf_counter()
    ws = paths.work / student
    shutil.rmtree(ws, ignore_errors=True)
    dirs = CourseDirs.under(ws)
    shutil.copytree(source, dirs.submitted / student / ASSIGNMENT)
    for extra in ("timestamp.txt",):
        if (source.parent / extra).exists():
            shutil.copy2(source.parent / extra, dirs.submitted / student / extra)
    shutil.copy2(template_db, dirs.gradebook)
    dirs = CourseDirs(
        release=paths.template / "release",
        submitted=dirs.submitted,
        autograded=dirs.autograded,
        feedback=dirs.feedback,
        gradebook=dirs.gradebook,
    )
    cmd = [
        *limits.launcher(),
        sys.executable,
        "-m",
        "nbgrader",
        "autograde",
        ASSIGNMENT,
        f"--student={student}",
        "--force",
        f"--Execute.timeout={limits.cell_timeout_s}",
        *dirs.options(),
    ]
    budget = limits.notebook_timeout_s * len(rubric.POINTS)
    log_path = ws / "nbgrader.log"
    reasons: list[str] = []
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=nbgrader_env(_worker_env(threads)),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            returncode = proc.wait(timeout=budget)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.wait()
            returncode = None
            reasons.append(f"timeout: grading took longer than {budget} s")
        finally:
            _kill_group(proc)  # no kernel outlives its submission
    log_text = log_path.read_text(errors="replace")

    cells: list[CellResult] = []
    scores = _read_scores(dirs.gradebook, student) if returncode is not None else {}
    graded_dir = dirs.autograded / student / ASSIGNMENT
    for name, points in rubric.POINTS.items():
        path = graded_dir / f"{name}.ipynb"
        nb = json.loads(path.read_text()) if path.exists() else {}
        messages = _cell_messages(nb)
        reasons.extend(f"{name}: {r}" for r in _notebook_reasons(nb))
        if returncode is not None and not path.exists() and (source / f"{name}.ipynb").exists():
            reasons.append(f"{name}: nbgrader could not grade it ({_log_reason(log_text, name)})")
        for grade_id, max_points in points.items():
            cells.append(
                CellResult(
                    name,
                    grade_id,
                    scores.get((name, grade_id), 0.0),
                    float(max_points),
                    messages.get(grade_id, ""),
                )
            )
    if returncode not in (0, None) and not reasons:
        reasons.append(f"grader error: nbgrader exited with {returncode} ({_log_reason(log_text)})")
    status = FAILED if reasons else GRADED
    return SubmissionResult(
        student, status, "; ".join(reasons), seconds=time.perf_counter() - start, cells=cells
    )


def _worker_env(threads: int) -> dict[str, str]:
    env = {"CS231KIT_GRADING": "1"}
    if threads:
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = str(threads)
    return env


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


def merge_into_course(result: SubmissionResult, paths: GradingPaths) -> None:
    """Record one graded submission in the course gradebook and autograded folder."""
    from nbgrader.api import Gradebook, MissingEntry

    ws_graded = CourseDirs.under(paths.work / result.student).autograded / result.student
    dest = paths.course_dirs.autograded / result.student
    shutil.rmtree(dest, ignore_errors=True)
    if ws_graded.exists():
        shutil.copytree(ws_graded, dest)
    scores = {(c.notebook, c.grade_id): c.points for c in result.cells}
    course_db = f"sqlite:///{paths.course_dirs.gradebook}"
    with warnings.catch_warnings(), Gradebook(course_db, COURSE_ID) as gb:
        # nbgrader's add_submission trips a harmless SQLAlchemy autoflush warning
        warnings.filterwarnings("ignore", message=".*not in session.*")
        gb.update_or_create_student(result.student)
        try:
            gb.remove_submission(ASSIGNMENT, result.student)
        except MissingEntry:
            pass
        submission = gb.add_submission(ASSIGNMENT, result.student)
        for nb in submission.notebooks:
            for grade in nb.grades:
                if (nb.name, grade.name) in scores:
                    grade.auto_score = scores[(nb.name, grade.name)]
        gb.db.commit()


def load_results(paths: GradingPaths) -> dict[str, SubmissionResult]:
    results = {}
    for path in sorted(paths.results.glob("*.json")):
        result = SubmissionResult.from_json(path.read_text())
        results[result.student] = result
    return results


def grade_all(
    paths: GradingPaths | None = None,
    *,
    jobs: int = 1,
    force: bool = False,
    limits: Limits | None = None,
    students: Iterable[str] | None = None,
    report: Callable[[SubmissionResult, bool], None] | None = None,
) -> dict[str, SubmissionResult]:
    """Grade every collected submission (or ``students``) with ``jobs`` parallel workers.

    ``report(result, skipped)`` is called as each submission finishes (for progress output).
    """
    paths = paths or GradingPaths()
    limits = limits or Limits()
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    if not paths.submitted.is_dir():
        raise FileNotFoundError(
            f"no collected submissions in {paths.submitted}: run `python -m autograder collect SRC`"
        )
    template_db = prepare_template(paths)
    paths.results.mkdir(parents=True, exist_ok=True)
    everyone = sorted(p.name for p in paths.submitted.iterdir() if p.is_dir())
    wanted = sorted(students) if students is not None else everyone
    grader = grader_digest()
    previous = load_results(paths)
    manifest = _manifest(paths)

    todo, results = [], {}
    for student in wanted:
        folder = paths.submitted / student / ASSIGNMENT
        digest = grader + ":" + (submission_digest(folder) if folder.is_dir() else "none")
        old = previous.get(student)
        if not force and old is not None and old.digest == digest:
            results[student] = old
            if report:
                report(old, True)
        else:
            todo.append((student, digest))

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        threads = max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else 0
        futures = {
            pool.submit(grade_one, s, paths, template_db, limits, threads): (s, d)
            for s, d in todo
        }
        for future in as_completed(futures):
            student, digest = futures[future]
            try:
                result = future.result()
            except Exception as exc:  # the grader itself broke: report it, keep going
                result = SubmissionResult(student, FAILED, f"grader error: {exc}")
            result.digest = digest
            info = manifest.get(student, {})
            result.late = bool(info.get("late"))
            malformed = [info["notebooks"][n] for n in info.get("malformed", [])]
            if malformed:
                result.status = FAILED
                result.reason = "; ".join([*malformed, *filter(None, [result.reason])])
            if result.status != MISSING:
                merge_into_course(result, paths)
            (paths.results / f"{student}.json").write_text(result.to_json())
            results[student] = result
            if report:
                report(result, False)
    return dict(sorted(results.items()))


def _manifest(paths: GradingPaths) -> dict[str, dict]:
    """What ``collect`` found per student (late flag, malformed notebooks)."""
    manifest = paths.root / "collected.json"
    if not manifest.exists():
        return {}
    return json.loads(manifest.read_text()).get("students", {})
