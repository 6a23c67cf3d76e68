"""Reference linear-classifier losses of notebook 01, with L2 regularisation reg * sum(W * W).

Notebook 01 writes them "flat" (every intermediate named, forward then backward); here they are
composed from the reference layers, so that the two derivations check each other.
"""

from __future__ import annotations

import numpy as np

from autograder.judge.reference import layers
from autograder.judge.reference.layers import l2_regularized

Array = np.ndarray


def svm_loss_vectorized(W: Array, X: Array, y: Array, reg: float) -> tuple[float, Array]:
    """Multiclass SVM loss (margin 1) of a linear classifier, averaged over N, plus L2.

    Inputs:
    - W: (D, C) weights; X: (N, D) data; y: (N,) labels in 0..C-1; reg: L2 strength

    Returns (loss, dW) with dW of shape (D, C).
    """
    scores, cache = layers.affine_forward(X, W, np.zeros(W.shape[1]))
    data_loss, dscores = layers.svm_loss(scores, y, delta=1.0)
    _, dW, _ = layers.affine_backward(dscores, cache)
    return l2_regularized(data_loss, dW, W, reg)


def softmax_loss_vectorized(W: Array, X: Array, y: Array, reg: float) -> tuple[float, Array]:
    """Softmax (cross-entropy) loss of a linear classifier, averaged over N, plus L2.

    Inputs:
    - W: (D, C) weights; X: (N, D) data; y: (N,) labels in 0..C-1; reg: L2 strength

    Returns (loss, dW) with dW of shape (D, C).
    """
    scores, cache = layers.affine_forward(X, W, np.zeros(W.shape[1]))
    data_loss, dscores = layers.softmax_loss(scores, y)
    _, dW, _ = layers.affine_backward(dscores, cache)
    return l2_regularized(data_loss, dW, W, reg)


