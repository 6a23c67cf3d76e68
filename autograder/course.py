"""Where the course's folders are, and how to run nbgrader's own commands on them.

nbgrader reads ``nbgrader_config.py`` at the repository root. Every command here runs nbgrader in a
subprocess from that root, optionally pointing its folders and gradebook elsewhere (tests and the
parallel grader use private copies so they never touch the course gradebook).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "a2"
SOURCE_DIR = ROOT / "solutions"
RELEASE_DIR = ROOT / "assignments"
# The first code cell of every release notebook: on Google Colab it sets the session up (the
# release step puts it there; the student bundle carries the colab_setup.py it calls).
COLAB_CELL = (ROOT / "student" / "colab_first_cell.py").read_text(encoding="utf-8").rstrip("\n")
COLAB_CELL_ID = "colab-setup"
GRADING_DIR = ROOT / "grading"
DB_URL_VARIABLE = "CS231KIT_DB_URL"


class NbgraderError(RuntimeError):
    """An nbgrader command failed; the message carries the tail of its output."""


@dataclass(frozen=True)
class CourseDirs:
    """The folders and gradebook one nbgrader run uses (defaults: the course's own)."""

    release: Path = RELEASE_DIR
    submitted: Path = GRADING_DIR / "submitted"
    autograded: Path = GRADING_DIR / "autograded"
    feedback: Path = GRADING_DIR / "feedback"
    gradebook: Path = GRADING_DIR / "gradebook.db"
    # The gradebook as an SQLAlchemy URL (e.g. postgresql+psycopg://...); "" means the sqlite
    # file ``gradebook``. The course's default: $CS231KIT_DB_URL, as nbgrader_config.py reads it.
    db_url: str = field(default_factory=lambda: os.environ.get(DB_URL_VARIABLE, ""))

    @property
    def url(self) -> str:
        """The gradebook's URL, as nbgrader's ``db_url`` takes it."""
        return self.db_url or f"sqlite:///{self.gradebook}"

    @classmethod
    def under(cls, folder: Path) -> CourseDirs:
        """Private folders and gradebook under ``folder`` (the release stays the course's)."""
        folder = Path(folder).resolve()
        return cls(
            release=folder / "assignments",
            submitted=folder / "submitted",
            autograded=folder / "autograded",
            feedback=folder / "feedback",
            gradebook=folder / "gradebook.db",
            db_url="",
        )

    def options(self) -> list[str]:
        """nbgrader's options for these folders (a ``db_url`` goes in :meth:`env`)."""
        options = [
            f"--CourseDirectory.release_directory={self.release}",
            f"--CourseDirectory.submitted_directory={self.submitted}",
            f"--CourseDirectory.autograded_directory={self.autograded}",
            f"--CourseDirectory.feedback_directory={self.feedback}",
        ]
        if not self.db_url:
            options.append(f"--CourseDirectory.db_url={self.url}")
        return options

    def env(self) -> dict[str, str]:
        """Environment for nbgrader: a ``db_url`` (it may hold a password) never goes on a
        command line, where other users of the machine could read it; nbgrader_config.py reads
        it from ``CS231KIT_DB_URL``."""
        return {DB_URL_VARIABLE: self.db_url} if self.db_url else {}


def nbgrader_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for nbgrader: this interpreter's bin first (it shells out to ``alembic``)."""
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    if extra:
        env.update(extra)
    return env


def run_nbgrader(
    args: list[str],
    dirs: CourseDirs | None = None,
    *,
    timeout: float | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``nbgrader ARGS`` from the repository root; raise NbgraderError if it fails."""
    dirs = dirs or CourseDirs()
    if not dirs.db_url:
        dirs.gradebook.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "nbgrader", *args, *dirs.options()]
    proc = subprocess.run(
        cmd,
        cwd=ROOT,
        env=nbgrader_env({**dirs.env(), **(env or {})}),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise NbgraderError(f"nbgrader {' '.join(args)} failed (exit {proc.returncode}):\n{tail}")
    return proc


def load_notebooks(folder: Path) -> dict[str, dict]:
    """file name -> notebook JSON of the assignment's notebooks under ``folder`` (solutions/...)."""
    return {
        p.name: json.loads(p.read_text()) for p in sorted((folder / ASSIGNMENT).glob("*.ipynb"))
    }
