"""Grading on Dask distributed into a PostgreSQL gradebook, end to end, with faults.

Real parts throughout: ``python -m autograder grade`` in a subprocess, a Dask LocalCluster of two
worker processes (scheduler on tcp://127.0.0.1), and a PostgreSQL server started for these tests
(tests/postgres_server.py). The submissions are a few of the bundled samples with one notebook
each (quick to grade):

* (a, b) Dask + PostgreSQL, two graders at once on two sections, write the same grades.csv and
  gradebook rows as the thread pool + sqlite; nothing lost when graders write one database;
* (c) a worker killed mid-grade: graded again elsewhere, recorded once; a submission that kills
  its worker every time: failed-to-grade after --max-tries, the batch goes on;
* (d) Ctrl-C, then the same command again: resumes, skips what was recorded, counts nothing twice;
* (e) an unreachable scheduler or database: a clear error within seconds, nothing written.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from autograder import rubric
from autograder.course import ROOT
from autograder.engine import KILL_WORKER_FOR
from autograder.grading import GradingPaths, prepare_template
from autograder.samples import build_samples
from autograder.submissions import collect
from tests.conftest import gradebook_rows, tree_digest
from tests.postgres_server import PostgresServer, binaries

# The samples used here: one notebook each (15 points), a late one from an LMS zip, a missing one.
LATE, DELETED, COPIED, NOTHING = "renamed", "deleted-test", "copied-cell", "nothing"
SECTION_A = [LATE, NOTHING]
SECTION_B = [DELETED]
EVERYONE = sorted(SECTION_A + SECTION_B)


@pytest.fixture(scope="module")
def postgres():
    if binaries() is None:
        pytest.skip("PostgreSQL's server binaries are not installed (apt-get install postgresql)")
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> Path:
    return build_samples(tmp_path_factory.mktemp("samples") / "src")


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A prepared grader template, copied into each grading folder (saves its set-up per test)."""
    paths = GradingPaths(tmp_path_factory.mktemp("template") / "grading", db_url="")
    prepare_template(paths)
    return paths.template


def grading_folder(folder: Path, samples: Path, template: Path, students: list[str]) -> Path:
    """A grading folder with ``students`` collected and the grader's template in place."""
    source = folder / "download"
    source.mkdir(parents=True)
    for entry in samples.iterdir():
        if entry.name.split("_")[0] in students:
            copy = shutil.copytree if entry.is_dir() else shutil.copy2
            copy(entry, source / entry.name)
    grading = folder / "grading"
    collect(source, GradingPaths(grading, db_url=""))
    shutil.copytree(template, grading / "template")
    return grading


def grade_command(grading: Path, *args: str, marker: str = "", env: dict | None = None,
                  ) -> subprocess.Popen[str]:
    environment = {**os.environ, "CS231KIT_GRADING_DIR": str(grading), **(env or {})}
    environment.pop("CS231KIT_DB_URL", None)
    if marker:  # every process this grader starts inherits it: see leftovers()
        environment["CS231KIT_TEST_RUN"] = marker
    # Ctrl-C must reach the grader even when this suite runs in the background (where SIGINT is
    # ignored, and an ignored signal stays ignored across exec): handled here, default there.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return subprocess.Popen([sys.executable, "-m", "autograder", "grade", *args], cwd=ROOT,
                                env=environment, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    finally:
        signal.signal(signal.SIGINT, previous)


def finish(proc: subprocess.Popen[str], timeout: float = 600) -> str:
    out, _ = proc.communicate(timeout=timeout)
    return out


def export_csv(grading: Path, *args: str) -> list[dict]:
    result = subprocess.run([sys.executable, "-m", "autograder", "export", *args], cwd=ROOT,
                            env={**os.environ, "CS231KIT_GRADING_DIR": str(grading)},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return list(csv.DictReader((grading / "grades.csv").open()))


def leftovers(marker: str) -> list[str]:
    """Processes still running that a grader with ``marker`` started (there should be none)."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if f"CS231KIT_TEST_RUN={marker}".encode() in environ.read_bytes():
                found.append((environ.parent / "cmdline").read_text().replace("\0", " ")[:200])
        except OSError:
            continue
    return found


def no_leftovers(marker: str, within_s: float = 15) -> list[str]:
    deadline = time.monotonic() + within_s
    while (found := leftovers(marker)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return found


def submissions_per_student(url: str) -> dict[str, int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text(
                "SELECT student.id, COUNT(submitted_assignment.id) FROM student LEFT JOIN "
                "submitted_assignment ON submitted_assignment.student_id = student.id "
                "GROUP BY student.id"
            ))
            return {student: count for student, count in rows}
    finally:
        engine.dispose()


def test_dask_and_postgres_grade_as_threads_and_sqlite_do_with_two_graders_at_once(
    postgres, samples, template, tmp_path
):
    # The reference: the thread pool into the sqlite gradebook, everyone at once.
    by_threads = grading_folder(tmp_path / "threads", samples, template, EVERYONE)
    out = finish(grade_command(by_threads, "--engine", "threads", "--jobs", "2"))
    assert "graded 3 submission(s)" in out, out

    # Two TAs, one section each, at the same time, on Dask, into one fresh PostgreSQL gradebook
    # (both create nbgrader's tables and the assignment on first use).
    url = postgres.create_database("two_graders")
    by_dask = grading_folder(tmp_path / "dask", samples, template, EVERYONE)
    graders = [
        grade_command(by_dask, "--jobs", "2", "--db", url,
                      *[arg for s in section for arg in ("--student", s)])
        for section in (SECTION_A, SECTION_B)
    ]
    outs = [finish(grader) for grader in graders]
    for grader, out in zip(graders, outs, strict=True):
        assert grader.returncode == 0, out
        assert re.search(r"engine: Dask LocalCluster: \d worker process\(es\), scheduler "
                         r"tcp://127\.0\.0\.1:\d+", out), out
        assert "dashboard: http://127.0.0.1:" in out

    rows = export_csv(by_dask, "--db", url)
    assert rows == export_csv(by_threads)
    assert [r["student_id"] for r in rows] == EVERYONE
    assert {r["student_id"]: r["status"] for r in rows} == {
        LATE: "graded", DELETED: "graded", NOTHING: "missing"}
    assert all(r["02_jacobian_free_gradients"] == "15" for r in rows if r["status"] == "graded")
    graded = [LATE, DELETED]
    assert gradebook_rows(url, graded) == gradebook_rows(by_threads / "gradebook.db", graded)
    assert submissions_per_student(url) == dict.fromkeys(graded, 1)


def test_graders_writing_one_postgres_gradebook_at_once_lose_nothing(postgres, template):
    """Two processes record 12 students each, 6 of them the same, at the same moment."""
    from autograder.gradebook import ensure_assignment, layout, sqlite_url

    url = postgres.create_database("many_writers")
    ensure_assignment(url, template / "gradebook.db", GradingPaths(db_url=url).course_dirs)
    assert layout(url) == layout(sqlite_url(template / "gradebook.db")) is not None
    # every graded cell: the judge's tests and the written answers
    cells = [(nb, grade_id) for table in (rubric.POINTS, rubric.MANUAL_POINTS)
             for nb, points in table.items() for grade_id in points]
    script = (
        "import sys\n"
        "from autograder import rubric\n"
        "from autograder.gradebook import record_submission\n"
        "url, first = sys.argv[1], int(sys.argv[2])\n"
        "for i in range(first, first + 12):\n"
        "    scores = {(nb, g): float(p) if i % 2 else 0.0\n"
        "              for nb, points in rubric.POINTS.items() for g, p in points.items()}\n"
        "    record_submission(url, f's{i:02d}', scores)\n"
    )
    writers = [subprocess.Popen([sys.executable, "-c", script, url, str(first)], cwd=ROOT,
                                stderr=subprocess.PIPE, text=True) for first in (0, 6)]
    for writer in writers:
        _, err = writer.communicate(timeout=300)
        assert writer.returncode == 0, err
    students = [f"s{i:02d}" for i in range(18)]
    assert submissions_per_student(url) == dict.fromkeys(students, 1)
    rows = gradebook_rows(url, students)
    for i, student in enumerate(students):
        assert len(rows[student]) == len(cells)  # every cell once
        expected = sum(float(p) for points in rubric.POINTS.values() for p in points.values())
        assert sum(row[2] or 0.0 for row in rows[student]) == (expected if i % 2 else 0.0)


def _worker_grading(grader: subprocess.Popen[str], student: str, timeout: float = 300):
    """The Dask worker process (a child of the grader) running nbgrader for ``student``."""
    import psutil

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in psutil.Process(grader.pid).children(recursive=True):
            try:
                cmdline = proc.cmdline()
            except psutil.Error:
                continue
            if "autograde" in cmdline and f"--student={student}" in cmdline:
                worker = proc.parent()
                assert worker is not None and worker.pid != grader.pid
                return worker
        assert grader.poll() is None, grader.communicate()[0]
        time.sleep(0.2)
    raise AssertionError(f"no worker started grading {student} within {timeout} s")


def test_a_killed_worker_is_replaced_and_a_worker_killer_fails_after_max_tries(
    samples, template, tmp_path
):
    grading = grading_folder(tmp_path, samples, template, [DELETED, COPIED])
    marker = uuid.uuid4().hex
    # Test hook: the worker process exits at once whenever it is handed COPIED.
    grader = grade_command(grading, "--jobs", "2", "--max-tries", "3", marker=marker,
                           env={KILL_WORKER_FOR: COPIED})
    _worker_grading(grader, DELETED).kill()  # SIGKILL, mid-grade
    out = finish(grader)
    assert grader.returncode == 0, out

    results = {p.stem: p.read_text() for p in (grading / "results").glob("*.json")}
    assert sorted(results) == [COPIED, DELETED]
    assert not list((grading / "results").glob("*.partial"))
    rows = export_csv(grading)
    by_id = {r["student_id"]: r for r in rows}
    assert (by_id[DELETED]["status"], by_id[DELETED]["score"]) == ("graded", "15")
    assert by_id[COPIED]["status"] == "failed-to-grade"
    assert "the grading worker died 3 time(s)" in by_id[COPIED]["reason"]
    # Recorded once: one submission, every cell once; nothing for the failed one.
    gradebook = f"sqlite:///{grading / 'gradebook.db'}"
    assert submissions_per_student(gradebook) == {DELETED: 1}
    cells = gradebook_rows(grading / "gradebook.db", [DELETED])[DELETED]
    assert len(cells) == len({row[:2] for row in cells}) == sum(
        len(points) for table in (rubric.POINTS, rubric.MANUAL_POINTS) for points in table.values())
    assert out.count(f"] {DELETED}: graded") == 1
    assert not no_leftovers(marker)


def test_an_interrupted_grade_resumes_where_it_stopped(samples, template, tmp_path):
    students = [DELETED, NOTHING, LATE]
    grading = grading_folder(tmp_path, samples, template, students)
    results = grading / "results"
    marker = uuid.uuid4().hex
    grader = grade_command(grading, "--jobs", "2", marker=marker)
    deadline = time.monotonic() + 300
    while not (results / f"{NOTHING}.json").exists():  # the missing one is recorded first
        assert grader.poll() is None and time.monotonic() < deadline, grader.communicate()[0]
        time.sleep(0.1)
    grader.send_signal(signal.SIGINT)  # Ctrl-C while two submissions are being graded
    interrupted = time.monotonic()
    out = finish(grader, timeout=60)
    assert grader.returncode == 130, out
    assert time.monotonic() - interrupted < 30
    assert "Run the same command again to resume" in out
    assert not no_leftovers(marker)
    done = sorted(p.stem for p in results.glob("*.json"))
    assert NOTHING in done and len(done) < len(students)
    assert not list(results.glob("*.partial"))
    before = {s: (results / f"{s}.json").read_bytes() for s in done}

    again = grade_command(grading, "--jobs", "2")
    out = finish(again)
    assert again.returncode == 0, out
    for student in done:  # recorded before the interrupt: skipped, untouched
        assert f"{student}: " in out and "(unchanged, skipped)" in out
        assert (results / f"{student}.json").read_bytes() == before[student]
    assert f"{len(students)} submission(s): {len(students) - len(done)} to grade" in out
    rows = {r["student_id"]: r for r in export_csv(grading)}
    assert sorted(rows) == sorted(students)
    assert all(rows[s]["status"] == "graded" and rows[s]["score"] == "15" for s in (LATE, DELETED))
    gradebook = f"sqlite:///{grading / 'gradebook.db'}"
    assert submissions_per_student(gradebook) == {LATE: 1, DELETED: 1}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens there once the probe is closed


@pytest.mark.parametrize("unreachable", ["scheduler", "database", "no such database"])
def test_an_unreachable_scheduler_or_database_is_a_clear_error_and_nothing_is_written(
    postgres, samples, template, tmp_path, unreachable
):
    grading = grading_folder(tmp_path, samples, template, [DELETED])
    before = tree_digest(grading)
    port = _closed_port()
    args, message = {
        "scheduler": (["--scheduler", f"tcp://127.0.0.1:{port}"],
                      f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}"),
        "database": (["--db", f"postgresql+psycopg://ta:secret@127.0.0.1:{port}/grades"],
                     f"cannot reach the gradebook database postgresql+psycopg://ta:***@127.0.0.1:"
                     f"{port}/grades"),
        "no such database": (["--db", postgres.url("no_such_database")],
                             'database "no_such_database" does not exist'),
    }[unreachable]
    start = time.monotonic()
    grader = grade_command(grading, "--jobs", "1", *args)
    out = finish(grader, timeout=60)
    assert grader.returncode == 3, out
    assert time.monotonic() - start < 20, "the error took too long"
    assert message in out and "Nothing more was written" in out, out
    assert "secret" not in out
    assert tree_digest(grading) == before


def test_progress_prints_done_total_failures_and_time_left():
    import io

    from autograder import progress
    from autograder.grading import CellResult, SubmissionResult

    times = iter([0.0, 0.0, 31.0, 62.0, 93.0])  # start, then one reading per graded line
    out = io.StringIO()
    shown = progress.Progress(out, tty=False, clock=lambda: next(times))
    shown.start(5, 4)
    cell = CellResult("02_jacobian_free_gradients", "test_relu", 2.0, 2.0)
    shown(SubmissionResult("ann", "graded", cells=[cell]), True)
    shown(SubmissionResult("bob", "graded", seconds=31, cells=[cell]), False)
    shown(SubmissionResult("cy", "failed-to-grade", "timeout (cell 3)", seconds=30), False)
    shown(SubmissionResult("dee", "missing", "no notebook was submitted"), False)
    lines = out.getvalue().splitlines()
    assert lines == [
        "5 submission(s): 4 to grade, 1 unchanged (skipped)",
        "[1/5] ann: graded 2 (unchanged, skipped) — 0 failed so far",
        "[2/5] bob: graded 2 (31 s) — 0 failed so far, about 1m33s left",
        "[3/5] cy: failed-to-grade 0 (30 s) [timeout (cell 3)] — 1 failed so far, about 1m02s left",
        "[4/5] dee: missing 0 (0 s) [no notebook was submitted] — 1 failed so far, about 46s left",
    ]
    assert progress.duration(3725) == "1h02m"
