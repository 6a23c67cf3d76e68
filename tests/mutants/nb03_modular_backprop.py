"""Wrong variants of notebook 03's graded code: the bugs students really make.

Each mutant replaces one answer cell of ``solutions/a2/03_modular_backprop.ipynb``; it must fail its
own hidden check and leave every other check passing.
"""

from tests.mutants import Mutant

# ---------------------------------------------------------------------------------- gates

_GATE_HEAD = '''class MultiplyGate:
    """A multiply gate z = x * y (a wrong variant)."""

    def __init__(self):
        self.saved_tensors = ()

    def save_for_backward(self, *tensors):
        self.saved_tensors = tensors
'''

_GATE_FORWARD = """
    def forward(self, x, y):
        self.save_for_backward(x, y)
        return x * y
"""

# -------------------------------------------------------------------------- the tiny graph


def _node(add: str, mul: str, sig: str) -> str:
    """A Node class whose three backward_fn bodies are ``add``, ``mul`` and ``sig``."""
    return f'''class Node:
    """One scalar in a computational graph (a wrong variant)."""

    def __init__(self, value, parents=(), op=""):
        self.value = float(value)
        self.grad = 0.0
        self.parents = tuple(parents)
        self.op = op
        self.backward_fn = lambda: None

    def __add__(self, other):
        other = other if isinstance(other, Node) else Node(other)
        out = Node(self.value + other.value, (self, other), "+")

        def backward_fn():
{add}
        out.backward_fn = backward_fn
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Node) else Node(other)
        out = Node(self.value * other.value, (self, other), "*")

        def backward_fn():
{mul}
        out.backward_fn = backward_fn
        return out

    def sigmoid(self):
        e = math.exp(-abs(self.value))
        value = 1.0 / (1.0 + e) if self.value >= 0 else e / (1.0 + e)
        out = Node(value, (self,), "sigmoid")

        def backward_fn():
{sig}
        out.backward_fn = backward_fn
        return out
'''


_ADD_OK = """            self.grad += out.grad
            other.grad += out.grad
"""
_MUL_OK = """            self.grad += other.value * out.grad
            other.grad += self.value * out.grad
"""
_SIG_OK = """            self.grad += out.value * (1.0 - out.value) * out.grad
"""

# -------------------------------------------------------------------------------- layers

_SVM_HEAD = '''def svm_loss(x, y):
    """Multiclass SVM loss and its gradient (a wrong variant)."""
    N = x.shape[0]
    rows = np.arange(N)
    correct = x[rows, y][:, np.newaxis]
    margins = np.maximum(0, x - correct + 1.0)
'''

_SOFTMAX_HEAD = '''def softmax_loss(x, y):
    """Softmax loss and its gradient (a wrong variant)."""
    N = x.shape[0]
    rows = np.arange(N)
'''

# ------------------------------------------------------------------------------ the net

_NET_INIT = '''class FullyConnectedNet:
    """A fully connected net of any depth (a wrong variant)."""

    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, reg=0.0,
                 weight_scale=1e-2, dtype=np.float32, seed=None):
        self.num_layers = len(hidden_dims) + 1
        self.reg = reg
        self.dtype = dtype
        self.params = {{}}
        rng = np.random.default_rng(seed)
        dims = [input_dim, *hidden_dims, num_classes]
        for k in range(1, self.num_layers + 1):
            weights = {init} * rng.standard_normal((dims[k - 1], dims[k]))
            self.params[f"W{{k}}"] = weights.astype(dtype)
            self.params[f"b{{k}}"] = np.zeros(dims[k], dtype=dtype)
'''

_NET_FORWARD = """
    def loss(self, X, y=None):
        X = X.astype(self.dtype, copy=False)
        last = self.num_layers
        hidden, caches = X, []
        for k in range(1, last):
            hidden, cache = affine_relu_forward(hidden, self.params[f"W{k}"], self.params[f"b{k}"])
            caches.append(cache)
        W, b = self.params[f"W{last}"], self.params[f"b{last}"]
        scores, scores_cache = affine_forward(hidden, W, b)
        if y is None:
            return scores
        data_loss, dscores = softmax_loss(scores, y)
"""


def _net(body: str, init: str = "weight_scale", forward: str = _NET_FORWARD) -> str:
    return _NET_INIT.format(init=init) + forward + body


_NET_BACKWARD = """        loss = data_loss + 0.5 * self.reg * sum(
            float(np.sum(self.params[f"W{k}"] ** 2)) for k in range(1, last + 1))
        grads = {}
        dhidden, dW, db = affine_backward(dscores, scores_cache)
        grads[f"W{last}"] = dW + self.reg * self.params[f"W{last}"]
        grads[f"b{last}"] = db
        for k in range(last - 1, 0, -1):
            dhidden, dW, db = affine_relu_backward(dhidden, caches[k - 1])
            grads[f"W{k}"] = dW + self.reg * self.params[f"W{k}"]
            grads[f"b{k}"] = db
        return float(loss), grads
"""

# --------------------------------------------------------------------------- update rules

_MOMENTUM_HEAD = '''def sgd_momentum(w, dw, config=None):
    """SGD with momentum (a wrong variant)."""
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity")
    if v is None:
        v = np.zeros_like(w)
'''

_RMSPROP_HEAD = '''def rmsprop(w, dw, config=None):
    """RMSProp (a wrong variant)."""
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    cache = config.get("cache")
    if cache is None:
        cache = np.zeros_like(w)
    beta = config["decay_rate"]
'''

_ADAM_HEAD = '''def adam(w, dw, config=None):
    """Adam (a wrong variant)."""
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("weight_decay", 0.0)
    config.setdefault("t", 0)
    m = config.get("m")
    v = config.get("v")
    m = np.zeros_like(w) if m is None else m
    v = np.zeros_like(w) if v is None else v
    beta1, beta2, eps = config["beta1"], config["beta2"], config["epsilon"]
    lr, decay = config["learning_rate"], config["weight_decay"]
'''

_ADAM_TAIL = """    config["m"], config["v"], config["t"] = m, v, t
    return next_w, config
"""


MUTANTS = [
    # ------------------------------------------------------------------ MultiplyGate
    Mutant(
        answer="MultiplyGate",
        loses="test_multiply_gate",
        name="multiply gate does not swap: dx = dz * x",
        source=_GATE_HEAD
        + _GATE_FORWARD
        + """
    def backward(self, dz):
        x, y = self.saved_tensors
        return dz * x, dz * y
""",
    ),
    Mutant(
        answer="MultiplyGate",
        loses="test_multiply_gate",
        name="upstream gradient ignored: returns the local gradients (y, x)",
        source=_GATE_HEAD
        + _GATE_FORWARD
        + """
    def backward(self, dz):
        x, y = self.saved_tensors
        return y, x
""",
    ),
    Mutant(
        answer="MultiplyGate",
        loses="test_multiply_gate",
        name="inputs kept in a global, so the last gate's inputs are used by every gate",
        source=_GATE_HEAD
        + """
    def forward(self, x, y):
        global gate_inputs
        self.save_for_backward(x, y)
        gate_inputs = (x, y)
        return x * y

    def backward(self, dz):
        x, y = gate_inputs
        return dz * y, dz * x
""",
    ),
    Mutant(
        answer="MultiplyGate",
        loses="test_multiply_gate",
        name="inputs stored as attributes instead of with save_for_backward",
        source=_GATE_HEAD
        + """
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        return dz * self.y, dz * self.x
""",
    ),
    # ------------------------------------------------------------------ the tiny graph
    Mutant(
        answer="Node",
        loses="test_graph_backward",
        name="add gate overwrites its parents' grads (=) instead of accumulating (+=)",
        source=_node(
            """            self.grad = out.grad
            other.grad = out.grad
""",
            _MUL_OK,
            _SIG_OK,
        ),
    ),
    Mutant(
        answer="Node",
        loses="test_graph_backward",
        name="multiply gate does not swap: each input gets upstream times itself",
        source=_node(
            _ADD_OK,
            """            self.grad += self.value * out.grad
            other.grad += other.value * out.grad
""",
            _SIG_OK,
        ),
    ),
    Mutant(
        answer="Node",
        loses="test_graph_backward",
        name="sigmoid local gradient computed from the input instead of the output",
        source=_node(
            _ADD_OK,
            _MUL_OK,
            """            self.grad += self.value * (1.0 - self.value) * out.grad
""",
        ),
    ),
    Mutant(
        answer="topological_order",
        loses="test_graph_backward",
        name="no visited set: a node reached along two paths is listed twice",
        source='''def topological_order(output):
    """Nodes in topological order (a wrong variant)."""
    order = []

    def visit(node):
        for parent in node.parents:
            visit(parent)
        order.append(node)

    visit(output)
    return order
''',
    ),
    Mutant(
        answer="topological_order",
        loses="test_graph_backward",
        name="pre-order: a node is listed before its parents",
        source='''def topological_order(output):
    """Nodes in topological order (a wrong variant)."""
    order = []
    visited = set()

    def visit(node):
        if node in visited:
            return
        visited.add(node)
        order.append(node)
        for parent in node.parents:
            visit(parent)

    visit(output)
    return order
''',
    ),
    Mutant(
        answer="topological_order",
        loses="test_graph_backward",
        name="only the output's direct parents are listed (no recursion)",
        source='''def topological_order(output):
    """Nodes in topological order (a wrong variant)."""
    return [*output.parents, output]
''',
    ),
    Mutant(
        answer="backward",
        loses="test_graph_backward",
        name="output.grad is never set to 1, so every gradient stays 0",
        source='''def backward(output):
    """Backpropagate from output (a wrong variant)."""
    for node in reversed(topological_order(output)):
        node.backward_fn()
''',
    ),
    Mutant(
        answer="backward",
        loses="test_graph_backward",
        name="nodes visited in forward order instead of reverse topological order",
        source='''def backward(output):
    """Backpropagate from output (a wrong variant)."""
    output.grad = 1.0
    for node in topological_order(output):
        node.backward_fn()
''',
    ),
    # ------------------------------------------------------------------ affine_forward
    Mutant(
        answer="affine_forward",
        loses="test_affine_forward",
        name="examples not flattened: x @ w on (N, d_1, ..., d_k)",
        source='''def affine_forward(x, w, b):
    """Affine layer forward (a wrong variant)."""
    out = x @ w + b
    return out, (x, w, b)
''',
    ),
    Mutant(
        answer="affine_forward",
        loses="test_affine_forward",
        name="bias not added",
        source='''def affine_forward(x, w, b):
    """Affine layer forward (a wrong variant)."""
    out = x.reshape(x.shape[0], -1) @ w
    return out, (x, w, b)
''',
    ),
    Mutant(
        answer="affine_forward",
        loses="test_affine_forward",
        name="cache holds the flattened x, so dx cannot get x's shape back",
        source='''def affine_forward(x, w, b):
    """Affine layer forward (a wrong variant)."""
    x = x.reshape(x.shape[0], -1)
    out = x @ w + b
    return out, (x, w, b)
''',
    ),
    # ------------------------------------------------------------------ affine_backward
    Mutant(
        answer="affine_backward",
        loses="test_affine_backward",
        name="db summed over the wrong axis (axis=1)",
        source='''def affine_backward(dout, cache):
    """Affine layer backward (a wrong variant)."""
    x, w, b = cache
    x_flat = x.reshape(x.shape[0], -1)
    return (dout @ w.T).reshape(x.shape), x_flat.T @ dout, dout.sum(axis=1)
''',
    ),
    Mutant(
        answer="affine_backward",
        loses="test_affine_backward",
        name="dx left flat, not reshaped to x's shape",
        source='''def affine_backward(dout, cache):
    """Affine layer backward (a wrong variant)."""
    x, w, b = cache
    x_flat = x.reshape(x.shape[0], -1)
    return dout @ w.T, x_flat.T @ dout, dout.sum(axis=0)
''',
    ),
    Mutant(
        answer="affine_backward",
        loses="test_affine_backward",
        name="dw and db divided by N (the loss already averages)",
        source='''def affine_backward(dout, cache):
    """Affine layer backward (a wrong variant)."""
    x, w, b = cache
    N = x.shape[0]
    x_flat = x.reshape(N, -1)
    return (dout @ w.T).reshape(x.shape), x_flat.T @ dout / N, dout.sum(axis=0) / N
''',
    ),
    # ------------------------------------------------------------------ ReLU
    Mutant(
        answer="relu_forward",
        loses="test_relu_forward",
        name="np.max(x, 0): a reduction over axis 0 instead of an elementwise maximum",
        source='''def relu_forward(x):
    """ReLU forward (a wrong variant)."""
    return np.max(x, 0), x
''',
    ),
    Mutant(
        answer="relu_forward",
        loses="test_relu_forward",
        name="negative inputs zeroed in place, clobbering the caller's x and the cache",
        source='''def relu_forward(x):
    """ReLU forward (a wrong variant)."""
    x[x < 0] = 0
    return x, x
''',
    ),
    Mutant(
        answer="relu_forward",
        loses="test_relu_forward",
        name="only out returned, no cache",
        source='''def relu_forward(x):
    """ReLU forward (a wrong variant)."""
    return np.maximum(0, x)
''',
    ),
    Mutant(
        answer="relu_backward",
        loses="test_relu_backward",
        name="gradient let through at x == 0 (x >= 0)",
        source='''def relu_backward(dout, cache):
    """ReLU backward (a wrong variant)."""
    return dout * (cache >= 0)
''',
    ),
    Mutant(
        answer="relu_backward",
        loses="test_relu_backward",
        name="returns the mask only: the upstream gradient is dropped",
        source='''def relu_backward(dout, cache):
    """ReLU backward (a wrong variant)."""
    return (cache > 0).astype(dout.dtype)
''',
    ),
    Mutant(
        answer="relu_backward",
        loses="test_relu_backward",
        name="mask taken from the upstream gradient instead of the input",
        source='''def relu_backward(dout, cache):
    """ReLU backward (a wrong variant)."""
    return dout * (dout > 0)
''',
    ),
    # ------------------------------------------------------------------ sigmoid
    Mutant(
        answer="sigmoid_forward",
        loses="test_sigmoid_layer",
        name="sign flipped in the exponent: 1 / (1 + exp(x))",
        source='''def sigmoid_forward(x):
    """Sigmoid forward (a wrong variant)."""
    e = np.exp(-np.abs(x))
    out = np.where(x < 0, 1 / (1 + e), e / (1 + e))
    return out, out
''',
    ),
    Mutant(
        answer="sigmoid_forward",
        loses="test_sigmoid_layer",
        name="caches the input x while the backward pass expects the output",
        source='''def sigmoid_forward(x):
    """Sigmoid forward (a wrong variant)."""
    e = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return out, x
''',
    ),
    Mutant(
        answer="sigmoid_backward",
        loses="test_sigmoid_layer",
        name="upstream gradient left out: returns the local gradient s * (1 - s)",
        source='''def sigmoid_backward(dout, cache):
    """Sigmoid backward (a wrong variant)."""
    s = cache
    return s * (1 - s)
''',
    ),
    Mutant(
        answer="sigmoid_backward",
        loses="test_sigmoid_layer",
        name="sigmoid applied again to the cached output",
        source='''def sigmoid_backward(dout, cache):
    """Sigmoid backward (a wrong variant)."""
    s = 1 / (1 + np.exp(-cache))
    return dout * s * (1 - s)
''',
    ),
    # ------------------------------------------------------------------ svm_loss
    Mutant(
        answer="svm_loss",
        loses="test_svm_loss",
        name="loss and gradient not divided by N",
        source=_SVM_HEAD
        + """    margins[rows, y] = 0
    violated = (margins > 0).astype(x.dtype)
    dx = violated.copy()
    dx[rows, y] = -violated.sum(axis=1)
    return float(margins.sum()), dx
""",
    ),
    Mutant(
        answer="svm_loss",
        loses="test_svm_loss",
        name="the correct class is counted in the sum (adds a margin of 1 per example)",
        source=_SVM_HEAD
        + """    loss = margins.sum() / N
    margins[rows, y] = 0
    violated = (margins > 0).astype(x.dtype)
    dx = violated.copy()
    dx[rows, y] = -violated.sum(axis=1)
    return float(loss), dx / N
""",
    ),
    Mutant(
        answer="svm_loss",
        loses="test_svm_loss",
        name="the correct class gets no gradient",
        source=_SVM_HEAD
        + """    margins[rows, y] = 0
    dx = (margins > 0).astype(x.dtype)
    return float(margins.sum() / N), dx / N
""",
    ),
    # ------------------------------------------------------------------ softmax_loss
    Mutant(
        answer="softmax_loss",
        loses="test_softmax_loss",
        name="no max shift: exp overflows on large scores",
        source=_SOFTMAX_HEAD
        + """    exp_scores = np.exp(x)
    probs = exp_scores / exp_scores.sum(axis=1, keepdims=True)
    loss = -np.log(probs[rows, y]).mean()
    dx = probs.copy()
    dx[rows, y] -= 1
    return float(loss), dx / N
""",
    ),
    Mutant(
        answer="softmax_loss",
        loses="test_softmax_loss",
        name="gradient not divided by N",
        source=_SOFTMAX_HEAD
        + """    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    dx = np.exp(log_probs)
    dx[rows, y] -= 1
    return float(-log_probs[rows, y].mean()), dx
""",
    ),
    Mutant(
        answer="softmax_loss",
        loses="test_softmax_loss",
        name="1 not subtracted at the correct class (dx = p / N)",
        source=_SOFTMAX_HEAD
        + """    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probs[rows, y].mean()), np.exp(log_probs) / N
""",
    ),
    Mutant(
        answer="softmax_loss",
        loses="test_softmax_loss",
        name="one maximum for the whole batch instead of one per row",
        source=_SOFTMAX_HEAD
        + """    shifted = x - x.max()
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    dx = probs.copy()
    dx[rows, y] -= 1
    return float(-np.log(probs[rows, y]).mean()), dx / N
""",
    ),
    # ------------------------------------------------------------------ affine_relu
    Mutant(
        answer="affine_relu_forward",
        loses="test_affine_relu",
        name="ReLU applied before the affine layer",
        source='''def affine_relu_forward(x, w, b):
    """Affine - ReLU forward (a wrong variant)."""
    h, relu_cache = relu_forward(x)
    out, fc_cache = affine_forward(h, w, b)
    return out, (fc_cache, relu_cache)
''',
    ),
    Mutant(
        answer="affine_relu_forward",
        loses="test_affine_relu",
        name="returns the affine output, not the ReLU output",
        source='''def affine_relu_forward(x, w, b):
    """Affine - ReLU forward (a wrong variant)."""
    a, fc_cache = affine_forward(x, w, b)
    _, relu_cache = relu_forward(a)
    return a, (fc_cache, relu_cache)
''',
    ),
    Mutant(
        answer="affine_relu_backward",
        loses="test_affine_relu",
        name="the ReLU is skipped in the backward pass",
        source='''def affine_relu_backward(dout, cache):
    """Affine - ReLU backward (a wrong variant)."""
    fc_cache, relu_cache = cache
    return affine_backward(dout, fc_cache)
''',
    ),
    Mutant(
        answer="affine_relu_backward",
        loses="test_affine_relu",
        name="ReLU mask applied to the affine layer's dx (layers undone in forward order)",
        source='''def affine_relu_backward(dout, cache):
    """Affine - ReLU backward (a wrong variant)."""
    fc_cache, relu_cache = cache
    dx, dw, db = affine_backward(dout, fc_cache)
    x = fc_cache[0]
    return dx * (x > 0), dw, db
''',
    ),
    # ------------------------------------------------------------------ FullyConnectedNet
    Mutant(
        answer="FullyConnectedNet",
        loses="test_fc_net",
        name="a ReLU on the scores too (affine_relu for the last layer)",
        source=_net(
            _NET_BACKWARD.replace(
                "dhidden, dW, db = affine_backward(dscores, scores_cache)",
                "dhidden, dW, db = affine_relu_backward(dscores, scores_cache)",
            ),
            forward=_NET_FORWARD.replace(
                "scores, scores_cache = affine_forward(",
                "scores, scores_cache = affine_relu_forward(",
            ),
        ),
    ),
    Mutant(
        answer="FullyConnectedNet",
        loses="test_fc_net",
        name="L2 term without the factor 0.5 (reg * sum W**2, gradient reg * W)",
        source=_net(_NET_BACKWARD.replace("0.5 * self.reg", "self.reg")),
    ),
    Mutant(
        answer="FullyConnectedNet",
        loses="test_fc_net",
        name="regularisation missing from the gradients",
        source=_net(
            _NET_BACKWARD.replace(' + self.reg * self.params[f"W{last}"]', "").replace(
                ' + self.reg * self.params[f"W{k}"]', ""
            )
        ),
    ),
    Mutant(
        answer="FullyConnectedNet",
        loses="test_fc_net",
        name="weight_scale used as the variance (std sqrt(weight_scale))",
        source=_net(_NET_BACKWARD, init="np.sqrt(weight_scale)"),
    ),
    Mutant(
        answer="FullyConnectedNet",
        loses="test_fc_net",
        name="biases regularised too",
        source=_net(
            _NET_BACKWARD.replace(
                "for k in range(1, last + 1))",
                "for k in range(1, last + 1)) + 0.5 * self.reg * sum(\n"
                '            float(np.sum(self.params[f"b{k}"] ** 2)) for k in range(1, last + 1))',
            )
            .replace(
                'grads[f"b{last}"] = db',
                'grads[f"b{last}"] = db + self.reg * self.params[f"b{last}"]',
            )
            .replace('grads[f"b{k}"] = db', 'grads[f"b{k}"] = db + self.reg * self.params[f"b{k}"]')
        ),
    ),
    # ------------------------------------------------------------------ overfitting
    Mutant(
        answer="overfit_hyperparameters",
        loses="test_overfit_small",
        name="learning rate far too small: the loss barely moves in 20 epochs",
        source="learning_rate = 1e-5\nweight_scale = 3e-2\n",
    ),
    Mutant(
        answer="overfit_hyperparameters",
        loses="test_overfit_small",
        name="weight_scale far too small: the signal vanishes through the layers",
        source="learning_rate = 3e-3\nweight_scale = 1e-4\n",
    ),
    Mutant(
        answer="overfit_hyperparameters",
        loses="test_overfit_small",
        name="learning rate far too large: training diverges",
        source="learning_rate = 1.0\nweight_scale = 3e-2\n",
    ),
    # ------------------------------------------------------------------ sgd_momentum
    Mutant(
        answer="sgd_momentum",
        loses="test_sgd_momentum",
        name="momentum step goes up the gradient (v = mu * v + lr * dw)",
        source=_MOMENTUM_HEAD
        + """    v = config["momentum"] * v + config["learning_rate"] * dw
    config["velocity"] = v
    return w + v, config
""",
    ),
    Mutant(
        answer="sgd_momentum",
        loses="test_sgd_momentum",
        name="velocity not stored in the config, so it restarts at 0 every step",
        source=_MOMENTUM_HEAD
        + """    v = config["momentum"] * v - config["learning_rate"] * dw
    return w + v, config
""",
    ),
    Mutant(
        answer="sgd_momentum",
        loses="test_sgd_momentum",
        name="parameter moved with the old velocity, before the velocity is updated",
        source=_MOMENTUM_HEAD
        + """    next_w = w + v
    config["velocity"] = config["momentum"] * v - config["learning_rate"] * dw
    return next_w, config
""",
    ),
    # ------------------------------------------------------------------ rmsprop
    Mutant(
        answer="rmsprop",
        loses="test_rmsprop",
        name="gradient not squared in the running average",
        source=_RMSPROP_HEAD
        + """    cache = beta * cache + (1 - beta) * np.abs(dw)
    config["cache"] = cache
    return w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"]), config
""",
    ),
    Mutant(
        answer="rmsprop",
        loses="test_rmsprop",
        name="square root missing: divides by the mean square",
        source=_RMSPROP_HEAD
        + """    cache = beta * cache + (1 - beta) * dw**2
    config["cache"] = cache
    return w - config["learning_rate"] * dw / (cache + config["epsilon"]), config
""",
    ),
    Mutant(
        answer="rmsprop",
        loses="test_rmsprop",
        name="decay weights swapped: (1 - beta) * cache + beta * dw**2",
        source=_RMSPROP_HEAD
        + """    cache = (1 - beta) * cache + beta * dw**2
    config["cache"] = cache
    return w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"]), config
""",
    ),
    # ------------------------------------------------------------------ adam
    Mutant(
        answer="adam",
        loses="test_adam",
        name="no bias correction",
        source=_ADAM_HEAD
        + """    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    next_w = w - lr * (m / (np.sqrt(v) + eps) + decay * w)
"""
        + _ADAM_TAIL,
    ),
    Mutant(
        answer="adam",
        loses="test_adam",
        name="t incremented after it is used in the bias correction",
        source=_ADAM_HEAD
        + """    t = config["t"]
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    with np.errstate(divide="ignore", invalid="ignore"):
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    next_w = w - lr * (m_hat / (np.sqrt(v_hat) + eps) + decay * w)
    t += 1
"""
        + _ADAM_TAIL,
    ),
    Mutant(
        answer="adam",
        loses="test_adam",
        name="weight decay added to the gradient (L2 inside Adam), not decoupled",
        source=_ADAM_HEAD
        + """    dw = dw + decay * w
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    next_w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
"""
        + _ADAM_TAIL,
    ),
    Mutant(
        answer="adam",
        loses="test_adam",
        name="beta1 and beta2 swapped",
        source=_ADAM_HEAD
        + """    t = config["t"] + 1
    m = beta2 * m + (1 - beta2) * dw
    v = beta1 * v + (1 - beta1) * dw**2
    m_hat, v_hat = m / (1 - beta2**t), v / (1 - beta1**t)
    next_w = w - lr * (m_hat / (np.sqrt(v_hat) + eps) + decay * w)
"""
        + _ADAM_TAIL,
    ),
]
