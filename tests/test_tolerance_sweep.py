"""Tolerance validation: the hidden tests never fail a correct solution, over 1000 inputs per case.

For each solution notebook, a real kernel runs the notebook top to bottom in grading mode (its
hidden cells included), then one extra cell hands in, for every hidden cell ``hand_in(ID, EXPR)``
of the source notebook, EXPR evaluated in the notebook's namespace (exactly what the cell hands
in), to judges that try every case on 1000 fresh inputs in all, through the real wire encoding
(``LocalConnection(JudgeSession(secret=..., runs=...))``). Every failure is reported, and there
must be none: 0 false failures on 1000 inputs per case. (A failing case stops its remaining runs
in its session; any failure fails the sweep.)

The 1000 runs are split over sessions of at most 100 runs per case, with secrets S, S + 1, ...:
a session sends all runs' inputs of a test in one message, and 1000 runs of the bigger tests
(e.g. ``test_fc_net``, 34 arrays per round of its cases) exceed the wire format's 20000 arrays
per message. Distinct secrets draw distinct inputs, so this is 1000 independent draws per case.

``CS231KIT_SWEEP_RUNS`` (default 1000) and ``CS231KIT_SWEEP_SECRET`` (default fixed, so a failure
can be replayed) change the sweep. Slow: ``make test-slow``; run with ``-s`` to see the counts.
"""

from __future__ import annotations

import ast
import json
import os

import nbformat
import pytest
from nbclient import NotebookClient

from autograder import rubric
from autograder.course import SOURCE_DIR, nbgrader_env

SOLUTIONS = SOURCE_DIR / rubric.ASSIGNMENT
RUNS = int(os.environ.get("CS231KIT_SWEEP_RUNS", "1000"))
SECRET = int(os.environ.get("CS231KIT_SWEEP_SECRET", "231231231"))
RUNS_PER_SESSION = 100

SWEEP = '''
import json as _json
from autograder.judge.session import JudgeSession as _JudgeSession
from autograder.sandbox.handin import CheckFailure as _CheckFailure
from autograder.sandbox.handin import LocalConnection as _LocalConnection
from autograder.sandbox.handin import hand_in as _hand_in


class _CountingConnection(_LocalConnection):
    """Counts the case runs the judge planned and those whose result was handed back."""

    planned = executed = 0

    def request(self, message):
        reply = super().request(message)
        if message["op"] == "open":
            self.planned += len(reply["runs"])
        elif message["op"] in ("outputs", "raised"):
            self.executed += 1
        return reply


_planned = _executed = 0
_failures, _protocol_errors = [], []
for _index, _runs in enumerate({chunks!r}):
    _session = _JudgeSession(secret={secret} + _index, runs=_runs)
    _connection = _CountingConnection(_session)
    for _test_id, _expr in {specs!r}:
        try:
            _hand_in(_test_id, eval(_expr), _connection)
        except _CheckFailure as _failure:
            _failures.append(f"{{_test_id}} (secret {{_session.secret}}): {{_failure}}"[:3000])
    _planned += _connection.planned
    _executed += _connection.executed
    _protocol_errors += _session.protocol_errors
print(_json.dumps({{"planned": _planned, "executed": _executed, "failures": _failures,
                   "protocol_errors": _protocol_errors}}))
'''


def hidden_cells(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    """(test id, source of what it hands in) of every hidden ``hand_in(ID, EXPR)`` cell."""
    specs = []
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("grade") or meta.get("solution"):
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "hand_in":
                specs.append((ast.literal_eval(node.args[0]), ast.unparse(node.args[1])))
    return specs


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(rubric.POINTS))
def test_hidden_tests_accept_the_solution_on_many_inputs(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in nbgrader_env({"CS231KIT_GRADING": "1"}).items():
        monkeypatch.setenv(key, value)
    nb = nbformat.read(SOLUTIONS / f"{name}.ipynb", as_version=4)
    specs = hidden_cells(nb)
    assert sorted(test_id for test_id, _ in specs) == sorted(rubric.POINTS[name])
    sessions, rest = divmod(RUNS, RUNS_PER_SESSION)
    chunks = [RUNS_PER_SESSION] * sessions + ([rest] if rest else [])
    nb.cells.append(
        nbformat.v4.new_code_cell(SWEEP.format(specs=specs, secret=SECRET, chunks=chunks))
    )
    client = NotebookClient(
        nb, timeout=None, kernel_name="python3", resources={"metadata": {"path": str(SOLUTIONS)}}
    )
    client.execute()
    result = json.loads(nb.cells[-1].outputs[-1]["text"])
    print(
        f"{name}: {result['executed']} case runs executed of {result['planned']} planned "
        f"({len(specs)} tests, {RUNS} runs per case over {len(chunks)} sessions, secrets from "
        f"{SECRET}), {len(result['failures'])} failures (a test failing in a session)"
    )
    assert result["failures"] == [], "\n".join(result["failures"])
    assert result["protocol_errors"] == []
    assert result["executed"] == result["planned"] >= RUNS * len(specs)
