"""The course gradebook, by URL: a sqlite file (the default) or a database many graders share.

nbgrader keeps its gradebook wherever SQLAlchemy can reach (``db_url``); for several TAs grading
at once into one gradebook, use PostgreSQL (``postgresql+psycopg://user@host/db``). Only the
trusted grading client writes it, and every write here is safe with other writers:

* :func:`check` connects once, with a timeout, before anything is written: an unreachable
  database is a clear error within seconds, not a hang or a half-written batch;
* :func:`ensure_assignment` creates nbgrader's tables and the assignment's cells once, under a
  database-wide lock (nbgrader's ``Gradebook`` creates its tables on connect, which races);
* :func:`record_submission` replaces one student's submission in one transaction, under that
  student's lock, and retries when the database reports a conflict, so two graders never lose or
  double a row.

The locks are PostgreSQL advisory locks (held by a connection, released if it dies); for a sqlite
file, a lock file beside it (graders on one machine).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import random
import shutil
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from autograder.course import ASSIGNMENT, CourseDirs, run_nbgrader

COURSE_ID = "cs231kit"
CONNECT_TIMEOUT_S = 5
RECORD_TRIES = 6


class GradebookUnavailable(RuntimeError):
    """The gradebook database cannot be reached or used; the message says which and why."""


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def redact(url: str) -> str:
    """The URL without its password, fit to print."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: say so without echoing it whole
        return url.split("@")[-1][:80]


def _backend(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).get_backend_name()


def with_timeout(url: str) -> str:
    """``url`` with a connect timeout where its driver takes one in the URL (PostgreSQL)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        parsed = parsed.update_query_dict({"connect_timeout": str(CONNECT_TIMEOUT_S)})
    return parsed.render_as_string(hide_password=False)


def _sqlite_path(url: str) -> Path | None:
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    return Path(database) if database and database != ":memory:" else None


def check(url: str) -> None:
    """Raise :class:`GradebookUnavailable` within seconds unless ``url`` can be used; writes
    nothing (a sqlite file is not created here)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    try:
        backend = _backend(url)
    except Exception as exc:
        raise GradebookUnavailable(f"--db {redact(url)!r} is not a database URL ({exc})") from exc
    if backend == "sqlite":
        path = _sqlite_path(url)
        if path is None:
            raise GradebookUnavailable(f"{url}: a sqlite gradebook needs a file")
        folder = next((p for p in [path.parent, *path.parent.parents] if p.exists()), Path("/"))
        if not os.access(path if path.exists() else folder, os.W_OK):
            raise GradebookUnavailable(f"cannot write the gradebook {path}")
        return
    outcome: list[BaseException | None] = []

    def connect() -> None:
        try:
            engine = create_engine(with_timeout(url), poolclass=NullPool)
            try:
                with engine.connect() as connection:
                    connection.execute(text("SELECT 1"))
            finally:
                engine.dispose()
            outcome.append(None)
        except BaseException as exc:  # reported below, in the caller's thread
            outcome.append(exc)

    # The driver's own timeout covers the connection; the thread also bounds a slow name lookup.
    worker = threading.Thread(target=connect, daemon=True)
    worker.start()
    worker.join(CONNECT_TIMEOUT_S + 3)
    if not outcome:
        raise GradebookUnavailable(
            f"cannot reach the gradebook database {redact(url)}: no answer within "
            f"{CONNECT_TIMEOUT_S + 3} s"
        )
    if outcome[0] is not None:
        detail = " ".join(str(outcome[0]).split())[:300]
        if isinstance(outcome[0], ModuleNotFoundError):
            detail += " (install the grader's extras: pip install -e '.[grader]')"
        raise GradebookUnavailable(
            f"cannot reach the gradebook database {redact(url)}: {detail}"
        ) from outcome[0]


def _lock_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"cs231kit:{name}".encode()).digest()[:8], "big",
                          signed=True)


@contextmanager
def lock(url: str, name: str) -> Iterator[None]:
    """Hold the lock ``name`` of this gradebook (every grader of it sees the same lock).

    PostgreSQL: an advisory lock on a connection of its own. sqlite: one lock file beside the
    database for every name (sqlite allows one writer anyway). Other databases: no lock (their
    transactions and :func:`record_submission`'s retries still keep rows whole).
    """
    backend = _backend(url)
    if backend == "postgresql":
        from sqlalchemy import create_engine, text
        from sqlalchemy.pool import NullPool

        engine = create_engine(with_timeout(url), poolclass=NullPool)
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _lock_key(name)})
                connection.commit()  # a session-level lock: it outlives this transaction
                yield
                connection.execute(text("SELECT pg_advisory_unlock(:key)"),
                                   {"key": _lock_key(name)})
                connection.commit()
        finally:
            engine.dispose()
    elif backend == "sqlite" and _sqlite_path(url) is not None:
        path = _sqlite_path(url)
        assert path is not None
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_name(path.name + ".lock"), "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    else:
        yield


@contextmanager
def open_gradebook(url: str) -> Iterator[Any]:
    """nbgrader's ``Gradebook`` on ``url`` (with a connect timeout), closed afterwards."""
    from nbgrader.api import Gradebook

    # Creating the tables, nbgrader runs `alembic` from PATH: this interpreter's.
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])
    # nbgrader's add_submission trips a harmless SQLAlchemy autoflush warning. A filter for good:
    # warnings.catch_warnings() is not thread-safe (grading threads read their private
    # gradebooks while the client writes the course's).
    warnings.filterwarnings("ignore", message=r"Object of type <\w+> not in session")
    with Gradebook(with_timeout(url), COURSE_ID) as gb:
        yield gb


def _has_tables(url: str) -> bool:
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.pool import NullPool

    engine = create_engine(with_timeout(url), poolclass=NullPool)
    try:
        return bool(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def layout(url: str) -> tuple | None:
    """The assignment's notebooks and cells as this gradebook has them (None: no assignment)."""
    from nbgrader.api import MissingEntry

    if not _has_tables(url):
        return None
    with open_gradebook(url) as gb:
        try:
            assignment = gb.find_assignment(ASSIGNMENT)
        except MissingEntry:
            return None
        return tuple(sorted(
            (
                nb.name,
                tuple(sorted((c.name, c.max_score, c.cell_type) for c in nb.grade_cells)),
                tuple(sorted(c.name for c in nb.solution_cells)),
                tuple(sorted((c.name, c.cell_type, c.locked, c.checksum)
                             for c in nb.source_cells)),
                tuple(sorted((c.name, c.max_score) for c in nb.task_cells)),
            )
            for nb in assignment.notebooks
        ))


def ensure_assignment(url: str, template_db: Path, dirs: CourseDirs) -> None:
    """Make the gradebook at ``url`` hold the assignment exactly as ``template_db`` does.

    Once per gradebook, under its lock. A new gradebook gets the template's rows (a sqlite file
    is a copy of it); one whose cells differ from the template's (the grader changed) is updated
    by ``nbgrader generate_assignment`` (release folder ``dirs.release``); one that matches is
    left alone.
    """
    with lock(url, "assignment"):
        path = _sqlite_path(url) if _backend(url) == "sqlite" else None
        if path is not None and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(path.name + ".partial")
            shutil.copyfile(template_db, partial)
            os.replace(partial, path)
            return
        current = layout(url)
        if current == layout(sqlite_url(template_db)):
            return
        if current is None and path is None:
            _copy_rows(sqlite_url(template_db), url)
            return
        run_nbgrader(["generate_assignment", ASSIGNMENT, "--force"],
                     CourseDirs(release=dirs.release, submitted=dirs.submitted,
                                autograded=dirs.autograded, feedback=dirs.feedback,
                                gradebook=dirs.gradebook, db_url=url),
                     timeout=600)


def _copy_rows(source: str, url: str) -> None:
    """Copy every row of the gradebook ``source`` into the new gradebook ``url`` (one
    transaction): what ``generate_assignment`` would write there, in a fraction of the time."""
    from nbgrader.api import Base
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    with open_gradebook(url):  # nbgrader's tables, its alembic stamp and the course row
        pass
    reader = create_engine(source, poolclass=NullPool)
    writer = create_engine(with_timeout(url), poolclass=NullPool)
    try:
        with reader.connect() as src, writer.begin() as dst:
            for table in Base.metadata.sorted_tables:
                key = [column.name for column in table.primary_key.columns]
                present = {tuple(row) for row in dst.execute(table.select().with_only_columns(
                    *table.primary_key.columns))}
                rows = [dict(row._mapping) for row in src.execute(table.select())]
                rows = [row for row in rows if tuple(row[k] for k in key) not in present]
                if rows:
                    dst.execute(table.insert(), rows)
    finally:
        reader.dispose()
        writer.dispose()


def _is_conflict(exc: BaseException) -> bool:
    from nbgrader.api import InvalidEntry
    from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

    return isinstance(exc, InvalidEntry | IntegrityError | OperationalError | DBAPIError)


@dataclass(frozen=True)
class LateMark:
    """When a submission was handed in (ISO 8601, "" unknown) and the share of its points a late
    penalty takes (0 to 1)."""

    submitted_at: str = ""
    fraction: float = 0.0


Answers = dict[tuple[str, str], str]  # (notebook, grade_id) -> a written answer's text


def _retried(url: str, student: str, change: Callable[[Any], None]) -> None:
    """Run ``change(gb)`` on the gradebook as one transaction, under the student's lock, retried
    when another writer got in the way: all of it or nothing, once, whoever else writes."""
    for attempt in range(RECORD_TRIES):
        try:
            with lock(url, f"student:{student}"), open_gradebook(url) as gb:
                _one_transaction(gb, change)
            return
        except Exception as exc:
            if not _is_conflict(exc) or attempt == RECORD_TRIES - 1:
                raise
            time.sleep(0.2 * 2**attempt * (1 + random.random()))


def _one_transaction(gb: Any, change: Callable[[Any], None]) -> None:
    """nbgrader's methods commit step by step: here their commits only flush (a failure rolls
    back everything) and the one commit comes at the end."""
    session = gb.db
    commit = session.commit
    session.commit = session.flush
    try:
        change(gb)
    except BaseException:
        session.rollback()
        raise
    finally:
        del session.commit
    commit()


def record_submission(url: str, student: str, scores: dict[tuple[str, str], float],
                      answers: tuple[Answers, Answers] = ({}, {}),
                      late: LateMark = LateMark()) -> None:
    """Replace ``student``'s submission in the gradebook with these autograded ``scores``
    ((notebook, grade_id) -> points). The written answers keep what a TA gave them where their
    text is unchanged (``answers``: before and after, see :mod:`autograder.manual_grades`);
    ``late`` sets the submission time and the late penalty."""
    from nbgrader.api import MissingEntry

    from autograder import manual_grades

    def replace(gb: Any) -> None:
        gb.update_or_create_student(student)
        saved = manual_grades.save(gb, ASSIGNMENT, student)
        try:
            gb.remove_submission(ASSIGNMENT, student)
        except MissingEntry:
            pass
        submission = gb.add_submission(ASSIGNMENT, student)
        for nb in submission.notebooks:
            for grade in nb.grades:
                if (nb.name, grade.name) in scores:
                    grade.auto_score = scores[(nb.name, grade.name)]
                    grade.needs_manual_grade = False  # the judge decided it
        manual_grades.restore(submission, saved, *answers)
        _set_late_penalty(submission, late)

    _retried(url, student, replace)


def record_late_penalty(url: str, student: str, late: LateMark) -> None:
    """Set a recorded submission's time and late penalty (after the late rule changed)."""
    from nbgrader.api import MissingEntry

    def update(gb: Any) -> None:
        try:
            _set_late_penalty(gb.find_submission(ASSIGNMENT, student), late)
        except MissingEntry:
            pass

    _retried(url, student, update)


def _set_late_penalty(submission: Any, late: LateMark) -> None:
    """Store the penalty per notebook, where nbgrader's late-submission plugins put it."""
    if late.submitted_at:
        moment = datetime.fromisoformat(late.submitted_at).astimezone(timezone.utc)
        submission.timestamp = moment.replace(tzinfo=None)  # nbgrader stores naive UTC
    for nb in submission.notebooks:
        # nbgrader's Grade.score, computed here: that column is stale before the commit
        points = sum((g.auto_score if g.manual_score is None else g.manual_score) or 0.0
                     for g in nb.grades)
        nb.late_submission_penalty = late.fraction * points if late.fraction else None


def read_scores(url: str, student: str, notebooks: list[str]) -> dict[tuple[str, str], float]:
    """(notebook, grade_id) -> score of ``student``'s autograded cells with points."""
    from nbgrader.api import MissingEntry

    scores: dict[tuple[str, str], float] = {}
    with open_gradebook(url) as gb:
        for name in notebooks:
            try:
                nb = gb.find_submission_notebook(name, ASSIGNMENT, student)
            except MissingEntry:
                continue
            for grade in nb.grades:
                if grade.max_score:
                    scores[(name, grade.name)] = float(grade.score)
    return scores
