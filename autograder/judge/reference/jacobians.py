"""Reference Jacobians and Jacobian-free backward passes (notebook 02).

Explicit Jacobians of elementwise ReLU and of the matrix multiply y = x @ w, the implicit
(Jacobian-free) backward passes that replace them, the memory an explicit Jacobian would need, and
the backward pass of broadcasting.

Jacobian layout used throughout: J[i, j] = d out_flat[i] / d in_flat[j], where ``out_flat`` and
``in_flat`` are the arrays flattened in row-major (C) order. So J has one row per output entry and
one column per input entry, and the backward pass is dL/d in_flat = J.T @ dL/d out_flat.
"""

from __future__ import annotations

import numpy as np


def relu_jacobian(x: np.ndarray) -> np.ndarray:
    """Explicit Jacobian of z = max(0, x) (elementwise) for a vector x.

    Inputs:
    - x: (D,) vector fed to the ReLU

    Returns:
    - J: (D, D) float array with J[i, j] = dz_i / dx_j: 1 on the diagonal where x > 0, 0 elsewhere
      (slope 0 at the kink x == 0, as in the lecture's rule)
    """
    return np.diag(np.where(x > 0, 1.0, 0.0))


def relu_backward_implicit(x: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """ReLU backward without the Jacobian: pass dy where x > 0, 0 elsewhere.

    Inputs:
    - x: input of the ReLU, any shape
    - dy: upstream gradient dL/dz, shaped like x

    Returns:
    - dx: dL/dx, same shape as x (x and dy are not modified)
    """
    return np.where(x > 0, dy, 0.0)


def matmul_backward(x: np.ndarray, w: np.ndarray, dy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Backward pass of y = x @ w.

    Inputs:
    - x: (N, D); w: (D, M); dy: (N, M) upstream gradient dL/dy

    Returns (dx, dw):
    - dx: (N, D), dL/dx = dy @ w.T
    - dw: (D, M), dL/dw = x.T @ dy
    """
    return np.dot(dy, w.T), np.dot(x.T, dy)


def matmul_jacobians(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both Jacobians of y = x @ w, with x, w and y flattened in row-major (C) order.

    y[n, m] = sum_d x[n, d] w[d, m], so d y[n, m] / d x[n', d] = [n == n'] w[d, m]
    and d y[n, m] / d w[d, m'] = [m == m'] x[n, d]. With row index n*M + m and column index n'*D + d
    (resp. d*M + m') these are Kronecker products.

    Inputs:
    - x: (N, D); w: (D, M)

    Returns (J_x, J_w):
    - J_x: (N*M, N*D) = kron(I_N, w.T)
    - J_w: (N*M, D*M) = kron(x, I_M)
    """
    num_rows, num_out = x.shape[0], w.shape[1]
    jac_x = np.kron(np.eye(num_rows), w.T)
    jac_w = np.kron(x, np.eye(num_out))
    return jac_x, jac_w


def explicit_jacobian_bytes(N: int, D: int, M: int, bytes_per_element: int = 4) -> int:
    """Size in bytes of the explicit Jacobian dy/dx of y = x @ w.

    Inputs:
    - N, D, M: x is (N, D), w is (D, M), y is (N, M)
    - bytes_per_element: 4 for float32, 8 for float64

    Returns:
    - the number of bytes, a Python int: (N*D) * (N*M) entries of bytes_per_element bytes each
    """
    num_entries = int(N) * int(D) * int(N) * int(M)
    return num_entries * int(bytes_per_element)


def broadcast_backward(dout: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Backward pass of broadcasting an array of ``shape`` to ``dout.shape``.

    Every entry of the input was copied to several outputs, so its gradient is the sum of the
    gradients of its copies: sum over the leading axes that broadcasting added, and (keeping the
    axis) over every axis where the input had size 1 and the output did not.

    Inputs:
    - dout: upstream gradient, shape (d_1, ..., d_k)
    - shape: the shape of the input before broadcasting; it must broadcast to dout.shape

    Returns:
    - grad: array of the given shape
    """
    shape = tuple(shape)
    if np.broadcast_shapes(shape, dout.shape) != dout.shape:
        raise ValueError(f"shape {shape} does not broadcast to dout's shape {dout.shape}")
    # Left-pad the shape with 1s (what broadcasting does first); then every axis of size 1 that
    # dout stretched is summed, keeping it, and the padding is dropped by the final reshape.
    padded = (1,) * (dout.ndim - len(shape)) + shape
    summed = tuple(axis for axis, size in enumerate(padded) if size == 1 and dout.shape[axis] > 1)
    return np.sum(dout, axis=summed, keepdims=True).reshape(shape)
