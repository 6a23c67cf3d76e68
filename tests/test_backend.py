"""Array backend selection: NumPy default, CuPy when asked and possible, clear fallback/errors.

Start-up behaviour (environment variable, the once-only fallback message, lazy CuPy import) is
checked in fresh Python processes, since it happens once per process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from cs231kit import backend
from cs231kit.backend import (
    BACKEND_ENV,
    BackendError,
    array_module,
    get_array_module,
    get_backend,
    gpu_available,
    set_backend,
    to_device,
    to_numpy,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
needs_no_gpu = pytest.mark.skipif(
    gpu_available(), reason="CuPy runs on this machine, so there is no fallback to observe"
)


def run_python(code: str, env_value: str | None = None, extra_path: Path | None = None):
    """Run code in a fresh interpreter; returns the CompletedProcess (stdout, stderr, rc)."""
    env = dict(os.environ)
    env.pop(BACKEND_ENV, None)
    if env_value is not None:
        env[BACKEND_ENV] = env_value
    paths = [str(p) for p in (extra_path, REPO_ROOT) if p is not None]
    env["PYTHONPATH"] = os.pathsep.join(paths + [env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.fixture
def restore_backend() -> Iterator[None]:
    before = get_backend()
    yield
    set_backend(before)


@pytest.fixture
def cupy_without_gpu(tmp_path: Path) -> Path:
    """A stand-in ``cupy`` package, as on a machine with CuPy installed but no usable GPU.

    Importing it leaves a trace in sys.modules; asking it for devices fails like CUDA does
    when there is no driver.
    """
    package = tmp_path / "cupy"
    (package / "cuda").mkdir(parents=True)
    (package / "__init__.py").write_text("from . import cuda\n")
    (package / "cuda" / "__init__.py").write_text(
        "class runtime:\n"
        "    @staticmethod\n"
        "    def getDeviceCount():\n"
        "        raise RuntimeError('cudaErrorInsufficientDriver: CUDA driver is too old')\n"
    )
    return tmp_path


# ---------------------------------------------------------------------------------------------
# Default and environment variable
# ---------------------------------------------------------------------------------------------


def test_default_backend_is_numpy() -> None:
    result = run_python(
        """
        import numpy as np
        from cs231kit.backend import get_backend, array_module
        print(get_backend(), array_module() is np)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["numpy", "True"]
    assert result.stderr == ""


def test_importing_cs231kit_does_not_import_cupy(cupy_without_gpu: Path) -> None:
    result = run_python(
        """
        import sys
        import cs231kit, cs231kit.backend, cs231kit.fast_layers, cs231kit.im2col
        cs231kit.backend.get_backend()
        print("cupy" in sys.modules)
        """,
        extra_path=cupy_without_gpu,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@needs_no_gpu
def test_env_cupy_without_gpu_falls_back_with_one_stdout_message() -> None:
    result = run_python(
        """
        from cs231kit.backend import get_backend, set_backend, array_module
        print("backend:", get_backend())
        set_backend("cupy")
        set_backend("cupy")
        print("module:", array_module().__name__)
        """,
        env_value="cupy",
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # nbgrader would score a cell with stderr output 0
    lines = result.stdout.splitlines()
    notices = [line for line in lines if "CuPy backend was requested" in line]
    assert len(notices) == 1, result.stdout
    assert "pip install cs231kit[gpu]" in notices[0]
    assert "backend: numpy" in lines and "module: numpy" in lines


def test_fallback_message_names_missing_device(cupy_without_gpu: Path) -> None:
    result = run_python(
        """
        from cs231kit.backend import set_backend, gpu_available
        print(gpu_available())
        print(set_backend("cupy").__name__)
        """,
        extra_path=cupy_without_gpu,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    out = result.stdout
    assert out.splitlines()[0] == "False"
    assert "cannot reach a CUDA device" in out and "CUDA driver is too old" in out
    assert out.splitlines()[-1] == "numpy"


@needs_no_gpu
def test_env_auto_without_gpu_is_numpy_and_silent() -> None:
    result = run_python(
        "from cs231kit.backend import get_backend; print(get_backend())", env_value="auto"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "numpy"
    assert result.stderr == ""


@needs_no_gpu
def test_env_cupy_required_without_gpu_raises_backend_error() -> None:
    result = run_python(
        """
        from cs231kit.backend import BackendError, array_module
        try:
            array_module()
        except BackendError as exc:
            print("BackendError:", exc)
        """,
        env_value="cupy-required",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("BackendError: a GPU backend was required but")
    assert "pip install cs231kit[gpu]" in result.stdout


def test_env_unknown_name_is_a_clear_error() -> None:
    result = run_python("from cs231kit.backend import get_backend; get_backend()", "gpu please")
    assert result.returncode != 0
    assert "environment variable CS231KIT_BACKEND: unknown backend 'gpu please'" in result.stderr
    assert "numpy, cupy, auto, cupy-required" in result.stderr


# ---------------------------------------------------------------------------------------------
# set_backend in this process
# ---------------------------------------------------------------------------------------------


@needs_no_gpu
def test_require_gpu_without_gpu_raises(restore_backend: None) -> None:
    set_backend("numpy")
    with pytest.raises(BackendError, match=r"a GPU backend was required but"):
        set_backend("cupy", require_gpu=True)
    with pytest.raises(BackendError, match=r"pip install cs231kit\[gpu\]"):
        set_backend("cupy-required")
    assert get_backend() == "numpy"  # a failed demand leaves the backend unchanged


def test_set_backend_numpy(restore_backend: None, capsys: pytest.CaptureFixture) -> None:
    assert set_backend("NumPy") is np
    assert get_backend() == "numpy"
    assert array_module() is np
    assert capsys.readouterr().out == ""


def test_set_backend_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match=r"unknown backend 'torch'; choose one of numpy, cupy"):
        set_backend("torch")
    with pytest.raises(ValueError, match=r"contradicts itself"):
        set_backend("numpy", require_gpu=True)


def test_backend_error_is_a_runtime_error() -> None:
    assert issubclass(BackendError, RuntimeError)
    assert backend.BACKEND_ENV == "CS231KIT_BACKEND"


# ---------------------------------------------------------------------------------------------
# Moving arrays
# ---------------------------------------------------------------------------------------------


def test_to_device_and_to_numpy_round_trip_on_numpy(restore_backend: None) -> None:
    set_backend("numpy")
    data = [[1.5, 2.0], [3.0, -4.25]]
    x = to_device(data, dtype=np.float32)
    assert isinstance(x, np.ndarray) and x.dtype == np.float32 and x.shape == (2, 2)
    back = to_numpy(x)
    assert back is x  # already on the host: no copy
    np.testing.assert_array_equal(back, np.array(data, dtype=np.float32))
    y = np.arange(6.0).reshape(2, 3)
    assert to_device(y) is y
    assert to_device(y, dtype=np.float64) is y
    assert to_device(y, dtype=np.float32).dtype == np.float32


def test_get_array_module_of_host_data_is_numpy() -> None:
    assert get_array_module(np.zeros(3)) is np
    assert get_array_module(np.zeros(3), None, 2.0, [1, 2]) is np
    assert get_array_module() is np


@pytest.mark.gpu
@pytest.mark.skipif(not gpu_available(), reason="CuPy with a CUDA GPU is not available")
def test_cupy_round_trip(restore_backend: None) -> None:
    import cupy

    assert set_backend("cupy") is cupy
    assert get_backend() == "cupy" and array_module() is cupy
    x = to_device(np.arange(6.0).reshape(2, 3), dtype=np.float32)
    assert isinstance(x, cupy.ndarray) and x.dtype == np.float32
    assert get_array_module(np.zeros(2), x) is cupy
    back = to_numpy(x * 2)
    assert isinstance(back, np.ndarray)
    np.testing.assert_array_equal(back, np.arange(6.0).reshape(2, 3) * 2)
