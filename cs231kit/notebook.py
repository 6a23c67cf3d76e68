"""Reuse the definitions of a sibling notebook.

Later notebooks build on code you wrote in earlier ones. Instead of copying it, load it:

    >>> nb01 = load_definitions("01_flat_backprop.ipynb")       # doctest: +SKIP
    >>> loss, grads = nb01.two_layer_loss(X, y, params)          # doctest: +SKIP

Only **definitions** are loaded, cell by cell in notebook order: ``import`` and ``from ... import``
statements, ``def`` functions and ``class`` definitions at the top level of a code cell. Nothing
else runs: assignments, prints, training loops and plots in that notebook are skipped, so loading
is quick and has no side effects. (A consequence: a function that reads a top-level variable of
its notebook, e.g. a constant, fails with NameError; pass the value in as an argument instead.)

With ``simple_assignments=True`` (what the grader's re-check uses), top-level assignments of
*simple values* load too: constants (``EPS = 1e-8``, ``learning_rate = 10 ** -2.5``), names and
attributes (``affine_forward = nb03.affine_forward``) and ``load_definitions(...)`` itself.

IPython syntax (``%matplotlib inline``, ``!pip ...``, ``%%time`` cells) is skipped. A cell with a
syntax error is skipped with a message on stdout and the rest still loads; asking the loaded
module for a name that it does not define raises an AttributeError that says where to define it.
"""

import __future__

import ast
import json
import re
import sys
import types
import warnings
from pathlib import Path
from typing import Any

# Statements that make a definition; everything else at top level is skipped.
_DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)

# IPython-only lines: %magic, !shell, name = %magic / name = !shell, and obj? / obj?? help.
_IPYTHON_LINE = re.compile(r"^\s*([%!]|[\w.,\s]+=\s*[%!]|[\w.]+\?\??\s*$)")


def load_definitions(
    path: str | Path, module_name: str | None = None, *, simple_assignments: bool = False
) -> types.ModuleType:
    """Load the imports, functions and classes of a notebook into a fresh module.

    Inputs:
    - path: the .ipynb file; a relative path is taken from the current directory, which in
      Jupyter (and under nbgrader) is the folder of the running notebook
    - module_name: name of the new module (default: from the file name, e.g.
      "notebook_01_flat_backprop" for 01_flat_backprop.ipynb)
    - simple_assignments: also run top-level assignments of simple values (see above)

    Returns a module whose attributes are the notebook's definitions; ``module.__file__`` is the
    notebook's path. Top-level statements other than definitions are never run.
    """
    notebook = Path(path).expanduser()
    if not notebook.is_absolute():
        notebook = Path.cwd() / notebook
    cells = _read_code_cells(notebook)
    name = module_name or "notebook_" + re.sub(r"\W", "_", notebook.stem)

    module = types.ModuleType(name, f"Definitions loaded from {notebook.name}.")
    loader = _Loader(notebook, module, simple_assignments)
    loader.module.__file__ = str(notebook)
    # dataclasses and typing look the defining module up in sys.modules while a class is created,
    # so register the module while loading, and restore whatever was there before.
    previous = sys.modules.get(name)
    sys.modules[name] = loader.module
    try:
        # Warnings (e.g. from an import) would go to stderr, which costs points under nbgrader;
        # collect them and repeat them on stdout instead.
        with warnings.catch_warnings(record=True) as caught:
            for number, source in cells:
                loader.load_cell(number, source)
    finally:
        if previous is None:
            del sys.modules[name]
        else:
            sys.modules[name] = previous
    for warning in caught:
        loader.say(
            f"warning while loading {notebook.name}: {warning.category.__name__}: {warning.message}"
        )
    loader.module.__getattr__ = loader.missing_name_reporter()  # type: ignore[method-assign]
    return loader.module


def _read_code_cells(notebook: Path) -> list[tuple[int, str]]:
    """[(cell number, source)] for the code cells; cells are numbered from 1, counting all cells."""
    if not notebook.is_file():
        raise FileNotFoundError(
            f"notebook {notebook.name} not found at {notebook}. Relative paths are taken from the "
            f"current directory ({Path.cwd()}); put the notebooks in the same folder."
        )
    try:
        content = json.loads(notebook.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(
            f"{notebook} is not a readable notebook (invalid JSON: {error}). If you edited it by "
            "hand, restore it from a checkpoint or a fresh copy of the assignment."
        ) from error
    if not isinstance(content, dict) or not isinstance(content.get("cells"), list):
        raise ValueError(
            f"{notebook} is not a Jupyter notebook in nbformat 4 (no list of 'cells'); open and "
            "save it in a current Jupyter to upgrade it."
        )
    code_cells = []
    for number, cell in enumerate(content["cells"], start=1):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", "")
            code_cells.append((number, "".join(source) if isinstance(source, list) else source))
    return code_cells


class _Loader:
    """Runs the definitions of one notebook's cells in a module, remembering what it skipped."""

    def __init__(self, notebook: Path, module: types.ModuleType, simple_assignments: bool) -> None:
        self.notebook = notebook
        self.module = module
        self.simple_assignments = simple_assignments
        self.skipped: list[int] = []  # cells not loaded because of a syntax error
        self.assigned: dict[str, int] = {}  # names assigned at top level (not loaded) -> cell
        self.flags = 0  # `from __future__` imports apply to later cells, as in Jupyter

    def load_cell(self, number: int, source: str) -> None:
        if source.lstrip().startswith("%%"):
            return  # a cell magic (%%time, %%bash, ...): not plain Python, nothing to load
        tree = self.parse(number, source)
        if tree is None:
            self.skipped.append(number)
            return
        for node in tree.body:
            if isinstance(node, _DEFINITIONS) or (self.simple_assignments and _simple(node)):
                self.run(number, node)
            else:
                for name in _assigned_names(node):
                    self.assigned.setdefault(name, number)

    def parse(self, number: int, source: str) -> ast.Module | None:
        """The cell's syntax tree, with IPython-only lines made `pass`; None on a syntax error."""
        try:
            return ast.parse(source)  # plain Python: leave it exactly as written
        except SyntaxError:
            pass
        # `pass` at the same indentation keeps blocks and line numbers intact.
        lines = [
            line[: len(line) - len(line.lstrip())] + "pass" if _IPYTHON_LINE.match(line) else line
            for line in source.splitlines()
        ]
        try:
            return ast.parse("\n".join(lines))
        except SyntaxError as error:
            first = next((line.strip() for line in source.splitlines() if line.strip()), "")
            self.say(
                f"skipped cell {number} of {self.notebook.name} (the cell starting {first[:40]!r}):"
                f" syntax error on line {error.lineno} of the cell: {error.msg}. Its definitions"
                f" are not loaded; fix the cell in {self.notebook.name}."
            )
            return None

    def run(self, number: int, node: ast.stmt) -> None:
        """Execute one definition in the module; report (not raise) what goes wrong."""
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            for alias in node.names:
                self.flags |= getattr(__future__, alias.name).compiler_flag
        try:
            code = compile(
                ast.Module(body=[node], type_ignores=[]),
                f"{self.notebook.name} [cell {number}]",
                "exec",
                flags=self.flags,
                dont_inherit=True,
            )
            exec(code, self.module.__dict__)
        except Exception as error:  # a missing package, a failing decorator, ...
            if not isinstance(node, _DEFINITIONS):
                return  # a simple assignment is loaded only when it can be: no noise otherwise
            self.say(
                f"in {self.notebook.name}, cell {number}, the definition on line {node.lineno}"
                f" could not be loaded ({type(error).__name__}: {error}); fix it in"
                f" {self.notebook.name}."
            )

    def say(self, message: str) -> None:
        # stdout, never stderr: nbgrader gives 0 points to a test cell that writes to stderr.
        print(f"cs231kit: {message}", file=sys.stdout)

    def missing_name_reporter(self) -> Any:
        """A module-level __getattr__ that explains a missing definition."""
        notebook, skipped, assigned = self.notebook.name, self.skipped, self.assigned

        def __getattr__(name: str) -> Any:
            if name.startswith("__") and name.endswith("__"):
                raise AttributeError(f"module for {notebook} has no attribute {name!r}")
            message = (
                f"{name!r} was expected in {notebook} but is not defined there: define it at the"
                f" top level of a code cell in {notebook} (def, class or import), save the"
                " notebook, and run this cell again."
            )
            if name in assigned:
                message += (
                    f" ({name!r} is assigned in cell {assigned[name]}, but only def/class/import"
                    " statements are loaded from another notebook.)"
                )
            if skipped:
                cells = ", ".join(str(n) for n in skipped)
                message += f" Cells skipped because of syntax errors: {cells}."
            raise AttributeError(message)

        return __getattr__


def _assigned_names(node: ast.stmt) -> list[str]:
    """Plain names bound by a top-level assignment, e.g. ['a', 'b'] for `a = b = 1`."""
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign | ast.AugAssign):
        targets = [node.target]
    else:
        return []
    return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]


def _simple(node: ast.stmt) -> bool:
    """An assignment of a simple value to plain names (see load_definitions)."""
    if isinstance(node, ast.Assign):
        targets, value = node.targets, node.value
    elif isinstance(node, ast.AnnAssign) and node.value is not None:
        targets, value = [node.target], node.value
    else:
        return False
    names_only = all(
        isinstance(n, (ast.Name, ast.Tuple, ast.List, ast.Store))
        for t in targets
        for n in ast.walk(t)
    )
    return names_only and _simple_value(value)


def _simple_value(node: ast.expr) -> bool:
    if isinstance(node, (ast.Constant, ast.Name)):
        return True
    if isinstance(node, ast.Attribute):
        return _simple_value(node.value) and not isinstance(node.value, ast.Call)
    if isinstance(node, (ast.Tuple, ast.List)):
        return all(_simple_value(item) for item in node.elts)
    if isinstance(node, ast.UnaryOp):
        return _simple_value(node.operand)
    if isinstance(node, ast.BinOp):
        return _simple_value(node.left) and _simple_value(node.right)
    if isinstance(node, ast.Call):
        called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(
            node.func, "id", ""
        )
        return called == "load_definitions" and all(
            isinstance(arg, ast.Constant) for arg in [*node.args, *(k.value for k in node.keywords)]
        )
    return False
