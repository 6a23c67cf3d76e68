"""The CIFAR-10 "python version" file format: read it, and write archives in it.

The official archive ``cifar-10-python.tar.gz`` extracts to a folder ``cifar-10-batches-py/`` with

- ``data_batch_1`` ... ``data_batch_5``: 10,000 training images each;
- ``test_batch``: 10,000 test images;
- ``batches.meta``: the class names.

Each file is a pickled dict. ``"data"`` is a uint8 array of shape (10000, 3072): one image per row,
stored channel by channel (1024 red values, then 1024 green, then 1024 blue, each a 32x32 image in
row-major order). ``"labels"`` is a list of 10,000 ints in 0..9.
"""

from __future__ import annotations

import codecs
import io
import os
import pickle
import tarfile
from pathlib import Path
from typing import Any

import numpy as np

CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
"""The ten class names; label ``k`` means ``CIFAR10_CLASSES[k]``."""

FOLDER_NAME = "cifar-10-batches-py"
"""The folder the official archive extracts to."""

TRAIN_FILES: tuple[str, ...] = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
META_FILE = "batches.meta"
REQUIRED_FILES: tuple[str, ...] = (*TRAIN_FILES, TEST_FILE, META_FILE)


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds NumPy arrays and plain Python values, and nothing else.

    Why: a pickle can run arbitrary code when loaded, and the batches may come from a mirror.
    The CIFAR-10 files need only NumPy's array rebuilders (in ``numpy.core.multiarray`` when
    pickled by NumPy 1, ``numpy._core.multiarray`` by NumPy 2; both map to this NumPy), plus
    ``_codecs.encode`` and ``bytes``, which Python 3 uses for bytes in protocol-2 pickles.
    """

    _NUMPY = {
        "_reconstruct": np.ndarray((0,), np.uint8).__reduce__()[0],
        "ndarray": np.ndarray,
        "dtype": np.dtype,
    }

    def find_class(self, module: str, name: str) -> Any:
        if module.split(".")[0] == "numpy" and name in self._NUMPY:
            return self._NUMPY[name]
        if (module, name) == ("_codecs", "encode"):
            return codecs.encode
        if name == "bytes" and module in ("builtins", "__builtin__"):  # b"" at protocol 2
            return bytes
        raise pickle.UnpicklingError(
            f"refusing to load {module}.{name}: a CIFAR-10 batch holds only arrays, lists and "
            "numbers. This file is not a CIFAR-10 batch (or was tampered with); download it again."
        )


def _load_pickle(path: Path) -> dict[str, Any]:
    """Load one batch file and return its dict with str keys.

    The official files were pickled by Python 2: ``encoding="latin1"`` turns their keys into str
    and is what NumPy needs for the array bytes. Files written by Python 3 keep bytes keys, so
    both kinds are normalised to str.
    """
    with open(path, "rb") as f:
        try:
            raw = _NumpyOnlyUnpickler(f, encoding="latin1").load()
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as err:
            raise ValueError(f"{path} is not a readable CIFAR-10 batch file: {err}") from err
    if not isinstance(raw, dict):
        raise ValueError(f"{path} is not a CIFAR-10 batch file: it holds a {type(raw).__name__}")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in raw.items()}


def load_cifar10_batch(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Load one CIFAR-10 batch file (e.g. ``data_batch_1``).

    Inputs:
    - path: the batch file.

    Returns a tuple of:
    - X: uint8 images, shape (N, 32, 32, 3), channels last (height, width, RGB).
    - y: int64 labels, shape (N,), values in 0..9.
    """
    path = Path(path)
    batch = _load_pickle(path)
    if "data" not in batch or "labels" not in batch:
        raise ValueError(f"{path} is not a CIFAR-10 batch: it has no 'data' or 'labels' entry")
    data = np.asarray(batch["data"])
    y = np.asarray(batch["labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(
            f"{path}: 'data' should be uint8 of shape (N, 3072), got {data.dtype} {data.shape}"
        )
    if y.shape != (data.shape[0],):
        raise ValueError(f"{path}: {data.shape[0]} images but {y.shape[0]} labels")
    if y.size and (y.min() < 0 or y.max() >= len(CIFAR10_CLASSES)):
        raise ValueError(f"{path}: labels must lie in 0..9, got {y.min()}..{y.max()}")
    # Rows are R(1024) G(1024) B(1024): view as (N, C, H, W), then move channels last.
    X = np.ascontiguousarray(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return X, y


def missing_cifar10_files(folder: str | os.PathLike[str]) -> list[str]:
    """Return the names of the CIFAR-10 files missing from ``folder`` (empty list: complete)."""
    folder = Path(folder)
    return [name for name in REQUIRED_FILES if not (folder / name).is_file()]


def load_cifar10_batches(
    folder: str | os.PathLike[str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load the whole of CIFAR-10 from an extracted ``cifar-10-batches-py`` folder.

    Inputs:
    - folder: the folder holding ``data_batch_1..5``, ``test_batch`` and ``batches.meta``.

    Returns a tuple of:
    - X_train: uint8, shape (50000, 32, 32, 3) for the official data (N_train in general).
    - y_train: int64, shape (N_train,).
    - X_test: uint8, shape (10000, 32, 32, 3).
    - y_test: int64, shape (N_test,).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"no CIFAR-10 folder at {folder}. Download the data with `cs231kit-download-cifar10` "
            "(or datasets/get_cifar10.py)."
        )
    missing = missing_cifar10_files(folder)
    if missing:
        raise FileNotFoundError(
            f"the CIFAR-10 folder {folder} is incomplete: {', '.join(missing)} missing. "
            "Delete the folder and download again with `cs231kit-download-cifar10`."
        )
    parts = [load_cifar10_batch(folder / name) for name in TRAIN_FILES]
    X_train = np.concatenate([X for X, _ in parts])
    y_train = np.concatenate([y for _, y in parts])
    X_test, y_test = load_cifar10_batch(folder / TEST_FILE)
    return X_train, y_train, X_test, y_test


def _checked_images(X: Any, y: Any, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Return ``X``, ``y`` as arrays after checking they are CIFAR-shaped images and labels."""
    X, y = np.asarray(X), np.asarray(y)
    if X.dtype != np.uint8 or X.ndim != 4 or X.shape[1:] != (32, 32, 3):
        raise ValueError(f"X_{split} must be uint8 (N, 32, 32, 3), got {X.dtype} {X.shape}")
    if y.shape != (len(X),):
        raise ValueError(f"y_{split} must have shape ({len(X)},) to match X_{split}, got {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= len(CIFAR10_CLASSES)):
        raise ValueError(f"y_{split} must hold labels in 0..9, got {y.min()}..{y.max()}")
    return X, y


def _batch_bytes(X: np.ndarray, y: np.ndarray, label: str) -> bytes:
    """Pickle images (N, 32, 32, 3) and labels (N,) as one batch in the official layout."""
    rows = X.transpose(0, 3, 1, 2).reshape(len(X), 3 * 32 * 32)  # channel-major, as the original
    batch = {
        b"batch_label": label.encode(),
        b"labels": [int(v) for v in y],
        b"data": np.ascontiguousarray(rows, dtype=np.uint8),
        b"filenames": [f"{label.replace(' ', '_')}_{i:05d}.png".encode() for i in range(len(X))],
    }
    return pickle.dumps(batch, protocol=2)


def write_cifar10_archive(
    path: str | os.PathLike[str],
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
) -> Path:
    """Write images as a ``cifar-10-python.tar.gz``-format archive (same folder and pickle layout).

    The training images are split into five batches, as in the original (sizes differ by at most
    one when N_train is not a multiple of 5). Useful for offline demos and for testing downloads.

    Inputs:
    - path: the archive to write (``.tar.gz``); its parent folder must exist.
    - X_train: uint8, shape (N_train, 32, 32, 3); y_train: ints in 0..9, shape (N_train,).
    - X_test: uint8, shape (N_test, 32, 32, 3); y_test: ints in 0..9, shape (N_test,).

    Returns:
    - the archive's Path.
    """
    path = Path(path)
    X_train, y_train = _checked_images(X_train, y_train, "train")
    X_test, y_test = _checked_images(X_test, y_test, "test")

    members: list[tuple[str, bytes]] = []
    chunks = np.array_split(np.arange(len(X_train)), len(TRAIN_FILES))
    for i, (name, idx) in enumerate(zip(TRAIN_FILES, chunks, strict=True)):
        label = f"training batch {i + 1} of {len(TRAIN_FILES)}"
        members.append((name, _batch_bytes(X_train[idx], y_train[idx], label)))
    members.append((TEST_FILE, _batch_bytes(X_test, y_test, "testing batch 1 of 1")))
    meta = {
        b"label_names": [name.encode() for name in CIFAR10_CLASSES],
        b"num_cases_per_batch": int(len(chunks[0])),
        b"num_vis": 3 * 32 * 32,
    }
    members.append((META_FILE, pickle.dumps(meta, protocol=2)))

    with tarfile.open(path, "w:gz") as tar:
        folder = tarfile.TarInfo(FOLDER_NAME)
        folder.type, folder.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(folder)
        for name, payload in members:
            info = tarfile.TarInfo(f"{FOLDER_NAME}/{name}")
            info.size, info.mode = len(payload), 0o644
            tar.addfile(info, io.BytesIO(payload))
    return path
