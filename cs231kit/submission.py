"""Check your assignment before you hand it in, and pack it the way the graders expect.

From a terminal, in the folder that holds your notebooks::

    cs231kit-check-submission            # or: python -m cs231kit.submission

or from the last cell of a notebook::

    from cs231kit.submission import check
    check()

It checks that

1. every notebook is valid JSON and a notebook, and is one of the assignment's notebooks (not a
   stray copy such as ``02_..._out.ipynb``, which the grader could take for the real one);
2. the grading metadata is intact: no graded cell deleted, copied or edited (the test cells carry a
   checksum that must still match; each notebook lists its graded cells), so the grader can find
   your answers;
3. every answer cell is filled in (no ``raise NotImplementedError()`` left), every written answer
   (a markdown cell a TA grades) is written (no ``YOUR ANSWER HERE`` left);
4. every notebook whose code loads another one (``load_definitions("03_modular_backprop.ipynb")``,
   as notebooks 04 to 06 do) finds it in the same folder;
5. the notebooks run top to bottom in a fresh kernel, with training cells on their short
   grading-mode budgets (whatever the caller's mode: ``CS231KIT_FULL`` is not passed on), and the
   visible tests pass (skip with ``run=False``);

prints a line per notebook as it goes, says what to fix, and, only when everything is ready,
writes ``<assignment>_submission.zip`` (e.g. ``a2_submission.zip``) with your notebooks. Notebooks
of the assignment that are not in the folder are named: they would be graded as not submitted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cs231kit.run_mode import being_graded

STUB_MARKERS = ("raise NotImplementedError()", "YOUR CODE HERE")
TEXT_STUB = "YOUR ANSWER HERE"  # what the release shows in a written answer's cell
# A notebook that loads the definitions of a sibling notebook names it like this.
_LOADS = re.compile(r"""load_definitions\(\s*["']([^"']+\.ipynb)["']""")
# Set while the notebooks run inside the check, so a check() cell does not start another check.
NESTED_ENV = "CS231KIT_SUBMISSION_CHECK"
# The environment of the kernels the check starts (None: removed): see run_notebook.
_KERNEL_ENV: dict[str, str | None] = {
    NESTED_ENV: "1",
    "CS231KIT_GRADING": "1",
    "CS231KIT_FULL": None,
}


@dataclass
class NotebookReport:
    """What the check found in one notebook: ``problems`` must be fixed, ``notes`` are hints."""

    name: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # What the release wrote into the notebook's metadata (``cs231kit``): the assignment, this
    # notebook's name, every notebook of the assignment and this notebook's graded cells.
    described: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class SubmissionCheck:
    """The whole check: a report per notebook, the assignment's notebooks not in the folder, and
    the zip (written only when everything is ready)."""

    notebooks: list[NotebookReport]
    zip_path: Path | None = None
    missing: list[str] = field(default_factory=list)
    stale_zip: Path | None = None  # a zip from an earlier check, not rewritten this time

    @property
    def ok(self) -> bool:
        return bool(self.notebooks) and all(nb.ok for nb in self.notebooks)

    def __str__(self) -> str:
        lines = []
        for nb in self.notebooks:
            lines.append(f"{'OK  ' if nb.ok else 'FIX '} {nb.name}")
            lines += [f"       - {p}" for p in nb.problems]
            lines += [f"       . {n}" for n in nb.notes]
        lines += [f"MISSING {name}.ipynb: not in this folder; it would be graded as not submitted"
                  for name in self.missing]
        if not self.notebooks:
            lines.append("FIX  no notebooks (*.ipynb) found in this folder")
        if not self.ok:
            lines.append("Not ready: fix the items marked FIX above, then run the check again. "
                         "No zip was written.")
            if self.stale_zip is not None:
                lines.append(f"{self.stale_zip.name} is from an earlier check: it does not hold "
                             "your latest notebooks.")
            return "\n".join(lines)
        count = len(self.notebooks)
        if self.missing:
            lines.append(f"Ready to submit {count} of {count + len(self.missing)} notebooks "
                         f"(missing: {', '.join(self.missing)}).")
        else:
            lines.append("Ready to submit.")
        if self.zip_path is not None:
            lines.append(f"Wrote {self.zip_path} (upload this file).")
        return "\n".join(lines)


def _nbgrader(cell: dict[str, Any]) -> dict[str, Any] | None:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) and meta.get("grade_id") else None


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def cell_checksum(cell: dict[str, Any]) -> str:
    """The checksum nbgrader stores for a graded cell (source, type, flags, id and points)."""
    meta = _nbgrader(cell) or {}
    grade, solution = bool(meta.get("grade")), bool(meta.get("solution"))
    locked = False if solution else (True if grade else bool(meta.get("locked")))
    digest = hashlib.md5()
    for part in (
        _source(cell),
        cell.get("cell_type", ""),
        str(grade),
        str(solution),
        str(locked),
        meta.get("grade_id", ""),
    ):
        digest.update(part.encode("utf-8"))
    if grade:
        digest.update(str(float(meta.get("points", 0))).encode("utf-8"))
    return digest.hexdigest()


def check_structure(path: Path) -> NotebookReport:
    """Checks 1–4 for one notebook (no code is run)."""
    report = NotebookReport(path.name)
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        report.problems.append(
            f"not a readable notebook ({exc}); restore it from your last good copy "
            "(JupyterLab: File > Revert, or your backup)"
        )
        return report
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        report.problems.append("not a notebook (no list of cells); restore it from a good copy")
        return report
    described = (nb.get("metadata") or {}).get("cs231kit")
    report.described = described if isinstance(described, dict) else None
    own_name = report.described and report.described.get("notebook")
    if own_name and own_name != path.stem:
        report.problems.append(
            f"a copy of {own_name}.ipynb: the grader could take it for your {own_name}.ipynb; "
            f"delete it or move it out of this folder (if it is your only copy, rename it "
            f"{own_name}.ipynb)"
        )
        return report
    seen: dict[str, int] = {}
    graded = 0
    for index, cell in enumerate(nb["cells"], start=1):
        meta = _nbgrader(cell)
        if meta is None:
            continue
        graded += 1
        grade_id = meta["grade_id"]
        if grade_id in seen:
            report.problems.append(
                f"cell {index} is a copy of graded cell {grade_id!r} (cell {seen[grade_id]}); "
                "delete the copy and keep your code in the original cell"
            )
            continue
        seen[grade_id] = index
        # Answer cells: code answers, and written answers (markdown cells a TA grades by hand,
        # which are also grade cells); whatever the student writes there changes them.
        is_answer = bool(meta.get("solution"))
        if is_answer and cell.get("cell_type") == "markdown":
            if TEXT_STUB in _source(cell):
                report.problems.append(
                    f"written answer {grade_id!r} (cell {index}) is not answered yet: replace "
                    f"{TEXT_STUB} with your answer"
                )
        elif is_answer and any(marker in _source(cell) for marker in STUB_MARKERS):
            report.problems.append(f"answer cell {grade_id!r} (cell {index}) is not filled in yet")
        stored = meta.get("checksum")
        if not is_answer and stored and cell_checksum(cell) != stored:
            report.problems.append(
                f"test cell {grade_id!r} (cell {index}) was edited; the grader restores the "
                "original, so undo your change (copy the cell from a fresh copy of the assignment)"
            )
    if report.described:
        previous = None
        for grade_id in report.described.get("graded_cells", []):
            if grade_id not in seen:
                where = f"came after graded cell {previous!r}" if previous else "was the first"
                report.problems.append(
                    f"graded cell {grade_id!r} was deleted (it {where}); copy it back, in "
                    "the same place, from a fresh copy of the assignment"
                )
            previous = grade_id
    for needed in sorted(_loaded_notebooks(nb) - {path.name}):
        if not (path.parent / needed).is_file():
            report.problems.append(
                f"it loads your definitions from {needed}, which is not in this folder: keep "
                "the notebooks of the assignment together"
            )
    if graded == 0:
        report.problems.append(
            "no graded cells found: the grading metadata is missing (was the notebook re-created "
            "or saved by another editor?); start from the assignment's copy and paste your code in"
        )
    return report


def _loaded_notebooks(nb: dict[str, Any]) -> set[str]:
    """The sibling notebooks whose definitions a notebook's code cells load."""
    return {
        name
        for cell in nb["cells"]
        if isinstance(cell, dict) and cell.get("cell_type") == "code"
        for name in _LOADS.findall(_source(cell))
    }


def run_notebook(path: Path, timeout: int = 600) -> list[str]:
    """Run a notebook in a fresh kernel (its own folder as cwd) in grading mode.

    Inputs:
    - path: the notebook
    - timeout: seconds each cell may take

    The kernel runs with ``CS231KIT_GRADING=1`` and without ``CS231KIT_FULL``, whatever this
    process's environment says (which is restored afterwards). Returns one line per cell that
    raised, e.g. ``"'relu_jacobian_visible' (cell 12) raised AssertionError: ..."``.
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    # The kernel inherits these: no nested check, and training cells on grading-mode budgets
    # (the check is about structure and visible tests, not about reaching accuracy targets).
    # CS231KIT_FULL is removed, since it would win over CS231KIT_GRADING: a student who works in
    # full mode would otherwise wait for every notebook's full training runs again.
    saved = {name: os.environ.get(name) for name in _KERNEL_ENV}
    for name, value in _KERNEL_ENV.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    try:
        client = NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            allow_errors=True,
            resources={"metadata": {"path": str(path.parent)}},
        )
        client.execute()
    finally:
        for variable, previous in saved.items():
            if previous is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = previous
    failures = []
    for index, cell in enumerate(nb.cells, start=1):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                meta = _nbgrader(cell)
                label = f"{meta['grade_id']!r} (cell {index})" if meta else f"cell {index}"
                message = f"{out.get('ename')}: {out.get('evalue')}".strip()
                failures.append(f"{label} raised {message[:300]}")
    return failures


def write_zip(notebooks: list[Path], zip_path: Path) -> Path:
    """Pack the notebooks (names unchanged) into a zip that the course's `collect` accepts."""
    tmp = zip_path.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in notebooks:
            archive.write(path, arcname=path.name)
    tmp.replace(zip_path)
    return zip_path


def check(
    folder: str | Path = ".",
    *,
    run: bool = True,
    zip_name: str | None = None,
    timeout: int = 600,
    verbose: bool = True,
) -> SubmissionCheck:
    """Check every notebook in ``folder``; write the zip; print and return the report."""
    if os.environ.get(NESTED_ENV):
        return SubmissionCheck([])  # running inside the check itself: nothing to do
    if being_graded():  # checking and zipping is the student's job, not the grader's
        if verbose:
            print("Pre-submission check skipped: the notebook is being graded.")
        return SubmissionCheck([])
    folder = Path(folder).resolve()
    notebooks = sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))
    reports = []
    for number, path in enumerate(notebooks, start=1):
        report = check_structure(path)
        reports.append(report)
        if run and report.ok:
            if verbose:
                print(f"[{number}/{len(notebooks)}] {path.name}: running it in a fresh kernel...",
                      flush=True)
            started = time.perf_counter()
            report.problems += [
                f"{f}: fix it and run the notebook again" for f in run_notebook(path, timeout)
            ]
            report.notes.append(f"ran in {time.perf_counter() - started:.0f} s")
        if verbose:
            verdict = "OK" if report.ok else f"FIX ({len(report.problems)} item(s))"
            print(f"[{number}/{len(notebooks)}] {path.name}: {verdict}", flush=True)
    described = [r.described for r in reports if r.described]
    assignment = described[0].get("assignment") if described else None
    expected = described[0].get("notebooks", []) if described else []
    for report in reports:
        if expected and report.described is None and Path(report.name).stem not in expected:
            report.problems.append(
                f"not a notebook of assignment {assignment} ({', '.join(expected)}): move it "
                "out of this folder before you zip it"
            )
    result = SubmissionCheck(reports)
    present = {Path(r.name).stem for r in reports}
    result.missing = [name for name in expected if name not in present]
    zip_path = folder / (zip_name or f"{assignment or folder.name}_submission.zip")
    if result.ok:
        result.zip_path = write_zip(notebooks, zip_path)
    elif zip_path.exists():
        result.stale_zip = zip_path
    if verbose:
        print(result)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="cs231kit-check-submission",
        description="Check your notebooks before you submit them, and write the zip to upload.",
    )
    parser.add_argument("folder", nargs="?", default=".", help="folder with your notebooks")
    parser.add_argument("--no-run", action="store_true", help="do not execute the notebooks")
    parser.add_argument("--zip", dest="zip_name", help="name of the zip file to write")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = parser.parse_args(argv)
    result = check(args.folder, run=not args.no_run, zip_name=args.zip_name, timeout=args.timeout)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
