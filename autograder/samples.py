"""The bundled sample submissions and the outcome each must get.

The samples are built from the current ``solutions/a2`` and ``assignments/a2`` (so they never go
stale), written as a folder of per-student folders and LMS zips, exactly what a TA would collect:

| sample | what it is | expected |
| --- | --- | --- |
| perfect | the reference solutions, all six notebooks | graded, 125 |
| partial | all six, two functions wrong (dw averaged over N; dropout mask not | graded, 119 |
|  | divided by p) | |
| blank | the untouched release | graded, 0 |
| not-json | notebook 02 is not JSON; notebook 04 is right | failed-to-grade (malformed), 10 |
| deleted-test | notebook 02 only, one of its test cells deleted | graded, 15 (restored) |
| copied-cell | notebook 02 only, an answer cell copied | graded, 15 (collect repairs it) |
| renamed | ``02_... (1).ipynb`` in an LMS zip marked LATE | graded, 15, late |
| infinite-loop | notebook 02 only, an answer cell never ends | failed-to-grade (timeout), 13 |
| memory-bomb | notebook 02 only, an answer cell allocates 80 GB | failed-to-grade (memory), 13 |
| output-flood | notebook 02 only, a cell prints 200,000 lines | failed-to-grade (flood), 15 |
| nothing | a folder without notebooks | missing |
| tamper-* | attacks from ``autograder/attack_catalogue.py`` on a blank notebook 02 | graded, 0, |
|  | (patch NumPy; blank the hidden cells; read the solutions) | flagged |

Most samples carry only notebook 02 (the quickest to run): the other notebooks then count as not
submitted (0 points), which keeps the demo short without changing what each sample shows. Scores
are the autograded points (out of ``rubric.AUTO_TOTAL``, 125); the written answers are left to a
TA and never change them.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from autograder.attack_catalogue import ATTACKS, DEMO_ATTACKS, Targets, build_attack
from autograder.course import GRADING_DIR, RELEASE_DIR, SOURCE_DIR, load_notebooks
from autograder.grading import FAILED, GRADED, MISSING

Notebooks = dict[str, dict]  # file name -> notebook JSON (or a str for raw, broken content)
JACOBIANS = "02_jacobian_free_gradients"


@dataclass(frozen=True)
class Sample:
    student: str
    description: str
    status: str
    score: float | None
    reason: str = ""  # a phrase the failure reason must contain
    late: bool = False
    flag: str = ""  # a phrase one of its flags must contain


SAMPLES = [
    Sample("perfect", "the reference solutions", GRADED, 125),
    Sample("partial", "two functions wrong", GRADED, 119),
    Sample("blank", "the untouched release", GRADED, 0),
    Sample("not-json", "notebook 02 is not JSON", FAILED, 10, "malformed notebook"),
    Sample("deleted-test", "a test cell deleted", GRADED, 15),
    Sample("copied-cell", "a graded cell copied", GRADED, 15),
    Sample("renamed", "a renamed notebook in an LMS zip marked late", GRADED, 15, late=True),
    Sample("infinite-loop", "an answer cell that never ends", FAILED, 13, "timeout"),
    Sample("memory-bomb", "an answer cell that allocates 80 GB", FAILED, 13, "memory"),
    Sample("output-flood", "an answer cell that prints 200,000 lines", FAILED, 15, "output flood"),
    Sample("nothing", "a folder without notebooks", MISSING, None),
    *(
        Sample(f"tamper-{attack.student}", attack.what, GRADED, attack.honest_points,
               flag=attack.evidence)
        for attack in ATTACKS
        if attack.student in DEMO_ATTACKS
    ),
]


def _cell(nb: dict, grade_id: str) -> dict:
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            return cell
    raise KeyError(f"no cell with grade_id {grade_id!r}: update autograder/samples.py")


def _edit(nb: dict, grade_id: str, old: str, new: str) -> None:
    """Replace text in an answer cell; fail loudly if the solution no longer contains it."""
    cell = _cell(nb, grade_id)
    source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    if old not in source:
        raise ValueError(
            f"{grade_id}: {old!r} not found in the solution: update autograder/samples.py"
        )
    cell["source"] = source.replace(old, new, 1)


def _prepend(nb: dict, grade_id: str, code: str) -> None:
    cell = _cell(nb, grade_id)
    source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    cell["source"] = code + source


def _only(notebooks: Notebooks, name: str) -> Notebooks:
    return {f"{name}.ipynb": notebooks[f"{name}.ipynb"]}


def _partial(sol: Notebooks) -> Notebooks:
    _edit(
        sol[f"{JACOBIANS}.ipynb"], "matmul_backward", "dw = x.T @ dy", "dw = x.T @ dy / x.shape[0]"
    )
    _edit(sol["04_dropout.ipynb"], "dropout_forward", "mask = (keep / p)", "mask = (keep * 1.0)")
    return sol


def _deleted_test(sol: Notebooks) -> Notebooks:
    notebooks = _only(sol, JACOBIANS)
    nb = notebooks[f"{JACOBIANS}.ipynb"]
    nb["cells"].remove(_cell(nb, "test_relu_jacobian"))
    return notebooks


def _copied_cell(sol: Notebooks) -> Notebooks:
    notebooks = _only(sol, JACOBIANS)
    nb = notebooks[f"{JACOBIANS}.ipynb"]
    answer = _cell(nb, "relu_jacobian")
    copy = json.loads(json.dumps(answer))
    copy["id"] = "copied-by-student"
    nb["cells"].insert(nb["cells"].index(answer) + 1, copy)
    return notebooks


def _runaway(code: str) -> Callable[[Notebooks, Notebooks], Notebooks]:
    def build(sol: Notebooks, release: Notebooks) -> Notebooks:
        del release
        notebooks = _only(sol, JACOBIANS)
        _prepend(notebooks[f"{JACOBIANS}.ipynb"], "relu_jacobian", code)
        return notebooks

    return build


BUILDERS: dict[str, Callable[[Notebooks, Notebooks], Notebooks]] = {
    "perfect": lambda sol, rel: sol,
    "partial": lambda sol, rel: _partial(sol),
    "blank": lambda sol, rel: rel,
    "not-json": lambda sol, rel: {
        f"{JACOBIANS}.ipynb": "{this is not json",
        **_only(sol, "04_dropout"),  # type: ignore[dict-item]
    },
    "deleted-test": lambda sol, rel: _deleted_test(sol),
    "copied-cell": lambda sol, rel: _copied_cell(sol),
    "renamed": lambda sol, rel: {f"{JACOBIANS} (1).ipynb": sol[f"{JACOBIANS}.ipynb"]},
    "infinite-loop": _runaway("while True:  # a runaway loop\n    pass\n"),
    # 80 GB at once: the memory limit turns it into a MemoryError instead of a dead machine
    "memory-bomb": _runaway("J_full = np.ones((100_000, 100_000))\n"),
    "output-flood": _runaway("for i in range(200_000):\n    print('flood', i, 'x' * 60)\n"),
    "nothing": lambda sol, rel: {},
}


def build_samples(dest: Path, grading: Path = GRADING_DIR) -> Path:
    """Write every sample under ``dest`` (one folder, or an LMS zip for ``renamed``).

    The tampering samples aim at ``grading``, the grading folder they will be graded in.
    """
    tampering = {f"tamper-{a.student}": a for a in ATTACKS if a.student in DEMO_ATTACKS}
    if set(BUILDERS) | set(tampering) != {s.student for s in SAMPLES}:
        raise RuntimeError("SAMPLES and BUILDERS disagree")
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for sample in SAMPLES:
        if sample.student in tampering:
            built = build_attack(tampering[sample.student], Targets(grading=grading))
            notebooks: Notebooks = {f"{name}.ipynb": nb for name, nb in built.items()}
        else:
            notebooks = BUILDERS[sample.student](load_notebooks(SOURCE_DIR),
                                                 load_notebooks(RELEASE_DIR))
        files = {
            name: nb if isinstance(nb, str) else json.dumps(nb, indent=1)
            for name, nb in notebooks.items()
        }
        if sample.student == "renamed":
            with zipfile.ZipFile(dest / "renamed_LATE_20261122_a2.zip", "w") as archive:
                for name, text in files.items():
                    archive.writestr(f"submission/{name}", text)
            continue
        folder = dest / sample.student
        folder.mkdir()
        for name, text in files.items():
            (folder / name).write_text(text)
        if not files:
            (folder / "README.txt").write_text("I could not finish in time.\n")
    return dest
