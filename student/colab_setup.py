"""Get a Google Colab session ready for the a2 notebooks; their first cell calls ``setup_colab``.

Put the unzipped ``a2-student`` folder in your Google Drive. The first cell of each notebook mounts
the Drive, imports this file from that folder and calls :func:`setup_colab`, which

1. installs the course library from the wheel beside this file (``cs231kit-*.whl``) unless that
   version is installed already (Colab has NumPy, Matplotlib and Jupyter; nothing is downloaded);
2. makes ``a2/`` beside this file the working directory: later notebooks load your answers from
   earlier ones, and the pre-submission check finds all of them there;
3. keeps the data in ``datasets/`` beside this file, on your Drive, so CIFAR-10 is downloaded once
   rather than once per session (``CS231KIT_DATA_DIR``);
4. runs the fast layers on the GPU (``CS231KIT_BACKEND=cupy``) when the session has one
   (Runtime > Change runtime type > GPU; Colab comes with CuPy).

Only the standard library is used until the wheel is installed.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

FOLDER = Path(__file__).absolute().parent  # as mounted: /content/drive/MyDrive/...


@dataclass(frozen=True)
class ColabSetup:
    """What :func:`setup_colab` did."""

    version: str  # of the cs231kit now installed
    installed: bool  # True when this call installed it
    workdir: Path  # the notebooks' folder, now the working directory
    data_dir: Path  # where the data lives (CS231KIT_DATA_DIR)
    have_cifar10: bool  # whether the official CIFAR-10 batches are there
    backend: str  # "cupy" with a GPU, else "numpy"


class ColabSetupError(RuntimeError):
    """The folder is incomplete, or the session must restart; the message says what to do."""


def setup_colab(folder: Path = FOLDER, *, gpu: bool | None = None) -> ColabSetup:
    """Install cs231kit, move to the notebooks' folder, set the data folder and the backend.

    Inputs:
    - folder: the unzipped ``a2-student`` folder (default: the one holding this file)
    - gpu: whether to run the fast layers on the GPU; None asks CuPy whether there is one

    Returns a :class:`ColabSetup` and prints it in a few lines.
    """
    folder = Path(folder)
    wheel = _the_wheel(folder)
    version = wheel.name.split("-")[1]
    installed = _installed_version() != version
    if installed:
        if "cs231kit" in sys.modules:
            raise ColabSetupError(
                f"This session already imported another cs231kit than the one in {wheel.name}. "
                "Restart it (Runtime > Restart session), then run this cell first."
            )
        command = [sys.executable, "-m", "pip", "install", "--quiet", str(wheel)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise ColabSetupError(
                f"pip could not install {wheel.name}:\n{done.stdout}{done.stderr}"
            )
        importlib.invalidate_caches()  # so this session finds the package pip just wrote

    workdir = folder / "a2"
    if not workdir.is_dir():
        raise ColabSetupError(
            f"{folder} has no a2/ folder of notebooks: upload the whole unzipped a2-student folder."
        )
    os.chdir(workdir)
    data_dir = folder / "datasets"
    data_dir.mkdir(exist_ok=True)
    os.environ["CS231KIT_DATA_DIR"] = str(data_dir)

    from cs231kit.backend import gpu_available
    from cs231kit.data.cifar10 import FOLDER_NAME, missing_cifar10_files

    backend = "cupy" if (gpu_available() if gpu is None else gpu) else "numpy"
    os.environ["CS231KIT_BACKEND"] = backend
    done_setup = ColabSetup(
        version=version,
        installed=installed,
        workdir=workdir,
        data_dir=data_dir,
        have_cifar10=not missing_cifar10_files(data_dir / FOLDER_NAME),
        backend=backend,
    )
    print(describe(done_setup))
    return done_setup


def describe(setup: ColabSetup) -> str:
    """A few lines for the student: what is installed, where things are, what is left to do."""
    lines = [
        f"cs231kit {setup.version}: {'installed' if setup.installed else 'already installed'}",
        f"working folder: {setup.workdir}",
        f"data folder: {setup.data_dir}",
    ]
    if not setup.have_cifar10:
        lines.append(
            "CIFAR-10 is not there yet (notebooks 04-06 train on it): run "
            f"`!python {setup.data_dir.parent / 'get_cifar10.py'}` once; it stays on your Drive."
        )
    if setup.backend == "cupy":
        lines.append("fast layers: on the GPU (CuPy)")
    else:
        lines.append(
            "fast layers: on the CPU (for a GPU: Runtime > Change runtime type > GPU, then run "
            "this cell again)"
        )
    return "\n".join(lines)


def _the_wheel(folder: Path) -> Path:
    wheels = sorted(folder.glob("cs231kit-*.whl"))
    if len(wheels) != 1:
        found = ", ".join(w.name for w in wheels) or "none"
        raise ColabSetupError(
            f"{folder} should hold exactly one cs231kit-*.whl (found: {found}). Upload the "
            "unzipped a2-student folder as it came, and nothing else into it."
        )
    return wheels[0]


def _installed_version() -> str | None:
    try:
        return metadata.version("cs231kit")
    except metadata.PackageNotFoundError:
        return None
