"""Where datasets live: the data directory and the environment variables that move it.

The data directory is chosen in this order:

1. the ``data_dir`` argument of whichever function you call;
2. the environment variable ``CS231KIT_DATA_DIR``;
3. the repository's ``datasets/`` folder, when cs231kit runs from a source checkout
   (``pip install -e .`` or a plain clone);
4. ``~/.cache/cs231kit`` otherwise (an installed wheel has no ``datasets/`` folder).
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "CS231KIT_DATA_DIR"
"""Environment variable: the data directory (official CIFAR-10 batches, caches)."""

URL_ENV = "CS231KIT_CIFAR10_URL"
"""Environment variable: a mirror URL for ``cifar-10-python.tar.gz``."""

JPEG_ENV = "CS231KIT_CIFAR10_JPEG"
"""Environment variable: an image-folder copy of the CIFAR-10 training set (.tar.gz or folder)."""


def repository_datasets_dir() -> Path | None:
    """Return the ``datasets/`` folder of the source checkout cs231kit runs from, or None.

    A checkout is recognised by ``pyproject.toml`` and ``datasets/`` sitting next to the package
    folder; an installed wheel (in ``site-packages``) has neither, so this returns None there.
    """
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / "datasets").is_dir():
        return root / "datasets"
    return None


def default_data_dir() -> Path:
    """Return the data directory to use when the caller names none (see the module docstring).

    Returns:
    - a Path; it may not exist yet (whoever writes there creates it).
    """
    from_env = os.environ.get(DATA_DIR_ENV, "").strip()
    if from_env:
        return Path(from_env).expanduser()
    in_checkout = repository_datasets_dir()
    if in_checkout is not None:
        return in_checkout
    return Path.home() / ".cache" / "cs231kit"


def resolve_data_dir(data_dir: str | os.PathLike[str] | None) -> Path:
    """Return ``data_dir`` as a Path, or the default data directory when it is None."""
    if data_dir is None:
        return default_data_dir()
    return Path(data_dir).expanduser()
