"""Prove that no solution, hidden test or reference helper escaped into what students receive.

Secrets are the non-trivial code lines of

* every ``### BEGIN SOLUTION`` … ``### END SOLUTION`` region of the source notebooks,
* every ``### BEGIN HIDDEN TESTS`` … ``### END HIDDEN TESTS`` region,
* the judge (``autograder/judge/``: the reference implementations and the hidden checks),
  docstrings and comments excluded.

What students receive is ``assignments/`` (the generated release) and ``cs231kit/``. A secret line
found there is a leak, unless the same line is public anyway: it appears in the source notebooks
outside every solution and hidden-test region (scaffolding that the release shows on purpose).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from autograder.course import RELEASE_DIR, ROOT, SOURCE_DIR

REGIONS = (
    ("### BEGIN SOLUTION", "### END SOLUTION"),
    ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"),
)
# Lines shorter than this (``return out``, ``N = x.shape[0]``) say nothing about a solution and
# occur everywhere; the leak check ignores them.
MIN_LINE_LENGTH = 16
SECRET_PACKAGES = ("autograder/judge",)


@dataclass(frozen=True)
class Leak:
    where: str  # file (and cell) in the release or library
    line: str
    origin: str  # where the secret line comes from


# Plumbing that any NumPy/CuPy code shares: ``xp = get_array_module(x)``.
PLUMBING = re.compile(r"^\w+ = [\w.]+\(\w*\)$")


def normalise(line: str) -> str | None:
    """The comparable form of a code line, or None when the line is too trivial to count.

    Trivial: short lines, comments, imports, signatures, decorators, error handling, the opening
    or continuation lines of a multi-line call (``raise ValueError(``, ``dtype=np.float64,``) and
    one-name plumbing calls. None of these can give a solution away.
    """
    text = " ".join(line.split())
    if len(text) < MIN_LINE_LENGTH or text.startswith(
        ("#", "import ", "from ", "def ", "class ", "@", '"""', "'''", "raise ", "except")
    ):
        return None
    if text.endswith(("(", "[", "{", ",")) or PLUMBING.match(text):
        return None
    return text


def _cell_sources(notebook: Path) -> Iterator[tuple[int, list[str]]]:
    try:
        nb = json.loads(notebook.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read notebook {notebook}: {exc}") from exc
    for index, cell in enumerate(nb.get("cells", [])):
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else source
        yield index, text.splitlines()


def split_notebook(notebook: Path) -> tuple[list[str], list[str]]:
    """(lines inside solution/hidden regions, lines outside them) of a source notebook."""
    secret: list[str] = []
    public: list[str] = []
    for _, lines in _cell_sources(notebook):
        end_marker = None
        for line in lines:
            stripped = line.strip()
            if end_marker is not None:
                if stripped.startswith(end_marker):
                    end_marker = None
                else:
                    secret.append(line)
                continue
            begin = next((end for begin, end in REGIONS if stripped.startswith(begin)), None)
            if begin is not None:
                end_marker = begin
            else:
                public.append(line)
    return secret, public


def python_code_lines(path: Path) -> list[str]:
    """Code lines of a Python file with docstrings and comments removed."""
    text = path.read_text(encoding="utf-8")
    skip: set[int] = set()
    for node in ast.walk(ast.parse(text)):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                end = body[0].end_lineno or body[0].lineno
                skip.update(range(body[0].lineno, end + 1))
    return [line for number, line in enumerate(text.splitlines(), 1) if number not in skip]


def collect_secrets(root: Path = ROOT, source_dir: Path = SOURCE_DIR) -> dict[str, str]:
    """Map each normalised secret line to where it comes from."""
    secrets: dict[str, str] = {}
    public: set[str] = set()
    for notebook in sorted(source_dir.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in notebook.parts:
            continue
        inside, outside = split_notebook(notebook)
        origin = str(notebook.relative_to(root))
        for line in inside:
            key = normalise(line)
            if key:
                secrets.setdefault(key, origin)
        public.update(k for k in map(normalise, outside) if k)
    for package in SECRET_PACKAGES:
        if not (root / package).is_dir():  # a moved package must never empty the check
            raise FileNotFoundError(f"the leak check's secret package {package} is missing")
        for path in sorted((root / package).rglob("*.py")):
            origin = str(path.relative_to(root))
            for line in python_code_lines(path):
                key = normalise(line)
                if key:
                    secrets.setdefault(key, origin)
    return {line: origin for line, origin in secrets.items() if line not in public}


def _targets(release_dir: Path, library_dir: Path) -> Iterator[tuple[str, list[str]]]:
    for notebook in sorted(release_dir.rglob("*.ipynb")):
        for index, lines in _cell_sources(notebook):
            yield f"{notebook.relative_to(release_dir.parent)} cell {index}", lines
    for path in sorted(library_dir.rglob("*.py")):
        yield (
            str(path.relative_to(library_dir.parent)),
            path.read_text(encoding="utf-8").splitlines(),
        )


def find_leaks(
    release_dir: Path = RELEASE_DIR,
    library_dir: Path = ROOT / "cs231kit",
    secrets: dict[str, str] | None = None,
) -> list[Leak]:
    """Every secret line that appears in the release or in the library."""
    secrets = collect_secrets() if secrets is None else secrets
    return leaks_in(_targets(release_dir, library_dir), secrets)


def leaks_in(targets: Iterable[tuple[str, list[str]]], secrets: dict[str, str]) -> list[Leak]:
    """Every secret line among ``targets``: (where, lines) pairs, e.g. the cells of a notebook."""
    return [
        Leak(where=where, line=key, origin=secrets[key])
        for where, lines in targets
        for key in map(normalise, lines)
        if key and key in secrets
    ]


def format_leaks(leaks: Iterable[Leak]) -> str:
    return "\n".join(f"  {leak.where}: {leak.line!r}  (from {leak.origin})" for leak in leaks)
