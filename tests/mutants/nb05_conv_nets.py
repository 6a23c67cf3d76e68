"""Wrong variants of the answers of notebook 05 (convolutional networks).

Each mutant is a bug students really make: forgetting the padding or the biases in a count,
``np.pad(x, pad)`` padding the batch axis too, ignoring the stride, flipping the filter, cropping
the padding with ``pad:-pad``, sending a pooling gradient to every tied maximum, overwriting
instead of adding where windows overlap, forgetting the 1/2 of the L2 penalty, mixing up
horizontal and vertical edges. Each must lose the points of its own test cell and no others.
"""

from tests.mutants import Mutant

_OUTPUT_SIZE = "test_conv_output_size"
_PARAM_COUNT = "test_conv_param_count"
_CONV_FORWARD = "test_conv_forward_naive"
_CONV_BACKWARD = "test_conv_backward_naive"
_POOL_FORWARD = "test_max_pool_forward_naive"
_POOL_BACKWARD = "test_max_pool_backward_naive"
_CONVNET = "test_three_layer_convnet"
_FILTERS = "test_hand_set_filters"

# ---------------------------------------------------------------------------------------------
# conv_output_size
# ---------------------------------------------------------------------------------------------

OUTPUT_SIZE_MUTANTS = [
    Mutant(
        answer="conv_output_size", loses=_OUTPUT_SIZE, name="padding ignored",
        source='''
def conv_output_size(W, F, P, S):
    """Output size along one axis."""
    span = W - F
    if span < 0 or span % S != 0:
        raise ValueError(f"the filter does not fit: W={W}, F={F}, S={S}")
    return span // S + 1
''',
    ),
    Mutant(
        answer="conv_output_size", loses=_OUTPUT_SIZE, name="padding counted on one side only",
        source='''
def conv_output_size(W, F, P, S):
    """Output size along one axis."""
    span = W - F + P
    if span < 0 or span % S != 0:
        raise ValueError(f"the filter does not fit: W={W}, F={F}, P={P}, S={S}")
    return span // S + 1
''',
    ),
    Mutant(
        answer="conv_output_size", loses=_OUTPUT_SIZE,
        name="a stride that does not fit rounds down instead of raising",
        source='''
def conv_output_size(W, F, P, S):
    """Output size along one axis."""
    span = W - F + 2 * P
    if span < 0:
        raise ValueError(f"the filter does not fit: W={W}, F={F}, P={P}")
    return span // S + 1
''',
    ),
    Mutant(
        answer="conv_output_size", loses=_OUTPUT_SIZE, name="returns a float (true division)",
        source='''
def conv_output_size(W, F, P, S):
    """Output size along one axis."""
    span = W - F + 2 * P
    if span < 0 or span % S != 0:
        raise ValueError(f"the filter does not fit: W={W}, F={F}, P={P}, S={S}")
    return span / S + 1
''',
    ),
    Mutant(
        answer="conv_output_size", loses=_OUTPUT_SIZE, name="the +1 forgotten",
        source='''
def conv_output_size(W, F, P, S):
    """Output size along one axis."""
    span = W - F + 2 * P
    if span < 0 or span % S != 0:
        raise ValueError(f"the filter does not fit: W={W}, F={F}, P={P}, S={S}")
    return span // S
''',
    ),
]

# ---------------------------------------------------------------------------------------------
# conv_param_count
# ---------------------------------------------------------------------------------------------

PARAM_COUNT_MUTANTS = [
    Mutant(
        answer="conv_param_count", loses=_PARAM_COUNT, name="biases forgotten",
        source='''
def conv_param_count(F, C, HH, WW):
    """Parameters of a conv layer."""
    return F * C * HH * WW
''',
    ),
    Mutant(
        answer="conv_param_count", loses=_PARAM_COUNT,
        name="input channels forgotten (a filter as a 2-D patch)",
        source='''
def conv_param_count(F, C, HH, WW):
    """Parameters of a conv layer."""
    return F * HH * WW + F
''',
    ),
    Mutant(
        answer="conv_param_count", loses=_PARAM_COUNT, name="one bias for the whole layer",
        source='''
def conv_param_count(F, C, HH, WW):
    """Parameters of a conv layer."""
    return F * C * HH * WW + 1
''',
    ),
    Mutant(
        answer="conv_param_count", loses=_PARAM_COUNT, name="one bias per input channel",
        source='''
def conv_param_count(F, C, HH, WW):
    """Parameters of a conv layer."""
    return F * C * HH * WW + C
''',
    ),
]

# ---------------------------------------------------------------------------------------------
# conv_forward_naive
# ---------------------------------------------------------------------------------------------

_CONV_FORWARD_TEMPLATE = '''
def conv_forward_naive(x, w, b, conv_param):
    """Naive convolution forward."""
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = conv_output_size(H, HH, pad, stride)
    W_out = conv_output_size(W, WW, pad, stride)
    x_pad = {pad_expr}
    w_rows = {w_rows_expr}
    out = np.zeros((N, F, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            top, left = {corner}
            window = x_pad[:, :, top:top + {rows}, left:left + {cols}]
            out[:, :, i, j] = window.reshape(N, -1) @ w_rows.T{bias}
    return out, (x, w, b, conv_param)
'''
_CONV_FORWARD_RIGHT = {
    "pad_expr": "np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))",
    "w_rows_expr": "w.reshape(F, -1)",
    "corner": "i * stride, j * stride",
    "rows": "HH",
    "cols": "WW",
    "bias": " + b",
}


def _conv_forward(**changes: str) -> str:
    return _CONV_FORWARD_TEMPLATE.format(**{**_CONV_FORWARD_RIGHT, **changes})


CONV_FORWARD_MUTANTS = [
    Mutant(
        answer="conv_forward_naive", loses=_CONV_FORWARD,
        name="np.pad(x, pad) pads the batch and channel axes too",
        source=_conv_forward(pad_expr="np.pad(x, pad)"),
    ),
    Mutant(
        answer="conv_forward_naive", loses=_CONV_FORWARD,
        name="stride ignored (windows at (i, j) instead of (i*S, j*S))",
        source=_conv_forward(corner="i, j"),
    ),
    Mutant(
        answer="conv_forward_naive", loses=_CONV_FORWARD,
        name="filters flipped (a true convolution, not the layers' cross-correlation)",
        source=_conv_forward(w_rows_expr="w[:, :, ::-1, ::-1].reshape(F, -1)"),
    ),
    Mutant(
        answer="conv_forward_naive", loses=_CONV_FORWARD, name="bias forgotten",
        source=_conv_forward(bias=""),
    ),
    Mutant(
        answer="conv_forward_naive", loses=_CONV_FORWARD,
        name="HH and WW swapped in the window (square filters only)",
        source=_conv_forward(rows="WW", cols="HH"),
    ),
]

# ---------------------------------------------------------------------------------------------
# conv_backward_naive
# ---------------------------------------------------------------------------------------------

_CONV_BACKWARD_TEMPLATE = '''
def conv_backward_naive(dout, cache):
    """Naive convolution backward."""
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape
    x_pad = {pad_expr}
    dx_pad = np.zeros(x_pad.shape)
    w_rows = w.reshape(F, -1)
    dw_rows = np.zeros(w_rows.shape)
    for i in range(H_out):
        for j in range(W_out):
            top, left = {corner}
            window = x_pad[:, :, top:top + HH, left:left + WW].reshape(N, -1)
            g = dout[:, :, i, j]
            dw_rows {dw_op} g.T @ window
            dx_pad[:, :, top:top + HH, left:left + WW] += (g @ w_rows).reshape(N, C, HH, WW)
    dx = {crop}
    dw = dw_rows.reshape(w.shape)
    db = {db_expr}
    return dx, dw, db
'''
_CONV_BACKWARD_RIGHT = {
    "pad_expr": "np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))",
    "corner": "i * stride, j * stride",
    "dw_op": "+=",
    "crop": "dx_pad[:, :, pad:pad + H, pad:pad + W]",
    "db_expr": "dout.sum(axis=(0, 2, 3))",
}


def _conv_backward(**changes: str) -> str:
    return _CONV_BACKWARD_TEMPLATE.format(**{**_CONV_BACKWARD_RIGHT, **changes})


CONV_BACKWARD_MUTANTS = [
    Mutant(
        answer="conv_backward_naive", loses=_CONV_BACKWARD,
        name="stride ignored in the backward pass",
        source=_conv_backward(corner="i, j"),
    ),
    Mutant(
        answer="conv_backward_naive", loses=_CONV_BACKWARD,
        name="padding applied to the batch axis (np.pad(x, pad))",
        source=_conv_backward(
            pad_expr="np.pad(x, pad)",
            crop="dx_pad[pad:pad + N, pad:pad + C, pad:pad + H, pad:pad + W]",
        ),
    ),
    Mutant(
        answer="conv_backward_naive", loses=_CONV_BACKWARD,
        name="padding cropped with pad:-pad (empty when pad = 0)",
        source=_conv_backward(crop="dx_pad[:, :, pad:-pad, pad:-pad]"),
    ),
    Mutant(
        answer="conv_backward_naive", loses=_CONV_BACKWARD, name="db averaged over the batch",
        source=_conv_backward(db_expr="dout.sum(axis=(2, 3)).mean(axis=0)"),
    ),
    Mutant(
        answer="conv_backward_naive", loses=_CONV_BACKWARD,
        name="dw overwritten at each position instead of accumulated",
        source=_conv_backward(dw_op="="),
    ),
]

# ---------------------------------------------------------------------------------------------
# max_pool_forward_naive
# ---------------------------------------------------------------------------------------------

_POOL_FORWARD_TEMPLATE = '''
def max_pool_forward_naive(x, pool_param):
    """Naive max pooling forward."""
    PH, PW, stride = {params}
    N, C, H, W = x.shape
    H_out = conv_output_size(H, PH, 0, stride)
    W_out = conv_output_size(W, PW, 0, stride)
    out = np.zeros((N, C, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            top, left = {corner}
            window = x[:, :, top:top + PH, left:left + PW]
            out[:, :, i, j] = {reduce}
    return out, (x, pool_param)
'''
_POOL_FORWARD_RIGHT = {
    "params": 'pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]',
    "corner": "i * stride, j * stride",
    "reduce": "window.max(axis=(2, 3))",
}


def _pool_forward(**changes: str) -> str:
    return _POOL_FORWARD_TEMPLATE.format(**{**_POOL_FORWARD_RIGHT, **changes})


POOL_FORWARD_MUTANTS = [
    Mutant(
        answer="max_pool_forward_naive", loses=_POOL_FORWARD,
        name="pool_height used for both sides (square pools only)",
        source=_pool_forward(
            params='pool_param["pool_height"], pool_param["pool_height"], pool_param["stride"]'
        ),
    ),
    Mutant(
        answer="max_pool_forward_naive", loses=_POOL_FORWARD,
        name="windows stepped by the pool size instead of the stride",
        source=_pool_forward(corner="i * PH, j * PW"),
    ),
    Mutant(
        answer="max_pool_forward_naive", loses=_POOL_FORWARD, name="average instead of max",
        source=_pool_forward(reduce="window.mean(axis=(2, 3))"),
    ),
    Mutant(
        answer="max_pool_forward_naive", loses=_POOL_FORWARD,
        name="max taken over all channels of the window at once",
        source=_pool_forward(reduce="window.max(axis=(1, 2, 3))[:, None]"),
    ),
]

# ---------------------------------------------------------------------------------------------
# max_pool_backward_naive
# ---------------------------------------------------------------------------------------------

_POOL_BACKWARD_TEMPLATE = '''
def max_pool_backward_naive(dout, cache):
    """Naive max pooling backward."""
    x, pool_param = cache
    PH, PW, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, _, _ = x.shape
    _, _, H_out, W_out = dout.shape
    dx = np.zeros(x.shape)
    for i in range(H_out):
        for j in range(W_out):
            top, left = i * stride, j * stride
            window = x[:, :, top:top + PH, left:left + PW]
            g = dout[:, :, i, j][:, :, None, None]
{route}
    return dx
'''

_FIRST_MAX = '''            flat = window.reshape(N, C, -1)
            mask = (np.arange(PH * PW) == flat.argmax(axis=2)[:, :, None]).reshape(window.shape)
'''

POOL_BACKWARD_MUTANTS = [
    Mutant(
        answer="max_pool_backward_naive", loses=_POOL_BACKWARD,
        name="gradient sent to every tied maximum",
        source=_POOL_BACKWARD_TEMPLATE.format(route='''
            mask = window == window.max(axis=(2, 3), keepdims=True)
            dx[:, :, top:top + PH, left:left + PW] += mask * g'''),
    ),
    Mutant(
        answer="max_pool_backward_naive", loses=_POOL_BACKWARD,
        name="gradient sent to the last maximum instead of the first",
        source=_POOL_BACKWARD_TEMPLATE.format(route='''
            flat = window.reshape(N, C, -1)
            last = PH * PW - 1 - flat[:, :, ::-1].argmax(axis=2)
            mask = (np.arange(PH * PW) == last[:, :, None]).reshape(window.shape)
            dx[:, :, top:top + PH, left:left + PW] += mask * g'''),
    ),
    Mutant(
        answer="max_pool_backward_naive", loses=_POOL_BACKWARD,
        name="overlapping windows overwrite each other's gradients (= instead of +=)",
        source=_POOL_BACKWARD_TEMPLATE.format(route=_FIRST_MAX.rstrip("\n") + '''
            dx[:, :, top:top + PH, left:left + PW] = mask * g'''),
    ),
    Mutant(
        answer="max_pool_backward_naive", loses=_POOL_BACKWARD,
        name="gradient spread evenly over the window (average pooling's backward)",
        source=_POOL_BACKWARD_TEMPLATE.format(route='''
            dx[:, :, top:top + PH, left:left + PW] += g / (PH * PW)'''),
    ),
]

# ---------------------------------------------------------------------------------------------
# ThreeLayerConvNet
# ---------------------------------------------------------------------------------------------

_CONVNET_TEMPLATE = '''
class ThreeLayerConvNet:
    """conv - relu - 2x2 max pool - affine - relu - affine - softmax."""

    def __init__(self, input_dim=(3, 32, 32), num_filters=32, filter_size=7, hidden_dim=100,
                 num_classes=10, weight_scale=1e-3, reg=0.0, dtype=np.float32):
        self.reg = reg
        self.dtype = dtype
        self.params = {{}}
        self.conv_param = {{"stride": 1, "pad": (filter_size - 1) // 2}}
        self.pool_param = {{"pool_height": 2, "pool_width": 2, "stride": 2}}
        C, H, W = input_dim
        pooled_dim = {pooled_dim}
        shapes = {{
            "W1": (num_filters, C, filter_size, filter_size), "b1": (num_filters,),
            "W2": (pooled_dim, hidden_dim), "b2": (hidden_dim,),
            "W3": (hidden_dim, num_classes), "b3": (num_classes,),
        }}
        for name, shape in shapes.items():
            if {random_if}:
                self.params[name] = (weight_scale * np.random.randn(*shape)).astype(dtype)
            else:
                self.params[name] = np.zeros(shape, dtype=dtype)

    def loss(self, X, y=None):
        """Scores, or the loss and gradients."""
        X = X.astype(self.dtype, copy=False)
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        W3, b3 = self.params["W3"], self.params["b3"]
        conv_out, conv_cache = conv_forward_fast(X, W1, b1, self.conv_param)
        relu_out, relu_cache = relu_forward(conv_out)
        pooled, pool_cache = max_pool_forward_fast(relu_out, self.pool_param)
        hidden, hidden_cache = affine_relu_forward(pooled, W2, b2)
        {scores_line}
        if y is None:
            return scores
        data_loss, dscores = softmax_loss(scores, y)
        loss = data_loss + {reg_factor} * self.reg * sum(np.sum(W * W) for W in (W1, W2, W3))
        grads = {{}}
        {dscores_line}
        dhidden, grads["W3"], grads["b3"] = affine_backward(dscores, scores_cache)
        dpooled, grads["W2"], grads["b2"] = affine_relu_backward(dhidden, hidden_cache)
        drelu = max_pool_backward_fast(dpooled, pool_cache)
        dconv = relu_backward(drelu, relu_cache)
        _, grads["W1"], grads["b1"] = conv_backward_fast(dconv, conv_cache)
        for name, W in (("W1", W1), ("W2", W2), ("W3", W3)):
            grads[name] = grads[name] + {reg_grad} * W
        return loss, grads
'''
_CONVNET_RIGHT = {
    "pooled_dim": "num_filters * (H // 2) * (W // 2)",
    "random_if": 'name.startswith("W")',
    "scores_line": "scores, scores_cache = affine_forward(hidden, W3, b3)",
    "reg_factor": "0.5",
    "dscores_line": "pass",
    "reg_grad": "self.reg",
}


def _convnet(**changes: str) -> str:
    return _CONVNET_TEMPLATE.format(**{**_CONVNET_RIGHT, **changes})


CONVNET_MUTANTS = [
    Mutant(
        answer="ThreeLayerConvNet", loses=_CONVNET,
        name="regularisation missing from the gradients",
        source=_convnet(reg_grad="0.0"),
    ),
    Mutant(
        answer="ThreeLayerConvNet", loses=_CONVNET,
        name="L2 penalty reg * sum(W**2) without the 1/2 (gradient still reg * W)",
        source=_convnet(reg_factor="1.0"),
    ),
    Mutant(
        answer="ThreeLayerConvNet", loses=_CONVNET,
        name="W2 sized for the unpooled maps (num_filters * H * W rows)",
        source=_convnet(pooled_dim="num_filters * H * W"),
    ),
    Mutant(
        answer="ThreeLayerConvNet", loses=_CONVNET, name="biases initialised randomly",
        source=_convnet(random_if="True"),
    ),
    Mutant(
        answer="ThreeLayerConvNet", loses=_CONVNET,
        name="ReLU applied to the scores (affine_relu as the last layer)",
        source=_convnet(
            scores_line="scores, scores_cache = affine_relu_forward(hidden, W3, b3)",
            dscores_line=(
                "dscores = relu_backward(dscores, scores_cache[1])\n"
                "        scores_cache = scores_cache[0]"
            ),
        ),
    ),
    Mutant(
        answer="ThreeLayerConvNet", loses=_CONVNET,
        name="W2's rows computed from H twice (square inputs only)",
        source=_convnet(pooled_dim="num_filters * (H // 2) * (H // 2)"),
    ),
]

# ---------------------------------------------------------------------------------------------
# make_filters
# ---------------------------------------------------------------------------------------------

_FILTERS_TEMPLATE = '''
def make_filters():
    """Identity, blur, horizontal edges, vertical edges."""
    w = np.zeros((4, 1, 9, 9))
    w[0, 0, {identity}] = 1.0
    w[1, 0] = {blur}
    edge = np.sign(4 - np.arange(9))[:, None] * np.ones((1, 9)) / 36
    edge = {edge}
    w[2, 0] = {horizontal}
    w[3, 0] = {vertical}
    return w, np.zeros(4)
'''
_FILTERS_RIGHT = {
    "identity": "4, 4",
    "blur": "1.0 / 81",
    "edge": "edge",
    "horizontal": "edge",
    "vertical": "edge.T",
}


def _filters(**changes: str) -> str:
    return _FILTERS_TEMPLATE.format(**{**_FILTERS_RIGHT, **changes})


FILTER_MUTANTS = [
    Mutant(
        answer="make_filters", loses=_FILTERS,
        name="horizontal and vertical edge filters swapped",
        source=_filters(horizontal="edge.T", vertical="edge"),
    ),
    Mutant(
        answer="make_filters", loses=_FILTERS, name="blur not normalised (all ones)",
        source=_filters(blur="1.0"),
    ),
    Mutant(
        answer="make_filters", loses=_FILTERS, name="identity off centre (top-left pixel)",
        source=_filters(identity="0, 0"),
    ),
    Mutant(
        answer="make_filters", loses=_FILTERS,
        name="edge filters without their negative half (do not sum to 0)",
        source=_filters(edge="np.maximum(edge, 0)"),
    ),
    Mutant(
        answer="make_filters", loses=_FILTERS,
        name="a Laplacian for both edge filters (responds to every orientation)",
        source=_filters(
            edge="np.pad(np.array([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]), 3)",
            vertical="edge",
        ),
    ),
]

MUTANTS = (
    OUTPUT_SIZE_MUTANTS
    + PARAM_COUNT_MUTANTS
    + CONV_FORWARD_MUTANTS
    + CONV_BACKWARD_MUTANTS
    + POOL_FORWARD_MUTANTS
    + POOL_BACKWARD_MUTANTS
    + CONVNET_MUTANTS
    + FILTER_MUTANTS
)
