"""Realistic wrong answers for notebook 02 (Jacobian-free gradients).

Each mutant replaces one answer cell of ``solutions/a2/02_jacobian_free_gradients.ipynb`` and must
lose exactly the points of its own hidden test cell. The sources run in the notebook's namespace
(``np`` comes from the setup cell).
"""

from tests.mutants import Mutant

_RELU_JACOBIAN = "relu_jacobian"
_RELU_BACKWARD = "relu_backward_implicit"
_MATMUL_BACKWARD = "matmul_backward"
_MATMUL_JACOBIANS = "matmul_jacobians"
_BYTES = "explicit_jacobian_bytes"
_BROADCAST = "broadcast_backward"


def _mutant(answer: str, name: str, source: str) -> Mutant:
    return Mutant(answer=answer, loses=f"test_{answer}", name=name, source=source.strip() + "\n")


MUTANTS = [
    # ------------------------------------------------------------------ relu_jacobian
    _mutant(
        _RELU_JACOBIAN,
        "ReLU output max(0, x) on the diagonal instead of the 0/1 slope",
        '''
def relu_jacobian(x):
    """Explicit Jacobian of the elementwise ReLU; x: (D,), returns J: (D, D)."""
    return np.diag(np.maximum(0, x))
''',
    ),
    _mutant(
        _RELU_JACOBIAN,
        "returns the diagonal (D,) instead of the (D, D) matrix",
        '''
def relu_jacobian(x):
    """Explicit Jacobian of the elementwise ReLU; x: (D,), returns J: (D, D)."""
    return (x > 0).astype(np.float64)
''',
    ),
    _mutant(
        _RELU_JACOBIAN,
        "mask repeated in every row (off-diagonal entries not zero)",
        '''
def relu_jacobian(x):
    """Explicit Jacobian of the elementwise ReLU; x: (D,), returns J: (D, D)."""
    mask = (x > 0).astype(np.float64)
    return np.tile(mask, (x.shape[0], 1))
''',
    ),
    _mutant(
        _RELU_JACOBIAN,
        "mask inverted (slope 1 where x < 0)",
        '''
def relu_jacobian(x):
    """Explicit Jacobian of the elementwise ReLU; x: (D,), returns J: (D, D)."""
    return np.diag((x < 0).astype(np.float64))
''',
    ),
    _mutant(
        _RELU_JACOBIAN,
        "slope 1 at the kink x == 0 (x >= 0 instead of x > 0)",
        '''
def relu_jacobian(x):
    """Explicit Jacobian of the elementwise ReLU; x: (D,), returns J: (D, D)."""
    return np.diag((x >= 0).astype(np.float64))
''',
    ),
    # ------------------------------------------------------------------ relu_backward_implicit
    _mutant(
        _RELU_BACKWARD,
        "mask taken from the upstream gradient (dy > 0) instead of the input",
        '''
def relu_backward_implicit(x, dy):
    """ReLU backward; x, dy: any shape, returns dx: shape of x."""
    return dy * (dy > 0)
''',
    ),
    _mutant(
        _RELU_BACKWARD,
        "multiplies by the ReLU output max(0, x) instead of the 0/1 mask",
        '''
def relu_backward_implicit(x, dy):
    """ReLU backward; x, dy: any shape, returns dx: shape of x."""
    return dy * np.maximum(0, x)
''',
    ),
    _mutant(
        _RELU_BACKWARD,
        "zeroes the upstream gradient in place and returns it",
        '''
def relu_backward_implicit(x, dy):
    """ReLU backward; x, dy: any shape, returns dx: shape of x."""
    dy[x <= 0] = 0
    return dy
''',
    ),
    _mutant(
        _RELU_BACKWARD,
        "flattens the result (only right for vectors)",
        '''
def relu_backward_implicit(x, dy):
    """ReLU backward; x, dy: any shape, returns dx: shape of x."""
    return (dy * (x > 0)).ravel()
''',
    ),
    _mutant(
        _RELU_BACKWARD,
        "passes the gradient at the kink x == 0 (x >= 0 instead of x > 0)",
        '''
def relu_backward_implicit(x, dy):
    """ReLU backward; x, dy: any shape, returns dx: shape of x."""
    return dy * (x >= 0)
''',
    ),
    # ------------------------------------------------------------------ matmul_backward
    _mutant(
        _MATMUL_BACKWARD,
        "dw transposed: dy.T @ x has shape (M, D)",
        '''
def matmul_backward(x, w, dy):
    """Backward of y = x @ w; x: (N, D), w: (D, M), dy: (N, M); returns dx, dw."""
    dx = dy @ w.T
    dw = dy.T @ x
    return dx, dw
''',
    ),
    _mutant(
        _MATMUL_BACKWARD,
        "dw divided by N (averaged over the batch)",
        '''
def matmul_backward(x, w, dy):
    """Backward of y = x @ w; x: (N, D), w: (D, M), dy: (N, M); returns dx, dw."""
    dx = dy @ w.T
    dw = x.T @ dy / x.shape[0]
    return dx, dw
''',
    ),
    _mutant(
        _MATMUL_BACKWARD,
        "missing transpose of w in dx (dy @ w)",
        '''
def matmul_backward(x, w, dy):
    """Backward of y = x @ w; x: (N, D), w: (D, M), dy: (N, M); returns dx, dw."""
    dx = dy @ w
    dw = x.T @ dy
    return dx, dw
''',
    ),
    _mutant(
        _MATMUL_BACKWARD,
        "gradients returned in the wrong order (dw, dx)",
        '''
def matmul_backward(x, w, dy):
    """Backward of y = x @ w; x: (N, D), w: (D, M), dy: (N, M); returns dx, dw."""
    dx = dy @ w.T
    dw = x.T @ dy
    return dw, dx
''',
    ),
    _mutant(
        _MATMUL_BACKWARD,
        "dw as the outer product of batch sums (sums before multiplying)",
        '''
def matmul_backward(x, w, dy):
    """Backward of y = x @ w; x: (N, D), w: (D, M), dy: (N, M); returns dx, dw."""
    dx = dy @ w.T
    dw = np.outer(x.sum(axis=0), dy.sum(axis=0))
    return dx, dw
''',
    ),
    # ------------------------------------------------------------------ matmul_jacobians
    _mutant(
        _MATMUL_JACOBIANS,
        "the slides' layout (inputs x outputs): J_x is (N*D, N*M)",
        '''
def matmul_jacobians(x, w):
    """Full Jacobians of y = x @ w; x: (N, D), w: (D, M); returns J_x, J_w."""
    N, D = x.shape
    M = w.shape[1]
    J_x4 = np.zeros((N, M, N, D))
    for n in range(N):
        J_x4[n, :, n, :] = w.T
    J_w4 = np.zeros((N, M, D, M))
    for m in range(M):
        J_w4[:, m, :, m] = x
    return J_x4.reshape(N * M, N * D).T, J_w4.reshape(N * M, D * M).T
''',
    ),
    _mutant(
        _MATMUL_JACOBIANS,
        "flattened in column-major (Fortran) order",
        '''
def matmul_jacobians(x, w):
    """Full Jacobians of y = x @ w; x: (N, D), w: (D, M); returns J_x, J_w."""
    N, D = x.shape
    M = w.shape[1]
    J_x4 = np.zeros((N, M, N, D))
    for n in range(N):
        J_x4[n, :, n, :] = w.T
    J_w4 = np.zeros((N, M, D, M))
    for m in range(M):
        J_w4[:, m, :, m] = x
    return J_x4.reshape(N * M, N * D, order="F"), J_w4.reshape(N * M, D * M, order="F")
''',
    ),
    _mutant(
        _MATMUL_JACOBIANS,
        "every row of y depends on every row of x (missing the n == n' condition)",
        '''
def matmul_jacobians(x, w):
    """Full Jacobians of y = x @ w; x: (N, D), w: (D, M); returns J_x, J_w."""
    N, D = x.shape
    M = w.shape[1]
    J_x4 = np.zeros((N, M, N, D))
    for n in range(N):
        for n2 in range(N):
            J_x4[n, :, n2, :] = w.T
    J_w4 = np.zeros((N, M, D, M))
    for m in range(M):
        J_w4[:, m, :, m] = x
    return J_x4.reshape(N * M, N * D), J_w4.reshape(N * M, D * M)
''',
    ),
    _mutant(
        _MATMUL_JACOBIANS,
        "every column of y depends on every column of w (missing the m == m' condition)",
        '''
def matmul_jacobians(x, w):
    """Full Jacobians of y = x @ w; x: (N, D), w: (D, M); returns J_x, J_w."""
    N, D = x.shape
    M = w.shape[1]
    J_x4 = np.zeros((N, M, N, D))
    for n in range(N):
        J_x4[n, :, n, :] = w.T
    J_w4 = np.zeros((N, M, D, M))
    for m in range(M):
        J_w4[:, m, :, :] = x[:, :, None]
    return J_x4.reshape(N * M, N * D), J_w4.reshape(N * M, D * M)
''',
    ),
    _mutant(
        _MATMUL_JACOBIANS,
        "w instead of w.T in the blocks of J_x (block indexed [d, m] instead of [m, d])",
        '''
def matmul_jacobians(x, w):
    """Full Jacobians of y = x @ w; x: (N, D), w: (D, M); returns J_x, J_w."""
    N, D = x.shape
    M = w.shape[1]
    J_x = np.kron(np.eye(N), w)
    J_w = np.kron(x, np.eye(M))
    return J_x.reshape(N * M, N * D), J_w
''',
    ),
    # ------------------------------------------------------------------ explicit_jacobian_bytes
    _mutant(
        _BYTES,
        "counts entries, not bytes (ignores bytes_per_element)",
        '''
def explicit_jacobian_bytes(N, D, M, bytes_per_element=4):
    """Bytes of the explicit Jacobian dy/dx of y = x @ w (an int)."""
    return (N * M) * (N * D)
''',
    ),
    _mutant(
        _BYTES,
        "returns gigabytes instead of bytes",
        '''
def explicit_jacobian_bytes(N, D, M, bytes_per_element=4):
    """Bytes of the explicit Jacobian dy/dx of y = x @ w (an int)."""
    return (N * M) * (N * D) * bytes_per_element / 1e9
''',
    ),
    _mutant(
        _BYTES,
        "batch size counted once: N*D*M entries",
        '''
def explicit_jacobian_bytes(N, D, M, bytes_per_element=4):
    """Bytes of the explicit Jacobian dy/dx of y = x @ w (an int)."""
    return N * D * M * bytes_per_element
''',
    ),
    _mutant(
        _BYTES,
        "adds the sizes of y and x instead of multiplying them",
        '''
def explicit_jacobian_bytes(N, D, M, bytes_per_element=4):
    """Bytes of the explicit Jacobian dy/dx of y = x @ w (an int)."""
    return (N * M + N * D) * bytes_per_element
''',
    ),
    _mutant(
        _BYTES,
        "product in 32-bit integers overflows for large layers",
        '''
def explicit_jacobian_bytes(N, D, M, bytes_per_element=4):
    """Bytes of the explicit Jacobian dy/dx of y = x @ w (an int)."""
    factors = np.array([N, M, N, D, bytes_per_element], dtype=np.int32)
    return int(np.prod(factors, dtype=np.int32))
''',
    ),
    # ------------------------------------------------------------------ broadcast_backward
    _mutant(
        _BROADCAST,
        "sums only the added leading axes, not the stretched size-1 axes",
        '''
def broadcast_backward(dout, shape):
    """Gradient w.r.t. an input of `shape` broadcast to dout.shape; returns grad: `shape`."""
    num_added = dout.ndim - len(shape)
    return dout.sum(axis=tuple(range(num_added)))
''',
    ),
    _mutant(
        _BROADCAST,
        "sums the size-1 axes without keepdims (the axis disappears)",
        '''
def broadcast_backward(dout, shape):
    """Gradient w.r.t. an input of `shape` broadcast to dout.shape; returns grad: `shape`."""
    num_added = dout.ndim - len(shape)
    grad = dout.sum(axis=tuple(range(num_added)))
    stretched = tuple(axis for axis, size in enumerate(shape) if size == 1)
    return grad.sum(axis=stretched)
''',
    ),
    _mutant(
        _BROADCAST,
        "averages the copies (mean) instead of summing them",
        '''
def broadcast_backward(dout, shape):
    """Gradient w.r.t. an input of `shape` broadcast to dout.shape; returns grad: `shape`."""
    num_added = dout.ndim - len(shape)
    grad = dout.mean(axis=tuple(range(num_added)))
    stretched = tuple(axis for axis, size in enumerate(shape) if size == 1)
    return grad.mean(axis=stretched, keepdims=True)
''',
    ),
    _mutant(
        _BROADCAST,
        "always sums over axis 0 (the bias rule used for every shape)",
        '''
def broadcast_backward(dout, shape):
    """Gradient w.r.t. an input of `shape` broadcast to dout.shape; returns grad: `shape`."""
    return dout.sum(axis=0)
''',
    ),
    _mutant(
        _BROADCAST,
        "aligns shapes on the left (sums trailing instead of leading axes)",
        '''
def broadcast_backward(dout, shape):
    """Gradient w.r.t. an input of `shape` broadcast to dout.shape; returns grad: `shape`."""
    grad = dout.sum(axis=tuple(range(len(shape), dout.ndim)))
    stretched = tuple(axis for axis, size in enumerate(shape) if size == 1)
    return grad.sum(axis=stretched, keepdims=True)
''',
    ),
]
