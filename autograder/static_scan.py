"""Point a TA at code worth a look: a static scan of the cells a student wrote.

The scan flags, and never changes a grade: grades come from the judge, which no code in a
notebook can reach. It parses (never runs) every code cell a student can change (answer cells and
added cells; locked cells are restored by nbgrader before grading) and reports, with the
notebook, the cell number as Jupyter shows it (1-based) and the line:

* grader detection: reading the environment, or naming the grader (nbgrader, the judge, hidden
  tests, ``autograder``);
* monkeypatching: assigning to an attribute of NumPy, ``sys``, ``builtins`` or IPython, or
  touching IPython's input transformers and events;
* introspection: ``sys.settrace`` / ``setprofile``, frames, ``gc`` and ``inspect``;
* objects that lie: classes defining ``__eq__``, ``__array__``, ``__reduce__`` and the like;
* the outside world: files, sockets, processes, shell escapes, ``exec`` / ``eval``, dynamic
  imports, ``ctypes``, ``pickle``, databases.
"""

from __future__ import annotations

import ast
import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from autograder.course import COLAB_CELL

# CPython 3.11 keeps ast.parse's recursion depth in per-interpreter state: two threads parsing at
# once can fail with "SystemError: AST constructor recursion depth mismatch" (CPython gh-106905).
# The grader's threads (grade --engine threads) parse one at a time.
_PARSE_LOCK = threading.Lock()


def parse(source: str) -> ast.Module:
    """``ast.parse``, safe to call from several threads at once."""
    with _PARSE_LOCK:
        return ast.parse(source)

_MODULE_ALIASES = {"np", "numpy", "sys", "builtins", "__builtins__", "IPython", "os", "math"}
_SUSPECT_MODULES = {
    "os": "operating-system access (os)",
    "sys": "interpreter internals (sys)",
    "subprocess": "starts processes (subprocess)",
    "socket": "network access (socket)",
    "ctypes": "raw memory access (ctypes)",
    "importlib": "dynamic imports (importlib)",
    "inspect": "frame inspection (inspect)",
    "gc": "walks live objects (gc)",
    "builtins": "replaces built-ins (builtins)",
    "shutil": "file operations (shutil)",
    "pathlib": "file access (pathlib)",
    "multiprocessing": "starts processes (multiprocessing)",
    "threading": "starts threads (threading)",
    "signal": "signal handlers (signal)",
    "pickle": "unpickling (pickle)",
    "marshal": "code objects (marshal)",
    "sqlite3": "database access (sqlite3)",
    "urllib": "network access (urllib)",
    "http": "network access (http)",
    "requests": "network access (requests)",
    "asyncio": "event loops and subprocesses (asyncio)",
    "autograder": "imports the grader (autograder)",
    "nbgrader": "imports the grader (nbgrader)",
}
_SUSPECT_CALLS = {
    "open": "opens a file",
    "exec": "runs code from a string (exec)",
    "eval": "evaluates code from a string (eval)",
    "compile": "compiles code (compile)",
    "__import__": "dynamic import (__import__)",
    "setattr": "sets attributes by name (setattr)",
    "delattr": "deletes attributes by name (delattr)",
    "get_ipython": "reaches into IPython (get_ipython)",
    "globals": "reads or writes the notebook's globals",
}
_SUSPECT_ATTRIBUTES = {
    "settrace": "installs a tracer (settrace)",
    "setprofile": "installs a profiler (setprofile)",
    "_getframe": "inspects frames (sys._getframe)",
    "f_back": "walks the call stack (f_back)",
    "f_locals": "reads a caller's variables (f_locals)",
    "f_globals": "reads a caller's globals (f_globals)",
    "currentframe": "inspects frames (inspect.currentframe)",
    "get_referrers": "walks live objects (gc.get_referrers)",
    "get_objects": "walks live objects (gc.get_objects)",
    "input_transformers_cleanup": "rewrites later cells (IPython input transformers)",
    "input_transformers_post": "rewrites later cells (IPython input transformers)",
    "ast_transformers": "rewrites later cells (IPython AST transformers)",
    "input_transformer_manager": "rewrites later cells (IPython input manager)",
    "events": "hooks IPython's events",
    "__code__": "swaps a function's code",
    "__globals__": "reaches a function's globals",
}
# Attributes that only matter on one module (``np.stack`` is fine, ``inspect.stack`` is not).
_SUSPECT_MODULE_ATTRIBUTES = {
    ("inspect", "stack"): "inspects the call stack (inspect.stack)",
    ("os", "environ"): "reads the environment (grader detection?)",
    ("os", "getenv"): "reads the environment (grader detection?)",
    ("os", "system"): "runs a shell command (os.system)",
    ("os", "fork"): "forks a process (os.fork)",
    ("os", "kill"): "signals a process (os.kill)",
}
_GRADER_WORDS = re.compile(
    r"NBGRADER|nbgrader|CS231KIT_GRADING|CS231KIT_JUDGE|autograder|hidden_tests?|hand_in|judge|"
    r"gradebook|solutions/",
)
_LYING_METHODS = {
    "__eq__", "__ne__", "__lt__", "__gt__", "__le__", "__ge__", "__bool__", "__float__",
    "__array__", "__array_ufunc__", "__array_function__", "__reduce__", "__reduce_ex__",
    "__getstate__", "__setstate__", "__getattribute__", "__instancecheck__",
}
_MAGIC = re.compile(r"^\s*(!|%%?(bash|sh|script|system|sx|run|load|writefile|env|capture)\b)")


@dataclass(frozen=True)
class Finding:
    """One place in a submission a TA should look at."""

    notebook: str
    cell: int  # as Jupyter numbers cells: 1-based, every cell counted
    line: int  # 1-based, within the cell
    what: str
    code: str

    def __str__(self) -> str:
        return f"{self.notebook} cell {self.cell} line {self.line}: {self.what}: {self.code}"


def scan_notebook(path: Path) -> list[Finding]:
    """The findings in the student-editable code cells of one notebook (malformed: none)."""
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError, TypeError):
        return []  # collect reports malformed notebooks; there is nothing to scan
    code: list[tuple[int, str, bool]] = []  # (cell number, source, editable by the student)
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        # nbgrader puts back the instructor's version of locked cells before it runs them.
        editable = not (meta.get("locked") or (meta.get("grade") and not meta.get("solution")))
        source = cell.get("source", "")
        code.append((number, "".join(source) if isinstance(source, list) else str(source),
                     editable))
    modules = set(_MODULE_ALIASES).union(*(_imported_names(source) for _, source, _ in code))
    findings: list[Finding] = []
    for number, source, editable in code:
        if editable and not _same_code(source, COLAB_CELL):
            findings += _scan_source(path.stem, number, source, modules)
    return findings


def _same_code(a: str, b: str) -> bool:
    """Whether two cells hold the same code, comments and the text of strings aside.

    The release's Colab cell is the course's code, not the student's, even with its folder name
    changed (which the cell asks for).
    """
    def shape(source: str) -> str | None:
        try:
            tree = parse(_python(source))
        except SyntaxError:
            return None
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                node.value = ""
        return ast.dump(tree)

    return shape(a) is not None and shape(a) == shape(b)


def _python(source: str) -> str:
    """The cell with IPython-only lines (magics, shell escapes) made ``pass``."""
    return "\n".join(
        "pass" if _MAGIC.match(t) or t.lstrip().startswith("%") else t
        for t in source.splitlines()
    )


def _imported_names(source: str) -> set[str]:
    """Names a cell binds to modules (``import numpy as np`` -> np)."""
    try:
        tree = parse(_python(source))
    except SyntaxError:
        return set()
    return {
        (alias.asname or alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }


def _scan_source(notebook: str, cell: int, source: str, modules: set[str]) -> list[Finding]:
    lines = source.splitlines()
    found: dict[tuple[int, str], Finding] = {}

    def add(line: int, what: str) -> None:
        code = lines[line - 1].strip()[:120] if 0 < line <= len(lines) else ""
        found.setdefault((line, what), Finding(notebook, cell, line, what, code))

    for number, text in enumerate(lines, start=1):
        if _MAGIC.match(text):
            add(number, "shell escape or magic")
        if _GRADER_WORDS.search(text):
            add(number, "names the grader (grader detection?)")
    try:
        tree = parse(_python(source))
    except SyntaxError:
        return list(found.values())
    modules = modules | _imported_names(source)
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [
                node.module or ""
            ]
            for name in names:
                top = name.split(".")[0]
                if top in _SUSPECT_MODULES:
                    add(line, _SUSPECT_MODULES[top])
        elif isinstance(node, ast.FunctionDef) and node.name in _LYING_METHODS:
            add(line, f"defines {node.name} (an object that may lie about what it is)")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in _SUSPECT_CALLS:
                add(line, _SUSPECT_CALLS[node.func.id])
        elif isinstance(node, ast.Attribute):
            owner = node.value.id if isinstance(node.value, ast.Name) else ""
            what = _SUSPECT_ATTRIBUTES.get(node.attr) or _SUSPECT_MODULE_ATTRIBUTES.get(
                (owner, node.attr)
            )
            if what:
                add(line, what)
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in targets:
                root = target
                while isinstance(root, ast.Attribute):
                    root = root.value
                if root is not target and isinstance(root, ast.Name) and root.id in modules:
                    add(line, f"monkeypatches {root.id} ({ast.unparse(target)})")
    return sorted(found.values(), key=lambda f: (f.line, f.what))


def scan_submission(folder: Path) -> list[Finding]:
    """The findings of every notebook in ``folder``, notebook by notebook."""
    return [f for path in sorted(folder.glob("*.ipynb")) for f in scan_notebook(path)]
