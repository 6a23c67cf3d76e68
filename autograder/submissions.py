"""Collect submissions: normalise ids and notebook names, validate notebooks, repair what is safe.

``collect(SRC)`` reads a folder that holds one entry per student, either a folder or an LMS zip
file, and writes ``grading/submitted/<id>/a2/<notebook>.ipynb`` for nbgrader, plus a manifest
(``grading/collected.json``) that says, per student, what was wrong. The originals in SRC are only
read, never changed.

What it handles:

* ids: ``Jane Doe/``, ``doejane_LATE_1234_5678_a2.zip`` → ``jane-doe``, ``doejane`` (+ late);
* renamed notebooks (``03_modular_backprop (1).ipynb``, ``Copy of 03_...``) are mapped to the
  release's name when exactly one name fits, else by which notebook's graded cells they contain;
* a notebook that is not JSON, or not a notebook, is reported as malformed and not graded;
* a graded cell the student copied (duplicate ``grade_id``) would abort nbgrader's whole run
  (nbgrader #1083): all copies but one lose their grading metadata (the last answer cell is kept,
  since that is the code the student ran last; the first test cell, whose source nbgrader restores);
* deleted graded cells are put back from the release, after the graded cell that precedes them
  there (nbgrader's own ``add_missing_cells`` crashes when that neighbour is a read-only cell).
"""

from __future__ import annotations

import difflib
import io
import json
import re
import shutil
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

from autograder.course import ASSIGNMENT, RELEASE_DIR
from autograder.grading import GradingPaths

MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024


@dataclass
class StudentReport:
    source: str
    late: bool = False
    notebooks: dict[str, str] = field(default_factory=dict)  # expected name -> "ok" or problem
    problems: list[str] = field(default_factory=list)
    malformed: list[str] = field(default_factory=list)


def expected_notebooks(release_dir: Path = RELEASE_DIR) -> dict[str, dict]:
    """name -> release notebook JSON."""
    folder = release_dir / ASSIGNMENT
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.ipynb"))}


def grade_ids(notebook: dict) -> list[str]:
    ids = []
    for cell in notebook.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader")
        if isinstance(meta, dict) and meta.get("grade_id"):
            ids.append(meta["grade_id"])
    return ids


def normalise_id(name: str) -> tuple[str, bool]:
    """(student id, late flag) from a folder or LMS file name."""
    stem = re.sub(r"\.zip$", "", name, flags=re.IGNORECASE).strip()
    late = bool(re.search(r"(^|[_\- ])late([_\- ]|$)", stem, flags=re.IGNORECASE))
    if "_" in stem:  # LMS style: <student>_[LATE_]<ids>_<file>
        stem = stem.split("_")[0]
    sid = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")
    return sid or "unknown", late


def _clean_stem(name: str) -> str:
    stem = PurePosixPath(name).stem.lower()
    stem = re.sub(r"^copy of ", "", stem)
    stem = re.sub(r"(\s*\(\d+\)|-copy\d*|_copy\d*| copy\d*)$", "", stem)
    return stem.strip()


def map_notebook(name: str, notebook: dict | None, expected: dict[str, dict]) -> str | None:
    """The release name a submitted notebook stands for, or None when it is ambiguous/unknown."""
    stem = _clean_stem(name)
    if stem in expected:
        return stem
    close = [e for e in expected if e in stem or stem in e]
    if len(close) == 1:
        return close[0]
    fuzzy = difflib.get_close_matches(stem, list(expected), n=2, cutoff=0.8)
    if len(fuzzy) == 1:
        return fuzzy[0]
    if notebook is not None:
        ids = set(grade_ids(notebook))
        by_content = [e for e, nb in expected.items() if ids and ids & set(grade_ids(nb))]
        if len(by_content) == 1:
            return by_content[0]
    return None


def repair_duplicates(notebook: dict) -> list[str]:
    """Strip grading metadata from copied graded cells (in place); return what was done."""
    positions: dict[str, list[int]] = {}
    for index, cell in enumerate(notebook.get("cells", [])):
        meta = cell.get("metadata", {}).get("nbgrader")
        if isinstance(meta, dict) and meta.get("grade_id"):
            positions.setdefault(meta["grade_id"], []).append(index)
    notes = []
    for grade_id, where in positions.items():
        if len(where) < 2:
            continue
        meta = notebook["cells"][where[0]]["metadata"]["nbgrader"]
        is_answer = meta.get("solution") and not meta.get("grade")
        keep = where[-1] if is_answer else where[0]
        for index in where:
            if index != keep:
                del notebook["cells"][index]["metadata"]["nbgrader"]
        notes.append(
            f"graded cell {grade_id!r} appears {len(where)} times; kept cell {keep}, "
            "the other copies are graded as ordinary cells"
        )
    return notes


def restore_deleted_cells(notebook: dict, release: dict) -> list[str]:
    """Put graded cells the student deleted back from the release copy (in place)."""
    present = set(grade_ids(notebook))
    notes = []
    previous: str | None = None
    for cell in release.get("cells", []):
        grade_id = (cell.get("metadata", {}).get("nbgrader") or {}).get("grade_id")
        if not grade_id:
            continue
        if grade_id not in present:
            index = 0
            if previous is not None:
                # just after the cell that precedes it in the release
                index = next(
                    i + 1
                    for i, c in enumerate(notebook["cells"])
                    if (c.get("metadata", {}).get("nbgrader") or {}).get("grade_id") == previous
                )
            notebook["cells"].insert(index, json.loads(json.dumps(cell)))
            present.add(grade_id)
            kind = "answer" if cell["metadata"]["nbgrader"].get("solution") else "test"
            notes.append(f"{kind} cell {grade_id!r} was deleted; put back from the release")
        previous = grade_id
    return notes


def _read_entry(entry: Path) -> tuple[dict[str, bytes], list[str]]:
    """{relative path: bytes} of the .ipynb files in a student folder or zip, plus problems."""
    files: dict[str, bytes] = {}
    problems: list[str] = []
    if entry.is_dir():
        for path in sorted(entry.rglob("*.ipynb")):
            if ".ipynb_checkpoints" in path.parts or path.stat().st_size > MAX_NOTEBOOK_BYTES:
                if path.stat().st_size > MAX_NOTEBOOK_BYTES:
                    problems.append(f"{path.name} is larger than {MAX_NOTEBOOK_BYTES >> 20} MB")
                continue
            files[str(path.relative_to(entry))] = path.read_bytes()
    else:
        try:
            with zipfile.ZipFile(entry) as archive:
                for info in archive.infolist():
                    parts = PurePosixPath(info.filename).parts
                    if (
                        not info.filename.endswith(".ipynb")
                        or "__MACOSX" in parts
                        or ".ipynb_checkpoints" in parts
                    ):
                        continue
                    if info.file_size > MAX_NOTEBOOK_BYTES:
                        problems.append(
                            f"{info.filename} is larger than {MAX_NOTEBOOK_BYTES >> 20} MB"
                        )
                        continue
                    files[info.filename] = archive.read(info)
        except zipfile.BadZipFile:
            problems.append(f"{entry.name} is not a valid zip file")
    return files, problems


def collect(src: Path, paths: GradingPaths | None = None) -> dict[str, StudentReport]:
    """Collect every student entry of ``src``; return (and save) the per-student report."""
    paths = paths or GradingPaths()
    src = Path(src)
    if not src.is_dir():
        raise FileNotFoundError(f"{src} is not a folder of student folders or zip files")
    expected = expected_notebooks()
    if not expected:
        raise FileNotFoundError(
            f"no release notebooks in {RELEASE_DIR / ASSIGNMENT}: "
            "run `python -m autograder release`"
        )
    shutil.rmtree(paths.submitted, ignore_errors=True)
    paths.submitted.mkdir(parents=True)
    reports: dict[str, StudentReport] = {}
    for entry in sorted(src.iterdir()):
        if entry.name.startswith(".") or not (entry.is_dir() or entry.suffix.lower() == ".zip"):
            continue
        sid, late = normalise_id(entry.name)
        if sid in reports:
            sid = f"{sid}-{len(reports)}"
        report = reports[sid] = StudentReport(source=entry.name, late=late)
        files, report.problems = _read_entry(entry)
        out = paths.submitted / sid / ASSIGNMENT
        out.mkdir(parents=True)
        for rel, data in files.items():
            name = PurePosixPath(rel).name
            try:
                notebook = json.load(io.BytesIO(data))
                if not isinstance(notebook, dict) or "cells" not in notebook:
                    raise ValueError("it has no cells")
            except (ValueError, UnicodeDecodeError) as exc:
                target = map_notebook(name, None, expected)
                label = target or name
                report.malformed.append(label)
                report.notebooks[label] = (
                    f"malformed notebook ({name} is not a valid notebook: {exc})"
                )
                continue
            target = map_notebook(name, notebook, expected)
            if target is None:
                report.problems.append(
                    f"{name} does not match any notebook of {ASSIGNMENT}; skipped"
                )
                continue
            if target in report.notebooks:
                report.problems.append(
                    f"{name} maps to {target}, which was already collected; skipped"
                )
                continue
            notes = (
                [] if name == f"{target}.ipynb" else [f"renamed: {name} graded as {target}.ipynb"]
            )
            notes += repair_duplicates(notebook)
            notes += restore_deleted_cells(notebook, expected[target])
            (out / f"{target}.ipynb").write_text(json.dumps(notebook, indent=1))
            report.notebooks[target] = "; ".join(notes) or "ok"
        for name in expected:
            report.notebooks.setdefault(name, "missing")
    manifest = {"students": {sid: asdict(r) for sid, r in reports.items()}}
    paths.root.mkdir(parents=True, exist_ok=True)
    (paths.root / "collected.json").write_text(json.dumps(manifest, indent=1))
    return reports
