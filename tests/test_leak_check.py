"""The leak check: nothing secret in assignments/ or cs231kit/, and a planted leak is caught."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from autograder.course import ROOT
from autograder.leak_check import (
    collect_secrets,
    find_leaks,
    format_leaks,
    normalise,
    python_code_lines,
    split_notebook,
)

RELEASE = ROOT / "assignments"


def test_committed_release_and_library_do_not_leak():
    leaks = find_leaks()
    assert leaks == [], "secret lines found:\n" + format_leaks(leaks)


def test_release_has_no_region_markers():
    for notebook in RELEASE.rglob("*.ipynb"):
        text = notebook.read_text()
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
            assert marker not in text, f"{notebook.name} contains {marker}"


def test_secrets_cover_solutions_hidden_tests_and_reference():
    secrets = collect_secrets()
    origins = {origin.split("/")[0] for origin in secrets.values()}
    assert {"solutions", "autograder"} <= origins
    assert any("autograder/judge/reference" in o for o in secrets.values())
    assert any("autograder/judge/checks" in o for o in secrets.values())


@pytest.mark.parametrize("kind", ["solution", "reference"])
def test_planted_leak_is_caught(tmp_path, kind):
    """Copy the release and the library, plant one secret line, and the check names it."""
    secrets = collect_secrets()
    wanted = "solutions" if kind == "solution" else "autograder/judge/reference"
    line = next(text for text, origin in secrets.items() if origin.startswith(wanted))
    release = tmp_path / "assignments"
    shutil.copytree(RELEASE, release)
    library = tmp_path / "cs231kit"
    shutil.copytree(ROOT / "cs231kit", library, ignore=shutil.ignore_patterns("__pycache__"))
    assert find_leaks(release, library, secrets) == []

    notebook = sorted(release.rglob("*.ipynb"))[0]
    nb = json.loads(notebook.read_text())
    code_cell = next(c for c in nb["cells"] if c["cell_type"] == "code")
    code_cell["source"] = "".join(code_cell["source"]) + "\n    " + line + "\n"
    notebook.write_text(json.dumps(nb))
    (library / "planted.py").write_text(f"def f():\n    {line}\n")

    leaks = find_leaks(release, library, secrets)
    assert {leak.line for leak in leaks} == {line}
    assert {Path(leak.where.split(" ")[0]).name for leak in leaks} == {notebook.name, "planted.py"}


def test_trivial_lines_are_not_secrets():
    assert normalise("    return out") is None
    assert normalise("# a comment that is long enough") is None
    assert normalise("import numpy as np") is None
    assert normalise("def affine_forward(x, w, b):") is None
    assert (
        normalise("  dx = dout.dot(w.T).reshape(x.shape)  ")
        == "dx = dout.dot(w.T).reshape(x.shape)"
    )


def test_split_notebook_and_docstrings(tmp_path):
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "source": [
                    "def f(x):\n",
                    "    ### BEGIN SOLUTION\n",
                    "    y = secret_helper(x) * 2\n",
                    "    ### END SOLUTION\n",
                    "visible_line_of_scaffolding = 1\n",
                ],
            }
        ]
    }
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps(nb))
    inside, outside = split_notebook(path)
    assert [s.strip() for s in inside] == ["y = secret_helper(x) * 2"]
    assert "visible_line_of_scaffolding = 1" in [s.strip() for s in outside]

    module = tmp_path / "m.py"
    module.write_text(
        '"""Module doc\nspanning lines."""\n\ndef g():\n    """Doc."""\n    return 1\n'
    )
    assert [line for line in python_code_lines(module) if line.strip()] == [
        "def g():",
        "    return 1",
    ]
