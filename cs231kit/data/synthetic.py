"""Synthetic CIFAR-shaped data: labelled, learnable, and clearly not CIFAR-10.

Each class is a shape (disc, ring, square, ...) drawn in a class colour on a random background.
Every image moves and resizes its shape at random, jitters both colours and adds pixel noise, so
a classifier has to learn *what* the shape looks like, not where a fixed pixel is. A linear
classifier on raw pixels gets well above chance but far from 100%; a small ConvNet does better.

Use it for offline tests and demos only; ``get_cifar10_data`` prints a banner whenever it falls
back to it. ``write_cifar10_archive`` is re-exported here to turn such data into a
``cifar-10-python.tar.gz``-format archive.
"""

from __future__ import annotations

import numpy as np

from cs231kit.data.cifar10 import CIFAR10_CLASSES, write_cifar10_archive

__all__ = ["SHAPES", "make_synthetic_cifar10", "write_cifar10_archive"]

SHAPES: tuple[str, ...] = (
    "disc",
    "ring",
    "square",
    "square outline",
    "plus",
    "diagonal cross",
    "horizontal bar",
    "vertical bar",
    "triangle",
    "checkerboard patch",
)
"""The shape drawn for each label (label ``k`` is shape ``SHAPES[k]``)."""

# Class colours (RGB). Classes share hues in pairs (e.g. disc and ring are both reddish), so that
# colour alone cannot tell every class apart: the shape has to be learned too.
_COLOURS = np.array(
    [
        [220, 60, 50],
        [200, 80, 40],
        [60, 190, 70],
        [90, 200, 50],
        [50, 90, 220],
        [70, 60, 200],
        [230, 210, 60],
        [210, 220, 90],
        [200, 70, 210],
        [220, 90, 180],
    ],
    dtype=np.float64,
)


def _shape_mask(k: int, dx: np.ndarray, dy: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Return the mask of shape ``SHAPES[k]``: True inside, for pixel offsets (dx, dy) from the
    shape's centre and size ``s`` (arrays that broadcast to (n, 32, 32))."""
    adx, ady = np.abs(dx), np.abs(dy)
    box = np.maximum(adx, ady)  # the "square radius"
    if k == 0:
        return np.hypot(dx, dy) < s
    if k == 1:
        return np.abs(np.hypot(dx, dy) - s) < 1.6
    if k == 2:
        return box < s
    if k == 3:
        return np.abs(box - s) < 1.2
    if k == 4:
        return ((adx < 1.6) & (ady < s)) | ((ady < 1.6) & (adx < s))
    if k == 5:
        return (np.abs(adx - ady) < 1.3) & (box < s)
    if k == 6:
        return (ady < 2.2) & (adx < s + 3)
    if k == 7:
        return (adx < 2.2) & (ady < s + 3)
    if k == 8:
        return (ady < s) & (adx < (dy + s) / 2)
    return (box < s) & ((np.floor(dx / 3) + np.floor(dy / 3)) % 2 == 0)


def _masks(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return the shape mask of each image: (N, 32, 32) floats in {0, 1}."""
    n = len(labels)
    rows, cols = np.mgrid[0:32, 0:32].astype(np.float32)
    # Per image: a random centre and size, broadcast against the pixel grid.
    cy = rng.uniform(9.0, 23.0, size=(n, 1, 1)).astype(np.float32)
    cx = rng.uniform(9.0, 23.0, size=(n, 1, 1)).astype(np.float32)
    size = rng.uniform(5.0, 9.0, size=(n, 1, 1)).astype(np.float32)
    mask = np.zeros((n, 32, 32), dtype=np.float32)
    for k in range(len(SHAPES)):
        idx = np.flatnonzero(labels == k)
        mask[idx] = _shape_mask(k, cols - cx[idx], rows - cy[idx], size[idx])
    return mask


def make_synthetic_cifar10(
    num_train: int = 5000, num_test: int = 1000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Make labelled synthetic images with the shapes and types of CIFAR-10.

    Inputs:
    - num_train, num_test: how many training and test images (>= 0).
    - seed: the same seed gives the same images.

    Returns a tuple of:
    - X_train: uint8, shape (num_train, 32, 32, 3).
    - y_train: int64, shape (num_train,), values in 0..9 (balanced up to rounding).
    - X_test: uint8, shape (num_test, 32, 32, 3).
    - y_test: int64, shape (num_test,).
    """
    if num_train < 0 or num_test < 0:
        raise ValueError(f"num_train and num_test must be >= 0, got {num_train}, {num_test}")
    rng = np.random.default_rng(seed)
    n = num_train + num_test
    num_classes = len(CIFAR10_CLASSES)
    labels = rng.permutation(np.arange(n) % num_classes).astype(np.int64)

    mask = _masks(labels, rng)[..., None]  # (N, 32, 32, 1)
    background = rng.uniform(20.0, 235.0, size=(n, 1, 1, 3)).astype(np.float32)
    # A gentle random brightness ramp, so the background is not one flat colour.
    ramp = np.linspace(-1.0, 1.0, 32, dtype=np.float32)[None, :, None, None]
    ramp = ramp * rng.normal(0.0, 20.0, size=(n, 1, 1, 1)).astype(np.float32)
    foreground = _COLOURS[labels][:, None, None, :] + rng.normal(0.0, 30.0, size=(n, 1, 1, 3))
    back = background + ramp  # (N, 32, 1, 3)
    image = back + mask * (foreground.astype(np.float32) - back)  # shape over background
    image += rng.standard_normal(size=image.shape, dtype=np.float32) * np.float32(12.0)
    X = np.clip(image, 0, 255, out=image).round().astype(np.uint8)
    return X[:num_train], labels[:num_train], X[num_train:], labels[num_train:]
