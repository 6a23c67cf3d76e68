"""The judge's protocol: fresh secret inputs, one test at a time, reference answers only in turn.

Everything here goes through ``hand_in`` and ``LocalConnection``, i.e. through the same encoding as
over the sandbox's socket; the requests a well-behaved sandbox would never send are sent by hand.
"""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path

import numpy as np
import pytest

from autograder.judge import checks
from autograder.judge.reference import jacobians, layers
from autograder.judge.session import JudgeServer, JudgeSession
from autograder.sandbox.handin import (
    CheckFailure,
    JudgeUnavailable,
    LocalConnection,
    SocketConnection,
    hand_in,
)


def connect(**kwargs) -> tuple[JudgeSession, LocalConnection]:
    session = JudgeSession(**kwargs)
    return session, LocalConnection(session)


def test_a_correct_function_passes_and_a_wrong_one_fails_with_the_judges_message():
    session, judge = connect()
    hand_in("test_relu_jacobian", jacobians.relu_jacobian, judge)
    with pytest.raises(CheckFailure, match="relu_backward_implicit.*wrong"):
        hand_in("test_relu_backward_implicit", lambda x, dy: dy, judge)
    assert session.verdicts["test_relu_jacobian"].passed
    assert not session.verdicts["test_relu_backward_implicit"].passed


def test_inputs_come_from_the_secret():
    seen: dict[int, list[np.ndarray]] = {}
    for secret in (1, 1, 2):
        xs: list[np.ndarray] = []

        def spy(x, xs=xs):
            xs.append(x.copy())
            return jacobians.relu_jacobian(x)

        hand_in("test_relu_jacobian", spy, connect(secret=secret)[1])
        if secret in seen:
            assert all(np.array_equal(a, b) for a, b in zip(seen[secret], xs, strict=True))
        seen[secret] = xs
    random_inputs = [x for x in seen[1] if x.size > 4]
    assert not all(
        np.array_equal(a, b) for a, b in zip(random_inputs, seen[2][1:], strict=False)
    )
    # A fresh session draws a fresh secret: two default sessions never agree on random inputs.
    assert JudgeSession().secret != JudgeSession().secret


def test_a_test_is_handed_in_once_per_session_and_unknown_tests_are_refused():
    session, judge = connect()
    hand_in("test_relu_jacobian", jacobians.relu_jacobian, judge)
    with pytest.raises(JudgeUnavailable, match="already"):
        hand_in("test_relu_jacobian", jacobians.relu_jacobian, judge)
    with pytest.raises(JudgeUnavailable, match="no hidden test"):
        hand_in("test_nothing", jacobians.relu_jacobian, judge)
    assert len(session.protocol_errors) == 2


STUDENT_SANDWICH = """
stash = {}

def affine_relu_forward(x, w, b):
    stash["affine_forward"] = affine_forward  # the judge's stub, in this notebook's globals
    out, fc = affine_forward(x, w, b)
    out, relu = relu_forward(out)
    return out, (fc, relu)

def affine_relu_backward(dout, cache):
    fc, relu = cache
    return affine_backward(relu_backward(dout, relu), fc)
"""


def test_a_stashed_reference_stub_never_answers_for_another_test():
    """The attack: keep the sandwich test's affine_forward stub, use it to pass affine_forward."""
    notebook: dict = {}
    exec(STUDENT_SANDWICH, notebook)
    session, judge = connect()
    sandwich = {name: notebook[name] for name in ("affine_relu_forward", "affine_relu_backward")}
    hand_in("test_affine_relu", sandwich, judge)  # composing the references is the task
    assert session.verdicts["test_affine_relu"].passed
    stub = notebook["stash"]["affine_forward"]
    with pytest.raises(CheckFailure, match="RuntimeError"):
        hand_in("test_affine_forward", lambda x, w, b: stub(x, w, b), judge)
    assert not session.verdicts["test_affine_forward"].passed


def test_the_reference_answers_only_the_names_the_case_allows():
    session, judge = connect()
    plan = judge.request({"op": "open", "test": "test_affine_forward"})["runs"]
    with pytest.raises(JudgeUnavailable, match="not available"):
        judge.request({"op": "oracle", "token": plan[0]["token"], "function": "affine_forward",
                       "args": [np.ones((1, 2)), np.ones((2, 3)), np.ones(3)], "kwargs": {}})
    with pytest.raises(JudgeUnavailable, match="token"):
        judge.request({"op": "outputs", "token": "guessed", "outputs": {}})


def test_a_reference_call_updates_the_callers_dict_arguments_as_a_local_call_would():
    """batchnorm_forward keeps its running averages in its bn_param: through a reference stub,
    they land in the student's own dict, and nothing but plain data comes back."""
    session, judge = connect()
    plan = judge.request({"op": "open", "test": "test_spatial_batchnorm"})["runs"]
    token = plan[0]["token"]
    bn_param = {"mode": "train", "momentum": 0.5, "note": "kept"}
    x = np.arange(6.0).reshape(3, 2)
    reply = judge.request({"op": "oracle", "token": token, "function": "batchnorm_forward",
                           "args": [x, np.ones(2), np.zeros(2), bn_param], "kwargs": {}})
    assert "running_mean" not in bn_param  # the judge worked on its own decoded copy
    np.testing.assert_allclose(reply["updated"]["3"]["running_mean"], 0.5 * x.mean(axis=0))
    from autograder.sandbox.handin import _copy_back

    _copy_back(reply["updated"], (x, np.ones(2), np.zeros(2), bn_param), {})
    np.testing.assert_allclose(bn_param["running_var"], 0.5 * x.var(axis=0))
    assert bn_param["note"] == "kept" and bn_param["mode"] == "train"


def test_an_open_test_closes_when_the_next_opens_and_its_tokens_die_with_it():
    session, judge = connect()
    first = judge.request({"op": "open", "test": "test_relu_jacobian"})["runs"]
    judge.request({"op": "open", "test": "test_matmul_backward"})
    assert not session.verdicts["test_relu_jacobian"].passed
    assert "not every case" in session.verdicts["test_relu_jacobian"].message
    with pytest.raises(JudgeUnavailable, match="token"):
        judge.request({"op": "outputs", "token": first[0]["token"],
                       "outputs": {"J": jacobians.relu_jacobian(first[0]["inputs"]["x"])}})


def test_the_worker_opens_only_the_test_it_was_given_in_plan_order():
    plan = [(t, n) for t, n in checks.worker_plan() if n.startswith("02_")]
    session, judge = connect(role="worker", worker_plan=plan)
    with pytest.raises(JudgeUnavailable, match="only open the test it was given"):
        judge.request({"op": "open", "test": plan[1][0]})
    given = [judge.request({"op": "next"})["test"] for _ in plan]
    assert given == [t for t, _ in plan] and judge.request({"op": "next"}) == {"done": True}
    assert session.remaining() == 0


def test_a_failed_case_skips_its_other_runs_and_reports_one_message():
    session, judge = connect()
    calls = []

    def wrong(x, w, dy):
        calls.append(x.shape)
        return np.zeros_like(x), np.zeros_like(w)

    with pytest.raises(CheckFailure) as failure:
        hand_in("test_matmul_backward", wrong, judge)
    cases = checks.find("test_matmul_backward").CASES["test_matmul_backward"]
    assert len(calls) == len(cases)  # one run per case: the others were skipped
    assert len(str(failure.value).splitlines()) == len(cases)


def test_exceptions_and_unreadable_returns_become_failures_not_crashes():
    _, judge = connect()
    with pytest.raises(CheckFailure, match="not implemented yet"):
        hand_in("test_relu_jacobian", lambda x: (_ for _ in ()).throw(NotImplementedError()), judge)
    with pytest.raises(CheckFailure, match="cannot read"):
        hand_in("test_matmul_jacobians", lambda x, w: (object(), object()), judge)
    with pytest.raises(CheckFailure, match="NaN or inf"):
        hand_in("test_broadcast_backward", lambda dout, shape: np.full(shape, np.nan), judge)
    with pytest.raises(CheckFailure, match="has shape"):
        hand_in("test_explicit_jacobian_bytes", lambda N, D, M, b=4: np.zeros(2), judge)


def test_a_value_test_is_judged_by_training_the_reference_net():
    _, judge = connect()
    hand_in("test_overfit_small", {"learning_rate": 0.003, "weight_scale": 0.02}, judge)
    with pytest.raises(CheckFailure, match="must be a number"):
        hand_in("test_overfit_small", {"learning_rate": "fast", "weight_scale": 0.02},
                connect()[1])
    with pytest.raises(CheckFailure, match="barely moved|diverged|accuracy"):
        hand_in("test_overfit_small", {"learning_rate": 1e-9, "weight_scale": 0.02},
                connect()[1])


def test_the_socket_server_serves_a_sandbox_and_drops_garbage():
    session = JudgeSession()
    with tempfile.TemporaryDirectory(prefix="cs231kit-") as folder:
        path = Path(folder) / "judge.sock"
        with JudgeServer(session, path):
            hand_in("test_relu_forward", layers.relu_forward, SocketConnection(str(path)))
            raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            raw.connect(str(path))
            raw.sendall(b"\x00" * 7 + b"\x05" + b"hello" + b"\x00" * 8)
            assert raw.recv(100) == b""  # dropped, nothing answered
            raw.close()
        assert not path.exists()
    assert session.verdicts["test_relu_forward"].passed
    assert any("unreadable" in e for e in session.protocol_errors)
