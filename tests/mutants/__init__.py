"""The mutant catalogue: realistic wrong variants of every graded function.

Each notebook's module (``tests/mutants/nb0X_*.py``) lists ``MUTANTS``. A mutant replaces one answer
cell of the solution notebook; submitted to the grader it must lose the points of its own test cell
and keep every other test cell's points.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    answer: str  # grade_id of the answer cell it replaces
    loses: str  # grade_id of the test cell that must score 0
    name: str  # the bug, in a few words
    source: str  # complete replacement source of the answer cell


def replace_answer_cells(notebook: dict, replacements: dict[str, str]) -> dict:
    """Return a copy of ``notebook`` (nbformat JSON) with answer cells' sources replaced.

    ``replacements`` maps an answer cell's ``grade_id`` to its new source. Every grade_id must
    exist, so a renamed cell cannot silently turn a mutant into the correct solution.
    """
    import copy

    result = copy.deepcopy(notebook)
    missing = set(replacements)
    for cell in result["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in replacements:
            cell["source"] = replacements[grade_id]
            missing.discard(grade_id)
    if missing:
        raise KeyError(f"no answer cell with grade_id {sorted(missing)} in the notebook")
    return result


def load_catalogue() -> dict[str, list[Mutant]]:
    """notebook name (e.g. ``03_modular_backprop``) -> its mutants."""
    import importlib
    import pkgutil
    from pathlib import Path

    catalogue: dict[str, list[Mutant]] = {}
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if not info.name.startswith("nb"):
            continue
        module = importlib.import_module(f"tests.mutants.{info.name}")
        notebook = info.name[len("nb") :]  # "01_flat_backprop"
        catalogue[notebook] = list(module.MUTANTS)
    return catalogue


VARIANTS = 3  # mutant submissions: variant k of every other answer cell, for each parity


def mutant_submissions(solutions: dict[str, dict]) -> tuple[dict[str, dict[str, dict]], dict]:
    """Six submissions that carry mutants: ``mutant-v{k}-p{p}`` has variant k (of each answer
    cell's mutants, cycling) in every other answer cell (those of parity p), all notebooks.

    Inputs:
    - solutions: notebook name (e.g. "03_modular_backprop") -> source notebook JSON

    Returns (student -> notebook name -> notebook JSON, student -> notebook -> its mutants).
    """
    catalogue = load_catalogue()
    submissions: dict[str, dict[str, dict]] = {}
    plans: dict[str, dict[str, list[Mutant]]] = {}
    for variant in range(VARIANTS):
        for parity in (0, 1):
            student = f"mutant-v{variant}-p{parity}"
            plans[student], submissions[student] = {}, {}
            for name, notebook in solutions.items():
                plan = mutant_plan(notebook, catalogue[name], variant, parity)
                plans[student][name] = plan
                submissions[student][name] = replace_answer_cells(
                    notebook, {m.answer: m.source for m in plan}
                )
    return submissions, plans


def mutant_plan(notebook: dict, mutants: list[Mutant], variant: int, parity: int) -> list[Mutant]:
    """One mutant (variant k of that cell's mutants, cycling) in every other answer cell that has
    mutants: the cells at positions of parity ``parity`` among them, in notebook order."""
    by_answer: dict[str, list[Mutant]] = {}
    for mutant in mutants:
        by_answer.setdefault(mutant.answer, []).append(mutant)
    chosen = [a for i, a in enumerate(answer_ids(notebook)) if i % 2 == parity and a in by_answer]
    return [by_answer[a][variant % len(by_answer[a])] for a in chosen]


def answer_ids(notebook: dict) -> list[str]:
    """grade_ids of the answer cells, in notebook order."""
    ids = []
    for cell in notebook["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and not meta.get("grade"):
            ids.append(meta["grade_id"])
    return ids
