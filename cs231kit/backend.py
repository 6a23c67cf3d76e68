"""Choose the array library: NumPy on the CPU (the default) or CuPy on an NVIDIA GPU.

CuPy mirrors NumPy's API, so the same code runs on either: write ``xp = get_array_module(x)``
and call ``xp.zeros``, ``xp.maximum``, ... instead of ``np.zeros``, ``np.maximum``.

Picking a backend, from the environment variable ``CS231KIT_BACKEND`` or with ``set_backend``:

- ``"numpy"`` (default): NumPy on the CPU.
- ``"cupy"``: CuPy on the GPU if CuPy and a CUDA device are there. If not, cs231kit falls back to
  NumPy and prints one line on stdout saying why and what to install (``pip install
  cs231kit[gpu]``). It prints on stdout, not as a warning on stderr, because nbgrader scores a
  test cell with any stderr output as 0.
- ``"auto"``: CuPy if it can run, otherwise NumPy, silently.
- ``"cupy-required"`` (or ``set_backend("cupy", require_gpu=True)``): CuPy, and raise
  ``BackendError`` if it cannot run, for scripts that would be too slow on a CPU.

Importing cs231kit never imports CuPy; it is imported only when a GPU backend is asked for.

Example:

    >>> from cs231kit.backend import set_backend, to_device, to_numpy
    >>> xp = set_backend("auto")           # cupy on a GPU machine, numpy elsewhere
    >>> x = to_device(np.arange(6.0))      # a CuPy array on the GPU, or the NumPy array itself
    >>> to_numpy(x * 2)                    # back on the host as NumPy, for printing or plotting
    array([ 0.,  2.,  4.,  6.,  8., 10.])
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Any

import numpy as np

BACKEND_ENV = "CS231KIT_BACKEND"

#: Every accepted backend name (environment variable or ``set_backend``).
BACKEND_NAMES = ("numpy", "cupy", "auto", "cupy-required")

GPU_INSTALL_HINT = "pip install cs231kit[gpu]"


class BackendError(RuntimeError):
    """A GPU (CuPy) backend was demanded but cannot run on this machine."""


# The active backend, "numpy" or "cupy"; None until first use (then read from the environment).
_active: str | None = None
# The fallback message is printed at most once per process.
_fallback_reported = False


def set_backend(name: str, *, require_gpu: bool = False) -> ModuleType:
    """Select the array library that cs231kit creates new arrays with.

    Inputs:
    - name: "numpy", "cupy", "auto" or "cupy-required" (see the module docstring)
    - require_gpu: if True, raise BackendError instead of falling back to NumPy when CuPy
      cannot run (same as the name "cupy-required")

    Returns the array module now in use: ``numpy`` or ``cupy``.
    """
    global _active
    key = _normalise_name(name, source="set_backend")
    if key == "numpy":
        if require_gpu:
            raise ValueError(
                "set_backend('numpy', require_gpu=True) contradicts itself; "
                "use set_backend('cupy', require_gpu=True) to demand the GPU."
            )
        _active = "numpy"
        return np
    problem = _gpu_problem()
    if problem is None:
        _active = "cupy"
        return _import_cupy()
    if key == "cupy-required" or require_gpu:
        raise BackendError(
            f"a GPU backend was required but {problem}. Install CuPy for your CUDA version "
            f"({GPU_INSTALL_HINT}) on a machine with an NVIDIA GPU, or use the 'numpy' backend."
        )
    if key == "cupy":  # "auto" falls back silently: it never promised a GPU
        _report_fallback(problem)
    _active = "numpy"
    return np


def get_backend() -> str:
    """The name of the active backend: "numpy" or "cupy"."""
    if _active is None:
        _init_from_environment()
    assert _active is not None
    return _active


def array_module() -> ModuleType:
    """The active array module (``numpy`` or ``cupy``), for creating arrays: ``xp.zeros(...)``."""
    return _import_cupy() if get_backend() == "cupy" else np


def get_array_module(*arrays: Any) -> ModuleType:
    """The array module that the given arrays live on.

    Inputs:
    - arrays: any number of arrays (NumPy or CuPy), scalars or None

    Returns ``cupy`` if any of them is a CuPy array, else ``numpy``. Unlike ``array_module()`` this
    looks at the data, not at the chosen backend, so a layer runs wherever its input already is.
    """
    for a in arrays:
        if _is_cupy_array(a):
            return _import_cupy()
    return np


def to_numpy(a: Any) -> np.ndarray:
    """Copy an array to the host as a NumPy array (a NumPy input is returned as is).

    Inputs:
    - a: NumPy or CuPy array, or anything ``np.asarray`` accepts

    Returns a NumPy ndarray with the same shape and dtype.
    """
    if _is_cupy_array(a):
        return a.get()
    return np.asarray(a)


def to_device(a: Any, dtype: Any = None) -> Any:
    """Put an array on the active backend (the GPU for "cupy", the host for "numpy").

    Inputs:
    - a: NumPy or CuPy array, or anything ``np.asarray`` accepts
    - dtype: optional dtype to convert to (e.g. np.float32)

    Returns an array of the active array module, same shape; no copy if nothing has to change.
    """
    if get_backend() == "cupy":
        return _import_cupy().asarray(a, dtype=dtype)
    return np.asarray(to_numpy(a), dtype=dtype)


def gpu_available() -> bool:
    """True if CuPy is installed and sees at least one CUDA device."""
    return _gpu_problem() is None


# ---------------------------------------------------------------------------------------------
# Internals
# ---------------------------------------------------------------------------------------------


def _normalise_name(name: Any, *, source: str) -> str:
    key = str(name).strip().lower()
    if key not in BACKEND_NAMES:
        raise ValueError(
            f"{source}: unknown backend {name!r}; choose one of {', '.join(BACKEND_NAMES)}."
        )
    return key


def _init_from_environment() -> None:
    value = os.environ.get(BACKEND_ENV, "").strip()
    if not value:
        global _active
        _active = "numpy"
        return
    set_backend(_normalise_name(value, source=f"environment variable {BACKEND_ENV}"))


def _is_cupy_array(a: Any) -> bool:
    # Look at the type's module instead of importing CuPy: an array from CuPy means CuPy is loaded.
    return type(a).__module__.split(".")[0] == "cupy"


def _import_cupy() -> ModuleType:
    return importlib.import_module("cupy")


def _gpu_problem() -> str | None:
    """None if CuPy can run here, else a short reason why not."""
    try:
        cupy = _import_cupy()
    except ImportError:
        return "CuPy is not installed"
    try:
        count = int(cupy.cuda.runtime.getDeviceCount())
    except Exception as exc:  # CUDA raises its own error types when there is no driver
        return f"CuPy cannot reach a CUDA device ({type(exc).__name__}: {exc})"
    if count < 1:
        return "CuPy found no CUDA device"
    return None


def _report_fallback(problem: str) -> None:
    global _fallback_reported
    if _fallback_reported:
        return
    _fallback_reported = True
    print(
        f"cs231kit: the CuPy backend was requested but {problem}; using NumPy on the CPU. "
        f"For the GPU, install CuPy on a machine with an NVIDIA GPU: {GPU_INSTALL_HINT}",
        flush=True,
    )
