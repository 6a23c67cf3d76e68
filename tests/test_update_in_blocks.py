"""cs231kit.update_in_blocks: a large parameter updated in blocks gets exactly the bits of a
whole update, and a rule for which blocks would differ is found out and applied whole."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.judge.reference.optim import adam, rmsprop, sgd_momentum
from cs231kit import optim, update_in_blocks
from cs231kit.update_in_blocks import BlockedUpdates

RULES: list[Callable[..., Any]] = [optim.sgd, sgd_momentum, rmsprop, adam]


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of 1000 entries, so that small arrays already span several (and a ragged end)."""
    monkeypatch.setattr(update_in_blocks, "BLOCK_ELEMENTS", 1000)
    monkeypatch.setattr(update_in_blocks, "MIN_ELEMENTS", 2000)


def _assert_identical(a: Any, b: Any) -> None:
    assert type(a) is type(b)
    if isinstance(a, np.ndarray):
        assert a.shape == b.shape and a.dtype == b.dtype
        assert a.tobytes() == b.tobytes()
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _assert_identical(a[key], b[key])
    else:
        assert a == b


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.__name__)
@settings(max_examples=15, deadline=None)
@given(
    # (300, 301) is large enough for the blocks to run in parallel threads
    shape=st.sampled_from([(2000,), (45, 67), (3, 11, 97), (8192, 1), (300, 301)]),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**32 - 1),
)
def test_blocks_give_the_bits_of_a_whole_update_step_after_step(
    rule: Callable[..., Any], shape: tuple[int, ...], dtype: Any, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(shape).astype(dtype)
    config: dict[str, Any] = {"learning_rate": 1e-2}
    w_whole, config_whole = w.copy(), copy.deepcopy(config)
    for _ in range(3):  # the first step creates the state, the later ones carry it
        dw = rng.standard_normal(shape).astype(dtype)
        w, config = update_in_blocks.update_in_blocks(rule, w, dw, config)
        w_whole, config_whole = rule(w_whole, dw, config_whole)
        _assert_identical(w, w_whole)
        _assert_identical(config, config_whole)


def test_the_config_passed_in_is_left_as_it_was() -> None:
    w = np.ones((50, 50))
    config = {"learning_rate": 1e-3, "m": np.zeros((50, 50)), "v": np.zeros((50, 50)), "t": 4}
    before = copy.deepcopy(config)
    _, after = update_in_blocks.update_in_blocks(adam, w, np.ones((50, 50)), config)
    _assert_identical(config, before)
    assert after["t"] == 5 and after["m"].shape == (50, 50) and after["m"] is not config["m"]


def test_the_solver_path_checks_once_then_updates_in_blocks() -> None:
    calls: list[int] = []

    def counting_sgd(w: Any, dw: Any, config: Any = None) -> Any:
        calls.append(w.size)
        return optim.sgd(w, dw, config)

    updates = BlockedUpdates()
    w, dw = np.zeros((60, 50)), np.ones((60, 50))  # 3000 entries: blocks of 1000
    updates(counting_sgd, "W", w, dw, {})
    assert sorted(calls) == [1000, 1000, 1000, 3000]  # blocks, then whole, to compare
    assert updates.in_blocks == {"W": True}
    calls.clear()
    updates(counting_sgd, "W", w, dw, {})
    assert calls == [1000, 1000, 1000]
    calls.clear()
    updates(counting_sgd, "b", np.zeros(50), np.ones(50), {})  # small: whole, never checked
    assert calls == [50] and "b" not in updates.in_blocks


def clip_by_norm(w: Any, dw: Any, config: Any = None) -> Any:
    """Not element-wise: every entry's step depends on the norm of the whole gradient."""
    config = {} if config is None else config
    return w - 0.1 * dw / max(float(np.linalg.norm(dw)), 1.0), config


def noisy_sgd(w: Any, dw: Any, config: Any = None) -> Any:
    """Not deterministic: each call draws new noise."""
    config = {} if config is None else config
    return w - 0.1 * dw + 1e-3 * _noise.standard_normal(w.shape), config


_noise = np.random.default_rng(0)


def shared_counter(w: Any, dw: Any, config: Any = None) -> Any:
    """Keeps its step counter outside the config, so every block call advances it."""
    shared_counter.t += 1  # type: ignore[attr-defined]
    return w - 0.1 / shared_counter.t * dw, config or {}  # type: ignore[attr-defined]


shared_counter.t = 0  # type: ignore[attr-defined]


def returns_a_list(w: Any, dw: Any, config: Any = None) -> Any:
    """Returns next_w as a list: the Solver stores whatever comes back, so it works whole."""
    return (w - 0.1 * dw).tolist(), config or {}


@pytest.mark.parametrize(
    "rule",
    [clip_by_norm, noisy_sgd, shared_counter, returns_a_list],
    ids=lambda rule: rule.__name__,
)
def test_a_rule_that_is_not_element_wise_is_found_out_and_applied_whole(
    rule: Callable[..., Any],
) -> None:
    rng = np.random.default_rng(0)
    updates = BlockedUpdates()
    w = rng.standard_normal((60, 50))
    dw = 10 * rng.standard_normal((60, 50))
    expected = w - 0.1 * dw / np.linalg.norm(dw)
    w1, _ = updates(rule, "W", w, dw, {})
    assert updates.in_blocks == {"W": False}
    if rule is clip_by_norm:  # what the Solver keeps is the whole update
        np.testing.assert_array_equal(w1, expected)
    calls_before = getattr(rule, "t", None)
    updates(rule, "W", w, dw, {})
    if calls_before is not None:
        assert rule.t == calls_before + 1  # type: ignore[attr-defined]  # whole: one call


def test_a_new_rule_is_checked_again() -> None:
    updates = BlockedUpdates()
    w, dw = np.zeros((60, 50)), np.ones((60, 50))
    updates(clip_by_norm, "W", w, dw, {})
    assert updates.in_blocks == {"W": False}
    updates(optim.sgd, "W", w, dw, {})
    assert updates.in_blocks == {"W": True}
