"""Tolerance validation: every hidden check accepts the reference solution for 1000 seeds.

For each solution notebook, a real kernel runs the notebook in grading mode, then one extra cell
runs every case of every graded cell's hidden check on seeds 0..N-1 (N = 1000, or
``CS231KIT_SWEEP_SEEDS``), with exactly the objects the graded cell passes (``hidden.check(ID,
EXPR)``: EXPR is evaluated in the notebook's namespace). Slow: ``make test-slow``.
"""

from __future__ import annotations

import ast
import json
import os

import nbformat
import pytest
from nbclient import NotebookClient

from autograder import rubric
from autograder.course import ROOT, nbgrader_env

SOLUTIONS = ROOT / "solutions" / rubric.ASSIGNMENT
SEEDS = int(os.environ.get("CS231KIT_SWEEP_SEEDS", "1000"))

SWEEP = '''
import importlib, json
from autograder.hidden_tests.harness import run_case
_failures, _runs = [], 0
for _module, _test_id, _expr in {specs!r}:
    _hidden = importlib.import_module(_module)
    _student = eval(_expr)
    for _case in _hidden.CASES[_test_id]:
        for _seed in range({seeds}):
            _runs += 1
            _msg = run_case(_case, _student, _seed)
            if _msg is not None:
                _failures.append(_msg)
print(json.dumps({{"runs": _runs, "failures": _failures[:20], "failed": len(_failures)}}))
'''


def hidden_checks(nb: nbformat.NotebookNode) -> list[tuple[str, str, str]]:
    """(hidden module, test id, student expression) of every graded cell."""
    specs = []
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("grade") or meta.get("solution"):
            continue
        tree = ast.parse(cell.source)
        module = next(
            f"{node.module}.{alias.name}"
            for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
            for alias in node.names if alias.asname == "hidden"
        )
        call = next(
            node for node in ast.walk(tree)
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "hidden.check"
        )
        specs.append((module, call.args[0].value, ast.unparse(call.args[1])))
    return specs


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(rubric.POINTS))
def test_hidden_checks_accept_the_solution_for_many_seeds(name, monkeypatch):
    for key, value in nbgrader_env({"CS231KIT_GRADING": "1"}).items():
        monkeypatch.setenv(key, value)
    nb = nbformat.read(SOLUTIONS / f"{name}.ipynb", as_version=4)
    specs = hidden_checks(nb)
    assert sorted(test_id for _, test_id, _ in specs) == sorted(rubric.POINTS[name])
    nb.cells.append(nbformat.v4.new_code_cell(SWEEP.format(specs=specs, seeds=SEEDS)))
    client = NotebookClient(nb, timeout=None, kernel_name="python3",
                            resources={"metadata": {"path": str(SOLUTIONS)}})
    client.execute()
    result = json.loads(nb.cells[-1].outputs[-1]["text"])
    print(f"{name}: {result['runs']} case runs over {SEEDS} seeds, {result['failed']} failed")
    assert result["failed"] == 0, result["failures"]
    assert result["runs"] >= SEEDS * len(specs)
