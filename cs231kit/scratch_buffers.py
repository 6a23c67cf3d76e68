"""Reusable per-thread work arrays for the fast layers' temporaries.

Why: a freshly allocated large array costs far more than its size suggests the first time it is
written, because the operating system hands out and zeroes its memory page by page (measured
here: filling a new 40 MB array took ~6x longer than filling one that was used before). The
fast layers process the batch in chunks of a few MB and need the same temporaries (padded
images, im2col matrices) for every chunk and every call, so each thread keeps one buffer per
purpose and reuses it. Reused buffers are also still in the CPU cache.

Only temporaries live here: nothing handed back to the caller is ever a scratch buffer.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from cs231kit.backend import get_array_module

# Buffers larger than this are not kept after use (they would pin a lot of memory).
MAX_KEPT_BYTES = 64 << 20

_local = threading.local()


def scratch(name: str, shape: tuple[int, ...], dtype: Any, like: Any) -> Any:
    """An uninitialised C-contiguous array for temporary use by the calling thread.

    Inputs:
    - name: what the buffer is for; two temporaries that are alive at the same time need
      different names
    - shape, dtype: of the array wanted
    - like: an array on the device to allocate on (NumPy or CuPy)

    Returns an array of that shape and dtype. On NumPy it is a view of a buffer that this thread
    gets back on its next request with the same name, so use it only until then. CuPy arrays are
    allocated normally (CuPy keeps its own memory pool).
    """
    xp = get_array_module(like)
    if xp is not np:
        return xp.empty(shape, dtype=dtype)
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if nbytes > MAX_KEPT_BYTES:
        return np.empty(shape, dtype=dtype)
    buffers: dict[str, np.ndarray] = _local.__dict__.setdefault("buffers", {})
    buffer = buffers.get(name)
    if buffer is None or buffer.nbytes < nbytes:
        buffer = np.empty(nbytes, dtype=np.uint8)
        buffers[name] = buffer
    return buffer[:nbytes].view(dtype).reshape(shape)
