"""Every notebook's hidden tests, judged exactly as grading judges them.

One module for all notebooks: a notebook takes part by being a key of ``autograder.rubric.POINTS``
with its check module (``autograder.judge.checks``), its adapters
(``autograder.sandbox.handin.calls``) and its mutants (``tests/mutants``); nothing here names a
notebook, a test or a function. For every notebook this proves:

* the data agree: the check module's ``CASES`` cover exactly the rubric's tests; every grade cell of
  the source notebook hands in its own test (``hand_in("<grade_id>", ...)``) and carries the
  rubric's points; test ids are unique across notebooks; every case names an adapter that exists
  and reference answers (oracles) the judge can give; no case's oracles include a function its own
  test hands in (isolation never answers for the function under test);
* the solution notebook's answers, loaded as the grader's re-check loads them
  (``load_definitions(..., simple_assignments=True)``, so value tests get the values those
  assignments give), pass every hidden test through ``hand_in`` and the judge
  (``LocalConnection(JudgeSession(secret=...))``, the real wire encoding), for fixed secrets;
* every mutant of ``tests/mutants`` (its answer cell replaced in the notebook, loaded the same way)
  fails its own test and passes every other test of its notebook, value tests included, alone and
  with a mutant in every other answer cell;
* the judge refuses test ids it does not know.

The slow variant repeats the solution and mutant sweeps over 20 fresh random secrets and counts,
per mutant, how often it escapes its own test or costs another test's points (both must be 0):
mutants are caught whatever inputs the secret draws.
"""

from __future__ import annotations

import ast
import importlib
import json
import secrets
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from autograder import rubric
from autograder.course import SOURCE_DIR
from autograder.judge import checks
from autograder.judge.oracles import ORACLES
from autograder.judge.session import JudgeSession
from autograder.sandbox.handin import CheckFailure, JudgeUnavailable, LocalConnection, hand_in
from autograder.sandbox.handin.worker import student_objects
from cs231kit.notebook import load_definitions
from tests.mutants import Mutant, answer_ids, load_catalogue, mutant_plan, replace_answer_cells

NOTEBOOK_DIR = SOURCE_DIR / rubric.ASSIGNMENT
NOTEBOOKS = list(rubric.POINTS)
CATALOGUE = load_catalogue()
MUTANTS = [(notebook, mutant) for notebook in NOTEBOOKS for mutant in CATALOGUE.get(notebook, [])]

# Fixed secrets for the default run: the first one also drives the mutant sweep.
SECRETS = (1, 0x5EC2E7_C5231_2026)
SLOW_SECRET_COUNT = 20


@pytest.fixture(autouse=True)
def in_notebook_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    """Load notebooks from their folder, as the grader does: notebooks 04 to 06 load notebook 03
    (and 06 also 05) by a relative path."""
    monkeypatch.chdir(NOTEBOOK_DIR)


# ---------------------------------------------------------------------------------------------
# Helpers: the source notebook, loading answers, judging them
# ---------------------------------------------------------------------------------------------


def notebook_json(notebook: str) -> dict[str, Any]:
    return json.loads((NOTEBOOK_DIR / f"{notebook}.ipynb").read_text(encoding="utf-8"))


def nbgrader(cell: dict[str, Any]) -> dict[str, Any]:
    return cell.get("metadata", {}).get("nbgrader", {})


def source_of(cell: dict[str, Any]) -> str:
    source = cell["source"]
    return "".join(source) if isinstance(source, list) else source


def grade_cells(notebook: str) -> dict[str, dict[str, Any]]:
    """grade_id -> cell, for every autograded test cell of the source notebook."""
    return {
        nbgrader(cell)["grade_id"]: cell
        for cell in notebook_json(notebook)["cells"]
        if nbgrader(cell).get("grade") and not nbgrader(cell).get("solution")
    }


def handed_in_names(what: Any) -> set[str]:
    """The names a hidden cell hands in (``checks.handed_in``): a name, or a dict's keys and
    values."""
    return {what} if isinstance(what, str) else set(what) | set(what.values())


def load_answers(
    notebook: str, mutants: Sequence[Mutant] = (), folder: Path | None = None
) -> ModuleType:
    """The notebook's answers as the grader's re-check loads them, with ``mutants`` in place of
    their answer cells (the mutated notebook is written to ``folder``)."""
    if not mutants:
        return load_definitions(NOTEBOOK_DIR / f"{notebook}.ipynb", simple_assignments=True)
    assert folder is not None
    mutated = replace_answer_cells(notebook_json(notebook), {m.answer: m.source for m in mutants})
    path = folder / f"{notebook}.ipynb"
    path.write_text(json.dumps(mutated), encoding="utf-8")
    return load_definitions(path, simple_assignments=True)


def judge_all(
    module: ModuleType, notebook: str, secret: int
) -> tuple[dict[str, str | None], list[str]]:
    """Hand every hidden test of ``notebook`` (value tests included) what its cell hands in,
    looked up in ``module``, to one judge session with ``secret``.

    Returns (test id -> the judge's failure message, or None when it passed; protocol errors
    and the judge's notes for a TA, together: honest code, right or wrong, causes neither).
    """
    session = JudgeSession(secret=secret)
    connection = LocalConnection(session)
    verdicts: dict[str, str | None] = {}
    for test_id, what in checks.handed_in(notebook).items():
        try:
            hand_in(test_id, student_objects(module, what), connection)
        except CheckFailure as failure:
            verdicts[test_id] = str(failure) or "(no message)"
        else:
            verdicts[test_id] = None
    return verdicts, session.protocol_errors + session.notes


def judge_mutated(module: ModuleType, notebook: str, secret: int) -> dict[str, str | None]:
    with np.errstate(all="ignore"):  # wrong code may overflow: that is how it fails
        verdicts, protocol_errors = judge_all(module, notebook, secret)
    assert not protocol_errors, protocol_errors
    return verdicts


def short(message: str | None) -> str:
    return (message or "")[:400]


# ---------------------------------------------------------------------------------------------
# The data agree: rubric, source notebook, check modules, adapters, mutants
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_source_notebook_is_clean(notebook: str) -> None:
    """A python3 kernel, a unique id on every cell, no outputs committed."""
    content = notebook_json(notebook)
    assert content["metadata"]["kernelspec"]["name"] == "python3"
    ids = [cell.get("id") for cell in content["cells"]]
    assert all(ids) and len(set(ids)) == len(ids), "every cell needs a unique, stable id"
    for cell in content["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, cell["id"]


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_check_module_covers_exactly_the_rubric(notebook: str) -> None:
    module = checks.module_of(notebook)
    assert module.NOTEBOOK == notebook
    assert set(module.CASES) == set(rubric.POINTS[notebook])
    assert all(module.CASES[test_id] for test_id in module.CASES), "a test without cases"
    assert set(module.VALUE_TESTS) <= set(module.CASES)


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_every_grade_cell_hands_in_its_own_test_for_the_rubric_points(notebook: str) -> None:
    cells = grade_cells(notebook)
    assert set(cells) == set(rubric.POINTS[notebook])
    for grade_id, cell in cells.items():
        assert nbgrader(cell)["points"] == rubric.POINTS[notebook][grade_id], grade_id
        assert nbgrader(cell)["locked"], grade_id
        calls = [
            node for node in ast.walk(ast.parse(source_of(cell)))
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "hand_in"
        ]
        assert len(calls) == 1, f"{grade_id}: {len(calls)} hand_in calls"
        assert ast.literal_eval(calls[0].args[0]) == grade_id
    assert set(checks.handed_in(notebook)) == set(cells)


def test_test_ids_are_unique_across_notebooks() -> None:
    counts = Counter(t for notebook in NOTEBOOKS for t in checks.module_of(notebook).CASES)
    assert [t for t, n in counts.items() if n > 1] == []
    counts = Counter(t for notebook in NOTEBOOKS for t in rubric.POINTS[notebook])
    assert [t for t, n in counts.items() if n > 1] == []
    assert all(checks.find(t).NOTEBOOK == nb for nb in NOTEBOOKS for t in rubric.POINTS[nb])


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_cases_name_existing_adapters_and_oracles(notebook: str) -> None:
    module = checks.module_of(notebook)
    adapters = importlib.import_module(f"autograder.sandbox.handin.calls.{module.CALLS}")
    for test_id, cases in module.CASES.items():
        names = [case.name for case in cases]
        assert len(set(names)) == len(names), f"{test_id}: two cases share a name"
        for case in cases:
            assert callable(getattr(adapters, case.call, None)), f"{test_id}: {case.call}"
            assert set(case.oracles) <= set(ORACLES), f"{test_id}: {case.name}"
            assert case.runs >= 1


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_isolation_never_answers_for_the_function_under_test(notebook: str) -> None:
    module = checks.module_of(notebook)
    for test_id, what in checks.handed_in(notebook).items():
        own = handed_in_names(what)
        for case in module.CASES[test_id]:
            answered = sorted(own & set(case.oracles))
            assert answered == [], f"{test_id} / {case.name}: the reference answers for {answered}"


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_mutant_catalogue_covers_every_test(notebook: str) -> None:
    mutants = CATALOGUE[notebook]
    answers = set(answer_ids(notebook_json(notebook)))
    counts = Counter(m.loses for m in mutants)
    assert {t: counts[t] for t in rubric.POINTS[notebook] if counts[t] < 3} == {}
    for mutant in mutants:
        assert mutant.loses in rubric.POINTS[notebook], mutant.name
        assert mutant.answer in answers, mutant.name
        assert "BEGIN SOLUTION" not in mutant.source, mutant.name
    names = [m.name for m in mutants]
    assert len(set(names)) == len(names), "mutant names must be unique in a notebook"


# ---------------------------------------------------------------------------------------------
# The judge: solutions pass, mutants fail exactly their own test, unknown tests are refused
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_solution_passes_every_hidden_test(notebook: str, secret: int) -> None:
    verdicts, protocol_errors = judge_all(load_answers(notebook), notebook, secret)
    assert set(verdicts) == set(rubric.POINTS[notebook])
    assert {t: m for t, m in verdicts.items() if m is not None} == {}
    assert protocol_errors == []


@pytest.mark.parametrize(
    ("notebook", "mutant"), MUTANTS, ids=[f"{nb[:2]}-{m.answer}: {m.name}" for nb, m in MUTANTS]
)
def test_mutant_fails_its_own_test_and_no_other(
    notebook: str, mutant: Mutant, tmp_path: Path
) -> None:
    verdicts = judge_mutated(load_answers(notebook, [mutant], tmp_path), notebook, SECRETS[0])
    assert verdicts[mutant.loses] is not None, f"{mutant.name!r} passed {mutant.loses}"
    others = {t: short(m) for t, m in verdicts.items() if t != mutant.loses and m is not None}
    assert others == {}, f"{mutant.name!r} also lost other tests"


@pytest.mark.parametrize("parity", [0, 1])
@pytest.mark.parametrize("variant", [0, 1])
@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_mutants_in_every_other_cell_lose_only_their_own_tests(
    notebook: str, variant: int, parity: int, tmp_path: Path
) -> None:
    """Isolation with wrong neighbours: a correct function keeps its points although the graded
    functions next to it (which it may call) are wrong."""
    plan = mutant_plan(notebook_json(notebook), CATALOGUE[notebook], variant, parity)
    verdicts = judge_mutated(load_answers(notebook, plan, tmp_path), notebook, SECRETS[0])
    failed = {t for t, m in verdicts.items() if m is not None}
    expected = {m.loses for m in plan}
    assert failed == expected, {
        "unexpected failures": {t: short(verdicts[t]) for t in sorted(failed - expected)},
        "mutants that passed": sorted(m.name for m in plan if m.loses not in failed),
    }


# What a student reads for some typical bugs: (notebook, mutant name prefix, test, message part).
MESSAGES = [
    ("01_flat_backprop", ">=", "test_should_abort", "exactly at the threshold"),
    ("01_flat_backprop", "no max shift", "test_softmax_loss_vectorized", "1e4"),
    ("01_flat_backprop", "no max shift", "test_softmax_loss_vectorized", "NaN or inf"),
    ("03_modular_backprop", "no max shift", "test_softmax_loss", "scores near +1000"),
    ("03_modular_backprop", "gradient let through at x == 0", "test_relu_backward",
     "inputs exactly 0"),
    ("03_modular_backprop", "no visited set", "test_graph_backward",
     "every node must appear exactly once"),
    ("03_modular_backprop", "add gate overwrites", "test_graph_backward", "feeds an add gate"),
    ("03_modular_backprop", "inputs stored as attributes", "test_multiply_gate",
     "save_for_backward"),
    ("03_modular_backprop", "learning rate far too large", "test_overfit_small", "too large"),
    ("03_modular_backprop", "weight decay added to the gradient", "test_adam", "weight_decay > 0"),
    ("03_modular_backprop", "cache holds the flattened x", "test_affine_forward",
     "cache[0] (x) has shape"),
    ("06_batch_normalization", "dgamma multiplies dout by x", "test_batchnorm_backward",
     "use x_hat"),
    ("06_batch_normalization", "the path through the mean", "test_batchnorm_backward",
     "path through the mean (mu -> x) is missing"),
    ("06_batch_normalization", "momentum the wrong way", "test_batchnorm_forward",
     "momentum is applied the wrong way round"),
    ("06_batch_normalization", "running averages kept in local", "test_batchnorm_forward",
     "running mean is not updated"),
    ("06_batch_normalization", "test mode normalizes with the batch", "test_batchnorm_forward",
     "test mode used the batch's statistics"),
    ("06_batch_normalization", "x reshaped to (N*H*W, C)", "test_spatial_batchnorm",
     "without moving the channel axis last"),
    ("06_batch_normalization", "the mode is never set", "test_fc_net_norm",
     "set 'mode' to 'test'"),
]


@pytest.mark.parametrize(("notebook", "prefix", "test_id", "fragment"), MESSAGES)
def test_failure_messages_say_what_and_where(
    notebook: str, prefix: str, test_id: str, fragment: str, tmp_path: Path
) -> None:
    mutant = next(m for m in CATALOGUE[notebook] if m.name.startswith(prefix))
    verdicts = judge_mutated(load_answers(notebook, [mutant], tmp_path), notebook, SECRETS[0])
    assert fragment in (verdicts[test_id] or ""), verdicts[test_id]


@pytest.mark.parametrize("test_id", ["test_nothing", "", "affine_forward", "TEST_RELU_FORWARD"])
def test_unknown_test_ids_are_refused(test_id: str) -> None:
    session = JudgeSession(secret=SECRETS[0])
    with pytest.raises(JudgeUnavailable, match="no hidden test named"):
        hand_in(test_id, print, LocalConnection(session))
    assert session.verdicts == {} and session.opened == []


# ---------------------------------------------------------------------------------------------
# Slow: the same over random secrets
# ---------------------------------------------------------------------------------------------


def random_secrets() -> Iterator[int]:
    for _ in range(SLOW_SECRET_COUNT):
        yield secrets.randbits(128)


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_no_mutant_escapes_on_random_secrets(notebook: str, tmp_path: Path) -> None:
    """Over 20 fresh secrets: the solution passes everything, and no mutant ever passes its own
    test (an escape) or fails another one (collateral). Printed: the secrets and the counts."""
    drawn = list(random_secrets())
    solution = load_answers(notebook)
    false_failures = {}
    for secret in drawn:
        verdicts, protocol_errors = judge_all(solution, notebook, secret)
        assert protocol_errors == [], (secret, protocol_errors)
        false_failures.update({(t, secret): short(m) for t, m in verdicts.items() if m})
    escapes: Counter[str] = Counter()
    collateral: dict[str, list[tuple[str, int, str]]] = {}
    for index, mutant in enumerate(CATALOGUE[notebook]):
        folder = tmp_path / str(index)
        folder.mkdir()
        module = load_answers(notebook, [mutant], folder)
        for secret in drawn:
            verdicts = judge_mutated(module, notebook, secret)
            if verdicts[mutant.loses] is None:
                escapes[mutant.name] += 1
            for test_id, message in verdicts.items():
                if test_id != mutant.loses and message is not None:
                    collateral.setdefault(mutant.name, []).append((test_id, secret, short(message)))
    print(f"{notebook}: {len(CATALOGUE[notebook])} mutants x {len(drawn)} secrets, "
          f"{sum(escapes.values())} escapes, {sum(map(len, collateral.values()))} collateral "
          f"failures, {len(false_failures)} solution failures; secrets {drawn}")
    assert false_failures == {}
    assert dict(escapes) == {}, f"escapes per mutant over secrets {drawn}"
    assert collateral == {}
