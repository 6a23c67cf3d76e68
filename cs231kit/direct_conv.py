"""Direct convolution for layers with few filters: no im2col matrix, sums over whole rows.

im2col copies every receptive field into a matrix with C*HH*WW rows, HH*WW / (S_h*S_w) times
bigger than the input (20x for 9x9 filters at stride 2). With many filters the matrix
multiply that follows is worth that copy; with few filters (4, say) the multiply is tiny and the
time goes to writing and reading the big matrix, and in the backward pass to adding it back onto
the input (col2im). Here the sums of the definition are done directly instead,

    out[n, f, y, x] = b[f] + sum over c, i, j of w[f, c, i, j] * x_pad[n, c, S_h*y + i, S_w*x + j],

as loops compiled by Numba, arranged so that every inner loop runs over long stretches of
contiguous memory, which the compiler turns into vector instructions:

1. Stride phases. Split the padded input into its S_h*S_w phases, one per offset (a, b) inside a
   stride: phase[a, b][u, v] = x_pad[S_h*u + a, S_w*v + b]. Filter tap (i, j) then reads phase
   (i % S_h, j % S_w) at rows y + i // S_h, columns x + j // S_w: a stride-1 read, whole rows.
2. Whole planes, not rows. A phase of width Wq is stored flat, so its rows follow each other.
   Tap (i, j) reads, for all outputs (y, x) at once, the Wq*H' entries starting at flat position
   (i // S_h) * Wq + j // S_w. Outputs are computed Wq wide too; columns W'..Wq-1 of each output
   row read into the next row and are dropped. So one tap is one long multiply-add,
   out_flat[f, :] += w[f, c, i, j] * phase_flat[c, a, b, offset : offset + H'*Wq].

Every pass is such a list of taps, each (a plane, an offset, a weight per output plane):

- forward: output planes f, taps (c, i, j) on the input's phases (``correlate``);
- dw[f, c, i, j] = sum of dout_flat[f, :] * phase_flat[c, a, b, offset : offset + H'*Wq], the same
  taps with dout (zero in the dropped columns) in place of the output (``correlate_gradient``);
- dx: each phase (a, b) of the padded input's gradient is a stride-1 correlation of dout, padded,
  with the taps i = a + S_h*k, j = b + S_w*l of the filters (``input_gradient``).

``cs231kit.fast_layers`` uses this module for big layers with few filters when Numba is
installed; smaller layers stay with im2col, which needs no compiling.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from cs231kit.compiled_loops import Kernels, conv_by_definition
from cs231kit.layer_geometry import ConvGeometry, conv_geometry
from cs231kit.scratch_buffers import scratch

# Outputs are computed in blocks of this many flat positions, so that the block of every output
# plane stays in the CPU's fastest cache while all taps add onto it.
BLOCK = 512

__all__ = [
    "kernels",
    "Taps",
    "PhaseLayout",
    "phase_layout",
    "forward_taps",
    "split_phases",
    "correlate",
    "filter_gradient",
    "input_gradient_taps",
    "input_gradient",
]


class PhaseLayout(NamedTuple):
    """Sizes of the stride phases of a layer's padded input (see the module docstring).

    - rows, width: Hq = ceil((H + 2*P_h) / S_h) and Wq = ceil((W + 2*P_w) / S_w), a phase's size
    - length: entries per stored phase: rows*width and the few that the last taps read past it
    """

    rows: int
    width: int
    length: int


class Taps(NamedTuple):
    """A pass as a list of Q taps: tap q reads plane planes[q] from flat position offsets[q].

    - planes, offsets: (Q,) int64
    - weights: (O, Q), one weight per output plane and tap, C-contiguous
    """

    planes: Any
    offsets: Any
    weights: Any


def kernels(dtype: Any) -> Any:
    """The loops compiled by Numba for dtype (float32 or float64), or None when Numba is not
    installed or cannot compile here (see ``cs231kit/compiled_loops.py``)."""
    return KERNELS.get(dtype)


def phase_layout(g: ConvGeometry) -> PhaseLayout:
    """The sizes of the stride phases of layer g's padded input."""
    rows = -(-(g.H + 2 * g.pad_h) // g.stride_h)
    width = -(-(g.W + 2 * g.pad_w) // g.stride_w)
    # Tap (i, j) reads H'*width entries from (i // S_h)*width + j // S_w; the last tap's read
    # ends at most ceil(WW / S_w) - 1 entries past rows*width.
    return PhaseLayout(rows, width, rows * width + -(-g.WW // g.stride_w))


def forward_taps(w: Any, g: ConvGeometry) -> Taps:
    """The forward pass's taps: one per (c, i, j), in w's row-major order; weights (F, C*HH*WW)."""
    width = phase_layout(g).width
    c, i, j = np.meshgrid(np.arange(g.C), np.arange(g.HH), np.arange(g.WW), indexing="ij")
    planes = (c * g.stride_h + i % g.stride_h) * g.stride_w + j % g.stride_w
    offsets = (i // g.stride_h) * width + j // g.stride_w
    return Taps(planes.ravel(), offsets.ravel(), w.reshape(g.F, -1))


def split_phases(x: Any, g: ConvGeometry, phases: Any) -> None:
    """Write the stride phases of x padded (see the module docstring) into phases.

    - x: (n, C, H, W) C-contiguous, in phases' dtype
    - phases: (n, C*S_h*S_w, length) from ``phase_layout``; plane (c*S_h + a)*S_w + b is phase
      (a, b) of channel c, flat; written, the entries past rows*width with zeros
    """
    layout = phase_layout(g)
    kernels(phases.dtype).split_phases(
        x, g.pad_h, g.pad_w, g.stride_h, g.stride_w, layout.rows, layout.width, phases
    )


def correlate(phases: Any, taps: Taps, bias: Any, g: ConvGeometry, out: Any) -> None:
    """Forward pass of one chunk of images.

    - phases: (n, C*S_h*S_w, length) from ``split_phases``
    - taps: from ``forward_taps``; bias: (F,)
    - out: (n, F, H', W'), written
    """
    n, width = phases.shape[0], phase_layout(g).width
    flat = scratch("direct conv out", (n, g.F, g.H_out * width), phases.dtype, phases)
    kernels(phases.dtype).correlate(phases, *taps, flat)
    rows = flat.reshape(n, g.F, g.H_out, width)[:, :, :, : g.W_out]  # drop the extra columns
    np.add(rows, bias.reshape(-1, 1, 1), out=out)


def filter_gradient(phases: Any, dout: Any, taps: Taps, g: ConvGeometry) -> Any:
    """dL/dw summed over one chunk of images.

    - phases: (n, C*S_h*S_w, length) of the chunk's input; taps: from ``forward_taps``
    - dout: (n, F, H', W')

    Returns dw: (F, C, HH, WW), a new array in phases' dtype.
    """
    n, width = phases.shape[0], phase_layout(g).width
    flat = scratch("direct conv dout", (n, g.F, g.H_out, width), phases.dtype, phases)
    flat[:, :, :, : g.W_out] = dout
    flat[:, :, :, g.W_out :] = 0  # the extra columns: their products must add nothing
    dw = np.zeros((g.F, g.C * g.HH * g.WW), phases.dtype)
    kernels(phases.dtype).correlate_gradient(
        phases, taps.planes, taps.offsets, flat.reshape(n, g.F, -1), dw
    )
    return dw.reshape(g.F, g.C, g.HH, g.WW)


def input_gradient_taps(w: Any, g: ConvGeometry) -> list[tuple[int, int, Taps]]:
    """The taps of dx, per phase (a, b) of the padded input: [(a, b, taps)], weights (C, Q).

    Phase (a, b) of dx_pad at (u, v) sums w[f, c, a + S_h*k, b + S_w*l] * dout[f, u - k, v - l]
    over f, k, l. dout is stored padded (``input_gradient``) with Kh - 1 = ceil(HH/S_h) - 1 zero
    rows above, Kw - 1 zero columns left and rows of width Wd = Wq + Kw - 1, so dout[f, u - k,
    v - l] sits at flat position (Kh - 1 - k)*Wd + Kw - 1 - l + (u*Wd + v) of plane f.
    """
    Kh, Kw, Wd = _padded_dout_layout(g)
    phases = []
    for a in range(g.stride_h):
        for b in range(g.stride_w):
            f, k, l = np.meshgrid(
                np.arange(g.F),
                np.arange(-(-(g.HH - a) // g.stride_h)),
                np.arange(-(-(g.WW - b) // g.stride_w)),
                indexing="ij",
            )
            weights = w[f, :, a + g.stride_h * k, b + g.stride_w * l]  # (F, Kh_a, Kw_b, C)
            offsets = (Kh - 1 - k) * Wd + Kw - 1 - l
            weights = np.ascontiguousarray(weights.reshape(-1, g.C).T)  # (C, Q)
            phases.append((a, b, Taps(f.ravel(), offsets.ravel(), weights)))
    return phases


def _padded_dout_layout(g: ConvGeometry) -> tuple[int, int, int]:
    """How dx's passes store dout (see ``input_gradient_taps``): (Kh, Kw, Wd), the most taps
    a phase has along H and W, Kh = ceil(HH / S_h) and Kw = ceil(WW / S_w), and the row width
    Wd = Wq + Kw - 1."""
    Kh, Kw = -(-g.HH // g.stride_h), -(-g.WW // g.stride_w)
    return Kh, Kw, phase_layout(g).width + Kw - 1


def input_gradient(dout: Any, phase_taps: list, g: ConvGeometry, dx: Any) -> None:
    """dL/dx of one chunk of images.

    - dout: (n, F, H', W')
    - phase_taps: from ``input_gradient_taps``
    - dx: (n, C, H, W), written
    """
    n, dtype = dout.shape[0], dx.dtype
    layout = phase_layout(g)
    Kh, Kw, Wd = _padded_dout_layout(g)
    rows = layout.rows + Kh - 1
    padded = scratch("direct conv dout padded", (n, g.F, rows * Wd + Kw - 1), dtype, dout)
    padded[...] = 0
    grid = padded[:, :, : rows * Wd].reshape(n, g.F, rows, Wd)
    grid[:, :, Kh - 1 : Kh - 1 + g.H_out, Kw - 1 : Kw - 1 + g.W_out] = dout
    phase = scratch("direct conv dx phase", (n, g.C, layout.rows * Wd), dtype, dout)
    phase_grid = phase.reshape(n, g.C, layout.rows, Wd)
    for a, b, taps in phase_taps:
        # dx[Y, X] is phase (a, b) of dx_pad at u = (Y + P_h) // S_h, v = (X + P_w) // S_w,
        # for the rows Y with (Y + P_h) % S_h == a and columns X with (X + P_w) % S_w == b.
        Y0, X0 = (a - g.pad_h) % g.stride_h, (b - g.pad_w) % g.stride_w
        ny, nx = len(range(Y0, g.H, g.stride_h)), len(range(X0, g.W, g.stride_w))
        if ny == 0 or nx == 0:
            continue
        kernels(dtype).correlate(padded, *taps, phase)
        u0, v0 = (Y0 + g.pad_h) // g.stride_h, (X0 + g.pad_w) // g.stride_w
        dx[:, :, Y0 :: g.stride_h, X0 :: g.stride_w] = phase_grid[
            :, :, u0 : u0 + ny, v0 : v0 + nx
        ]


# ---------------------------------------------------------------------------------------------
# The loops (compiled by Numba; see ``kernels``)
# ---------------------------------------------------------------------------------------------


def _split_phases(x: Any, pad_h: int, pad_w: int, sh: int, sw: int, rows: int, width: int,
                  phases: Any) -> None:
    """phases[m, (c*sh + a)*sw + b, u*width + v] = x_pad[m, c, sh*u + a, sw*v + b]; zeros past
    the input and after rows*width."""
    n, C, H, W = x.shape
    for m in range(n):
        for c in range(C):
            for a in range(sh):
                for b in range(sw):
                    plane = phases[m, (c * sh + a) * sw + b]
                    plane[rows * width :] = 0
                    for u in range(rows):
                        row = plane[u * width : (u + 1) * width]
                        Y = sh * u + a - pad_h
                        if Y < 0 or Y >= H:
                            row[:] = 0
                            continue
                        x_row = x[m, c, Y]
                        for v in range(width):
                            X = sw * v + b - pad_w
                            row[v] = x_row[X] if 0 <= X < W else 0


def _correlate(src: Any, planes: Any, offsets: Any, weights: Any, dst: Any) -> None:
    """dst[m, o, t] = sum over taps q of weights[o, q] * src[m, planes[q], offsets[q] + t].

    Output planes go four at a time, so each value read from src is used four times; the last
    few output planes (all of them when there are fewer than four) take taps four at a time
    instead, so each value of dst is read and written once per four taps.
    """
    n, O, T = dst.shape
    Q = planes.shape[0]
    O4, Q4 = O - O % 4, Q - Q % 4  # the output planes and taps that go four at a time
    for m in range(n):
        for t0 in range(0, T, BLOCK):
            t1 = min(t0 + BLOCK, T)
            for o in range(O):
                dst[m, o, t0:t1] = 0
            for o in range(0, O4, 4):
                d0, d1 = dst[m, o, t0:t1], dst[m, o + 1, t0:t1]
                d2, d3 = dst[m, o + 2, t0:t1], dst[m, o + 3, t0:t1]
                for q in range(Q):
                    s = src[m, planes[q], offsets[q] + t0 : offsets[q] + t1]
                    w0, w1 = weights[o, q], weights[o + 1, q]
                    w2, w3 = weights[o + 2, q], weights[o + 3, q]
                    for t in range(t1 - t0):
                        v = s[t]
                        d0[t] += w0 * v
                        d1[t] += w1 * v
                        d2[t] += w2 * v
                        d3[t] += w3 * v
            for o in range(O4, O):
                d = dst[m, o, t0:t1]
                for q in range(0, Q4, 4):
                    s0 = src[m, planes[q], offsets[q] + t0 : offsets[q] + t1]
                    s1 = src[m, planes[q + 1], offsets[q + 1] + t0 : offsets[q + 1] + t1]
                    s2 = src[m, planes[q + 2], offsets[q + 2] + t0 : offsets[q + 2] + t1]
                    s3 = src[m, planes[q + 3], offsets[q + 3] + t0 : offsets[q + 3] + t1]
                    w0, w1 = weights[o, q], weights[o, q + 1]
                    w2, w3 = weights[o, q + 2], weights[o, q + 3]
                    for t in range(t1 - t0):
                        d[t] += w0 * s0[t] + w1 * s1[t] + w2 * s2[t] + w3 * s3[t]
                for q in range(Q4, Q):
                    s0 = src[m, planes[q], offsets[q] + t0 : offsets[q] + t1]
                    w0 = weights[o, q]
                    for t in range(t1 - t0):
                        d[t] += w0 * s0[t]


def _correlate_gradient(src: Any, planes: Any, offsets: Any, ddst: Any, dweights: Any) -> None:
    """dweights[o, q] += sum over m, t of ddst[m, o, t] * src[m, planes[q], offsets[q] + t]:
    the gradient of ``_correlate`` with respect to its weights. Output planes four at a time,
    as there."""
    n, O, T = ddst.shape
    Q = planes.shape[0]
    O4 = O - O % 4
    for m in range(n):
        for t0 in range(0, T, BLOCK):
            t1 = min(t0 + BLOCK, T)
            for q in range(Q):
                s = src[m, planes[q], offsets[q] + t0 : offsets[q] + t1]
                for o in range(0, O4, 4):
                    d0, d1 = ddst[m, o, t0:t1], ddst[m, o + 1, t0:t1]
                    d2, d3 = ddst[m, o + 2, t0:t1], ddst[m, o + 3, t0:t1]
                    a0 = a1 = a2 = a3 = s[0] * 0
                    for t in range(t1 - t0):
                        v = s[t]
                        a0 += d0[t] * v
                        a1 += d1[t] * v
                        a2 += d2[t] * v
                        a3 += d3[t] * v
                    dweights[o, q] += a0
                    dweights[o + 1, q] += a1
                    dweights[o + 2, q] += a2
                    dweights[o + 3, q] += a3
                for o in range(O4, O):
                    d = ddst[m, o, t0:t1]
                    a0 = s[0] * 0
                    for t in range(t1 - t0):
                        a0 += d[t] * s[t]
                    dweights[o, q] += a0


def _trial_run(dtype: Any) -> None:
    """Compile the loops with the argument types of real calls and check one small layer with
    stride (2, 3), against the definition."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 9, 8)).astype(dtype)
    w = rng.standard_normal((5, 3, 3, 4)).astype(dtype)
    b = rng.standard_normal((5,)).astype(dtype)
    g = conv_geometry(x, w, b, {"stride": (2, 3), "pad": (1, 2)})
    phases = np.empty((2, 3 * 2 * 3, phase_layout(g).length), dtype)
    split_phases(x, g, phases)
    taps = forward_taps(w, g)
    out = np.empty((2, 5, g.H_out, g.W_out), dtype)
    correlate(phases, taps, b, g, out)
    dout = rng.standard_normal((2, 5, g.H_out, g.W_out)).astype(dtype)
    dw = filter_gradient(phases, dout, taps, g)
    dx = np.empty_like(x)
    input_gradient(dout, input_gradient_taps(w, g), g, dx)
    want_out, want_dw, want_dx = conv_by_definition(x, w, dout, (2, 3), (1, 2))
    want_out += b.reshape(-1, 1, 1)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    for got, want in ((out, want_out), (dw, want_dw), (dx, want_dx)):
        if not np.allclose(got, want, atol=tol):
            raise ArithmeticError("compiled direct convolution disagrees with the definition")


# Vector instructions need two liberties: multiply and add fused into one instruction
# ("contract", one rounding instead of two), and sums taken in a different order ("reassoc").
KERNELS = Kernels(
    {
        "split_phases": _split_phases,
        "correlate": _correlate,
        "correlate_gradient": _correlate_gradient,
    },
    _trial_run,
    fastmath={"correlate": {"contract"}, "correlate_gradient": {"contract", "reassoc"}},
)
