"""The fast conv/pool layers against the reference naive layers (autograder.judge.reference.conv).

Shapes, strides, pads, kernel and pool sizes are drawn by hypothesis; array values come from a
NumPy generator seeded by hypothesis, so every failure can be replayed.

The fast layers also take a stride or pad per axis, (along H, along W); the reference takes one
int for both. A pair is checked through two identities of the reference itself: padding (ph, pw)
is the reference on the input zero-padded beforehand, with pad 0; stride (sh, sw) is the
reference at stride 1, keeping every sh-th output row and sw-th column (its backward pass: the
stride-1 backward pass of that upstream gradient spread back with zeros in between).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograder.judge.reference import conv as reference
from cs231kit import batch_threads, direct_conv, fast_layers, pool_loops, tolerances, winograd
from cs231kit import im2col as im2col_module
from cs231kit.backend import gpu_available
from cs231kit.fast_layers import (
    conv_backward_fast,
    conv_forward_fast,
    max_pool_backward_fast,
    max_pool_forward_fast,
)
from cs231kit.gradient_check import numeric_gradient_array, rel_error
from cs231kit.im2col import col2im, col2im_compiled, im2col, pad_images
from cs231kit.layer_geometry import conv_geometry
from cs231kit.training_batch import training_batch

FLOAT64_TOL = tolerances.FAST_VS_NAIVE_FLOAT64  # 1e-10
# float32 against float64, measured as max |a - b| / max |b| (scaled by the largest entry): an
# entry-wise relative error would blow up wherever a sum cancels to almost zero in float32.
FLOAT32_TOL = 1e-5

# Deterministic example choice: the suite gives the same verdict on every run and machine.
FAST = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


def scaled_error(a: np.ndarray, b: np.ndarray, scale: Any = None) -> float:
    """max |a - b| / max |scale|, where scale (an array or a number) defaults to b."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = b if scale is None else np.asarray(scale, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(1e-30, float(np.max(np.abs(scale)))))


def as_layout(a: np.ndarray, layout: str) -> np.ndarray:
    """The same values as a, in a non-contiguous memory layout (or as is)."""
    if layout == "fortran":
        return np.asfortranarray(a)
    if layout == "strided":  # every other element of a bigger array
        big = np.zeros(tuple(2 * d for d in a.shape), dtype=a.dtype)
        view = big[::2, ::2, ::2, ::2]
        view[...] = a
        return view
    return a


# ---------------------------------------------------------------------------------------------
# The reference naive layers, with per-axis strides and pads (see the module docstring)
# ---------------------------------------------------------------------------------------------


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return v if isinstance(v, tuple) else (v, v)


def _spread(dout: np.ndarray, full_shape: tuple[int, ...], sh: int, sw: int) -> np.ndarray:
    """The stride-1 upstream gradient whose every sh-th row and sw-th column is ``dout``."""
    full = np.zeros(full_shape, dtype=dout.dtype)
    full[:, :, ::sh, ::sw] = dout
    return full


def conv_forward_naive(x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict) -> tuple:
    (sh, sw), (ph, pw) = _pair(conv_param["stride"]), _pair(conv_param["pad"])
    if sh == sw and ph == pw:
        out, cache = reference.conv_forward_naive(x, w, b, {"stride": sh, "pad": ph})
        return out, (cache, None)
    x_pad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    full, cache = reference.conv_forward_naive(x_pad, w, b, {"stride": 1, "pad": 0})
    return full[:, :, ::sh, ::sw], (cache, (full.shape, sh, sw, ph, pw, x.shape))


def conv_backward_naive(dout: np.ndarray, cache: tuple) -> tuple:
    reference_cache, pairs = cache
    if pairs is None:
        return reference.conv_backward_naive(dout, reference_cache)
    full_shape, sh, sw, ph, pw, (_, _, H, W) = pairs
    dx_pad, dw, db = reference.conv_backward_naive(_spread(dout, full_shape, sh, sw),
                                                   reference_cache)
    return dx_pad[:, :, ph : ph + H, pw : pw + W], dw, db


def max_pool_forward_naive(x: np.ndarray, pool_param: dict) -> tuple:
    sh, sw = _pair(pool_param["stride"])
    if sh == sw:
        out, cache = reference.max_pool_forward_naive(x, {**pool_param, "stride": sh})
        return out, (cache, None)
    full, cache = reference.max_pool_forward_naive(x, {**pool_param, "stride": 1})
    return full[:, :, ::sh, ::sw], (cache, (full.shape, sh, sw))


def max_pool_backward_naive(dout: np.ndarray, cache: tuple) -> np.ndarray:
    reference_cache, pairs = cache
    if pairs is None:
        return reference.max_pool_backward_naive(dout, reference_cache)
    full_shape, sh, sw = pairs
    return reference.max_pool_backward_naive(_spread(dout, full_shape, sh, sw), reference_cache)


def test_per_axis_identities_agree_with_the_reference_where_both_apply() -> None:
    """The identities above give the reference's own answer for an int stride and pad."""
    rng = np.random.default_rng(12)
    x, w, b = rng.standard_normal((2, 3, 9, 8)), rng.standard_normal((4, 3, 3, 2)), np.ones(4)
    for stride, pad in ((2, 1), (3, 0), (1, 2)):
        want, want_cache = reference.conv_forward_naive(x, w, b, {"stride": stride, "pad": pad})
        x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        full, cache = reference.conv_forward_naive(x_pad, w, b, {"stride": 1, "pad": 0})
        np.testing.assert_allclose(full[:, :, ::stride, ::stride], want, rtol=1e-12)
        dout = rng.standard_normal(want.shape)
        dx_pad, dw, db = reference.conv_backward_naive(
            _spread(dout, full.shape, stride, stride), cache
        )
        got = (dx_pad[:, :, pad : pad + 9, pad : pad + 8], dw, db)
        for g, e in zip(got, reference.conv_backward_naive(dout, want_cache), strict=True):
            np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)
    pool = {"pool_height": 2, "pool_width": 3}
    for stride in (1, 2, 3):
        want, want_cache = reference.max_pool_forward_naive(x, {**pool, "stride": stride})
        full, cache = reference.max_pool_forward_naive(x, {**pool, "stride": 1})
        np.testing.assert_array_equal(full[:, :, ::stride, ::stride], want)
        dout = rng.standard_normal(want.shape)
        np.testing.assert_array_equal(
            reference.max_pool_backward_naive(_spread(dout, full.shape, stride, stride), cache),
            reference.max_pool_backward_naive(dout, want_cache),
        )


# ---------------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------------


def axis_param(values: st.SearchStrategy[int]) -> st.SearchStrategy:
    """An int, or a (along H, along W) pair: the layers accept both."""
    return st.one_of(values, st.tuples(values, values))


@st.composite
def conv_cases(draw: st.DrawFn) -> dict:
    N, C, F = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    HH, WW = draw(st.integers(1, 5)), draw(st.integers(1, 5))  # rectangular kernels
    stride = draw(axis_param(st.integers(1, 3)))
    pad = draw(axis_param(st.integers(0, 3)))
    ph, pw = _pair(pad)
    # Input at least as large as the kernel once padded, up to a few windows more.
    H = draw(st.integers(max(1, HH - 2 * ph), max(1, HH - 2 * ph) + 6))
    W = draw(st.integers(max(1, WW - 2 * pw), max(1, WW - 2 * pw) + 6))
    return {
        "x_shape": (N, C, H, W),
        "w_shape": (F, C, HH, WW),
        "conv_param": {"stride": stride, "pad": pad},
        "seed": draw(st.integers(0, 2**32 - 1)),
        "layout": draw(st.sampled_from(["contiguous", "fortran", "strided"])),
    }


@st.composite
def pool_cases(draw: st.DrawFn) -> dict:
    N, C = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    PH, PW = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    # Tiling (stride == pool), overlapping (stride < pool) and gapped (stride > pool) windows.
    stride = draw(
        st.one_of(
            st.just((PH, PW)),
            axis_param(st.integers(1, 3)),
        )
    )
    H = draw(st.integers(PH, PH + 7))
    W = draw(st.integers(PW, PW + 7))
    return {
        "x_shape": (N, C, H, W),
        "pool_param": {"pool_height": PH, "pool_width": PW, "stride": stride},
        "seed": draw(st.integers(0, 2**32 - 1)),
        "values": draw(st.sampled_from(["normal", "small integers"])),
        "layout": draw(st.sampled_from(["contiguous", "fortran", "strided"])),
    }


# ---------------------------------------------------------------------------------------------
# Convolution
# ---------------------------------------------------------------------------------------------


def term_bounds(x: np.ndarray, w: np.ndarray, b: np.ndarray, dout: np.ndarray,
                conv_param: dict) -> tuple:
    """Bounds of the terms each entry of out, dx, dw and db sums, to measure rounding against.

    Rounding errors grow with the terms summed, not with the sum, which can cancel to almost
    nothing; and Winograd's transforms mix all weights of a filter (and all entries of a 4x4
    tile) even where the window overlaps the padding. So: |w| summed over a whole filter times
    the largest |x| (for out; for dx the same with dout), and the sums over absolute values for
    dw and db. Returns (out bound, (dx bound, dw bounds, db bounds)).
    """
    _, abs_cache = conv_forward_naive(np.abs(x), np.abs(w), np.abs(b), conv_param)
    _, abs_dw, abs_db = conv_backward_naive(np.abs(dout), abs_cache)
    out_bound = np.abs(w).sum(axis=(1, 2, 3)).max() * np.abs(x).max() + np.abs(b).max()
    dx_bound = np.abs(w).sum(axis=(0, 2, 3)).max() * np.abs(dout).max()
    return out_bound, (dx_bound, abs_dw, abs_db)


def check_conv_matches_naive_float64(case: dict, mixes_terms: bool = False) -> Any:
    """Fast forward and backward passes of a drawn case against the naive layers; the cache.

    Entry by entry (rel_error), or, for an algorithm that mixes terms (Winograd's), against
    bounds of the terms summed (term_bounds): an entry that should be 0 can come out as 1e-17.
    """
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal(case["x_shape"])
    w = rng.standard_normal(case["w_shape"])
    b = rng.standard_normal(case["w_shape"][0])
    conv_param = case["conv_param"]

    out_ref, cache_ref = conv_forward_naive(x, w, b, conv_param)
    out, cache = conv_forward_fast(as_layout(x, case["layout"]), w, b, conv_param)
    dout = rng.standard_normal(out.shape)
    out_bound, grad_bounds = term_bounds(x, w, b, dout, conv_param)

    def error(got: np.ndarray, want: np.ndarray, bound: Any) -> float:
        return scaled_error(got, want, bound) if mixes_terms else rel_error(got, want)

    assert out.shape == out_ref.shape
    assert error(out, out_ref, out_bound) < FLOAT64_TOL
    grads = conv_backward_fast(as_layout(dout, case["layout"]), cache)
    grads_ref = conv_backward_naive(dout, cache_ref)
    for name, got, want, bound in zip("dx dw db".split(), grads, grads_ref, grad_bounds,
                                      strict=True):
        assert got.shape == want.shape, name
        assert got.dtype == np.float64, name
        assert error(got, want, bound) < FLOAT64_TOL, name
    return cache


def check_conv_float32_agrees_with_float64(case: dict) -> Any:
    """Fast layers in float32 keep the dtype and agree with float64 on the same inputs,
    measured against bounds of the terms summed (term_bounds); the float32 cache."""
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal(case["x_shape"])
    w = rng.standard_normal(case["w_shape"])
    b = rng.standard_normal(case["w_shape"][0])
    conv_param = case["conv_param"]
    x32, w32, b32 = x.astype(np.float32), w.astype(np.float32), b.astype(np.float32)
    out32, cache32 = conv_forward_fast(x32, w32, b32, conv_param)
    dout32 = rng.standard_normal(out32.shape).astype(np.float32)
    grads32 = conv_backward_fast(dout32, cache32)
    # The float64 answer for the very same (float32-rounded) inputs.
    x64, w64, b64 = x32.astype(np.float64), w32.astype(np.float64), b32.astype(np.float64)
    dout64 = dout32.astype(np.float64)
    out64, cache64 = conv_forward_naive(x64, w64, b64, conv_param)
    grads64 = conv_backward_naive(dout64, cache64)
    out_bound, grad_bounds = term_bounds(x64, w64, b64, dout64, conv_param)

    assert out32.dtype == np.float32
    assert scaled_error(out32, out64, out_bound) < FLOAT32_TOL
    for got, want, bound in zip(grads32, grads64, grad_bounds, strict=True):
        assert got.dtype == np.float32
        assert scaled_error(got, want, bound) < FLOAT32_TOL
    return cache32


@FAST
@given(conv_cases())
def test_conv_matches_naive_float64(case: dict) -> None:
    check_conv_matches_naive_float64(case)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(conv_cases())
def test_conv_float32_keeps_dtype_and_agrees_with_float64(case: dict) -> None:
    check_conv_float32_agrees_with_float64(case)


@pytest.mark.parametrize(
    "x_shape, w_shape, conv_param, flipped",
    [
        ((2, 4, 7, 6), (3, 4, 3, 3), {"stride": 1, "pad": 1}, True),  # F <= 2C: flipped filters
        ((2, 3, 6, 7), (3, 3, 3, 2), {"stride": 1, "pad": (2, 1)}, True),  # rectangular
        ((2, 2, 6, 6), (8, 2, 3, 3), {"stride": 1, "pad": 1}, False),  # F >> C: col2im
        ((2, 3, 7, 7), (3, 3, 3, 3), {"stride": 1, "pad": 3}, False),  # pad >= kernel
        ((2, 3, 9, 8), (4, 3, 3, 3), {"stride": (1, 2), "pad": 1}, False),  # stride 2 on W
    ],
)
@pytest.mark.parametrize("keep_cols", [True, False], ids=["cols kept", "cols rebuilt"])
def test_conv_dx_both_methods_match_naive(
    x_shape: tuple,
    w_shape: tuple,
    conv_param: dict,
    flipped: bool,
    keep_cols: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both ways of computing dx (col2im, flipped-filter convolution) give the naive answer,
    whether the forward pass kept its im2col matrix or the backward pass rebuilds it."""
    if not keep_cols:
        monkeypatch.setattr(fast_layers, "KEEP_COLS_MAX_BYTES", 0)
    rng = np.random.default_rng(7)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(3)
    b = rng.standard_normal(w_shape[0])
    geometry = conv_geometry(x, w, b, conv_param)
    assert fast_layers._dx_by_flipped_filters_is_cheaper(geometry) is flipped

    out, cache = conv_forward_fast(x, w, b, conv_param)
    assert (cache.kept is not None) is keep_cols
    dout = rng.standard_normal(out.shape)
    _, cache_ref = conv_forward_naive(x, w, b, conv_param)
    for got, want in zip(
        conv_backward_fast(dout, cache), conv_backward_naive(dout, cache_ref), strict=True
    ):
        assert rel_error(got, want) < FLOAT64_TOL


@pytest.mark.parametrize("keep_cols", [True, False], ids=["cols kept", "cols rebuilt"])
def test_conv_large_batch_split_over_threads_matches_naive(
    keep_cols: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch big enough to be split over threads gives the same answer."""
    if not keep_cols:
        monkeypatch.setattr(fast_layers, "KEEP_COLS_MAX_BYTES", 0)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((8, 8, 12, 12))
    w = rng.standard_normal((8, 8, 3, 3))
    b = rng.standard_normal(8)
    conv_param = {"stride": 1, "pad": 1}
    assert 8 * 8 * 9 * 12 * 12 >= batch_threads.MIN_ELEMENTS_TO_SPLIT  # im2col gets split
    out, cache = conv_forward_fast(x, w, b, conv_param)
    out_ref, cache_ref = conv_forward_naive(x, w, b, conv_param)
    assert rel_error(out, out_ref) < FLOAT64_TOL
    dout = rng.standard_normal(out.shape)
    for got, want in zip(
        conv_backward_fast(dout, cache), conv_backward_naive(dout, cache_ref), strict=True
    ):
        assert rel_error(got, want) < FLOAT64_TOL


@pytest.mark.parametrize(
    "x_shape, kernel, stride, pad",
    [
        ((2, 1, 23, 21), (9, 9), (2, 2), (4, 4)),  # many offsets per phase: added phase by phase
        ((2, 3, 13, 12), (5, 4), (2, 3), (1, 2)),  # phase by phase, rows left over at the edge
        ((2, 3, 11, 10), (3, 3), (1, 2), (1, 0)),  # stride along W only, phase by phase
        ((2, 3, 11, 10), (3, 3), (2, 2), (1, 1)),  # few offsets per phase: in place
        ((2, 2, 9, 9), (3, 3), (1, 1), (2, 2)),  # stride 1: in place
    ],
)
def test_col2im_is_the_adjoint_of_padding_and_im2col(
    x_shape: tuple, kernel: tuple, stride: tuple, pad: tuple
) -> None:
    """<im2col(pad(x)), d> == <x, col2im(d)> for every x and d: col2im is exactly the backward
    pass of padding + im2col, whichever way it adds."""
    (HH, WW), (sh, sw), (ph, pw) = kernel, stride, pad
    N, C, H, W = x_shape
    H_out, W_out = 1 + (H + 2 * ph - HH) // sh, 1 + (W + 2 * pw - WW) // sw
    rng = np.random.default_rng(1)
    x = rng.standard_normal(x_shape)
    d = rng.standard_normal((N, C * HH * WW, H_out * W_out))
    cols = im2col(pad_images(x, ph, pw, x.dtype), HH, WW, sh, sw, H_out, W_out)
    back = col2im(d, x_shape, HH, WW, sh, sw, ph, pw, out=np.full(x_shape, np.nan))
    assert abs(np.vdot(cols, d) - np.vdot(x, back)) < 1e-10 * np.abs(cols).sum() * np.abs(d).max()
    # The compiled loops make the same additions in the same order: the same bits.
    compiled = np.full(x_shape, np.nan)
    col2im_compiled(d, x_shape, HH, WW, sh, sw, ph, pw, out=compiled)
    assert compiled.tobytes() == back.tobytes()


def test_conv_dx_uses_compiled_col2im_on_big_layers_and_matches_naive() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((20, 3, 31, 31))
    w, b = rng.standard_normal((25, 3, 3, 3)), rng.standard_normal(25)
    conv_param = {"stride": 2, "pad": 1}
    g = conv_geometry(x, w, b, conv_param)
    assert fast_layers._uses_col2im_loops(g, np, x.dtype) is False  # 138,240 entries: small
    with layer_setting("COL2IM_LOOPS_MIN_SIZE", 0):
        assert fast_layers._uses_col2im_loops(g, np, x.dtype)
        out, cache = conv_forward_fast(x, w, b, conv_param)
        dout = rng.standard_normal(out.shape)
        dx = conv_backward_fast(dout, cache)[0]
    _, cache_ref = conv_forward_naive(x, w, b, conv_param)
    assert rel_error(dx, conv_backward_naive(dout, cache_ref)[0]) < FLOAT64_TOL


def test_conv_gradients_match_numeric_gradient() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 6))
    w = rng.standard_normal((4, 3, 3, 2))
    b = rng.standard_normal(4)
    conv_param = {"stride": (1, 2), "pad": 1}
    out, cache = conv_forward_fast(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = conv_backward_fast(dout, cache)

    dx_num = numeric_gradient_array(lambda x: conv_forward_fast(x, w, b, conv_param)[0], x, dout)
    dw_num = numeric_gradient_array(lambda w: conv_forward_fast(x, w, b, conv_param)[0], w, dout)
    db_num = numeric_gradient_array(lambda b: conv_forward_fast(x, w, b, conv_param)[0], b, dout)
    assert rel_error(dx, dx_num) < tolerances.REL_ERROR_SMOOTH
    assert rel_error(dw, dw_num) < tolerances.REL_ERROR_SMOOTH
    assert rel_error(db, db_num) < tolerances.REL_ERROR_SMOOTH


@pytest.mark.parametrize("stride", [1, 2], ids=["dx by flipped filters", "dx by col2im"])
def test_conv_skips_dx_of_the_solvers_training_batch_only(stride: int) -> None:
    """dx of the batch being trained on is None; dw and db are the same bits as ever, and
    any other input (a copy of the batch, the batch outside a step) gets its dx."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 3, 9, 9))
    w, b = rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    conv_param = {"stride": stride, "pad": 1}
    with training_batch(x):
        out, batch_cache = conv_forward_fast(x, w, b, conv_param)
        _, copy_cache = conv_forward_fast(x.copy(), w, b, conv_param)
    _, later_cache = conv_forward_fast(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = conv_backward_fast(dout, batch_cache)
    assert dx is None
    _, cache_ref = conv_forward_naive(x, w, b, conv_param)
    dx_ref, _, _ = conv_backward_naive(dout, cache_ref)
    for cache in (copy_cache, later_cache):
        dx_full, dw_full, db_full = conv_backward_fast(dout, cache)
        assert rel_error(dx_full, dx_ref) < FLOAT64_TOL
        assert dw.tobytes() == dw_full.tobytes() and db.tobytes() == db_full.tobytes()


def test_conv_course_shape_and_integer_input() -> None:
    """The lecture's example: 32x32x3 input, 10 5x5 filters, stride 1, pad 2 -> 32x32x10."""
    x = np.arange(2 * 3 * 32 * 32).reshape(2, 3, 32, 32) % 7  # integers compute in float64
    w = np.ones((10, 3, 5, 5))
    out, _ = conv_forward_fast(x, w, np.zeros(10), {"stride": 1, "pad": 2})
    assert out.shape == (2, 10, 32, 32)
    assert out.dtype == np.float64
    ref, _ = conv_forward_naive(x.astype(np.float64), w, np.zeros(10), {"stride": 1, "pad": 2})
    assert rel_error(out, ref) < FLOAT64_TOL


# ---------------------------------------------------------------------------------------------
# The compiled ways: Winograd's algorithm (big 3x3 stride-1 layers, cs231kit/winograd.py) and
# direct sums (big layers with few filters, cs231kit/direct_conv.py)
# ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def layer_setting(name: str, value: int) -> Iterator[None]:
    """Set one of fast_layers' size thresholds for the duration (hypothesis tests cannot use
    pytest's monkeypatch), e.g. POOL_LOOPS_MIN_ELEMENTS = 0 to send every 2x2 stride-2 pool
    through the compiled loops."""
    saved = getattr(fast_layers, name)
    setattr(fast_layers, name, value)
    try:
        yield
    finally:
        setattr(fast_layers, name, saved)


# The threshold that decides when each compiled way is used, by the cache's method name.
MIN_SIZE_SETTING = {"winograd": "WINOGRAD_MIN_COLS_SIZE", "direct": "DIRECT_MIN_COLS_SIZE"}


@contextlib.contextmanager
def conv_method(method: str) -> Iterator[None]:
    """Send every convolution that the method can do through it ("im2col": none through the
    compiled ways), whatever its size."""
    with contextlib.ExitStack() as stack:
        for name, setting in MIN_SIZE_SETTING.items():
            stack.enter_context(layer_setting(setting, 0 if name == method else 2**62))
        yield


@st.composite
def winograd_cases(draw: st.DrawFn) -> dict:
    N, C, F = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    pad = draw(axis_param(st.integers(0, 2)))
    ph, pw = _pair(pad)
    # Odd and even output sizes, down to a single output (tiles hang over the edge).
    H = draw(st.integers(max(1, 3 - 2 * ph), 9))
    W = draw(st.integers(max(1, 3 - 2 * pw), 9))
    return {
        "x_shape": (N, C, H, W),
        "w_shape": (F, C, 3, 3),
        "conv_param": {"stride": 1, "pad": pad},
        "seed": draw(st.integers(0, 2**32 - 1)),
        "layout": draw(st.sampled_from(["contiguous", "fortran", "strided"])),
    }


@pytest.mark.parametrize(
    "kernels",
    [winograd.kernels, direct_conv.kernels, pool_loops.kernels, im2col_module.col2im_kernels],
)
def test_compiled_loops_compile_here(kernels: Any) -> None:
    """Numba is a dependency: the tests exercise the compiled loops, not a fallback."""
    assert kernels(np.float32) is not None
    assert kernels(np.float64) is not None
    assert kernels(np.int64) is None


@FAST
@given(winograd_cases())
def test_winograd_conv_matches_naive_float64(case: dict) -> None:
    with conv_method("winograd"):
        cache = check_conv_matches_naive_float64(case, mixes_terms=True)
    assert cache.method == "winograd"


@settings(max_examples=30, deadline=None, derandomize=True)
@given(winograd_cases())
def test_winograd_float32_keeps_dtype_and_agrees_with_float64(case: dict) -> None:
    with conv_method("winograd"):
        assert check_conv_float32_agrees_with_float64(case).method == "winograd"


@FAST
@given(conv_cases())
def test_direct_conv_matches_naive_float64(case: dict) -> None:
    """Every stride, pad, kernel size and memory layout of conv_cases (its filter counts are
    all within DIRECT_MAX_FILTERS)."""
    with conv_method("direct"):
        assert check_conv_matches_naive_float64(case).method == "direct"


@settings(max_examples=30, deadline=None, derandomize=True)
@given(conv_cases())
def test_direct_conv_float32_keeps_dtype_and_agrees_with_float64(case: dict) -> None:
    with conv_method("direct"):
        assert check_conv_float32_agrees_with_float64(case).method == "direct"


@pytest.mark.parametrize(
    "x_shape, w_shape, conv_param, method",
    [
        ((8, 64, 32, 32), (64, 64, 3, 3), {"stride": 1, "pad": 1}, "winograd"),
        ((8, 64, 32, 32), (64, 64, 3, 3), {"stride": 1, "pad": (0, 2)}, "winograd"),
        ((2, 8, 12, 12), (8, 8, 3, 3), {"stride": 1, "pad": 1}, "im2col"),  # small: quick
        ((8, 64, 32, 32), (64, 64, 3, 3), {"stride": 2, "pad": 1}, "im2col"),
        ((8, 64, 32, 32), (64, 64, 3, 3), {"stride": 1, "pad": 3}, "im2col"),
        ((8, 32, 32, 32), (32, 32, 5, 5), {"stride": 1, "pad": 2}, "im2col"),
        ((8, 64, 32, 32), (64, 64, 3, 2), {"stride": 1, "pad": 1}, "im2col"),
        ((8, 1, 224, 224), (4, 1, 9, 9), {"stride": 2, "pad": 4}, "direct"),  # few filters
        ((8, 32, 32, 32), (8, 32, 5, 5), {"stride": 1, "pad": 2}, "direct"),
        ((16, 32, 32, 32), (8, 32, 3, 3), {"stride": 1, "pad": 1}, "winograd"),  # 3x3 first
        ((2, 1, 96, 96), (4, 1, 9, 9), {"stride": 2, "pad": 4}, "im2col"),  # small: quick
        ((50, 3, 32, 32), (32, 3, 7, 7), {"stride": 1, "pad": 3}, "im2col"),  # many filters
    ],
)
def test_each_conv_layer_goes_the_expected_way(
    x_shape: tuple, w_shape: tuple, conv_param: dict, method: str
) -> None:
    x = np.zeros(x_shape, np.float32)
    w, b = np.zeros(w_shape, np.float32), np.zeros(w_shape[0], np.float32)
    _, cache = conv_forward_fast(x, w, b, conv_param)
    assert cache.method == method


@pytest.mark.parametrize(
    "method, x_shape, w_shape, conv_param",
    [
        ("winograd", (12, 24, 23, 22), (40, 24, 3, 3), {"stride": 1, "pad": 1}),
        ("direct", (16, 8, 45, 77), (6, 8, 5, 4), {"stride": (2, 1), "pad": (2, 1)}),
    ],
)
def test_compiled_conv_batch_split_over_threads_matches_im2col(
    method: str, x_shape: tuple, w_shape: tuple, conv_param: dict
) -> None:
    """A batch cut into chunks that run in parallel threads gives im2col's answer, odd output
    sizes included."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal(x_shape)
    w, b = rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    g = conv_geometry(x, w, b, conv_param)
    size = fast_layers._winograd_size(g) if method == "winograd" else fast_layers._cols_size(g)
    assert len(batch_threads._chunk_bounds(len(x), size, 2)) >= 4
    with conv_method(method):
        out, cache = conv_forward_fast(x, w, b, conv_param)
    with conv_method("im2col"):
        out_im2col, cache_im2col = conv_forward_fast(x, w, b, conv_param)
    assert (cache.method, cache_im2col.method) == (method, "im2col")
    assert rel_error(out, out_im2col) < FLOAT64_TOL
    dout = rng.standard_normal(out.shape)
    for got, want in zip(conv_backward_fast(dout, cache),
                         conv_backward_fast(dout, cache_im2col), strict=True):
        assert rel_error(got, want) < FLOAT64_TOL


@pytest.mark.parametrize("method", ["winograd", "direct"])
def test_compiled_conv_skips_dx_of_the_solvers_training_batch_only(method: str) -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 3, 9, 9))
    w, b = rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    conv_param = {"stride": 1, "pad": 1}
    with conv_method(method):
        with training_batch(x):
            out, batch_cache = conv_forward_fast(x, w, b, conv_param)
        _, later_cache = conv_forward_fast(x, w, b, conv_param)
    assert batch_cache.method == later_cache.method == method
    dout = rng.standard_normal(out.shape)
    dx, dw, db = conv_backward_fast(dout, batch_cache)
    assert dx is None
    dx_full, dw_full, db_full = conv_backward_fast(dout, later_cache)
    _, cache_ref = conv_forward_naive(x, w, b, conv_param)
    assert rel_error(dx_full, conv_backward_naive(dout, cache_ref)[0]) < FLOAT64_TOL
    assert dw.tobytes() == dw_full.tobytes() and db.tobytes() == db_full.tobytes()


@pytest.mark.parametrize("method, module", [("winograd", winograd), ("direct", direct_conv)])
def test_compiled_conv_layers_use_im2col_when_numba_cannot_compile(
    method: str, module: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without working compiled loops (Numba missing, or no JIT allowed) the layer goes
    through im2col and gives the same answer."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 4, 8, 7))
    w, b = rng.standard_normal((5, 4, 3, 3)), rng.standard_normal(5)
    with conv_method(method):
        out, cache = conv_forward_fast(x, w, b, CONV)
        monkeypatch.setitem(module.KERNELS.compiled, np.dtype(np.float64), None)
        out_without, cache_without = conv_forward_fast(x, w, b, CONV)
    assert (cache.method, cache_without.method) == (method, "im2col")
    assert rel_error(out, out_without) < FLOAT64_TOL


# ---------------------------------------------------------------------------------------------
# Max pooling
# ---------------------------------------------------------------------------------------------


@FAST
@given(pool_cases())
def test_pool_matches_naive(case: dict) -> None:
    rng = np.random.default_rng(case["seed"])
    if case["values"] == "normal":
        x = rng.standard_normal(case["x_shape"])
    else:  # many tied maxima: the gradient must still go to the first one only
        x = rng.integers(-1, 2, size=case["x_shape"]).astype(np.float64)
    pool_param = case["pool_param"]

    out_ref, cache_ref = max_pool_forward_naive(x, pool_param)
    out, cache = max_pool_forward_fast(as_layout(x, case["layout"]), pool_param)
    assert out.shape == out_ref.shape
    assert rel_error(out, out_ref) < FLOAT64_TOL

    dout = rng.standard_normal(out.shape)
    dx = max_pool_backward_fast(as_layout(dout, case["layout"]), cache)
    dx_ref = max_pool_backward_naive(dout, cache_ref)
    assert dx.shape == x.shape
    assert rel_error(dx, dx_ref) < FLOAT64_TOL
    # Each window passes its gradient on exactly once, whatever the ties.
    assert np.isclose(dx.sum(), dout.sum())


@pytest.mark.parametrize(
    "pool_param",
    [
        {"pool_height": 2, "pool_width": 2, "stride": 2},  # tiling
        {"pool_height": 3, "pool_width": 2, "stride": 1},  # overlapping
        {"pool_height": 2, "pool_width": 2, "stride": 3},  # gaps between windows
    ],
)
def test_pool_ties_route_to_first_maximum(pool_param: dict) -> None:
    """A constant input ties every entry: each window's gradient goes to its top-left entry."""
    x = np.full((2, 3, 8, 8), 5.0)
    out, cache = max_pool_forward_fast(x, pool_param)
    dout = np.arange(1.0, 1.0 + out.size).reshape(out.shape)
    dx = max_pool_backward_fast(dout, cache)

    expected = np.zeros_like(x)
    sh, sw = pool_param["stride"], pool_param["stride"]
    for y in range(out.shape[2]):
        for xo in range(out.shape[3]):
            expected[:, :, y * sh, xo * sw] += dout[:, :, y, xo]
    np.testing.assert_array_equal(dx, expected)
    assert np.count_nonzero(dx) <= out.size  # never one gradient copy per tied maximum


def test_pool_ties_later_maximum_wins_only_if_strictly_greater() -> None:
    x = np.array([[[[1.0, 3.0], [3.0, 2.0]]]])  # tie between (0, 1) and (1, 0)
    out, cache = max_pool_forward_fast(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    dx = max_pool_backward_fast(np.array([[[[10.0]]]]), cache)
    assert out[0, 0, 0, 0] == 3.0
    np.testing.assert_array_equal(dx, [[[[0.0, 10.0], [0.0, 0.0]]]])


def test_pool_backward_ignores_later_in_place_edits_of_out() -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 6, 6))
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    out, cache = max_pool_forward_fast(x, pool_param)
    dout = rng.standard_normal(out.shape)
    expected = max_pool_backward_naive(dout, max_pool_forward_naive(x, pool_param)[1])
    np.maximum(out, 0, out=out)  # e.g. an in-place ReLU after the pool
    assert rel_error(max_pool_backward_fast(dout, cache), expected) < FLOAT64_TOL


def test_pool_float32_keeps_dtype() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 7, 7)).astype(np.float32)
    pool_param = {"pool_height": 3, "pool_width": 3, "stride": 2}
    out, cache = max_pool_forward_fast(x, pool_param)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    dx = max_pool_backward_fast(dout, cache)
    assert out.dtype == np.float32 and dx.dtype == np.float32
    out_ref, cache_ref = max_pool_forward_naive(x.astype(np.float64), pool_param)
    dx_ref = max_pool_backward_naive(dout.astype(np.float64), cache_ref)
    assert scaled_error(out, out_ref) < FLOAT32_TOL
    assert scaled_error(dx, dx_ref) < FLOAT32_TOL


def test_pool_split_over_threads_matches_naive(monkeypatch: pytest.MonkeyPatch) -> None:
    # Pooling splits only big inputs; lower the bar so that this small one is split too.
    monkeypatch.setattr(fast_layers, "POOL_MIN_ELEMENTS_TO_SPLIT", 1 << 10)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 16, 32, 32))
    pool_param = {"pool_height": 3, "pool_width": 3, "stride": 2}
    out, cache = max_pool_forward_fast(x, pool_param)
    out_ref, cache_ref = max_pool_forward_naive(x, pool_param)
    np.testing.assert_array_equal(out, out_ref)
    dout = rng.standard_normal(out.shape)
    dx = max_pool_backward_fast(dout, cache)
    assert rel_error(dx, max_pool_backward_naive(dout, cache_ref)) < FLOAT64_TOL


@pytest.mark.parametrize("size", [2, 3])
def test_pool_windows_tiling_the_input_route_like_naive_with_ties_in_some_chunks(
    size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows that tile x take a faster path, per chunk of images, unless a window has tied
    maxima: chunks with ties and chunks without all route as the naive layer does."""
    monkeypatch.setattr(fast_layers, "POOL_MIN_ELEMENTS_TO_SPLIT", 1 << 10)
    rng = np.random.default_rng(6)
    x = rng.standard_normal((8, 4, 4 * size, 6 * size)).astype(np.float32)
    x[0] = 1.0  # image 0: every window tied
    x[5, 1, :size, :size] = 2.0  # image 5: one window tied
    pool_param = {"pool_height": size, "pool_width": size, "stride": size}
    out, cache = max_pool_forward_fast(x, pool_param)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    dx = max_pool_backward_fast(dout, cache)
    _, cache_ref = max_pool_forward_naive(x.astype(np.float64), pool_param)
    np.testing.assert_array_equal(dx, max_pool_backward_naive(dout.astype(np.float64), cache_ref))


@st.composite
def pool_loop_cases(draw: st.DrawFn) -> dict:
    """2x2 windows at stride 2 tiling an even-sized input: the compiled loops' case."""
    N, C = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return {
        "x_shape": (N, C, 2 * draw(st.integers(1, 5)), 2 * draw(st.integers(1, 5))),
        "seed": draw(st.integers(0, 2**32 - 1)),
        "values": draw(st.sampled_from(["normal", "small integers"])),
        "dtype": draw(st.sampled_from([np.float32, np.float64])),
    }


@FAST
@given(pool_loop_cases())
def test_pool_loops_match_naive(case: dict) -> None:
    rng = np.random.default_rng(case["seed"])
    if case["values"] == "normal":
        x = rng.standard_normal(case["x_shape"]).astype(case["dtype"])
    else:  # many tied maxima: the gradient must still go to the first one only
        x = rng.integers(-1, 2, size=case["x_shape"]).astype(case["dtype"])
    with layer_setting("POOL_LOOPS_MIN_ELEMENTS", 0):
        out, cache = max_pool_forward_fast(x, POOL)
    assert cache.argmax is not None and cache.out is None
    x64 = x.astype(np.float64)
    out_ref, cache_ref = reference.max_pool_forward_naive(x64, POOL)
    assert out.dtype == x.dtype and np.array_equal(out, out_ref)
    dout = rng.standard_normal(out.shape).astype(case["dtype"])
    dx = max_pool_backward_fast(dout, cache)
    dx_ref = reference.max_pool_backward_naive(dout.astype(np.float64), cache_ref)
    assert dx.dtype == x.dtype and np.array_equal(dx, dx_ref)


@pytest.mark.parametrize(
    "x, used",
    [
        (np.zeros((8, 32, 64, 64)), True),
        (np.zeros((8, 32, 64, 64), np.float32), True),
        (np.zeros((2, 3, 8, 8)), False),  # small: NumPy is quicker than compiling
        (np.zeros((8, 32, 64, 65)), False),  # windows do not tile the input exactly
        (np.asfortranarray(np.zeros((8, 32, 64, 64))), False),
    ],
)
def test_pool_loops_are_used_for_big_2x2_pools_only(x: np.ndarray, used: bool) -> None:
    _, cache = max_pool_forward_fast(x, POOL)
    assert (cache.argmax is not None) is used


def test_pool_loops_leave_a_nan_to_numpy_which_returns_it() -> None:
    """The compiled loops skip NaN; np.max returns it. A NaN anywhere sends the batch the NumPy
    way, whose answer is NaN for that window and the same as the loops' elsewhere."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 2, 6, 8))
    x[1, 0, 2, 3] = np.nan
    with layer_setting("POOL_LOOPS_MIN_ELEMENTS", 0):
        out, cache = max_pool_forward_fast(x, POOL)
        clean = np.nan_to_num(x, nan=-np.inf)
        out_clean, cache_clean = max_pool_forward_fast(clean, POOL)
    assert cache.argmax is None and cache_clean.argmax is not None
    assert np.isnan(out[1, 0, 1, 1]) and np.isnan(out).sum() == 1
    finite = ~np.isnan(out)
    assert np.array_equal(out[finite], out_clean[finite])


def test_pool_gradient_matches_numeric_gradient() -> None:
    rng = np.random.default_rng(2)
    x = rng.permutation(2 * 2 * 6 * 5).reshape(2, 2, 6, 5) / 10.0  # distinct values: no kinks
    pool_param = {"pool_height": 2, "pool_width": 3, "stride": 1}
    out, cache = max_pool_forward_fast(x, pool_param)
    dout = rng.standard_normal(out.shape)
    dx = max_pool_backward_fast(dout, cache)
    dx_num = numeric_gradient_array(lambda x: max_pool_forward_fast(x, pool_param)[0], x, dout)
    assert rel_error(dx, dx_num) < tolerances.REL_ERROR_SMOOTH


# ---------------------------------------------------------------------------------------------
# Splitting the batch over threads
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("batch, elements", [(1, 10**7), (7, 10), (7, 10**7), (64, 10**8)])
def test_split_over_batch_covers_every_item_once(batch: int, elements: int) -> None:
    seen = np.zeros(batch, dtype=int)

    def step(lo: int, hi: int) -> None:
        assert 0 <= lo < hi <= batch
        seen[lo:hi] += 1

    batch_threads.split_over_batch(step, batch, elements)
    np.testing.assert_array_equal(seen, np.ones(batch, dtype=int))


def test_split_over_batch_reraises_errors_from_threads() -> None:
    def step(lo: int, hi: int) -> None:
        if hi == 40:  # the last chunk, whichever thread runs it
            raise RuntimeError("chunk failed")

    with pytest.raises(RuntimeError, match="chunk failed"):
        batch_threads.split_over_batch(step, 40, 10**8)


def test_split_uses_no_more_threads_than_blas_may() -> None:
    """With BLAS held to one thread (as a grading sandbox may do), work is not split."""
    threadpoolctl = pytest.importorskip("threadpoolctl", reason="threadpoolctl is not installed")
    if not batch_threads.blas_threads_limited_per_chunk():
        pytest.skip("threadpoolctl does not know this NumPy's BLAS library")
    calls: list[tuple[int, int]] = []
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        batch_threads.split_over_batch(lambda lo, hi: calls.append((lo, hi)), 8, 10**8)
    assert calls == [(0, 8)]
    blas_threads = max(info["num_threads"] for info in threadpoolctl.threadpool_info())
    if batch_threads.worker_count() > 1 and blas_threads > 1:  # without the limit: split
        calls.clear()
        batch_threads.split_over_batch(lambda lo, hi: calls.append((lo, hi)), 8, 10**8)
        assert len(calls) > 1


_IDLE_CPU_AFTER_A_MULTIPLY = """
import sys, time
if sys.argv[1] == "cs231kit first":
    import cs231kit
import numpy as np
a = np.ones((800, 800))
for _ in range(3):
    a @ a  # a multiply big enough for OpenBLAS to use all its threads
start = time.process_time()
time.sleep(0.3)  # our thread sleeps; any CPU time now is BLAS threads spinning
print(time.process_time() - start)
"""


def test_importing_cs231kit_first_puts_blas_threads_to_sleep_soon_after_a_multiply() -> None:
    """After a multiply, OpenBLAS's idle threads spin ~0.1 s by default, taking cores from the
    fast layers' threads; cs231kit, imported before NumPy, has them sleep almost at once."""
    threadpoolctl = pytest.importorskip("threadpoolctl", reason="threadpoolctl is not installed")
    blas = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    if not blas or blas[0]["internal_api"] != "openblas":
        pytest.skip("needs NumPy with OpenBLAS")

    def idle_cpu_seconds(order: str) -> float:
        settings = ("OPENBLAS_THREAD_TIMEOUT", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
        env = {k: v for k, v in os.environ.items() if k not in settings}
        env["OPENBLAS_NUM_THREADS"] = "2"  # a Dask nanny run earlier in this process sets 1
        done = subprocess.run(
            [sys.executable, "-c", _IDLE_CPU_AFTER_A_MULTIPLY, order],
            capture_output=True, text=True, timeout=120, env=env, check=True,
        )
        return float(done.stdout)

    numpy_first = idle_cpu_seconds("numpy first")  # OpenBLAS's default: they spin
    cs231kit_first = idle_cpu_seconds("cs231kit first")
    assert numpy_first > 0.02, f"expected spinning BLAS threads, saw {numpy_first:.3f} s of CPU"
    assert cs231kit_first < numpy_first / 4, (numpy_first, cs231kit_first)


def test_shorten_blas_idle_spin_keeps_a_value_the_user_set() -> None:
    code = "import os, cs231kit; print(os.environ['OPENBLAS_THREAD_TIMEOUT'])"
    for user_value, expected in (("7", "7"), (None, str(batch_threads.BLAS_IDLE_SPIN_LOG2_CYCLES))):
        env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
        if user_value is not None:
            env["OPENBLAS_THREAD_TIMEOUT"] = user_value
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=60, env=env, check=True)
        assert done.stdout.strip() == expected


def _conv_sum_in_child(queue: Any) -> None:
    x = np.ones((16, 8, 16, 16))
    out, _ = conv_forward_fast(x, np.ones((4, 8, 3, 3)), np.zeros(4), {"stride": 1, "pad": 1})
    queue.put(float(out.sum()))


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="no fork on this platform"
)
def test_split_work_still_runs_in_a_forked_child() -> None:
    """Threads do not survive fork(): a child process must start its own, not wait forever."""
    x = np.ones((16, 8, 16, 16))
    assert x.size * 9 >= batch_threads.MIN_ELEMENTS_TO_SPLIT
    out, _ = conv_forward_fast(x, np.ones((4, 8, 3, 3)), np.zeros(4), {"stride": 1, "pad": 1})
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_conv_sum_in_child, args=(queue,))
    child.start()
    child.join(timeout=60)
    if child.is_alive():
        child.kill()
        pytest.fail("the forked child hung in conv_forward_fast")
    assert queue.get(timeout=5) == float(out.sum())


def test_layers_without_threadpoolctl_run_in_one_chunk_and_agree(tmp_path: Path) -> None:
    """Without threadpoolctl (BLAS threads cannot be limited) the batch is not split for conv."""
    code = """
        import sys
        sys.modules["threadpoolctl"] = None  # as if it were not installed
        import numpy as np
        from cs231kit import batch_threads
        from cs231kit.fast_layers import conv_forward_fast, conv_backward_fast
        calls = []
        batch_threads.split_over_batch(lambda lo, hi: calls.append((lo, hi)), 8, 10**8)
        print(calls)
        rng = np.random.default_rng(0)
        x, w, b = rng.standard_normal((8, 8, 12, 12)), rng.standard_normal((4, 8, 3, 3)), np.ones(4)
        out, cache = conv_forward_fast(x, w, b, {"stride": 1, "pad": 1})
        dx, dw, db = conv_backward_fast(np.ones_like(out), cache)
        np.savez(sys.argv[1], out=out, dx=dx, dw=dw, db=db)
    """
    path = tmp_path / "result.npz"
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[(0, 8)]"
    saved = dict(np.load(path))
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((8, 8, 12, 12)), rng.standard_normal((4, 8, 3, 3)), np.ones(4)
    out, cache = conv_forward_naive(x, w, b, {"stride": 1, "pad": 1})
    dx, dw, db = conv_backward_naive(np.ones_like(out), cache)
    for name, want in [("out", out), ("dx", dx), ("dw", dw), ("db", db)]:
        assert rel_error(saved[name], want) < FLOAT64_TOL, name


def test_fast_layers_write_nothing_to_stderr() -> None:
    """nbgrader scores a test cell with any stderr output as 0: the layers must stay silent."""
    code = """
        import numpy as np
        from cs231kit.fast_layers import (
            conv_backward_fast, conv_forward_fast, max_pool_backward_fast, max_pool_forward_fast,
        )
        x = np.random.default_rng(0).standard_normal((16, 8, 16, 16)).astype(np.float32)
        w, b = np.ones((8, 8, 3, 3), np.float32), np.zeros(8, np.float32)
        out, cache = conv_forward_fast(x, w, b, {"stride": 1, "pad": 1})
        conv_backward_fast(out, cache)
        x_big = np.ones((16, 32, 32, 32), np.float32)  # Winograd's: compiles its transforms
        w_big = np.ones((32, 32, 3, 3), np.float32)
        b_big = np.zeros(32, np.float32)
        big, big_cache = conv_forward_fast(x_big, w_big, b_big, {"stride": 1, "pad": 1})
        assert big_cache.method == "winograd"
        conv_backward_fast(big, big_cache)
        x_few = np.ones((8, 1, 192, 192), np.float32)  # few filters: compiles the direct sums
        w_few, b_few = np.ones((4, 1, 9, 9), np.float32), np.zeros(4, np.float32)
        few, few_cache = conv_forward_fast(x_few, w_few, b_few, {"stride": 2, "pad": 4})
        assert few_cache.method == "direct"
        conv_backward_fast(few, few_cache)
        x_cell = np.ones((100, 3, 31, 31))  # CS231n's cell: compiles col2im
        w_cell, b_cell = np.ones((25, 3, 3, 3)), np.zeros(25)
        cell, cell_cache = conv_forward_fast(x_cell, w_cell, b_cell, {"stride": 2, "pad": 1})
        assert conv_backward_fast(cell, cell_cache)[0] is not None
        out, cache = max_pool_forward_fast(out, {"pool_height": 2, "pool_width": 2, "stride": 2})
        max_pool_backward_fast(out, cache)
        x_pool = np.ones((16, 32, 64, 64), np.float32)  # the compiled loops' size: compiles them
        out, cache = max_pool_forward_fast(x_pool, {"pool_height": 2, "pool_width": 2, "stride": 2})
        assert cache.argmax is not None
        max_pool_backward_fast(out, cache)
    """
    result = subprocess.run(
        [sys.executable, "-W", "default", "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout == ""


# ---------------------------------------------------------------------------------------------
# Clear errors
# ---------------------------------------------------------------------------------------------

X = np.zeros((2, 3, 8, 8))
W = np.zeros((4, 3, 3, 3))
B = np.zeros(4)
CONV = {"stride": 1, "pad": 1}
POOL = {"pool_height": 2, "pool_width": 2, "stride": 2}


@pytest.mark.parametrize(
    "args, error, match",
    [
        ((X[0], W, B, CONV), ValueError, r"x must be 4-D .*\(N, C, H, W\).*got 3-D"),
        ((X, W[0], B, CONV), ValueError, r"w must be 4-D"),
        ((X, np.zeros((4, 2, 3, 3)), B, CONV), ValueError, r"x has C=3 channels but w has 2"),
        ((X, W, np.zeros(3), CONV), ValueError, r"b must have shape \(F,\) = \(4,\)"),
        ((X, W, np.zeros((4, 1)), CONV), ValueError, r"b must have shape"),
        ((X, np.zeros((4, 3, 11, 3)), B, CONV), ValueError, r"11x3 filter is larger than the"),
        ((X, W, B, {"stride": 0, "pad": 1}), ValueError, r"stride'\] must be a positive"),
        ((X, W, B, {"stride": -1, "pad": 1}), ValueError, r"stride'\] must be a positive"),
        ((X, W, B, {"stride": (1, 0), "pad": 1}), ValueError, r"positive integer or a pair"),
        ((X, W, B, {"stride": 1.5, "pad": 1}), ValueError, r"stride'\] must be a positive"),
        ((X, W, B, {"stride": 1, "pad": -1}), ValueError, r"pad'\] must be a non-negative"),
        ((X, W, B, {"stride": 1}), KeyError, r"missing \['pad'\]"),
        ((X, W, B, None), TypeError, r"conv_param must be a dict"),
        (([[1.0]], W, B, CONV), TypeError, r"x must be an array"),
    ],
)
def test_conv_forward_rejects_bad_input(args: tuple, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        conv_forward_fast(*args)


@pytest.mark.parametrize(
    "x, pool_param, match",
    [
        (X[0], POOL, r"x must be 4-D"),
        (X, {"pool_height": 9, "pool_width": 2, "stride": 2}, r"9x2 pooling window is larger"),
        (X, {"pool_height": 2, "pool_width": 2, "stride": 0}, r"stride'\] must be a positive"),
        (X, {"pool_height": 0, "pool_width": 2, "stride": 1}, r"pool_height'\] must be a posit"),
    ],
)
def test_pool_forward_rejects_bad_input(x: np.ndarray, pool_param: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        max_pool_forward_fast(x, pool_param)


def test_backward_rejects_wrong_dout_shape() -> None:
    out, cache = conv_forward_fast(X, W, B, CONV)
    with pytest.raises(ValueError, match=r"dout must have the shape of the forward output"):
        conv_backward_fast(out[:, :2], cache)
    out, cache = max_pool_forward_fast(X, POOL)
    with pytest.raises(ValueError, match=r"dout must have the shape of the forward output"):
        max_pool_backward_fast(out[..., :1], cache)


# ---------------------------------------------------------------------------------------------
# GPU (CuPy): the same layers on GPU arrays
# ---------------------------------------------------------------------------------------------

needs_gpu = pytest.mark.skipif(not gpu_available(), reason="CuPy with a CUDA GPU is not available")


@pytest.mark.gpu
@needs_gpu
def test_conv_and_pool_on_cupy_match_numpy() -> None:
    import cupy

    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, 4, 9, 9))
    w = rng.standard_normal((5, 4, 3, 3))
    b = rng.standard_normal(5)
    conv_param = {"stride": 2, "pad": 1}
    out, cache = conv_forward_fast(x, w, b, conv_param)
    out_gpu, cache_gpu = conv_forward_fast(
        cupy.asarray(x), cupy.asarray(w), cupy.asarray(b), conv_param
    )
    assert isinstance(out_gpu, cupy.ndarray)
    assert rel_error(out_gpu, out) < FLOAT64_TOL
    dout = rng.standard_normal(out.shape)
    for got, want in zip(
        conv_backward_fast(cupy.asarray(dout), cache_gpu),
        conv_backward_fast(dout, cache),
        strict=True,
    ):
        assert isinstance(got, cupy.ndarray)
        assert rel_error(got, want) < FLOAT64_TOL

    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    out, cache = max_pool_forward_fast(x, pool_param)
    out_gpu, cache_gpu = max_pool_forward_fast(cupy.asarray(x), pool_param)
    assert rel_error(out_gpu, out) < FLOAT64_TOL
    dout = rng.standard_normal(out.shape)
    dx_gpu = max_pool_backward_fast(cupy.asarray(dout), cache_gpu)
    assert rel_error(dx_gpu, max_pool_backward_fast(dout, cache)) < FLOAT64_TOL
