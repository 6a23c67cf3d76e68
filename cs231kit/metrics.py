"""Classification metrics: accuracy and top-k accuracy / error.

Ties are broken the same way everywhere, so results never depend on a sort's whims: classes are
ranked by score, highest first, and among equal scores **the lower class index ranks first**
(this is what ``np.argmax`` does). So with scores [0.5, 0.5, 0.1], class 0 is the top-1
prediction and class 1 is second.

All functions accept NumPy or CuPy arrays and return Python floats.

Example (the ILSVRC example from lecture: the true class, "Abyssinian cat", is ranked 4th):

    >>> scores = np.array([[0.61, 0.22, 0.11, 0.10, 0.03]])  # tabby, Egyptian, fox, Abyssinian, ...
    >>> top_k_error(scores, np.array([3]), k=1), top_k_error(scores, np.array([3]), k=5)
    (1.0, 0.0)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cs231kit.backend import to_numpy


def accuracy(scores_or_labels: Any, y: Any) -> float:
    """Fraction of examples classified correctly.

    Inputs:
    - scores_or_labels: either class scores of shape (N, C), whose argmax per row is the
      prediction (ties: lowest class index), or predicted labels of shape (N,)
    - y: true labels, integers of shape (N,)

    Returns the accuracy in [0, 1] as a Python float.
    """
    predictions = _as_numpy(scores_or_labels, "scores_or_labels")
    labels = _labels(y, "y")
    if predictions.ndim == 2:
        _check_scores(predictions, labels)
        predictions = np.argmax(predictions, axis=1)
    elif predictions.ndim == 1:
        predictions = _labels(predictions, "predicted labels")
        if predictions.shape != labels.shape:
            raise ValueError(
                f"got {predictions.shape[0]} predicted labels but {labels.shape[0]} true labels; "
                "pass one prediction per example."
            )
    else:
        raise ValueError(
            "accuracy takes scores of shape (N, C) or predicted labels of shape (N,), got an "
            f"array of shape {predictions.shape}."
        )
    return float(np.mean(predictions == labels))


def top_k_accuracy(scores: Any, y: Any, k: int = 5) -> float:
    """Fraction of examples whose true class is among the k highest-scoring classes.

    Inputs:
    - scores: class scores of shape (N, C); ties rank the lower class index first
    - y: true labels, integers of shape (N,)
    - k: how many top classes count as a hit, 1 <= k <= C (k = 1 is plain accuracy)

    Returns the top-k accuracy in [0, 1] as a Python float.
    """
    return float(np.mean(_true_class_rank(scores, y, k) < k))


def top_k_error(scores: Any, y: Any, k: int = 5) -> float:
    """Fraction of examples whose true class is NOT among the k highest-scoring classes.

    This is 1 - top_k_accuracy(scores, y, k): the ILSVRC "top-5 error" for k = 5.
    Inputs and tie rule as in ``top_k_accuracy``. Returns a Python float in [0, 1].
    """
    return float(np.mean(_true_class_rank(scores, y, k) >= k))


def _true_class_rank(scores: Any, y: Any, k: int) -> np.ndarray:
    """rank[i] = how many classes rank above the true class of example i (0 = top-1), shape (N,).

    A class c ranks above the true class t when s[c] > s[t], or s[c] == s[t] and c < t. Counting
    is O(N * C) and needs no sort.
    """
    s = _as_numpy(scores, "scores")
    labels = _labels(y, "y")
    if s.ndim != 2:
        raise ValueError(
            f"scores must have shape (N, C), one row of class scores per example, got {s.shape}."
        )
    _check_scores(s, labels)
    num_classes = s.shape[1]
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= num_classes:
        raise ValueError(f"k must be an integer with 1 <= k <= C = {num_classes}, got {k!r}.")
    true_scores = s[np.arange(s.shape[0]), labels][:, None]
    lower_index = np.arange(num_classes)[None, :] < labels[:, None]
    above = (s > true_scores) | ((s == true_scores) & lower_index)
    return np.sum(above, axis=1)


def _check_scores(s: np.ndarray, labels: np.ndarray) -> None:
    n, num_classes = s.shape
    if n != labels.shape[0]:
        raise ValueError(
            f"scores has {n} rows but y has {labels.shape[0]} labels; pass one row of scores per "
            "example."
        )
    if num_classes == 0:
        raise ValueError("scores has 0 columns; there must be at least one class.")
    if not np.issubdtype(s.dtype, np.number) or np.issubdtype(s.dtype, np.complexfloating):
        raise TypeError(f"scores must be real numbers, got dtype {s.dtype}.")
    if np.any(np.isnan(s)):
        raise ValueError(
            "scores contain NaN, so no class can be ranked; the model has diverged (try a smaller "
            "learning rate) or the forward pass has a bug."
        )
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(
            f"labels must lie in [0, {num_classes - 1}] for scores with {num_classes} classes, got "
            f"labels from {labels.min()} to {labels.max()}."
        )


def _labels(a: Any, what: str) -> np.ndarray:
    """A non-empty 1-D integer label array; floats are accepted only if they hold whole numbers."""
    labels = _as_numpy(a, what)
    if labels.ndim != 1:
        raise ValueError(f"{what} must be a 1-D array of shape (N,), got shape {labels.shape}.")
    if labels.size == 0:
        raise ValueError(f"{what} is empty; a metric over no examples is undefined.")
    if np.issubdtype(labels.dtype, np.integer):
        return labels
    if np.issubdtype(labels.dtype, np.floating) and np.all(labels == np.round(labels)):
        return labels.astype(np.int64)
    raise TypeError(
        f"{what} must hold integer class labels, got dtype {labels.dtype} with non-integer values. "
        "If these are class scores, pass a 2-D array of shape (N, C)."
    )


def _as_numpy(a: Any, what: str) -> np.ndarray:
    array = to_numpy(a)
    if array.dtype == object:
        raise TypeError(f"{what} must be a numeric array, got an array of Python objects.")
    return array
