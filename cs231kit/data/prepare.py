"""CIFAR-10 ready for training: find the data, split it, subtract the mean image.

``get_cifar10_data()`` looks for data in this order (``source="auto"``):

1. the official batches, ``<data dir>/cifar-10-batches-py`` (``cs231kit-download-cifar10``);
2. an image-folder copy of the training set: ``jpeg_path=``, else ``$CS231KIT_CIFAR10_JPEG``,
   else ``<data dir>/cifar10-train-jpeg.tar.gz``;
3. synthetic data, announced by a banner on stdout (never silently).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from cs231kit.data.cifar10 import (
    CIFAR10_CLASSES,
    FOLDER_NAME,
    load_cifar10_batches,
    missing_cifar10_files,
)
from cs231kit.data.image_folder import load_image_folder
from cs231kit.data.paths import JPEG_ENV, resolve_data_dir
from cs231kit.data.synthetic import make_synthetic_cifar10

SOURCES = ("auto", "cifar10", "cifar10-jpeg", "synthetic")
JPEG_FILE_NAME = "cifar10-train-jpeg.tar.gz"
"""The name under which the data directory may hold the image-folder copy."""

SPLIT_KEYS = ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test")
_TITLES = {"cifar10": "CIFAR-10", "cifar10-jpeg": "CIFAR-10 (JPEG copy)", "synthetic": "Synthetic"}


class DataSplits(dict[str, np.ndarray]):
    """The dict returned by ``get_cifar10_data``, plus where the data came from.

    Keys: ``X_train``, ``y_train``, ``X_val``, ``y_val``, ``X_test``, ``y_test``.

    Attributes:
    - source: ``"cifar10"`` (official batches), ``"cifar10-jpeg"`` (the image-folder copy of the
      training set) or ``"synthetic"``.
    - description: one human-readable line saying which data this is.
    - class_names: the ten class names, label ``k`` is ``class_names[k]``.
    - mean_image: the mean training image that was subtracted (float64, same layout as one image),
      or None when ``subtract_mean=False``; add it back to show images.
    """

    def __init__(
        self,
        arrays: dict[str, np.ndarray],
        *,
        source: str,
        description: str,
        class_names: list[str],
        mean_image: np.ndarray | None,
    ) -> None:
        super().__init__(arrays)
        self.source = source
        self.description = description
        self.class_names = class_names
        self.mean_image = mean_image


def _jpeg_candidate(jpeg_path: str | os.PathLike[str] | None, data_dir: Path) -> Path | None:
    """Return the image-folder copy to use, or None if there is none.

    A path that was asked for explicitly (argument or environment variable) but does not exist is
    an error, not a reason to fall back to other data.
    """
    if jpeg_path is not None:
        asked, how = Path(jpeg_path).expanduser(), "jpeg_path"
    elif os.environ.get(JPEG_ENV, "").strip():
        asked, how = Path(os.environ[JPEG_ENV].strip()).expanduser(), f"${JPEG_ENV}"
    else:
        in_data_dir = data_dir / JPEG_FILE_NAME
        return in_data_dir if in_data_dir.exists() else None
    if not asked.exists():
        raise FileNotFoundError(f"{how} names {asked}, which does not exist: fix or unset it")
    return asked


def _banner(data_dir: Path) -> str:
    rule = "=" * 78
    return "\n".join(
        [
            rule,
            "SYNTHETIC DATA - NOT CIFAR-10",
            "No CIFAR-10 copy was found, so these are generated 32x32x3 images of 10 classes",
            "(coloured shapes). Accuracies on them say nothing about CIFAR-10.",
            "To use the real data, either:",
            f"  - run `cs231kit-download-cifar10` (it extracts to {data_dir / FOLDER_NAME}), or",
            f"  - set {JPEG_ENV} to a JPEG image-folder copy of the training set.",
            rule,
        ]
    )


def _check_sizes(num_train: int, num_val: int, num_test: int, subtract_mean: bool) -> None:
    for name, value in (("num_train", num_train), ("num_val", num_val), ("num_test", num_test)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    if subtract_mean and num_train == 0:
        raise ValueError("subtract_mean=True needs num_train >= 1: the mean comes from training")


def get_cifar10_data(
    num_train: int = 49000,
    num_val: int = 1000,
    num_test: int = 1000,
    subtract_mean: bool = True,
    channels_first: bool = True,
    *,
    source: str = "auto",
    data_dir: str | os.PathLike[str] | None = None,
    jpeg_path: str | os.PathLike[str] | None = None,
    dtype: Any = np.float64,
    seed: int = 0,
    verbose: bool = True,
) -> DataSplits:
    """Load CIFAR-10 (or a stand-in), split it into train/val/test and preprocess it.

    Inputs:
    - num_train, num_val, num_test: split sizes (CS231n's 49,000 / 1,000 / 1,000 by default).
    - subtract_mean: subtract the mean training image from all three splits.
    - channels_first: return images as (N, 3, 32, 32) instead of (N, 32, 32, 3).
    - source: "auto" (see the module docstring), "cifar10", "cifar10-jpeg" or "synthetic".
    - data_dir: the data directory (default: see ``cs231kit.data.paths``).
    - jpeg_path: the image-folder copy (``.tar.gz`` or folder) for "cifar10-jpeg" / "auto".
    - dtype: the floating dtype of the images (float64 for gradient checks, float32 for speed).
    - seed: fixes how the image-folder copy is split and which synthetic images are made.
    - verbose: print one line saying which data was used (stdout).

    How the splits are made:
    - official batches: train = the first num_train training images, val = the next num_val,
      test = the first num_test test images.
    - image-folder copy (training images only, 50,000): a seeded shuffle, then test = the first
      num_test, val = the next num_val, train = the next num_train. It has no separate test set,
      so when the three do not fit, num_train shrinks to what is left (and this is printed).
    - synthetic: num_train + num_val training images and num_test test images are generated.

    Returns a DataSplits dict with keys
    - X_train: (num_train, 3, 32, 32) with channels_first, else (num_train, 32, 32, 3); ``dtype``.
    - y_train: int64, (num_train,), labels in 0..9.
    - X_val, y_val: (num_val, ...) likewise.
    - X_test, y_test: (num_test, ...) likewise.
    and attributes ``source``, ``description``, ``class_names``, ``mean_image``.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}; got {source!r}")
    _check_sizes(num_train, num_val, num_test, subtract_mean)
    dtype = np.dtype(dtype)
    if subtract_mean and not np.issubdtype(dtype, np.floating):
        raise ValueError(f"subtract_mean=True needs a floating dtype, got {dtype}")
    data_dir = resolve_data_dir(data_dir)
    official = data_dir / FOLDER_NAME

    if source == "auto":
        if official.is_dir() and not missing_cifar10_files(official):
            source = "cifar10"
        elif _jpeg_candidate(jpeg_path, data_dir) is not None:
            source = "cifar10-jpeg"
        else:
            source = "synthetic"
            print(_banner(data_dir))  # always: falling back must never be silent

    note = ""
    if source == "cifar10":
        if not official.is_dir():
            raise FileNotFoundError(
                f"CIFAR-10 is not in {official}. Download it with `cs231kit-download-cifar10` "
                f"(or `python datasets/get_cifar10.py`), or pass data_dir= where it is."
            )
        X_all, y_all, X_test_all, y_test_all = load_cifar10_batches(official)
        if num_train + num_val > len(X_all) or num_test > len(X_test_all):
            raise ValueError(
                f"CIFAR-10 has {len(X_all):,} training and {len(X_test_all):,} test images: "
                f"num_train + num_val = {num_train + num_val:,} and num_test = {num_test:,} "
                "must fit in them"
            )
        X_train, y_train = X_all[:num_train], y_all[:num_train]
        X_val = X_all[num_train : num_train + num_val]
        y_val = y_all[num_train : num_train + num_val]
        X_test, y_test = X_test_all[:num_test], y_test_all[:num_test]
        class_names = list(CIFAR10_CLASSES)
        where = f"official batches in {official}"
    elif source == "cifar10-jpeg":
        path = _jpeg_candidate(jpeg_path, data_dir)
        if path is None:
            raise FileNotFoundError(
                f"no image-folder copy of CIFAR-10: pass jpeg_path=, set {JPEG_ENV}, or put "
                f"{JPEG_FILE_NAME} in {data_dir}"
            )
        X_all, y_all, class_names = load_image_folder(path, data_dir=data_dir, verbose=verbose)
        if num_val + num_test >= len(X_all):
            raise ValueError(
                f"the image-folder copy has {len(X_all):,} images: num_val + num_test = "
                f"{num_val + num_test:,} leave none for training"
            )
        if num_train + num_val + num_test > len(X_all):
            asked, num_train = num_train, len(X_all) - num_val - num_test
            note = f" (asked for {asked:,} training images; the copy holds {len(X_all):,} in all)"
        order = np.random.default_rng(seed).permutation(len(X_all))
        test_idx = order[:num_test]
        val_idx = order[num_test : num_test + num_val]
        train_idx = order[num_test + num_val : num_test + num_val + num_train]
        X_train, y_train = X_all[train_idx], y_all[train_idx]
        X_val, y_val = X_all[val_idx], y_all[val_idx]
        X_test, y_test = X_all[test_idx], y_all[test_idx]
        where = f"the image-folder copy {path}, split with seed {seed}"
    else:
        X_all, y_all, X_test, y_test = make_synthetic_cifar10(num_train + num_val, num_test, seed)
        X_train, y_train = X_all[:num_train], y_all[:num_train]
        X_val, y_val = X_all[num_train:], y_all[num_train:]
        class_names = list(CIFAR10_CLASSES)
        where = f"generated with seed {seed}; NOT CIFAR-10"

    def prepare(X: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(X.transpose(0, 3, 1, 2) if channels_first else X, dtype=dtype)

    arrays = {"X_train": prepare(X_train), "X_val": prepare(X_val), "X_test": prepare(X_test)}
    mean_image = None
    if subtract_mean:
        # The mean of the training split only: validation and test data must stay unseen.
        mean_image = arrays["X_train"].mean(axis=0, dtype=np.float64)
        for key in ("X_train", "X_val", "X_test"):
            arrays[key] -= mean_image.astype(dtype)
    arrays.update(y_train=y_train, y_val=y_val, y_test=y_test)
    arrays = {key: arrays[key] for key in SPLIT_KEYS}

    description = (
        f"{_TITLES[source]} data: {where}; train {len(X_train):,}, val {len(X_val):,}, "
        f"test {len(X_test):,}{note}"
    )
    if verbose:
        print(description)
    return DataSplits(
        arrays,
        source=source,
        description=description,
        class_names=class_names,
        mean_image=mean_image,
    )
