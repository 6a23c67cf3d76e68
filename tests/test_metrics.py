"""Tests for cs231kit.metrics: accuracy and top-k accuracy / error."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cs231kit.metrics import accuracy, top_k_accuracy, top_k_error

# The lecture's ILSVRC example: scores for "cat, tabby cat", "Egyptian cat", "red fox",
# "Abyssinian cat", "French terrier"; the true label is Abyssinian cat (class 3).
LECTURE_SCORES = np.array([[0.61, 0.22, 0.11, 0.10, 0.03]])
ABYSSINIAN = np.array([3])


@pytest.mark.parametrize(("k", "error"), [(1, 1.0), (2, 1.0), (3, 1.0), (4, 0.0), (5, 0.0)])
def test_lecture_example_top_k_error(k, error):
    assert top_k_error(LECTURE_SCORES, ABYSSINIAN, k=k) == error
    assert top_k_accuracy(LECTURE_SCORES, ABYSSINIAN, k=k) == 1.0 - error


def test_worked_batch_top1_versus_top5():
    # Four images, six classes. Ranks of the true class: 0, 1, 4, 5 (0 = best).
    scores = np.array(
        [
            [9.0, 1.0, 2.0, 3.0, 4.0, 5.0],  # true 0: rank 0
            [1.0, 8.0, 9.0, 0.0, 0.0, 0.0],  # true 1: rank 1
            [6.0, 5.0, 4.0, 3.0, 1.0, 2.0],  # true 4: rank 5
            [6.0, 5.0, 4.0, 3.0, 2.0, 1.0],  # true 4: rank 4
        ]
    )
    y = np.array([0, 1, 4, 4])
    assert accuracy(scores, y) == 0.25
    assert top_k_error(scores, y, k=1) == 0.75
    assert top_k_accuracy(scores, y, k=2) == 0.5
    assert top_k_error(scores, y, k=5) == 0.25  # only the rank-5 image misses the top 5
    assert top_k_error(scores, y, k=6) == 0.0


def test_accuracy_accepts_scores_or_predicted_labels():
    scores = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    y = np.array([1, 1, 1])
    assert accuracy(scores, y) == pytest.approx(2 / 3)
    assert accuracy(np.array([1, 0, 1]), y) == pytest.approx(2 / 3)
    assert accuracy([1, 0, 1], [1, 1, 1]) == pytest.approx(2 / 3)  # lists work too
    assert type(accuracy(scores, y)) is float


def test_ties_rank_the_lower_class_index_first():
    scores = np.array([[0.5, 0.5, 0.1], [0.5, 0.5, 0.1]])
    # Class 0 is the top-1 prediction of both rows; class 1 is second.
    assert accuracy(scores, np.array([0, 1])) == 0.5
    assert top_k_accuracy(scores, np.array([1, 1]), k=1) == 0.0
    assert top_k_accuracy(scores, np.array([1, 1]), k=2) == 1.0
    # All equal: class c has rank c.
    flat = np.zeros((3, 4))
    assert top_k_accuracy(flat, np.array([0, 2, 3]), k=3) == pytest.approx(2 / 3)


def test_float_labels_with_whole_values_are_accepted():
    assert accuracy(np.array([1.0, 2.0]), np.array([1.0, 0.0])) == 0.5


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_top_k_matches_a_stable_sort(data):
    n = data.draw(st.integers(1, 8))
    c = data.draw(st.integers(1, 6))
    # Few distinct values, so ties are common.
    scores = data.draw(hnp.arrays(np.float64, (n, c), elements=st.sampled_from([0.0, 1.0, 2.5])))
    y = data.draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, c - 1)))
    k = data.draw(st.integers(1, c))
    # Reference: a stable sort by descending score keeps lower indices first among ties.
    order = np.argsort(-scores, axis=1, kind="stable")
    hits = [y[i] in order[i, :k] for i in range(n)]
    assert top_k_accuracy(scores, y, k) == pytest.approx(np.mean(hits))
    assert top_k_error(scores, y, k) == pytest.approx(1 - np.mean(hits))
    assert top_k_accuracy(scores, y, 1) == accuracy(scores, y)


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_top_k_accuracy_grows_with_k(data):
    n, c = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6))
    scores = data.draw(hnp.arrays(np.float64, (n, c), elements=st.floats(-5, 5, allow_nan=False)))
    y = data.draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, c - 1)))
    values = [top_k_accuracy(scores, y, k) for k in range(1, c + 1)]
    assert values == sorted(values) and values[-1] == 1.0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: accuracy(np.zeros((3, 2)), np.zeros(4, dtype=int)), "3 rows but y has 4"),
        (lambda: accuracy(np.zeros(3, dtype=int), np.zeros(4, dtype=int)), "3 predicted labels"),
        (lambda: accuracy(np.zeros((2, 2, 2)), np.zeros(2, dtype=int)), r"\(N, C\)"),
        (lambda: accuracy(np.zeros((2, 3)), np.array([0, 3])), r"labels must lie in \[0, 2\]"),
        (lambda: accuracy(np.zeros((2, 3)), np.array([-1, 0])), r"labels must lie in \[0, 2\]"),
        (lambda: accuracy(np.zeros((0, 3)), np.zeros(0, dtype=int)), "empty"),
        (lambda: accuracy(np.array([[np.nan, 1.0]]), np.array([0])), "NaN"),
        (lambda: top_k_error(np.zeros((2, 3)), np.array([0, 1]), k=4), "1 <= k <= C = 3"),
        (lambda: top_k_error(np.zeros((2, 3)), np.array([0, 1]), k=0), "1 <= k <= C = 3"),
        (lambda: top_k_error(np.zeros(3), np.array([0, 1, 2])), r"shape \(N, C\)"),
        (lambda: top_k_error(np.zeros((2, 3)), np.zeros((2, 1), dtype=int)), "1-D"),
    ],
)
def test_bad_input_gets_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_scores_passed_as_1d_labels_are_refused_with_a_hint():
    with pytest.raises(TypeError, match=r"pass a 2-D array of shape \(N, C\)"):
        accuracy(np.array([0.2, 0.7, 0.1]), np.array([1, 1, 1]))
