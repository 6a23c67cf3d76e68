"""The student bundle: ``dist/a2-student.zip``, everything a student needs and nothing else.

Inside, under ``a2-student/``:

* ``a2/*.ipynb``: the release notebooks (``assignments/a2``);
* ``cs231kit-<version>-py3-none-any.whl``: the course library, built from this checkout at release
  time (the wheel holds the ``cs231kit`` package only);
* ``README.md``, ``environment.yml`` (it names the wheel) and ``colab_setup.py`` (what the first
  cell of each notebook calls on Google Colab) from ``student/``;
* ``get_cifar10.py`` and ``DATA_LICENSE.md`` from ``datasets/``.

Nothing from ``solutions/``, ``autograder/`` or ``tests/`` goes in; :func:`bundle_leaks` proves it
by file name and by content (every notebook and Python file inside, the wheel's included).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from autograder.course import ASSIGNMENT, RELEASE_DIR, ROOT
from autograder.leak_check import collect_secrets, leaks_in

STUDENT_FILES = ROOT / "student"
# Paths no bundle member may contain: the instructor's side of the course.
FORBIDDEN_PARTS = ("solutions", "autograder", "tests", "hidden_tests", "grading")


class BundleError(RuntimeError):
    """The bundle could not be built, or it holds something students must not see."""


def build_wheel(dest: Path) -> Path:
    """Build the cs231kit wheel from this checkout into ``dest``; return its path."""
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dest),
               str(ROOT)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    wheels = sorted(dest.glob("cs231kit-*.whl"))
    if done.returncode != 0 or len(wheels) != 1:
        raise BundleError(f"building the cs231kit wheel failed:\n{done.stdout}{done.stderr}")
    return wheels[0]


def build_bundle(dest: Path | None = None, release_dir: Path = RELEASE_DIR) -> Path:
    """Write ``<dest>/a2-student.zip`` (default ``dist/``) and check it; return its path.

    Raises BundleError when the wheel cannot be built or the bundle leaks.
    """
    dest = dest or ROOT / "dist"
    dest.mkdir(parents=True, exist_ok=True)
    top = f"{ASSIGNMENT}-student"
    path = dest / f"{top}.zip"
    with tempfile.TemporaryDirectory() as tmp:
        wheel = build_wheel(Path(tmp))
        environment = (STUDENT_FILES / "environment.yml").read_text(encoding="utf-8")
        members: dict[str, bytes] = {
            f"{top}/README.md": (STUDENT_FILES / "README.md").read_bytes(),
            f"{top}/environment.yml": environment.replace("WHEEL", f"./{wheel.name}").encode(),
            f"{top}/colab_setup.py": (STUDENT_FILES / "colab_setup.py").read_bytes(),
            f"{top}/{wheel.name}": wheel.read_bytes(),
            f"{top}/get_cifar10.py": (ROOT / "datasets" / "get_cifar10.py").read_bytes(),
            f"{top}/DATA_LICENSE.md": (ROOT / "datasets" / "DATA_LICENSE.md").read_bytes(),
        }
        for notebook in sorted((release_dir / ASSIGNMENT).glob("*.ipynb")):
            members[f"{top}/{ASSIGNMENT}/{notebook.name}"] = notebook.read_bytes()
        partial = path.with_suffix(".zip.partial")
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in members.items():
                archive.writestr(name, data)
    problems = bundle_leaks(partial)
    if problems:
        partial.unlink()
        raise BundleError("the student bundle would leak:\n" + "\n".join(problems))
    partial.replace(path)
    return path


def _members(archive: zipfile.ZipFile, prefix: str = "") -> Iterator[tuple[str, bytes]]:
    """(name, content) of every file in the archive, descending into wheels and zips."""
    for info in archive.infolist():
        if info.is_dir():
            continue
        data = archive.read(info)
        name = prefix + info.filename
        yield name, data
        if name.endswith((".whl", ".zip")):
            with zipfile.ZipFile(io.BytesIO(data)) as inner:
                yield from _members(inner, name + "!/")


def _code_lines(name: str, data: bytes) -> list[str]:
    """The lines of a notebook's cells or of a text file that could carry code."""
    if name.endswith(".ipynb"):
        cells = json.loads(data)["cells"]
        return [line for cell in cells for line in "".join(cell["source"]).splitlines()]
    if name.endswith((".py", ".md", ".yml", ".txt", ".json")):
        return data.decode("utf-8", errors="replace").splitlines()
    return []


def bundle_leaks(bundle: Path, secrets: dict[str, str] | None = None) -> list[str]:
    """Why the bundle must not go to students: forbidden files, or secret lines (one per line).

    Secrets are the leak check's (solution regions, hidden tests, the judge's code).
    """
    secrets = collect_secrets() if secrets is None else secrets
    with zipfile.ZipFile(bundle) as archive:
        members = list(_members(archive))
    problems = [
        f"{name}: instructor files have no place in the bundle"
        for name, _ in members
        if set(name.replace("!/", "/").split("/")) & set(FORBIDDEN_PARTS)
    ]
    leaks = leaks_in(((name, _code_lines(name, data)) for name, data in members), secrets)
    return problems + [f"{leak.where}: {leak.line!r} (from {leak.origin})" for leak in leaks]
