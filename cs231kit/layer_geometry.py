"""Shapes of convolution and pooling layers: read the parameter dicts, check them, size the output.

Both the NumPy and the CuPy fast layers use these, so every bad input gets the same clear message
before any arithmetic starts.

Output size along one axis (the formula from the lectures):

    out = 1 + (in + 2 * pad - kernel) // stride
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ConvGeometry:
    """Every size a convolution needs.

    Input x: (N, C, H, W); filters w: (F, C, HH, WW); output: (N, F, H_out, W_out).
    Strides and pads are per axis: (stride_h, stride_w), (pad_h, pad_w).
    """

    N: int
    C: int
    H: int
    W: int
    F: int
    HH: int
    WW: int
    stride_h: int
    stride_w: int
    pad_h: int
    pad_w: int
    H_out: int
    W_out: int


@dataclass(frozen=True)
class PoolGeometry:
    """Every size a max pool needs. Input x: (N, C, H, W); output: (N, C, H_out, W_out)."""

    N: int
    C: int
    H: int
    W: int
    pool_h: int
    pool_w: int
    stride_h: int
    stride_w: int
    H_out: int
    W_out: int

    @property
    def tiles(self) -> bool:
        """True if the windows tile the input: no overlap and no gaps (stride == pool size)."""
        return self.stride_h == self.pool_h and self.stride_w == self.pool_w

    @property
    def tiles_exactly(self) -> bool:
        """True if the windows tile the whole input: no overlap, no gaps, no rows or columns
        left over at the bottom or right edge."""
        fits = self.H == self.H_out * self.pool_h and self.W == self.W_out * self.pool_w
        return self.tiles and fits


def conv_geometry(x: Any, w: Any, b: Any, conv_param: dict) -> ConvGeometry:
    """Check the inputs of a convolution and compute its sizes.

    Inputs:
    - x: input, shape (N, C, H, W)
    - w: filters, shape (F, C, HH, WW)
    - b: biases, shape (F,)
    - conv_param: {"stride": S, "pad": P}; S and P are ints or (along H, along W) pairs

    Returns a ConvGeometry. Raises ValueError (or TypeError/KeyError) saying what is wrong.
    """
    where = "conv_forward_fast"
    _require_ndim(x, 4, "x", "(N, C, H, W)", where)
    _require_ndim(w, 4, "w", "(F, C, HH, WW)", where)
    N, C, H, W = (int(d) for d in x.shape)
    F, C_w, HH, WW = (int(d) for d in w.shape)
    if C_w != C:
        raise ValueError(
            f"{where}: x has C={C} channels but w has {C_w} (w.shape={tuple(w.shape)}); "
            "w must have shape (F, C, HH, WW) with the same C as x: (N, C, H, W)."
        )
    if tuple(getattr(b, "shape", ())) != (F,):
        raise ValueError(
            f"{where}: b must have shape (F,) = ({F},), one bias per filter, "
            f"got shape {tuple(getattr(b, 'shape', ()))}."
        )
    param = _require_dict(conv_param, "conv_param", ("stride", "pad"), where)
    stride_h, stride_w = _pair(param["stride"], "conv_param['stride']", minimum=1, where=where)
    pad_h, pad_w = _pair(param["pad"], "conv_param['pad']", minimum=0, where=where)
    if HH > H + 2 * pad_h or WW > W + 2 * pad_w:
        raise ValueError(
            f"{where}: the {HH}x{WW} filter is larger than the padded input "
            f"{H + 2 * pad_h}x{W + 2 * pad_w} (H={H}, W={W}, pad=({pad_h}, {pad_w})); "
            "use a smaller filter or more padding."
        )
    return ConvGeometry(
        N=N,
        C=C,
        H=H,
        W=W,
        F=F,
        HH=HH,
        WW=WW,
        stride_h=stride_h,
        stride_w=stride_w,
        pad_h=pad_h,
        pad_w=pad_w,
        H_out=1 + (H + 2 * pad_h - HH) // stride_h,
        W_out=1 + (W + 2 * pad_w - WW) // stride_w,
    )


def pool_geometry(x: Any, pool_param: dict) -> PoolGeometry:
    """Check the inputs of a max pool and compute its sizes.

    Inputs:
    - x: input, shape (N, C, H, W)
    - pool_param: {"pool_height": PH, "pool_width": PW, "stride": S}; S is an int or an
      (along H, along W) pair

    Returns a PoolGeometry. Raises ValueError (or TypeError/KeyError) saying what is wrong.
    """
    where = "max_pool_forward_fast"
    _require_ndim(x, 4, "x", "(N, C, H, W)", where)
    N, C, H, W = (int(d) for d in x.shape)
    param = _require_dict(pool_param, "pool_param", ("pool_height", "pool_width", "stride"), where)
    pool_h = _positive_int(param["pool_height"], "pool_param['pool_height']", where)
    pool_w = _positive_int(param["pool_width"], "pool_param['pool_width']", where)
    stride_h, stride_w = _pair(param["stride"], "pool_param['stride']", minimum=1, where=where)
    if pool_h > H or pool_w > W:
        raise ValueError(
            f"{where}: the {pool_h}x{pool_w} pooling window is larger than the {H}x{W} input; "
            "use a smaller pool_height/pool_width."
        )
    return PoolGeometry(
        N=N,
        C=C,
        H=H,
        W=W,
        pool_h=pool_h,
        pool_w=pool_w,
        stride_h=stride_h,
        stride_w=stride_w,
        H_out=1 + (H - pool_h) // stride_h,
        W_out=1 + (W - pool_w) // stride_w,
    )


def check_upstream_shape(dout: Any, expected: tuple[int, ...], where: str) -> None:
    """Raise ValueError unless dout has the shape of the forward output."""
    shape = tuple(int(d) for d in getattr(dout, "shape", ()))
    if shape != expected:
        raise ValueError(
            f"{where}: dout must have the shape of the forward output {expected}, got {shape}."
        )


# ---------------------------------------------------------------------------------------------
# Small checks with clear messages
# ---------------------------------------------------------------------------------------------


def _require_ndim(a: Any, ndim: int, name: str, layout: str, where: str) -> None:
    shape = getattr(a, "shape", None)
    if shape is None:
        raise TypeError(f"{where}: {name} must be an array of shape {layout}, got {type(a)}.")
    if len(shape) != ndim:
        raise ValueError(
            f"{where}: {name} must be {ndim}-D with shape {layout}, got {len(shape)}-D "
            f"shape {tuple(shape)}."
        )


def _require_dict(param: Any, name: str, keys: tuple[str, ...], where: str) -> dict:
    if not isinstance(param, dict):
        raise TypeError(f"{where}: {name} must be a dict with keys {keys}, got {type(param)}.")
    missing = [k for k in keys if k not in param]
    if missing:
        raise KeyError(f"{where}: {name} is missing {missing}; it needs the keys {list(keys)}.")
    return param


def _is_int(v: Any) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_)


def _positive_int(v: Any, name: str, where: str) -> int:
    if not _is_int(v) or int(v) < 1:
        raise ValueError(f"{where}: {name} must be a positive integer, got {v!r}.")
    return int(v)


def _pair(v: Any, name: str, *, minimum: int, where: str) -> tuple[int, int]:
    """An int, or an (along H, along W) pair of ints, each >= minimum."""
    values = tuple(v) if isinstance(v, tuple | list) else (v, v)
    kind = "positive" if minimum == 1 else "non-negative"
    if len(values) != 2 or not all(_is_int(u) and int(u) >= minimum for u in values):
        raise ValueError(
            f"{where}: {name} must be a {kind} integer or a pair of them (along H, along W), "
            f"got {v!r}."
        )
    return int(values[0]), int(values[1])
