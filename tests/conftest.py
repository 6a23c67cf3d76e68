"""Shared pytest set-up."""

import os

import matplotlib

# Tests never open windows.
matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")


# --- One grading run for every end-to-end case --------------------------------------------------
#
# Grading is the slowest thing the suite does, so the samples, the mutant submissions and the
# attack catalogue are collected together and graded in one parallel batch (two workers): first
# everyone but the attacks, then, after their results and gradebook rows are recorded, the
# attacks, so that tests can prove the attacks changed nothing of anyone else's.

import hashlib  # noqa: E402
import json  # noqa: E402
import socket  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

# Short limits keep the runaway attacks quick; honest notebooks need far less.
ATTACK_LIMITS_S = {"cell_timeout_s": 20, "notebook_timeout_s": 60, "test_timeout_s": 15}


def file_digests(folder: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """sha256 of every file under ``folder``, by relative path (``skip``: top-level names)."""
    digests = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if relative.parts[0] in skip or "__pycache__" in relative.parts or not path.is_file():
            continue
        digests[str(relative)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def tree_digest(folder: Path, skip: tuple[str, ...] = ()) -> str:
    """One sha256 of every file's path and content under ``folder``."""
    return hashlib.sha256(json.dumps(file_digests(folder, skip)).encode()).hexdigest()


# What tests may change in the repository while they run: caches and the grading work folder.
REPOSITORY_SKIP = (".git", "grading", ".pytest_cache", ".hypothesis", ".mypy_cache",
                   ".ruff_cache", "demo-output")


def gradebook_rows(gradebook: Path | str, students: list[str]) -> dict[str, list[tuple]]:
    """Every grade row of ``students`` in an nbgrader gradebook (a sqlite file, or a database
    URL), as plain tuples."""
    from nbgrader.api import Gradebook

    rows: dict[str, list[tuple]] = {}
    url = gradebook if isinstance(gradebook, str) else f"sqlite:///{gradebook}"
    with Gradebook(url, "cs231kit") as gb:
        for student in students:
            try:
                submission = gb.find_submission("a2", student)
            except Exception:  # not in the gradebook (missing submissions)
                rows[student] = []
                continue
            rows[student] = sorted(
                (nb.name, g.name, g.auto_score, g.manual_score, g.extra_credit)
                for nb in submission.notebooks for g in nb.grades
            )
    return rows


class Canary:
    """A TCP server on 127.0.0.1 that counts the connections it gets (it should get none)."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.port = self.server.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            connection.close()


@pytest.fixture(scope="session")
def course_grading(tmp_path_factory):
    """Collect and grade samples, mutant submissions and attacks; see the comment above."""
    from autograder.attack_catalogue import ATTACKS, Targets, write_attacks
    from autograder.commands.demo import DEMO_LIMITS
    from autograder.course import ROOT, SOURCE_DIR, load_notebooks
    from autograder.feedback_pages import write_feedback
    from autograder.grading import GradingPaths, grade_all
    from autograder.reports import export
    from autograder.samples import SAMPLES, build_samples
    from autograder.sandbox.limits import Limits
    from autograder.submissions import collect
    from tests.mutants import mutant_submissions

    base = tmp_path_factory.mktemp("grading")
    paths = GradingPaths(base / "grading")
    source = build_samples(base / "submissions", grading=paths.root)
    solutions = {Path(n).stem: nb for n, nb in load_notebooks(SOURCE_DIR).items()}
    mutants, plans = mutant_submissions(solutions)
    for student, notebooks in mutants.items():
        (source / student).mkdir()
        for name, notebook in notebooks.items():
            (source / student / f"{name}.ipynb").write_text(json.dumps(notebook, indent=1))
    canary = Canary()
    write_attacks(source, Targets(grading=paths.root, port=canary.port))
    before = tree_digest(source)
    repository = file_digests(ROOT, skip=REPOSITORY_SKIP)
    reports = collect(source, paths)

    honest = [s.student for s in SAMPLES] + sorted(mutants)
    attacks = [a.student for a in ATTACKS]
    results = grade_all(paths, jobs=2, limits=DEMO_LIMITS, students=honest)
    snapshot = {
        "results": {s: (paths.results / f"{s}.json").read_bytes()
                    for s in honest if (paths.results / f"{s}.json").exists()},
        "gradebook": gradebook_rows(paths.course_dirs.gradebook, honest),
        "autograded": {s: tree_digest(paths.course_dirs.autograded / s) for s in honest},
        "submitted": {s: tree_digest(paths.submitted / s) for s in honest},
    }
    results |= grade_all(paths, jobs=2, limits=Limits(**ATTACK_LIMITS_S), students=attacks)
    csv_path, report = export(paths)
    pages = write_feedback(paths)
    return {
        "paths": paths, "source": source, "before": before, "reports": reports,
        "results": results, "csv": csv_path, "report": report, "pages": pages,
        "plans": plans, "snapshot": snapshot, "honest": honest, "canary": canary,
        "repository": repository,
    }
