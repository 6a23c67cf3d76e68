"""Realistic wrong answers for notebook 06 (batch normalization).

Each mutant replaces one answer cell of ``solutions/a2/06_batch_normalization.ipynb`` and must lose
exactly the points of its own hidden test cell. Every mutant is a correct answer (the ``_BASE``
source of its cell) with one bug edited in: each edit names the text it replaces, which must be
there exactly once, so that a changed base can never silently turn a mutant into a correct
answer. The sources run in the notebook's namespace (``np``, notebook 03's layers and
``FullyConnectedNet``, and this notebook's layers are looked up by name).
"""

from tests.mutants import Mutant

LOSES = {
    "batchnorm_forward": "test_batchnorm_forward",
    "batchnorm_backward": "test_batchnorm_backward",
    "batchnorm_backward_alt": "test_batchnorm_backward_alt",
    "layernorm_forward": "test_layernorm_forward",
    "layernorm_backward": "test_layernorm_backward",
    "spatial_batchnorm_forward": "test_spatial_batchnorm",
    "spatial_batchnorm_backward": "test_spatial_batchnorm",
    "NormalizedFullyConnectedNet": "test_fc_net_norm",
}

_BASE = {
    "batchnorm_forward": '''
def batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalization forward; x: (N, D); returns (out, cache)."""
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    D = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    if mode == "train":
        mu = x.mean(axis=0)
        xmu = x - mu
        var = (xmu ** 2).mean(axis=0)
        std = np.sqrt(var + eps)
        istd = 1.0 / std
        x_hat = xmu * istd
        out = gamma * x_hat + beta
        cache = {"x": x, "mu": mu, "xmu": xmu, "var": var, "std": std, "istd": istd,
                 "x_hat": x_hat, "gamma": gamma, "eps": eps}
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
        cache = None
    return out.astype(x.dtype, copy=False), cache
''',
    "batchnorm_backward": '''
def batchnorm_backward(dout, cache):
    """Batch normalization backward, staged on the graph; returns (dx, dgamma, dbeta)."""
    N = dout.shape[0]
    xmu, std, istd = cache["xmu"], cache["std"], cache["istd"]
    x_hat, gamma = cache["x_hat"], cache["gamma"]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = gamma * dout
    dxmu1 = dx_hat * istd
    distd = (dx_hat * xmu).sum(axis=0)
    dstd = -distd / std ** 2
    dvar = 0.5 * dstd / std
    dsq = np.ones_like(dout) * dvar / N
    dxmu2 = 2 * xmu * dsq
    dxmu = dxmu1 + dxmu2
    dmu = -dxmu.sum(axis=0)
    dx = dxmu + np.ones_like(dout) * dmu / N
    return dx, dgamma, dbeta
''',
    "batchnorm_backward_alt": '''
def batchnorm_backward_alt(dout, cache):
    """Batch normalization backward in closed form; returns (dx, dgamma, dbeta)."""
    N = dout.shape[0]
    x_hat = cache["x_hat"]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    scale = cache["gamma"] * cache["istd"] / N
    dx = scale * (N * dout - dbeta - x_hat * dgamma)
    return dx, dgamma, dbeta
''',
    "layernorm_forward": '''
def layernorm_forward(x, gamma, beta, ln_param):
    """Layer normalization forward; statistics per example, shape (N, 1)."""
    eps = ln_param.get("eps", 1e-5)
    mu = x.mean(axis=1, keepdims=True)
    xmu = x - mu
    var = (xmu ** 2).mean(axis=1, keepdims=True)
    std = np.sqrt(var + eps)
    istd = 1.0 / std
    x_hat = xmu * istd
    out = gamma * x_hat + beta
    cache = {"x": x, "mu": mu, "xmu": xmu, "var": var, "std": std, "istd": istd,
             "x_hat": x_hat, "gamma": gamma, "eps": eps}
    return out, cache
''',
    "layernorm_backward": '''
def layernorm_backward(dout, cache):
    """Layer normalization backward; returns (dx, dgamma, dbeta)."""
    D = dout.shape[1]
    x_hat = cache["x_hat"]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * cache["gamma"]
    sums = dx_hat.sum(axis=1, keepdims=True)
    projections = (dx_hat * x_hat).sum(axis=1, keepdims=True)
    dx = cache["istd"] / D * (D * dx_hat - sums - x_hat * projections)
    return dx, dgamma, dbeta
''',
    "spatial_batchnorm_forward": '''
def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """Spatial batch normalization forward; x: (N, C, H, W)."""
    N, C, H, W = x.shape
    columns = x.transpose(0, 2, 3, 1).reshape(N * H * W, C)
    out, cache = batchnorm_forward(columns, gamma, beta, bn_param)
    return out.reshape(N, H, W, C).transpose(0, 3, 1, 2), cache
''',
    "spatial_batchnorm_backward": '''
def spatial_batchnorm_backward(dout, cache):
    """Spatial batch normalization backward; returns (dx, dgamma, dbeta)."""
    N, C, H, W = dout.shape
    columns = dout.transpose(0, 2, 3, 1).reshape(N * H * W, C)
    dx, dgamma, dbeta = batchnorm_backward_alt(columns, cache)
    return dx.reshape(N, H, W, C).transpose(0, 3, 1, 2), dgamma, dbeta
''',
    "NormalizedFullyConnectedNet": '''
class NormalizedFullyConnectedNet:
    """{affine - [batchnorm | layernorm] - relu} x (L - 1) - affine - softmax."""

    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, normalization=None,
                 reg=0.0, weight_scale=1e-2, dtype=np.float32, seed=None):
        plain = FullyConnectedNet(hidden_dims, input_dim=input_dim, num_classes=num_classes,
                                  reg=reg, weight_scale=weight_scale, dtype=dtype, seed=seed)
        self.params = plain.params
        self.num_layers = len(hidden_dims) + 1
        self.normalization = normalization
        self.reg = reg
        self.dtype = dtype
        self.norm_params = []
        if normalization is not None:
            for k, size in enumerate(hidden_dims, start=1):
                self.params[f"gamma{k}"] = np.ones(size, dtype=dtype)
                self.params[f"beta{k}"] = np.zeros(size, dtype=dtype)
            self.norm_params = [{"mode": "train"} for _ in hidden_dims]

    def loss(self, X, y=None):
        X = X.astype(self.dtype, copy=False)
        L = self.num_layers
        for norm_param in self.norm_params:
            norm_param["mode"] = "test" if y is None else "train"
        forward = {"batchnorm": batchnorm_forward, "layernorm": layernorm_forward}
        backward = {"batchnorm": batchnorm_backward_alt, "layernorm": layernorm_backward}
        h, caches = X, []
        for k in range(1, L):
            a, fc_cache = affine_forward(h, self.params[f"W{k}"], self.params[f"b{k}"])
            norm_cache = None
            if self.normalization is not None:
                a, norm_cache = forward[self.normalization](
                    a, self.params[f"gamma{k}"], self.params[f"beta{k}"], self.norm_params[k - 1])
            h, relu_cache = relu_forward(a)
            caches.append((fc_cache, norm_cache, relu_cache))
        scores, scores_cache = affine_forward(h, self.params[f"W{L}"], self.params[f"b{L}"])
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        grads = {}
        dh, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dscores, scores_cache)
        for k in range(L - 1, 0, -1):
            fc_cache, norm_cache, relu_cache = caches[k - 1]
            da = relu_backward(dh, relu_cache)
            if self.normalization is not None:
                da, grads[f"gamma{k}"], grads[f"beta{k}"] = backward[self.normalization](
                    da, norm_cache)
            dh, grads[f"W{k}"], grads[f"b{k}"] = affine_backward(da, fc_cache)
        for k in range(1, L + 1):
            W = self.params[f"W{k}"]
            loss += 0.5 * self.reg * float(np.sum(W * W))
            grads[f"W{k}"] = grads[f"W{k}"] + self.reg * W
        return float(loss), grads
''',
}


def _mutant(answer: str, name: str, *edits: tuple[str, str]) -> Mutant:
    """The base answer of ``answer`` with each (old, new) edit made; old must occur once."""
    source = _BASE[answer].strip() + "\n"
    for old, new in edits:
        if source.count(old) != 1:
            raise ValueError(f"mutant {name!r}: {old!r} occurs {source.count(old)} times")
        source = source.replace(old, new)
    return Mutant(answer=answer, loses=LOSES[answer], name=name, source=source)


_FORWARD = "batchnorm_forward"
_FORWARD_MUTANTS = [
    _mutant(_FORWARD, "variance divided by N - 1",
            ("var = (xmu ** 2).mean(axis=0)", "var = x.var(axis=0, ddof=1)")),
    _mutant(_FORWARD, "eps added to the standard deviation",
            ("std = np.sqrt(var + eps)", "std = np.sqrt(var) + eps")),
    _mutant(_FORWARD, "momentum the wrong way round",
            ("momentum * running_mean + (1 - momentum) * mu",
             "(1 - momentum) * running_mean + momentum * mu"),
            ("momentum * running_var + (1 - momentum) * var",
             "(1 - momentum) * running_var + momentum * var")),
    _mutant(_FORWARD, "test mode normalizes with the batch statistics",
            ("out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta",
             "out = gamma * (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps) + beta")),
    _mutant(_FORWARD, "running averages kept in local variables only (bn_param not updated)",
            ('bn_param["running_mean"] = momentum', "running_mean = momentum"),
            ('bn_param["running_var"] = momentum', "running_var = momentum")),
    _mutant(_FORWARD, "statistics of each example over its features (axis 1)",
            ("mu = x.mean(axis=0)", "mu = x.mean(axis=1, keepdims=True)"),
            ("var = (xmu ** 2).mean(axis=0)", "var = (xmu ** 2).mean(axis=1, keepdims=True)"),
            ("(1 - momentum) * mu", "(1 - momentum) * x.mean(axis=0)"),
            ("(1 - momentum) * var", "(1 - momentum) * x.var(axis=0)")),
    _mutant(_FORWARD, "test mode without the square root of the running variance",
            ("/ np.sqrt(running_var + eps) + beta", "/ (running_var + eps) + beta")),
    _mutant(_FORWARD, "float32 input gives a float64 output",
            ("return out.astype(x.dtype, copy=False), cache", "return out, cache"),
            ("out = gamma * x_hat + beta", "out = gamma.astype(np.float64) * x_hat + beta")),
]

_STAGED = "batchnorm_backward"
_STAGED_MUTANTS = [
    _mutant(_STAGED, "dgamma multiplies dout by x instead of x_hat",
            ("dgamma = (dout * x_hat).sum(axis=0)", 'dgamma = (dout * cache["x"]).sum(axis=0)')),
    _mutant(_STAGED, "the path through the mean is missing (dx = dxmu)",
            ("dx = dxmu + np.ones_like(dout) * dmu / N", "dx = dxmu")),
    _mutant(_STAGED, "the path through the variance is missing",
            ("dxmu = dxmu1 + dxmu2", "dxmu = dxmu1")),
    _mutant(_STAGED, "dbeta averaged over the batch",
            ("dbeta = dout.sum(axis=0)", "dbeta = dout.mean(axis=0)")),
    _mutant(_STAGED, "the mean of sq not divided by N in the backward pass",
            ("dsq = np.ones_like(dout) * dvar / N", "dsq = np.ones_like(dout) * dvar")),
    _mutant(_STAGED, "d(1/std) taken as -1/std instead of -1/std**2",
            ("dstd = -distd / std ** 2", "dstd = -distd / std")),
]

_ALT = "batchnorm_backward_alt"
_ALT_MUTANTS = [
    _mutant(_ALT, "the x_hat term of the closed form is missing",
            ("dx = scale * (N * dout - dbeta - x_hat * dgamma)",
             "dx = scale * (N * dout - dbeta)")),
    _mutant(_ALT, "gamma left out of dx",
            ('scale = cache["gamma"] * cache["istd"] / N', 'scale = cache["istd"] / N')),
    _mutant(_ALT, "N * dout written as dout",
            ("dx = scale * (N * dout - dbeta - x_hat * dgamma)",
             "dx = scale * (dout - dbeta - x_hat * dgamma)")),
    _mutant(_ALT, "dgamma summed without x_hat (equal to dbeta)",
            ("dgamma = (dout * x_hat).sum(axis=0)", "dgamma = dout.sum(axis=0)")),
]

_LN = "layernorm_forward"
_LN_MUTANTS = [
    _mutant(_LN, "statistics over the batch (axis 0), as in batch norm",
            ("mu = x.mean(axis=1, keepdims=True)", "mu = x.mean(axis=0)"),
            ("var = (xmu ** 2).mean(axis=1, keepdims=True)", "var = (xmu ** 2).mean(axis=0)")),
    _mutant(_LN, "variance divided by D - 1",
            ("var = (xmu ** 2).mean(axis=1, keepdims=True)",
             "var = x.var(axis=1, ddof=1, keepdims=True)")),
    _mutant(_LN, "eps added to each example's standard deviation",
            ("std = np.sqrt(var + eps)", "std = np.sqrt(var) + eps")),
    _mutant(_LN, "gamma and beta swapped",
            ("out = gamma * x_hat + beta", "out = beta * x_hat + gamma")),
]

_LN_BACKWARD = "layernorm_backward"
_LN_BACKWARD_MUTANTS = [
    _mutant(_LN_BACKWARD, "dx sums over the batch (batch norm's formula unchanged)",
            ("sums = dx_hat.sum(axis=1, keepdims=True)", "sums = dx_hat.sum(axis=0)"),
            ("projections = (dx_hat * x_hat).sum(axis=1, keepdims=True)",
             "projections = (dx_hat * x_hat).sum(axis=0)")),
    _mutant(_LN_BACKWARD, "the x_hat term of dx is missing",
            ("(D * dx_hat - sums - x_hat * projections)", "(D * dx_hat - sums)")),
    _mutant(_LN_BACKWARD, "dgamma averaged over the batch",
            ("dgamma = (dout * x_hat).sum(axis=0)", "dgamma = (dout * x_hat).mean(axis=0)")),
    _mutant(_LN_BACKWARD, "dx divided by the batch size N instead of the number of features D",
            ("D = dout.shape[1]", "D = dout.shape[1]\n    N = dout.shape[0]"),
            ('dx = cache["istd"] / D *', 'dx = cache["istd"] / N *')),
]

_SPATIAL = "spatial_batchnorm_forward"
_SPATIAL_BACKWARD = "spatial_batchnorm_backward"
_SPATIAL_MUTANTS = [
    _mutant(_SPATIAL, "x reshaped to (N*H*W, C) without the transpose",
            ("columns = x.transpose(0, 2, 3, 1).reshape(N * H * W, C)",
             "columns = x.reshape(N * H * W, C)"),
            ("return out.reshape(N, H, W, C).transpose(0, 3, 1, 2), cache",
             "return out.reshape(N, C, H, W), cache")),
    _mutant(_SPATIAL, "a new bn_param on every call (the running averages are lost)",
            ("out, cache = batchnorm_forward(columns, gamma, beta, bn_param)",
             'out, cache = batchnorm_forward(columns, gamma, beta, {"mode": bn_param["mode"]})')),
    _mutant(_SPATIAL, "statistics per channel and position (over the batch only)",
            ("columns = x.transpose(0, 2, 3, 1).reshape(N * H * W, C)",
             "columns = x.reshape(N, C * H * W)"),
            ("out, cache = batchnorm_forward(columns, gamma, beta, bn_param)",
             "out, cache = batchnorm_forward(columns, np.repeat(gamma, H * W), "
             "np.repeat(beta, H * W), bn_param)"),
            ("return out.reshape(N, H, W, C).transpose(0, 3, 1, 2), cache",
             "return out.reshape(N, C, H, W), cache")),
    _mutant(_SPATIAL_BACKWARD, "dout reshaped without the transpose",
            ("columns = dout.transpose(0, 2, 3, 1).reshape(N * H * W, C)",
             "columns = dout.reshape(N * H * W, C)")),
    _mutant(_SPATIAL_BACKWARD, "dx reshaped back to (N, C, H, W) without the transpose",
            ("return dx.reshape(N, H, W, C).transpose(0, 3, 1, 2), dgamma, dbeta",
             "return dx.reshape(N, C, H, W), dgamma, dbeta")),
]

_NET = "NormalizedFullyConnectedNet"
_NET_MUTANTS = [
    _mutant(_NET, "normalization after the ReLU (affine - relu - norm)",
            ("""            norm_cache = None
            if self.normalization is not None:
                a, norm_cache = forward[self.normalization](
                    a, self.params[f"gamma{k}"], self.params[f"beta{k}"], self.norm_params[k - 1])
            h, relu_cache = relu_forward(a)""",
             """            a, relu_cache = relu_forward(a)
            norm_cache = None
            if self.normalization is not None:
                a, norm_cache = forward[self.normalization](
                    a, self.params[f"gamma{k}"], self.params[f"beta{k}"], self.norm_params[k - 1])
            h = a"""),
            ("""            da = relu_backward(dh, relu_cache)
            if self.normalization is not None:
                da, grads[f"gamma{k}"], grads[f"beta{k}"] = backward[self.normalization](
                    da, norm_cache)""",
             """            da = dh
            if self.normalization is not None:
                da, grads[f"gamma{k}"], grads[f"beta{k}"] = backward[self.normalization](
                    da, norm_cache)
            da = relu_backward(da, relu_cache)""")),
    _mutant(_NET, "the mode is never set (batch statistics at test time)",
            ('            norm_param["mode"] = "test" if y is None else "train"',
             "            pass")),
    _mutant(_NET, "a new norm_param dict on every call (the running averages are lost)",
            ("a, self.params[f\"gamma{k}\"], self.params[f\"beta{k}\"], self.norm_params[k - 1])",
             "a, self.params[f\"gamma{k}\"], self.params[f\"beta{k}\"],\n"
             "                    {\"mode\": \"test\" if y is None else \"train\"})")),
    _mutant(_NET, "gamma initialised at 0",
            ('self.params[f"gamma{k}"] = np.ones(size, dtype=dtype)',
             'self.params[f"gamma{k}"] = np.zeros(size, dtype=dtype)')),
    _mutant(_NET, "L2 regularisation of the gammas too",
            ("""        return float(loss), grads""",
             """        for k in range(1, L):
            if f"gamma{k}" in self.params:
                G = self.params[f"gamma{k}"]
                loss += 0.5 * self.reg * float(np.sum(G * G))
                grads[f"gamma{k}"] = grads[f"gamma{k}"] + self.reg * G
        return float(loss), grads""")),
]

MUTANTS = [
    *_FORWARD_MUTANTS,
    *_STAGED_MUTANTS,
    *_ALT_MUTANTS,
    *_LN_MUTANTS,
    *_LN_BACKWARD_MUTANTS,
    *_SPATIAL_MUTANTS,
    *_NET_MUTANTS,
]
