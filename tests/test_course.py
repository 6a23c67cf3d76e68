"""The course as graders see it: notebooks run, nbgrader scores them right, the release is clean.

Plain ``nbgrader autograde`` (no sandbox: the hidden cells then run the judge in the kernel)
grades, in a private gradebook, the instructor's solutions (full autograded points, 125) and the
untouched release (0), so TAs may use nbgrader's own commands. The written answers of notebook 06
are manually graded cells: nbgrader leaves the solutions' answers to a TA and gives the release's
unanswered cells 0, and they never enter the autograded points. The mutant submissions
(``mutant-v{k}-p{p}``: the k-th wrong variant of every other graded function) are graded the
recommended way, sandboxed, in the one batch of ``course_grading`` (conftest.py): each mutated
function loses its points and every other function keeps them (isolation).
"""

from __future__ import annotations

import json
import re
import time

import nbformat
import pytest
from nbclient import NotebookClient

from autograder import rubric
from autograder.course import ROOT, CourseDirs, nbgrader_env, run_nbgrader
from autograder.student_release import generate_release, rubric_mismatches
from tests.mutants import VARIANTS, load_catalogue

SOLUTIONS = ROOT / "solutions" / rubric.ASSIGNMENT
RELEASE = ROOT / "assignments" / rubric.ASSIGNMENT
NOTEBOOKS = sorted(rubric.POINTS)
NOTEBOOK_BUDGET_S = 120


def write_submission(dirs: CourseDirs, student: str, notebooks: dict[str, dict]) -> None:
    folder = dirs.submitted / student / rubric.ASSIGNMENT
    folder.mkdir(parents=True)
    for name, nb in notebooks.items():
        (folder / f"{name}.ipynb").write_text(json.dumps(nb, indent=1))


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    """Run nbgrader autograde once over every submission; return scores and the dirs."""
    dirs = CourseDirs.under(tmp_path_factory.mktemp("course"))
    generate_release(dirs, check_leaks=False)  # fills the private gradebook with the hidden tests
    solutions = {n: json.loads((SOLUTIONS / f"{n}.ipynb").read_text()) for n in NOTEBOOKS}
    write_submission(dirs, "solutions", solutions)
    blank = {
        n: json.loads((dirs.release / rubric.ASSIGNMENT / f"{n}.ipynb").read_text())
        for n in NOTEBOOKS
    }
    write_submission(dirs, "blank", blank)
    run_nbgrader(
        ["autograde", rubric.ASSIGNMENT], dirs, timeout=3600, env={"CS231KIT_GRADING": "1"}
    )

    from nbgrader.api import Gradebook

    scores: dict[str, dict[str, dict[str, float]]] = {}
    manual: dict[str, dict[str, dict[str, tuple[float | None, bool]]]] = {}
    with Gradebook(f"sqlite:///{dirs.gradebook}", "cs231kit") as gb:
        for student in ["solutions", "blank"]:
            scores[student], manual[student] = {}, {}
            for name in NOTEBOOKS:
                nb = gb.find_submission_notebook(name, rubric.ASSIGNMENT, student)
                hand = rubric.MANUAL_POINTS.get(name, {})
                scores[student][name] = {
                    # the autograded tests (the written answers wait for a TA)
                    g.cell.name: float(g.score) for g in nb.grades
                    if g.cell.name in rubric.POINTS[name]
                }
                manual[student][name] = {
                    g.cell.name: (g.auto_score, bool(g.needs_manual_grade))
                    for g in nb.grades if g.cell.name in hand
                }
    return {"dirs": dirs, "scores": scores, "manual": manual}


def test_rubric_totals_and_matches_notebooks():
    """Notebooks 01 to 05 keep their 100 points; notebook 06 adds 25 autograded points; the
    written answers, which a TA grades, come on top."""
    first_five = [name for name in rubric.POINTS if name[:2] in {"01", "02", "03", "04", "05"}]
    assert sum(sum(rubric.POINTS[name].values()) for name in first_five) == 100
    assert sum(rubric.POINTS["06_batch_normalization"].values()) == 25
    assert rubric.AUTO_TOTAL == 125
    assert rubric.MANUAL_TOTAL == 48 + sum(rubric.MANUAL_POINTS["06_batch_normalization"].values())
    assert rubric.TOTAL == rubric.AUTO_TOTAL + rubric.MANUAL_TOTAL
    assert set(rubric.MANUAL_POINTS) <= set(rubric.POINTS)
    assert rubric_mismatches() == []


def test_written_answers_are_left_to_a_ta(graded):
    """A filled-in written answer waits for a TA; an untouched one gets 0 at once; neither
    touches the autograded points (checked by the two tests above and below)."""
    for name, cells in rubric.MANUAL_POINTS.items():
        solutions, blank = graded["manual"]["solutions"][name], graded["manual"]["blank"][name]
        assert set(solutions) == set(blank) == set(cells), name
        assert all(needs and auto is None for auto, needs in solutions.values()), solutions
        assert all(auto == 0 and not needs for auto, needs in blank.values()), blank


@pytest.fixture(scope="module", params=NOTEBOOKS)
def executed_solution(request):
    """(name, executed notebook, seconds): one solution notebook run top to bottom, grading mode."""
    name = request.param
    nb = nbformat.read(SOLUTIONS / f"{name}.ipynb", as_version=4)
    with pytest.MonkeyPatch.context() as monkeypatch:
        for key, value in nbgrader_env({"CS231KIT_GRADING": "1"}).items():
            monkeypatch.setenv(key, value)
        client = NotebookClient(
            nb,
            timeout=NOTEBOOK_BUDGET_S,
            kernel_name="python3",
            resources={"metadata": {"path": str(SOLUTIONS)}},
        )
        start = time.perf_counter()
        client.execute()
        elapsed = time.perf_counter() - start
    return name, nb, elapsed


def test_solution_notebook_runs_in_grading_mode_within_budget(executed_solution):
    """Every solution notebook executes top to bottom on this machine within its budget."""
    name, nb, elapsed = executed_solution
    assert elapsed < NOTEBOOK_BUDGET_S, f"{name} took {elapsed:.0f} s"
    stderr = [
        (i, out.get("text", "")[:200])
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("name") == "stderr"
    ]
    assert stderr == [], f"{name} wrote to stderr: {stderr}"


# A validation accuracy printed as "label number". The Solver keeps the best epoch's parameters
# and the hyper-parameter searches keep the best setting, both chosen on the validation set, so a
# bare "validation accuracy 0.35" overstates the model: say which epoch's number it is.
VAL_ACCURACY = re.compile(
    r"(?i)(best-epoch |last-epoch |final )?\b(?:val|validation)\s+acc(?:uracy)?\s*[:=]?\s*\d"
)
TEST_ACCURACY = re.compile(r"(?i)\btest\s+acc(?:uracy)?\s*[:=]?\s*\d")
# Notebooks that pick an epoch or a setting on the validation set and print its accuracy.
CHOOSE_ON_VALIDATION = {"01_flat_backprop", "03_modular_backprop", "04_dropout", "05_conv_nets"}


def test_solution_notebook_names_its_accuracies_for_what_they_are(executed_solution):
    """Validation accuracies say which epoch they are from and that the validation set chose it;
    test accuracies say that the test images chose nothing.

    Cells with nbgrader metadata (answers, tests) are left out: their wording is part of what is
    graded and checksummed, not of the course's reporting.
    """
    name, nb, _ = executed_solution
    problems, printed = [], []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or "nbgrader" in cell.metadata:
            continue
        for out in cell.get("outputs", []):
            for line in out.get("text", "").splitlines():
                printed.append(line)
                bare = [m for m in VAL_ACCURACY.finditer(line) if not m.group(1)]
                if bare:
                    problems.append(f"cell {index}: unnamed validation accuracy: {line.strip()}")
                if TEST_ACCURACY.search(line) and "chose nothing" not in line:
                    problems.append(f"cell {index}: test accuracy without 'chose nothing': {line}")
    if name in CHOOSE_ON_VALIDATION:
        if not any("the validation set chose" in line for line in printed):
            problems.append("no output says that the validation set chose the epoch or setting")
    assert not problems, "\n".join(problems)


def test_solutions_score_full_points(graded):
    for name, cells in graded["scores"]["solutions"].items():
        assert cells == {k: float(v) for k, v in rubric.POINTS[name].items()}, name


def test_solutions_autograded_without_stderr(graded):
    folder = graded["dirs"].autograded / "solutions" / rubric.ASSIGNMENT
    for name in NOTEBOOKS:
        nb = json.loads((folder / f"{name}.ipynb").read_text())
        for cell in nb["cells"]:
            for out in cell.get("outputs", []):
                assert out.get("name") != "stderr", (name, out.get("text", "")[:300])
                assert out.get("output_type") != "error", (name, out.get("ename"))


def test_blank_release_scores_zero(graded):
    cells = graded["scores"]["blank"]
    assert set(cells) == set(NOTEBOOKS)
    for name in NOTEBOOKS:
        assert set(cells[name]) == set(rubric.POINTS[name]), name
        assert sum(cells[name].values()) == 0, (name, cells[name])


def test_catalogue_has_three_mutants_per_graded_function():
    catalogue = load_catalogue()
    assert sorted(catalogue) == NOTEBOOKS
    for name, mutants in catalogue.items():
        counts = {test_id: 0 for test_id in rubric.POINTS[name]}
        for mutant in mutants:
            assert mutant.loses in counts, f"{name}: {mutant.name} names unknown {mutant.loses}"
            counts[mutant.loses] += 1
        short = {t: c for t, c in counts.items() if c < 3}
        assert not short, f"{name}: fewer than 3 mutants for {short}"


@pytest.mark.parametrize("variant", range(VARIANTS))
@pytest.mark.parametrize("parity", (0, 1))
def test_each_mutant_loses_only_its_own_points(course_grading, variant, parity):
    """Graded sandboxed, by the judge: exactly the mutated functions lose their points."""
    student = f"mutant-v{variant}-p{parity}"
    result = course_grading["results"][student]
    assert result.status == "graded" and not result.flags, (result.reason, result.flags)
    points = {(c.notebook, c.grade_id): c.points for c in result.cells}
    problems = []
    for name in NOTEBOOKS:
        losing = {m.loses: m.name for m in course_grading["plans"][student][name]}
        for test_id, full in rubric.POINTS[name].items():
            got = points[(name, test_id)]
            if test_id in losing and got != 0:
                problems.append(f"{name}/{test_id}: mutant '{losing[test_id]}' scored {got}")
            if test_id not in losing and got != full:
                problems.append(f"{name}/{test_id}: untouched function scored {got}/{full}")
    assert not problems, "\n".join(problems)


def test_release_regenerates_exactly(graded):
    """The committed release is what nbgrader generates from solutions/ now."""
    generated = graded["dirs"].release / rubric.ASSIGNMENT
    committed = sorted(p.name for p in RELEASE.iterdir())
    assert sorted(p.name for p in generated.iterdir()) == committed
    for name in committed:
        assert (generated / name).read_bytes() == (RELEASE / name).read_bytes(), (
            f"assignments/a2/{name} is stale: run `python -m autograder release`"
        )
