"""Realistic wrong answers for notebook 04 (dropout).

Each mutant replaces one answer cell of ``solutions/a2/04_dropout.ipynb`` and must lose exactly the
points of its own hidden test cell. The sources run in the notebook's namespace (``np`` comes from
the setup cell; the layers and ``FullyConnectedNet`` of notebook 03 and ``dropout_forward``/
``dropout_backward`` are looked up by name when the net runs).
"""

from tests.mutants import Mutant

_VANILLA = "vanilla_dropout_predict"
_FORWARD = "dropout_forward"
_BACKWARD = "dropout_backward"
_NET = "DropoutFullyConnectedNet"

LOSES = {
    _VANILLA: "test_vanilla_dropout_predict",
    _FORWARD: "test_dropout_forward",
    _BACKWARD: "test_dropout_backward",
    _NET: "test_fc_net_dropout",
}


def _mutant(answer: str, name: str, source: str) -> Mutant:
    return Mutant(answer=answer, loses=LOSES[answer], name=name, source=source.strip() + "\n")


# ------------------------------------------------------------------ dropout_forward
# Every variant keeps the documented interface and differs from the solution in one place.

_FORWARD_TEMPLATE = '''
def dropout_forward(x, dropout_param):
    """Inverted dropout forward; x: any shape, returns (out, (dropout_param, mask))."""
    p = dropout_param["p"]
    mode = dropout_param.get("mode", "train")
    seed = dropout_param.get("seed")
{body}
'''


def _forward(name: str, body: str) -> Mutant:
    return _mutant(_FORWARD, name, _FORWARD_TEMPLATE.replace("{body}", body.strip("\n")))


_FORWARD_MUTANTS = [
    _forward(
        "mask not divided by p (vanilla dropout at training time)",
        """
    if mode == "test":
        return x, (dropout_param, None)
    rng = np.random if seed is None else np.random.default_rng(seed)
    mask = (rng.random(x.shape) < p).astype(x.dtype)
    return x * mask, (dropout_param, mask)
""",
    ),
    _forward(
        "p used as the probability of dropping a unit",
        """
    if mode == "test":
        return x, (dropout_param, None)
    rng = np.random if seed is None else np.random.default_rng(seed)
    mask = ((rng.random(x.shape) >= p) / p).astype(x.dtype)
    return x * mask, (dropout_param, mask)
""",
    ),
    _forward(
        "dropout still active in test mode",
        """
    rng = np.random if seed is None else np.random.default_rng(seed)
    mask = ((rng.random(x.shape) < p) / p).astype(x.dtype)
    return x * mask, (dropout_param, mask)
""",
    ),
    _forward(
        "x changed in place (x *= mask, as in the lecture's script)",
        """
    if mode == "test":
        return x, (dropout_param, None)
    rng = np.random if seed is None else np.random.default_rng(seed)
    mask = ((rng.random(x.shape) < p) / p).astype(x.dtype)
    x *= mask
    return x, (dropout_param, mask)
""",
    ),
    _forward(
        "global np.random.seed(seed) and np.random.rand instead of default_rng(seed)",
        """
    if mode == "test":
        return x, (dropout_param, None)
    if seed is not None:
        np.random.seed(seed)
    mask = ((np.random.rand(*x.shape) < p) / p).astype(x.dtype)
    return x * mask, (dropout_param, mask)
""",
    ),
    _forward(
        "the same fixed seed (0) when none is given: the same mask on every call",
        """
    if mode == "test":
        return x, (dropout_param, None)
    rng = np.random.default_rng(0 if seed is None else seed)
    mask = ((rng.random(x.shape) < p) / p).astype(x.dtype)
    return x * mask, (dropout_param, mask)
""",
    ),
    _forward(
        "cache holds the 0/1 keep-mask instead of the scaled mask",
        """
    if mode == "test":
        return x, (dropout_param, None)
    rng = np.random if seed is None else np.random.default_rng(seed)
    keep = rng.random(x.shape) < p
    return x * keep / p, (dropout_param, keep)
""",
    ),
    _forward(
        "float32 input upcast to a float64 output",
        """
    if mode == "test":
        return x, (dropout_param, None)
    rng = np.random if seed is None else np.random.default_rng(seed)
    mask = (rng.random(x.shape) < p) / p
    return x * mask, (dropout_param, mask)
""",
    ),
]


# ------------------------------------------------------------------ dropout_backward

_BACKWARD_TEMPLATE = '''
def dropout_backward(dout, cache):
    """Inverted dropout backward; dout: shape of x, returns dx: shape of x."""
    dropout_param, mask = cache
{body}
'''


def _backward(name: str, body: str) -> Mutant:
    return _mutant(_BACKWARD, name, _BACKWARD_TEMPLATE.replace("{body}", body.strip("\n")))


_BACKWARD_MUTANTS = [
    _backward(
        "gradient not scaled by 1/p (0/1 mask only)",
        """
    if dropout_param["mode"] == "test":
        return dout
    return dout * (mask != 0)
""",
    ),
    _backward(
        "divides by p a second time (the mask already holds 1/p)",
        """
    if dropout_param["mode"] == "test":
        return dout
    return dout * mask / dropout_param["p"]
""",
    ),
    _backward(
        "test mode not handled (multiplies by the mask None)",
        """
    return dout * mask
""",
    ),
    _backward(
        "gradient passed through unmasked in training mode",
        """
    return dout
""",
    ),
    _backward(
        "float32 gradient upcast to float64",
        """
    if dropout_param["mode"] == "test":
        return dout
    return dout * mask.astype(np.float64)
""",
    ),
]


# ------------------------------------------------------------------ DropoutFullyConnectedNet

_NET_INIT = '''
class DropoutFullyConnectedNet:
    """{affine - relu - dropout} x (L - 1) - affine - softmax, with L2 regularisation."""

    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10,
                 dropout_keep_ratio=1.0, reg=0.0, weight_scale=1e-2, dtype=np.float32,
                 seed=None):
        """The parameters of notebook 03's net; seed fixes weights and dropout masks."""
        plain = FullyConnectedNet(hidden_dims, input_dim=input_dim, num_classes=num_classes,
                                  reg=reg, weight_scale=weight_scale, dtype=dtype, seed=seed)
        self.params = plain.params
        self.num_layers = len(hidden_dims) + 1
        self.reg = reg
        self.dtype = dtype
        self.use_dropout = dropout_keep_ratio < 1
        self.dropout_param = {"mode": "train", "p": dropout_keep_ratio}
        if seed is not None:
            self.dropout_param["seed"] = seed

    def loss(self, X, y=None):
        """Scores (N, C) if y is None, else (loss, grads)."""
        X = X.astype(self.dtype, copy=False)
        L = self.num_layers
{body}
'''

# The pieces of a correct loss(); each mutant changes one of them.
_SET_MODE = """
        self.dropout_param["mode"] = "test" if y is None else "train"
"""
_FORWARD_PASS = """
        h, caches = X, []
        for k in range(1, L):
            h, layer_cache = affine_relu_forward(h, self.params[f"W{k}"], self.params[f"b{k}"])
            drop_cache = None
            if self.use_dropout:
                h, drop_cache = dropout_forward(h, self.dropout_param)
            caches.append((layer_cache, drop_cache))
        scores, scores_cache = affine_forward(h, self.params[f"W{L}"], self.params[f"b{L}"])
        if y is None:
            return scores
"""
_LOSS_AND_SCORES_GRAD = """
        loss, dscores = softmax_loss(scores, y)
        grads = {}
        dh, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dscores, scores_cache)
"""
_BACKWARD_PASS = """
        for k in range(L - 1, 0, -1):
            layer_cache, drop_cache = caches[k - 1]
            if self.use_dropout:
                dh = dropout_backward(dh, drop_cache)
            dh, grads[f"W{k}"], grads[f"b{k}"] = affine_relu_backward(dh, layer_cache)
"""
_REGULARISATION = """
        for k in range(1, L + 1):
            W = self.params[f"W{k}"]
            loss += 0.5 * self.reg * float(np.sum(W * W))
            grads[f"W{k}"] = grads[f"W{k}"] + self.reg * W
        return float(loss), grads
"""


def _net(name: str, *pieces: str) -> Mutant:
    body = "".join(piece.strip("\n") + "\n" for piece in pieces).rstrip("\n")
    return _mutant(_NET, name, _NET_INIT.replace("{body}", body))


_NET_MUTANTS = [
    _net(
        "dropout stays on at test time (mode never set to 'test')",
        _FORWARD_PASS,
        _LOSS_AND_SCORES_GRAD,
        _BACKWARD_PASS,
        _REGULARISATION,
    ),
    _net(
        "mode set to 'test' once and never back to 'train'",
        """
        if y is None:
            self.dropout_param["mode"] = "test"
""",
        _FORWARD_PASS,
        _LOSS_AND_SCORES_GRAD,
        _BACKWARD_PASS,
        _REGULARISATION,
    ),
    _net(
        "no dropout_backward in the backward pass",
        _SET_MODE,
        _FORWARD_PASS,
        _LOSS_AND_SCORES_GRAD,
        _BACKWARD_PASS.replace("dh = dropout_backward(dh, drop_cache)", "pass"),
        _REGULARISATION,
    ),
    _net(
        "dropout applied to the input images too",
        _SET_MODE,
        """
        h, caches = X, []
        if self.use_dropout:
            h, _ = dropout_forward(X, self.dropout_param)
""",
        _FORWARD_PASS.replace("h, caches = X, []", "caches = []"),
        _LOSS_AND_SCORES_GRAD,
        _BACKWARD_PASS,
        _REGULARISATION,
    ),
    _net(
        "test-time activations scaled by p (vanilla dropout's prediction on an inverted layer)",
        _SET_MODE,
        _FORWARD_PASS.replace(
            "            caches.append((layer_cache, drop_cache))",
            "            elif y is None:\n"
            "                h = h * self.dropout_param['p']\n"
            "            caches.append((layer_cache, drop_cache))",
        ).replace(
            "            drop_cache = None\n            if self.use_dropout:",
            "            drop_cache = None\n            if self.use_dropout and y is not None:",
        ),
        _LOSS_AND_SCORES_GRAD,
        _BACKWARD_PASS,
        _REGULARISATION,
    ),
    _net(
        "a fresh dropout_param without the seed for every layer",
        _FORWARD_PASS.replace(
            "dropout_forward(h, self.dropout_param)",
            "dropout_forward(h, {'p': self.dropout_param['p'], "
            "'mode': 'test' if y is None else 'train'})",
        ),
        _LOSS_AND_SCORES_GRAD,
        _BACKWARD_PASS,
        _REGULARISATION,
    ),
]


# ------------------------------------------------------------------ vanilla_dropout_predict

_VANILLA_TEMPLATE = '''
def vanilla_dropout_predict(x, W, p):
    """Test-time output after a vanilla dropout layer; x: (N, D), W: (D, M), returns (N, M)."""
{body}
'''


def _vanilla(name: str, body: str) -> Mutant:
    return _mutant(_VANILLA, name, _VANILLA_TEMPLATE.replace("{body}", body.strip("\n")))


_VANILLA_MUTANTS = [
    _vanilla("no scaling at test time", "    return x @ W"),
    _vanilla("divides by p (inverted dropout's scale) at test time", "    return (x / p) @ W"),
    _vanilla("scales by 1 - p (p taken as the drop probability)", "    return ((1 - p) * x) @ W"),
    _vanilla(
        "samples a random mask at test time",
        "    return (x * (np.random.rand(*x.shape) < p)) @ W",
    ),
]


MUTANTS = _FORWARD_MUTANTS + _BACKWARD_MUTANTS + _NET_MUTANTS + _VANILLA_MUTANTS
