"""Plain-Python loops compiled by Numba on first use, or None where that is not possible.

A few jobs in the fast layers are loops over small pieces (Winograd's 4x4 tiles, 2x2 pooling
windows) that NumPy can only do as many passes over memory. Numba compiles such loops, written
as ordinary Python functions over arrays, to machine code. Its absence, or a machine where it
cannot compile, is not an error: ``Kernels.get`` then returns None and the caller uses its NumPy
code instead. Compiling takes about a second per dtype, once per process; a trial run on tiny
inputs checks the compiled code before real data goes through it.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np


class Kernels:
    """A set of loops compiled together, per dtype (float32 or float64).

    - functions: name -> plain-Python function (its compiled version is ``get(dtype).name``)
    - trial: function of a dtype that runs the caller's code on tiny inputs and raises if the
      answer is wrong; it may call ``get(dtype)`` itself
    - fastmath: name -> Numba's fastmath flags for that function (none for the others)
    """

    def __init__(
        self,
        functions: dict[str, Callable[..., Any]],
        trial: Callable[[Any], None],
        fastmath: dict[str, set[str]] | None = None,
    ):
        self.functions = functions
        self.trial = trial
        self.fastmath = fastmath or {}
        self.compiled: dict[np.dtype, Any] = {}  # dtype -> namespace of compiled loops, or None
        self._lock = threading.RLock()  # the trial run inside a first call looks them up again

    def get(self, dtype: Any) -> Any:
        """The compiled loops for dtype, or None (no Numba, no float dtype, or a failed trial)."""
        dtype = np.dtype(dtype)
        with self._lock:
            if dtype not in self.compiled:
                self.compiled[dtype] = self._compile(dtype)
            return self.compiled[dtype]

    def _compile(self, dtype: np.dtype) -> Any:
        if dtype not in (np.float32, np.float64):
            return None
        try:
            import numba
        except ImportError:
            return None
        loops = SimpleNamespace(
            **{
                name: numba.njit(nogil=True, fastmath=self.fastmath.get(name, False))(f)
                for name, f in self.functions.items()
            }
        )
        self.compiled[dtype] = loops
        try:
            with warnings.catch_warnings():  # a warning would be printed in a student's notebook
                warnings.simplefilter("ignore")
                self.trial(dtype)
        except Exception:  # no JIT allowed here, say: the caller's NumPy code does the job
            return None
        finally:
            del self.compiled[dtype]
        return loops


def conv_by_definition(x: Any, w: Any, dout: Any, stride: tuple[int, int],
                       pad: tuple[int, int]) -> tuple[Any, Any, Any]:
    """A convolution layer by its definition, with NumPy: what the trial runs of compiled
    convolution loops check against, on tiny inputs.

    - x: (N, C, H, W); w: (F, C, HH, WW); dout: (N, F, H', W')
    - stride, pad: (along H, along W)

    Returns (out without bias (N, F, H', W'), dw (F, C, HH, WW), dx (N, C, H, W)).
    """
    (sh, sw), (ph, pw) = stride, pad
    H, W = x.shape[2:]
    HH, WW = w.shape[2:]
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (HH, WW), axis=(2, 3))
    windows = windows[:, :, ::sh, ::sw]  # (N, C, H', W', HH, WW)
    out = np.einsum("ncyxij,fcij->nfyx", windows, w)
    dw = np.einsum("ncyxij,nfyx->fcij", windows, dout)
    dx_padded = np.zeros_like(padded)
    for y in range(dout.shape[2]):
        for x_ in range(dout.shape[3]):
            window_grad = np.einsum("nf,fcij->ncij", dout[:, :, y, x_], w)
            dx_padded[:, :, sh * y : sh * y + HH, sw * x_ : sw * x_ + WW] += window_grad
    return out, dw, dx_padded[:, :, ph : ph + H, pw : pw + W]
