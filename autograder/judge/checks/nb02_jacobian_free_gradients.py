"""Hidden tests of notebook 02 (Jacobian-free gradients).

Each graded function is checked against ``autograder.judge.reference.jacobians`` on inputs the
student never sees: random shapes (including 1-sized axes and non-square matrices, where
a missing transpose shows), random values, and the lecture's own example. None of the graded
functions of this notebook calls another, so no substitution is needed.

Random ReLU inputs stay at least ``_KINK_MARGIN`` away from 0, except in the cases that put exact
zeros in x on purpose: there the lecture's rule (slope 0 where x <= 0) is what is tested.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autograder.judge.cases import Case, Outputs
from autograder.judge.reference import jacobians as ref
from cs231kit import tolerances

NOTEBOOK = "02_jacobian_free_gradients"
CALLS = "nb02"
VALUE_TESTS: frozenset[str] = frozenset()

# Values are computed in float64 by a few sums of products; two correct implementations differ by
# rounding only (~1e-15 relative), so the forward-value tolerance applies. Exact counts (bytes)
# must match exactly.
TOL = tolerances.FORWARD_REL_ERROR
EXACT = 0.0

# Random ReLU inputs keep |x| >= this, so no value sits on the kink by accident.
_KINK_MARGIN = 0.05

# The lecture's examples (seed 004).
LECTURE_RELU_X = np.array([1.0, -2.0, 3.0, -1.0])
LECTURE_RELU_DZ = np.array([4.0, -1.0, 5.0, 9.0])
LECTURE_X = np.array([[2.0, 1.0, -3.0], [-3.0, 4.0, 2.0]])
LECTURE_W = np.array([[3.0, 2.0, 1.0, -1.0], [2.0, 1.0, 3.0, 2.0], [3.0, 2.0, 1.0, -2.0]])
LECTURE_DY = np.array([[2.0, 3.0, -3.0, 9.0], [-8.0, 1.0, 4.0, 6.0]])


# ---------------------------------------------------------------------------------------------
# Input makers
# ---------------------------------------------------------------------------------------------


def _away_from_kink(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Random values of random sign with |value| in [_KINK_MARGIN, 3]."""
    magnitude = rng.uniform(_KINK_MARGIN, 3.0, size=shape)
    sign = rng.choice([-1.0, 1.0], size=shape)
    return magnitude * sign


def _with_zeros(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Like _away_from_kink, with about a third of the entries (at least one) exactly 0."""
    x = _away_from_kink(rng, shape)
    zeros = rng.random(shape) < 1 / 3
    zeros.flat[int(rng.integers(x.size))] = True
    x[zeros] = 0.0
    return x


def _random_shape(rng: np.random.Generator, max_ndim: int = 4, max_size: int = 5) -> tuple:
    ndim = int(rng.integers(1, max_ndim + 1))
    return tuple(int(s) for s in rng.integers(1, max_size + 1, size=ndim))


def _distinct_sizes(rng: np.random.Generator, low: int, high: int) -> tuple[int, int, int]:
    """(N, D, M) with D != M, so that a missing transpose gives a wrong shape."""
    n = int(rng.integers(low, high + 1))
    d, m = (int(v) for v in rng.choice(np.arange(low, high + 1), size=2, replace=False))
    return n, d, m


def _random_broadcast_pair(rng: np.random.Generator) -> tuple[tuple, tuple]:
    """(dout shape, input shape) where the input shape broadcasts to the dout shape.

    The input keeps some trailing axes of dout (leading ones are added by broadcasting) and has
    size 1 on some of the kept axes.
    """
    out_shape = _random_shape(rng, max_ndim=4, max_size=4)
    num_kept = int(rng.integers(0, len(out_shape) + 1))
    kept = list(out_shape[len(out_shape) - num_kept :])
    for axis in range(len(kept)):
        if rng.random() < 0.4:
            kept[axis] = 1
    return out_shape, tuple(kept)


# ---------------------------------------------------------------------------------------------
# relu_jacobian
# ---------------------------------------------------------------------------------------------



def _relu_jacobian_ref(inputs: dict[str, Any]) -> Outputs:
    return {"J": ref.relu_jacobian(inputs["x"])}


def _relu_jacobian_case(name: str, make: Any, runs: int = 3) -> Case:
    return Case(name, make, "relu_jacobian", _relu_jacobian_ref, tol=TOL, runs=runs)


RELU_JACOBIAN_CASES = [
    _relu_jacobian_case(
        "relu_jacobian, the lecture's x = [1, -2, 3, -1]",
        lambda rng: {"x": LECTURE_RELU_X.copy()},
        runs=1,
    ),
    _relu_jacobian_case(
        "relu_jacobian, random x of length 2 to 12 (J must be (D, D), zero off the diagonal)",
        lambda rng: {"x": _away_from_kink(rng, (int(rng.integers(2, 13)),))},
        runs=5,
    ),
    _relu_jacobian_case(
        "relu_jacobian, x of length 1",
        lambda rng: {"x": _away_from_kink(rng, (1,))},
    ),
    _relu_jacobian_case(
        "relu_jacobian, x with exact zeros (the lecture's rule: slope 0 where x <= 0)",
        lambda rng: {"x": _with_zeros(rng, (int(rng.integers(3, 10)),))},
    ),
    _relu_jacobian_case(
        "relu_jacobian, all-positive x (J must be the identity)",
        lambda rng: {"x": np.abs(_away_from_kink(rng, (int(rng.integers(2, 8)),)))},
    ),
]


# ---------------------------------------------------------------------------------------------
# relu_backward_implicit
# ---------------------------------------------------------------------------------------------



def _relu_backward_derive(inputs: dict[str, Any], raw: Any) -> Outputs:
    unchanged = bool(
        np.array_equal(raw["x after the call"], inputs["x"])
        and np.array_equal(raw["dy after the call"], inputs["dy"])
    )
    return {"dx": raw["dx"], "x and dy unchanged": unchanged}


def _relu_backward_ref(inputs: dict[str, Any]) -> Outputs:
    return {"dx": ref.relu_backward_implicit(inputs["x"], inputs["dy"]), "x and dy unchanged": True}


def _relu_backward_inputs(make_x: Any) -> Any:
    def make(rng: np.random.Generator) -> dict[str, Any]:
        x = make_x(rng)
        return {"x": x, "dy": rng.standard_normal(x.shape)}

    return make


def _relu_backward_case(name: str, make_x: Any, runs: int = 3) -> Case:
    return Case(
        name,
        _relu_backward_inputs(make_x),
        "relu_backward_implicit",
        _relu_backward_ref,
        derive=_relu_backward_derive,
        tol=TOL,
        runs=runs,
    )


RELU_BACKWARD_CASES = [
    Case(
        "relu_backward_implicit, the lecture's x = [1, -2, 3, -1], dL/dz = [4, -1, 5, 9]",
        lambda rng: {"x": LECTURE_RELU_X.copy(), "dy": LECTURE_RELU_DZ.copy()},
        "relu_backward_implicit",
        _relu_backward_ref,
        derive=_relu_backward_derive,
        tol=TOL,
        runs=1,
    ),
    _relu_backward_case(
        "relu_backward_implicit, random x with 1 to 4 axes (dx must have x's shape)",
        lambda rng: _away_from_kink(rng, _random_shape(rng)),
        runs=5,
    ),
    _relu_backward_case(
        "relu_backward_implicit, a (64, 100) batch of activations",
        lambda rng: _away_from_kink(rng, (64, 100)),
    ),
    _relu_backward_case(
        "relu_backward_implicit, x with exact zeros (the lecture's rule: 0 where x <= 0)",
        lambda rng: _with_zeros(rng, _random_shape(rng, max_ndim=3)),
    ),
]


# ---------------------------------------------------------------------------------------------
# matmul_backward
# ---------------------------------------------------------------------------------------------


def _matmul_inputs(sizes: Any) -> Any:
    def make(rng: np.random.Generator) -> dict[str, Any]:
        n, d, m = sizes(rng)
        return {
            "x": rng.standard_normal((n, d)),
            "w": rng.standard_normal((d, m)),
            "dy": rng.standard_normal((n, m)),
        }

    return make



def _matmul_backward_ref(inputs: dict[str, Any]) -> Outputs:
    dx, dw = ref.matmul_backward(inputs["x"], inputs["w"], inputs["dy"])
    return {"dx": dx, "dw": dw}


def _matmul_backward_case(name: str, make: Any, runs: int = 3) -> Case:
    return Case(name, make, "matmul_backward", _matmul_backward_ref, tol=TOL, runs=runs)


MATMUL_BACKWARD_CASES = [
    _matmul_backward_case(
        "matmul_backward, the lecture's x (2x3), w (3x4), dL/dy (2x4)",
        lambda rng: {"x": LECTURE_X.copy(), "w": LECTURE_W.copy(), "dy": LECTURE_DY.copy()},
        runs=1,
    ),
    _matmul_backward_case(
        "matmul_backward, random non-square shapes (D != M)",
        _matmul_inputs(lambda rng: _distinct_sizes(rng, 2, 7)),
        runs=5,
    ),
    _matmul_backward_case(
        "matmul_backward, square w (D == M)",
        _matmul_inputs(lambda rng: (int(rng.integers(2, 6)),) + (int(rng.integers(2, 6)),) * 2),
    ),
    _matmul_backward_case(
        "matmul_backward, a batch of one example (N = 1)",
        _matmul_inputs(lambda rng: (1,) + _distinct_sizes(rng, 2, 6)[1:]),
    ),
    _matmul_backward_case(
        "matmul_backward, one output (M = 1)",
        _matmul_inputs(lambda rng: (int(rng.integers(2, 6)), int(rng.integers(2, 6)), 1)),
    ),
]


# ---------------------------------------------------------------------------------------------
# matmul_jacobians
# ---------------------------------------------------------------------------------------------



def _jacobians_ref(inputs: dict[str, Any]) -> Outputs:
    jac_x, jac_w = ref.matmul_jacobians(inputs["x"], inputs["w"])
    return {"J_x": jac_x, "J_w": jac_w}


def _jacobians_inputs(sizes: Any) -> Any:
    def make(rng: np.random.Generator) -> dict[str, Any]:
        n, d, m = sizes(rng)
        return {"x": rng.standard_normal((n, d)), "w": rng.standard_normal((d, m))}

    return make


def _jacobians_case(name: str, make: Any, runs: int = 3) -> Case:
    return Case(name, make, "matmul_jacobians", _jacobians_ref, tol=TOL, runs=runs)


MATMUL_JACOBIANS_CASES = [
    _jacobians_case(
        "matmul_jacobians, the lecture's x (2x3) and w (3x4): J_x (8, 6), J_w (8, 12)",
        lambda rng: {"x": LECTURE_X.copy(), "w": LECTURE_W.copy()},
        runs=1,
    ),
    _jacobians_case(
        "matmul_jacobians, random tiny shapes with D != M (rows: outputs y in C order, "
        "columns: inputs in C order)",
        _jacobians_inputs(lambda rng: _distinct_sizes(rng, 2, 4)),
        runs=5,
    ),
    _jacobians_case(
        "matmul_jacobians, square shapes N = D = M",
        _jacobians_inputs(lambda rng: (int(rng.integers(2, 4)),) * 3),
    ),
    _jacobians_case(
        "matmul_jacobians, N = 1 (a single example)",
        _jacobians_inputs(lambda rng: (1,) + _distinct_sizes(rng, 2, 4)[1:]),
    ),
]


# ---------------------------------------------------------------------------------------------
# explicit_jacobian_bytes
# ---------------------------------------------------------------------------------------------


def _is_integer(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))



def _bytes_derive(inputs: dict[str, Any], raw: Any) -> Outputs:
    result = raw["result"]
    return {
        "bytes": int(result) if _is_integer(result) else result,
        "returns an integer": _is_integer(result),
    }


def _bytes_ref(inputs: dict[str, Any]) -> Outputs:
    sizes = inputs["N"], inputs["D"], inputs["M"]
    per_element = inputs["bytes_per_element"]
    result = ref.explicit_jacobian_bytes(
        *sizes, **({} if per_element is None else {"bytes_per_element": per_element})
    )
    return {"bytes": result, "returns an integer": True}


def _bytes_case(name: str, make: Any, runs: int = 3) -> Case:
    return Case(name, make, "explicit_jacobian_bytes", _bytes_ref, derive=_bytes_derive, tol=EXACT,
                runs=runs)


def _random_sizes(rng: np.random.Generator, per_element: int | None) -> dict[str, Any]:
    n, d, m = (int(v) for v in rng.integers(1, 5000, size=3))
    return {"N": n, "D": d, "M": m, "bytes_per_element": per_element}


EXPLICIT_JACOBIAN_BYTES_CASES = [
    _bytes_case(
        "explicit_jacobian_bytes(64, 4096, 4096), the lecture's layer in float32 (default)",
        lambda rng: {"N": 64, "D": 4096, "M": 4096, "bytes_per_element": None},
        runs=1,
    ),
    _bytes_case(
        "explicit_jacobian_bytes, random sizes, default bytes_per_element (float32 = 4 bytes)",
        lambda rng: _random_sizes(rng, None),
        runs=5,
    ),
    _bytes_case(
        "explicit_jacobian_bytes, random sizes with bytes_per_element 2 or 8",
        lambda rng: _random_sizes(rng, int(rng.choice([2, 8]))),
    ),
    _bytes_case(
        "explicit_jacobian_bytes, D != M (dy/dx has N*D columns and N*M rows)",
        lambda rng: {"N": 3, "D": 5, "M": 7, "bytes_per_element": None},
        runs=1,
    ),
    _bytes_case(
        "explicit_jacobian_bytes(512, 65536, 65536, 4): more than 2**31 bytes (no 32-bit overflow)",
        lambda rng: {"N": 512, "D": 65536, "M": 65536, "bytes_per_element": 4},
        runs=1,
    ),
]


# ---------------------------------------------------------------------------------------------
# broadcast_backward
# ---------------------------------------------------------------------------------------------



def _broadcast_ref(inputs: dict[str, Any]) -> Outputs:
    return {"grad": ref.broadcast_backward(inputs["dout"], inputs["shape"])}


def _broadcast_inputs(shapes: Any) -> Any:
    def make(rng: np.random.Generator) -> dict[str, Any]:
        out_shape, shape = shapes(rng)
        return {"dout": rng.standard_normal(out_shape), "shape": tuple(shape)}

    return make


def _rows_cols(rng: np.random.Generator) -> tuple[int, int]:
    return int(rng.integers(2, 7)), int(rng.integers(2, 7))


def _bias_over_rows(rng: np.random.Generator) -> tuple[tuple, tuple]:
    rows, cols = _rows_cols(rng)
    return (rows, cols), (cols,)


def _column_over_columns(rng: np.random.Generator) -> tuple[tuple, tuple]:
    rows, cols = _rows_cols(rng)
    return (rows, cols), (rows, 1)


def _row_over_rows(rng: np.random.Generator) -> tuple[tuple, tuple]:
    rows, cols = _rows_cols(rng)
    return (rows, cols), (1, cols)


def _scalar_everywhere(rng: np.random.Generator) -> tuple[tuple, tuple]:
    return _random_shape(rng, max_ndim=3), ()


def _same_shape(rng: np.random.Generator) -> tuple[tuple, tuple]:
    shape = _random_shape(rng)
    return shape, shape


def _size_one_in_both(rng: np.random.Generator) -> tuple[tuple, tuple]:
    batch, channels = int(rng.integers(2, 5)), int(rng.integers(2, 5))
    return (batch, 1, channels), (1, 1, channels)


def _broadcast_case(name: str, shapes: Any, runs: int = 3) -> Case:
    return Case(
        name, _broadcast_inputs(shapes), "broadcast_backward", _broadcast_ref, tol=TOL, runs=runs
    )


BROADCAST_BACKWARD_CASES = [
    _broadcast_case(
        "broadcast_backward, a bias b of shape (M,) added to every row of (N, M)", _bias_over_rows
    ),
    _broadcast_case(
        "broadcast_backward, a column of shape (N, 1) added to every column of (N, M)",
        _column_over_columns,
    ),
    _broadcast_case(
        "broadcast_backward, a row of shape (1, M): keep the size-1 axis (keepdims)",
        _row_over_rows,
    ),
    _broadcast_case(
        "broadcast_backward, a scalar (shape ()) added to every entry", _scalar_everywhere
    ),
    _broadcast_case("broadcast_backward, no broadcasting (shape == dout.shape)", _same_shape),
    _broadcast_case(
        "broadcast_backward, shape (1, 1, C) to (N, 1, C): an axis of size 1 in both stays",
        _size_one_in_both,
    ),
    _broadcast_case(
        "broadcast_backward, random broadcastable shapes with up to 4 axes",
        _random_broadcast_pair,
        runs=10,
    ),
]


CASES: dict[str, list[Case]] = {
    "test_relu_jacobian": RELU_JACOBIAN_CASES,
    "test_relu_backward_implicit": RELU_BACKWARD_CASES,
    "test_matmul_backward": MATMUL_BACKWARD_CASES,
    "test_matmul_jacobians": MATMUL_JACOBIANS_CASES,
    "test_explicit_jacobian_bytes": EXPLICIT_JACOBIAN_BYTES_CASES,
    "test_broadcast_backward": BROADCAST_BACKWARD_CASES,
}

