"""Tests for cs231kit.run_mode: grading mode from environment variables, budgets, description."""

import pytest

from cs231kit.run_mode import budget, describe_mode, grading_mode

MODE_VARIABLES = ("NBGRADER_EXECUTION", "CI", "CS231KIT_GRADING", "CS231KIT_FULL")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """Start every test with none of the mode variables set (CI itself may set CI=true)."""
    for name in MODE_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_default_is_full_mode():
    assert grading_mode() is False
    assert budget(full=10, grading=1) == 10
    assert describe_mode() == (
        "cs231kit run mode: full (set CS231KIT_GRADING=1 for short grading-mode runs)"
    )


@pytest.mark.parametrize("value", ["autograde", "validate"])
def test_nbgrader_execution_means_grading(monkeypatch, value):
    monkeypatch.setenv("NBGRADER_EXECUTION", value)
    assert grading_mode() is True
    assert budget(full=10, grading=1) == 1
    assert f"NBGRADER_EXECUTION={value}" in describe_mode()
    assert describe_mode().startswith("cs231kit run mode: grading")


@pytest.mark.parametrize(
    ("value", "grading"),
    [
        ("true", True),
        ("1", True),
        ("yes", True),
        ("TRUE", True),
        ("", False),
        ("0", False),
        ("false", False),
        ("no", False),
        ("off", False),
    ],
)
def test_ci_counts_only_when_truthy(monkeypatch, value, grading):
    monkeypatch.setenv("CI", value)
    assert grading_mode() is grading


def test_cs231kit_grading_flag(monkeypatch):
    monkeypatch.setenv("CS231KIT_GRADING", "1")
    assert grading_mode() is True
    assert "CS231KIT_GRADING" in describe_mode()
    monkeypatch.setenv("CS231KIT_GRADING", "0")
    assert grading_mode() is False


@pytest.mark.parametrize("grader", ["NBGRADER_EXECUTION", "CI", "CS231KIT_GRADING"])
def test_cs231kit_full_overrides_every_grading_signal(monkeypatch, grader):
    monkeypatch.setenv(grader, "1")
    monkeypatch.setenv("CS231KIT_FULL", "1")
    assert grading_mode() is False
    assert budget(full="long", grading="short") == "long"
    assert describe_mode() == "cs231kit run mode: full (CS231KIT_FULL is set)"


def test_budget_returns_values_of_any_type(monkeypatch):
    monkeypatch.setenv("CS231KIT_GRADING", "1")
    assert budget(full=[1, 2, 3], grading=[1]) == [1]
    assert budget(100, 5) == 5  # positional order: full, then grading


def test_being_graded_is_nbgrader_or_explicit_not_ci(monkeypatch):
    for name in ("NBGRADER_EXECUTION", "CS231KIT_GRADING", "CI", "CS231KIT_FULL"):
        monkeypatch.delenv(name, raising=False)
    from cs231kit.run_mode import being_graded

    monkeypatch.setenv("CI", "true")
    assert not being_graded()
    monkeypatch.setenv("CS231KIT_GRADING", "0")
    assert not being_graded()
    monkeypatch.setenv("CS231KIT_GRADING", "1")
    assert being_graded()
    monkeypatch.delenv("CS231KIT_GRADING")
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert being_graded()
