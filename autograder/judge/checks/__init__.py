"""The hidden checks of every notebook, as the judge runs them.

Each module ``nbXX_<notebook>`` holds, for one notebook:

- ``NOTEBOOK``: the notebook's name (a key of ``autograder.rubric.POINTS``);
- ``CALLS``: the module of ``autograder.sandbox.handin.calls`` whose adapters call its functions;
- ``CASES``: grade_id of each hidden test cell -> its list of :class:`~autograder.judge.cases.Case`;
- ``VALUE_TESTS``: the tests whose answer is a *value* the notebook computes (e.g. the chosen
  learning rate): taken from the notebook run, and judged by the judge alone.

What each hidden test cell hands in (a function, a class, or a dict of them) is read from the cell
itself in the source notebook, ``hand_in("test_x", <what>)``: one place says it.
"""

from __future__ import annotations

import ast
import functools
import importlib
import json
from types import ModuleType
from typing import Any

from autograder import rubric
from autograder.course import SOURCE_DIR
from autograder.static_scan import parse


def module_of(notebook: str) -> ModuleType:
    """The check module of ``notebook`` (e.g. "02_jacobian_free_gradients" -> nb02_...)."""
    return importlib.import_module(f"{__name__}.nb{notebook}")


@functools.cache
def _index() -> dict[str, str]:
    return {test: notebook for notebook in rubric.POINTS for test in module_of(notebook).CASES}


def find(test_id: str) -> ModuleType | None:
    """The check module that holds ``test_id``, or None for an unknown test."""
    notebook = _index().get(test_id)
    return module_of(notebook) if notebook else None


@functools.cache
def handed_in(notebook: str) -> dict[str, Any]:
    """grade_id -> what its hidden cell hands in: a name, or a dict of keys to names.

    Read from the ``hand_in(...)`` call of each hidden test cell of the source notebook.
    """
    cells = json.loads((SOURCE_DIR / rubric.ASSIGNMENT / f"{notebook}.ipynb").read_text())["cells"]
    found: dict[str, Any] = {}
    for cell in cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("grade") or meta.get("solution"):
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        for node in ast.walk(parse(source)):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "hand_in":
                found[meta["grade_id"]] = _what(node.args[1])
    return found


def _what(node: ast.expr) -> Any:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Dict) and all(isinstance(v, ast.Name) for v in node.values):
        return {ast.literal_eval(k): v.id for k, v in zip(node.keys, node.values, strict=True)}  # type: ignore[arg-type, union-attr]
    raise ValueError(f"a hidden cell hands in a name or a dict of names, not {ast.unparse(node)}")


def worker_plan() -> list[tuple[str, str]]:
    """(grade_id, notebook file) of every test the sandboxed worker re-checks, in notebook order."""
    plan = []
    for notebook in rubric.POINTS:
        module = module_of(notebook)
        for test_id in handed_in(notebook):
            if test_id not in module.VALUE_TESTS:
                plan.append((test_id, f"{notebook}.ipynb"))
    return plan
