"""Wrong variants of notebook 01's graded functions: the bugs students really make.

Each mutant replaces one answer cell of ``solutions/a2/01_flat_backprop.ipynb``; it must fail its
own hidden check and leave every other check passing.
"""

from tests.mutants import Mutant

_SIGMOID_HEAD = '''def sigmoid_circuit(w, x):
    """Forward and backward pass of f = sigmoid(w0*x0 + w1*x1 + w2) (a wrong variant)."""
    w0, w1, w2 = (float(v) for v in w)
    x0, x1 = (float(v) for v in x)
    s3 = w0 * x0 + w1 * x1 + w2
    L = 1.0 / (1.0 + np.exp(-s3))
'''

_SVM_HEAD = '''def svm_loss_vectorized(W, X, y, reg):
    """Multiclass SVM loss and gradient (a wrong variant)."""
    N = X.shape[0]
    rows = np.arange(N)
    scores = X @ W
    correct = scores[rows, y][:, np.newaxis]
'''

_SOFTMAX_HEAD = '''def softmax_loss_vectorized(W, X, y, reg):
    """Softmax loss and gradient (a wrong variant)."""
    N = X.shape[0]
    rows = np.arange(N)
    scores = X @ W
'''

_NET_HEAD = '''def two_layer_net(X, params, y=None, reg=0.0):
    """Two-layer net, affine - ReLU - affine - softmax (a wrong variant)."""
    W1, b1 = params["W1"], params["b1"]
    W2, b2 = params["W2"], params["b2"]
    N = X.shape[0]
    rows = np.arange(N)
    a1 = X @ W1 + b1
    h1 = np.maximum(0.0, a1)
    scores = h1 @ W2 + b2
'''

_NET_LOSS = """    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    data_loss = -log_probs[rows, y].sum() / N
    dscores = np.exp(log_probs)
    dscores[rows, y] -= 1.0
    dscores /= N
"""


def _sigmoid(backward: str) -> str:
    return _SIGMOID_HEAD + backward


def _net(body: str) -> str:
    return _NET_HEAD + body


MUTANTS = [
    # ------------------------------------------------------------------ sigmoid_circuit
    Mutant(
        answer="sigmoid_circuit",
        loses="test_sigmoid_circuit",
        name="sigmoid local gradient taken from its input s3 instead of its output L",
        source=_sigmoid(
            """    grad_s3 = (1 - s3) * s3
    return float(L), np.array([grad_s3 * x0, grad_s3 * x1, grad_s3]), np.array(
        [grad_s3 * w0, grad_s3 * w1])
"""
        ),
    ),
    Mutant(
        answer="sigmoid_circuit",
        loses="test_sigmoid_circuit",
        name="multiply gate does not swap: dw uses w and dx uses x",
        source=_sigmoid(
            """    grad_s3 = (1 - L) * L
    return float(L), np.array([grad_s3 * w0, grad_s3 * w1, grad_s3]), np.array(
        [grad_s3 * x0, grad_s3 * x1])
"""
        ),
    ),
    Mutant(
        answer="sigmoid_circuit",
        loses="test_sigmoid_circuit",
        name="sigmoid local gradient forgotten (grad_s3 = grad_L)",
        source=_sigmoid(
            """    grad_s3 = 1.0
    return float(L), np.array([grad_s3 * x0, grad_s3 * x1, grad_s3]), np.array(
        [grad_s3 * w0, grad_s3 * w1])
"""
        ),
    ),
    Mutant(
        answer="sigmoid_circuit",
        loses="test_sigmoid_circuit",
        name="bias gradient set to 1 instead of the upstream gradient",
        source=_sigmoid(
            """    grad_s3 = (1 - L) * L
    return float(L), np.array([grad_s3 * x0, grad_s3 * x1, 1.0]), np.array(
        [grad_s3 * w0, grad_s3 * w1])
"""
        ),
    ),
    # ------------------------------------------------------------------ svm_loss_vectorized
    Mutant(
        answer="svm_loss_vectorized",
        loses="test_svm_loss_vectorized",
        name="loss and gradient summed over the batch, not averaged (no division by N)",
        source=_SVM_HEAD
        + """    margins = np.maximum(0.0, scores - correct + 1.0)
    margins[rows, y] = 0.0
    loss = margins.sum() + reg * np.sum(W * W)
    dscores = (margins > 0).astype(float)
    dscores[rows, y] -= dscores.sum(axis=1)
    return loss, X.T @ dscores + 2 * reg * W
""",
    ),
    Mutant(
        answer="svm_loss_vectorized",
        loses="test_svm_loss_vectorized",
        name="correct class counted as a margin (j = y_i not excluded)",
        source=_SVM_HEAD
        + """    margins = np.maximum(0.0, scores - correct + 1.0)
    loss = margins.sum() / N + reg * np.sum(W * W)
    dscores = (margins > 0) / N
    dscores[rows, y] -= dscores.sum(axis=1)
    return loss, X.T @ dscores + 2 * reg * W
""",
    ),
    Mutant(
        answer="svm_loss_vectorized",
        loses="test_svm_loss_vectorized",
        name="regularisation gradient reg * W instead of 2 * reg * W",
        source=_SVM_HEAD
        + """    margins = np.maximum(0.0, scores - correct + 1.0)
    margins[rows, y] = 0.0
    loss = margins.sum() / N + reg * np.sum(W * W)
    dscores = (margins > 0) / N
    dscores[rows, y] -= dscores.sum(axis=1)
    return loss, X.T @ dscores + reg * W
""",
    ),
    Mutant(
        answer="svm_loss_vectorized",
        loses="test_svm_loss_vectorized",
        name="correct-class column of dscores left out (only +1 for violated classes)",
        source=_SVM_HEAD
        + """    margins = np.maximum(0.0, scores - correct + 1.0)
    margins[rows, y] = 0.0
    loss = margins.sum() / N + reg * np.sum(W * W)
    dscores = (margins > 0) / N
    return loss, X.T @ dscores + 2 * reg * W
""",
    ),
    # ------------------------------------------------------------------ softmax_loss_vectorized
    Mutant(
        answer="softmax_loss_vectorized",
        loses="test_softmax_loss_vectorized",
        name="no max shift: exp overflows (or underflows to 0/0) on large scores",
        source=_SOFTMAX_HEAD
        + """    exp_scores = np.exp(scores)
    probs = exp_scores / exp_scores.sum(axis=1, keepdims=True)
    loss = -np.log(probs[rows, y]).sum() / N + reg * np.sum(W * W)
    dscores = probs.copy()
    dscores[rows, y] -= 1.0
    return loss, X.T @ dscores / N + 2 * reg * W
""",
    ),
    Mutant(
        answer="softmax_loss_vectorized",
        loses="test_softmax_loss_vectorized",
        name="shift by the batch's maximum score instead of each row's maximum",
        source=_SOFTMAX_HEAD
        + """    exp_scores = np.exp(scores - scores.max())
    probs = exp_scores / exp_scores.sum(axis=1, keepdims=True)
    loss = -np.log(probs[rows, y]).sum() / N + reg * np.sum(W * W)
    dscores = probs.copy()
    dscores[rows, y] -= 1.0
    return loss, X.T @ dscores / N + 2 * reg * W
""",
    ),
    Mutant(
        answer="softmax_loss_vectorized",
        loses="test_softmax_loss_vectorized",
        name="loss summed over the batch, not averaged (the gradient is averaged)",
        source=_SOFTMAX_HEAD
        + """    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[rows, y].sum() + reg * np.sum(W * W)
    dscores = np.exp(log_probs)
    dscores[rows, y] -= 1.0
    return loss, X.T @ dscores / N + 2 * reg * W
""",
    ),
    Mutant(
        answer="softmax_loss_vectorized",
        loses="test_softmax_loss_vectorized",
        name="gradient is p only: the -1 at the correct class is missing",
        source=_SOFTMAX_HEAD
        + """    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[rows, y].sum() / N + reg * np.sum(W * W)
    dscores = np.exp(log_probs)
    return loss, X.T @ dscores / N + 2 * reg * W
""",
    ),
    # ------------------------------------------------------------------ two_layer_net
    Mutant(
        answer="two_layer_net",
        loses="test_two_layer_net",
        name="ReLU gradient not applied: dh1 passed to the first layer unmasked",
        source=_net(
            """    if y is None:
        return scores
"""
            + _NET_LOSS
            + """    loss = data_loss + reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
    dh1 = dscores @ W2.T
    return loss, {"W1": X.T @ dh1 + 2 * reg * W1, "b1": dh1.sum(axis=0),
                  "W2": h1.T @ dscores + 2 * reg * W2, "b2": dscores.sum(axis=0)}
"""
        ),
    ),
    Mutant(
        answer="two_layer_net",
        loses="test_two_layer_net",
        name="bias gradients summed over the wrong axis (axis=1)",
        source=_net(
            """    if y is None:
        return scores
"""
            + _NET_LOSS
            + """    loss = data_loss + reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
    da1 = (dscores @ W2.T) * (a1 > 0)
    return loss, {"W1": X.T @ da1 + 2 * reg * W1, "b1": da1.sum(axis=1),
                  "W2": h1.T @ dscores + 2 * reg * W2, "b2": dscores.sum(axis=1)}
"""
        ),
    ),
    Mutant(
        answer="two_layer_net",
        loses="test_two_layer_net",
        name="biases regularised as well as the weights",
        source=_net(
            """    if y is None:
        return scores
"""
            + _NET_LOSS
            + """    loss = data_loss + reg * (np.sum(W1 * W1) + np.sum(W2 * W2) + np.sum(b1 * b1)
                              + np.sum(b2 * b2))
    da1 = (dscores @ W2.T) * (a1 > 0)
    return loss, {"W1": X.T @ da1 + 2 * reg * W1, "b1": da1.sum(axis=0) + 2 * reg * b1,
                  "W2": h1.T @ dscores + 2 * reg * W2, "b2": dscores.sum(axis=0) + 2 * reg * b2}
"""
        ),
    ),
    Mutant(
        answer="two_layer_net",
        loses="test_two_layer_net",
        name="returns softmax probabilities instead of raw scores when y is None",
        source=_net(
            """    shifted = scores - scores.max(axis=1, keepdims=True)
    if y is None:
        return np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
"""
            + _NET_LOSS
            + """    loss = data_loss + reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
    da1 = (dscores @ W2.T) * (a1 > 0)
    return loss, {"W1": X.T @ da1 + 2 * reg * W1, "b1": da1.sum(axis=0),
                  "W2": h1.T @ dscores + 2 * reg * W2, "b2": dscores.sum(axis=0)}
"""
        ),
    ),
    Mutant(
        answer="two_layer_net",
        loses="test_two_layer_net",
        name="softmax without the max shift: NaN for large scores",
        source=_net(
            """    if y is None:
        return scores
    probs = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    loss = -np.log(probs[rows, y]).sum() / N + reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
    dscores = probs.copy()
    dscores[rows, y] -= 1.0
    dscores /= N
    da1 = (dscores @ W2.T) * (a1 > 0)
    return loss, {"W1": X.T @ da1 + 2 * reg * W1, "b1": da1.sum(axis=0),
                  "W2": h1.T @ dscores + 2 * reg * W2, "b2": dscores.sum(axis=0)}
"""
        ),
    ),
    # ------------------------------------------------------------------ sample_log_uniform
    Mutant(
        answer="sample_log_uniform",
        loses="test_sample_log_uniform",
        name="uniform in linear space instead of log space",
        source='''def sample_log_uniform(rng, low, high, size=None):
    """Random numbers between low and high (a wrong variant)."""
    return rng.uniform(low, high, size=size)
''',
    ),
    Mutant(
        answer="sample_log_uniform",
        loses="test_sample_log_uniform",
        name="draws from the global np.random instead of the rng argument",
        source='''def sample_log_uniform(rng, low, high, size=None):
    """Log-uniform random numbers (a wrong variant)."""
    return 10.0 ** np.random.uniform(np.log10(low), np.log10(high), size=size)
''',
    ),
    Mutant(
        answer="sample_log_uniform",
        loses="test_sample_log_uniform",
        name="natural-log exponent raised to base 10 (mixed bases)",
        source='''def sample_log_uniform(rng, low, high, size=None):
    """Log-uniform random numbers (a wrong variant)."""
    return 10.0 ** rng.uniform(np.log(low), np.log(high), size=size)
''',
    ),
    Mutant(
        answer="sample_log_uniform",
        loses="test_sample_log_uniform",
        name="size ignored: always one number",
        source='''def sample_log_uniform(rng, low, high, size=None):
    """Log-uniform random numbers (a wrong variant)."""
    return 10.0 ** rng.uniform(np.log10(low), np.log10(high))
''',
    ),
    # ------------------------------------------------------------------ should_abort
    Mutant(
        answer="should_abort",
        loses="test_should_abort",
        name="NaN loss not caught (nan > x is False)",
        source='''def should_abort(loss, initial_loss, factor=3.0):
    """Whether a run exploded (a wrong variant)."""
    return bool(loss > factor * initial_loss)
''',
    ),
    Mutant(
        answer="should_abort",
        loses="test_should_abort",
        name=">= instead of > (aborts exactly at the threshold)",
        source='''def should_abort(loss, initial_loss, factor=3.0):
    """Whether a run exploded (a wrong variant)."""
    return bool(not np.isfinite(loss) or loss >= factor * initial_loss)
''',
    ),
    Mutant(
        answer="should_abort",
        loses="test_should_abort",
        name="factor ignored: always 3",
        source='''def should_abort(loss, initial_loss, factor=3.0):
    """Whether a run exploded (a wrong variant)."""
    return bool(not np.isfinite(loss) or loss > 3.0 * initial_loss)
''',
    ),
    Mutant(
        answer="should_abort",
        loses="test_should_abort",
        name="additive threshold: loss > initial_loss + factor",
        source='''def should_abort(loss, initial_loss, factor=3.0):
    """Whether a run exploded (a wrong variant)."""
    return bool(not np.isfinite(loss) or loss > initial_loss + factor)
''',
    ),
]
