"""Pictures of data, filters and training: image grids and training curves.

The plotting functions return a matplotlib ``Figure`` (and save it as a PNG when given ``path``);
they never call ``plt.show()``. In a notebook, make the call the last line of the cell (Jupyter
then draws the figure) or pass the figure to ``display(fig)``.

The grid functions return plain arrays, ready for ``plt.imshow(grid.astype("uint8"))``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from cs231kit.backend import to_numpy


def image_grid(images: Any, ubound: float = 255.0, padding: int = 1) -> np.ndarray:
    """Tile a batch of images into one square-ish grid image.

    Each image is rescaled on its own so that its smallest value maps to 0 and its largest to
    ``ubound`` (a constant image becomes all 0). Tiles are separated by ``padding`` pixels of 0.

    Inputs:
    - images: (N, H, W, C) array, NumPy or CuPy
    - ubound: value of the brightest pixel of each tile (255 for uint8 display, 1 for floats)
    - padding: pixels of 0 between neighbouring tiles

    Returns grid: float64 NumPy array of shape (G*H + (G-1)*padding, G*W + (G-1)*padding, C), with
    G = ceil(sqrt(N)) tiles per row and column, filled row by row; unused tiles stay 0.
    """
    x = np.asarray(to_numpy(images), dtype=np.float64)
    if x.ndim != 4:
        raise ValueError(
            f"image_grid takes images of shape (N, H, W, C), got {x.shape}. For grayscale images "
            "of shape (N, H, W) pass images[..., None]; for (N, C, H, W) pass "
            "images.transpose(0, 2, 3, 1)."
        )
    if padding < 0:
        raise ValueError(f"padding must be >= 0 pixels, got {padding}.")
    n, height, width, channels = x.shape
    if n == 0:
        raise ValueError("image_grid got no images (N = 0).")
    side = math.ceil(math.sqrt(n))
    grid = np.zeros(
        (side * height + (side - 1) * padding, side * width + (side - 1) * padding, channels)
    )
    for i in range(n):
        row, col = divmod(i, side)
        top, left = row * (height + padding), col * (width + padding)
        grid[top : top + height, left : left + width] = _rescale(x[i], ubound)
    return grid


def filter_grid(w: Any, ubound: float = 255.0, padding: int = 1) -> np.ndarray:
    """Tile convolution filters into one grid image (e.g. to look at first-layer filters).

    Inputs:
    - w: conv weights of shape (F, C, HH, WW) with C = 3 (shown in colour) or C = 1 (grey)
    - ubound, padding: as in ``image_grid``

    Returns grid: float64 NumPy array of shape (G*HH + (G-1)*padding, G*WW + (G-1)*padding, C)
    with G = ceil(sqrt(F)); each filter is rescaled on its own to [0, ubound].
    """
    weights = np.asarray(to_numpy(w))
    if weights.ndim != 4:
        raise ValueError(
            f"filter_grid takes conv weights of shape (F, C, HH, WW), got {weights.shape}."
        )
    if weights.shape[1] not in (1, 3):
        raise ValueError(
            f"filter_grid shows filters with C = 3 channels (colour) or C = 1 (grey), got "
            f"C = {weights.shape[1]}. To see channel i of every filter, pass w[:, i:i + 1]."
        )
    return image_grid(weights.transpose(0, 2, 3, 1), ubound=ubound, padding=padding)


def plot_filters(w: Any, path: str | Path | None = None) -> Figure:
    """Figure of a filter grid (see ``filter_grid``); saved as a PNG when ``path`` is given.

    Inputs:
    - w: conv weights of shape (F, C, HH, WW), C = 1 or 3
    - path: where to save the PNG (parent folders are created), or None

    Returns the Figure.
    """
    weights = np.asarray(to_numpy(w))
    grid = filter_grid(weights, ubound=1.0)
    fig = Figure(figsize=(5, 5))
    ax = fig.add_subplot()
    ax.imshow(_displayable(grid), cmap="gray" if grid.shape[2] == 1 else None)
    ax.axis("off")
    num_filters, _, height, width = weights.shape
    ax.set_title(f"{num_filters} filters of size {height}x{width}")
    return _finish(fig, path)


def plot_images(
    images: Any,
    labels: Any = None,
    class_names: Sequence[str] | None = None,
    ncols: int = 8,
    path: str | Path | None = None,
) -> Figure:
    """Figure showing each image in its own panel, optionally titled by its label.

    Inputs:
    - images: (N, H, W, C) array with C = 3 or 1. uint8 images are shown as they are; float
      images (e.g. mean-subtracted) are rescaled one by one to [0, 1] first
    - labels: optional (N,) integer labels, shown as titles
    - class_names: optional names indexed by label, e.g. ["plane", "car", ...]
    - ncols: panels per row
    - path: where to save the PNG (parent folders are created), or None

    Returns the Figure.
    """
    x = np.asarray(to_numpy(images))
    if x.ndim != 4 or x.shape[3] not in (1, 3):
        raise ValueError(
            f"plot_images takes images of shape (N, H, W, C) with C = 1 or 3, got {x.shape}. "
            "For (N, C, H, W) pass images.transpose(0, 2, 3, 1)."
        )
    n = x.shape[0]
    if n == 0:
        raise ValueError("plot_images got no images (N = 0).")
    label_list = None if labels is None else [int(v) for v in np.asarray(to_numpy(labels))]
    if label_list is not None and len(label_list) != n:
        raise ValueError(f"got {n} images but {len(label_list)} labels; pass one label per image.")
    if class_names is not None and label_list is None:
        raise ValueError("class_names needs labels: pass labels=... as well.")

    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(1.5 * ncols, 1.7 * nrows))
    for i in range(n):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        image = x[i] if x.dtype == np.uint8 else _rescale(x[i].astype(np.float64), 1.0)
        ax.imshow(_displayable(image), cmap="gray" if x.shape[3] == 1 else None)
        ax.axis("off")
        if label_list is not None:
            label = label_list[i]
            ax.set_title(class_names[label] if class_names is not None else str(label), fontsize=8)
    return _finish(fig, path)


def plot_training_curves(
    loss_history: Sequence[float],
    train_acc_history: Sequence[float] | None = None,
    val_acc_history: Sequence[float] | None = None,
    path: str | Path | None = None,
) -> Figure:
    """Figure of the training loss per iteration and, if given, the accuracies per epoch.

    Inputs:
    - loss_history: the loss at every iteration, length T
    - train_acc_history, val_acc_history: optional accuracies, one per epoch (entry 0 = before
      training, as the Solver records them), length E + 1
    - path: where to save the PNG (parent folders are created), or None

    Returns the Figure: one panel (loss) or two (loss above, accuracies below).
    """
    losses = _history(loss_history, "loss_history")
    accuracies = {
        label: _history(values, name)
        for label, values, name in (
            ("train", train_acc_history, "train_acc_history"),
            ("val", val_acc_history, "val_acc_history"),
        )
        if values is not None
    }
    panels = 2 if accuracies else 1
    fig = Figure(figsize=(8, 3.5 * panels), layout="constrained")
    ax = fig.add_subplot(panels, 1, 1)
    ax.plot(losses, "o", markersize=2)
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    ax.set_title("Training loss")
    if accuracies:
        ax = fig.add_subplot(panels, 1, 2)
        for label, values in accuracies.items():
            ax.plot(values, "-o", label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy")
        ax.set_title("Accuracy")
        ax.legend(loc="lower right")
    return _finish(fig, path)


def plot_solver_history(solver: Any, path: str | Path | None = None) -> Figure:
    """``plot_training_curves`` for a trained Solver (or anything with the same attributes).

    Inputs:
    - solver: an object with ``loss_history`` and, optionally, ``train_acc_history`` and
      ``val_acc_history`` (lists of floats)
    - path: where to save the PNG, or None

    Returns the Figure.
    """
    if not hasattr(solver, "loss_history"):
        raise TypeError(
            f"{type(solver).__name__} has no loss_history; pass a Solver after solver.train(), or "
            "call plot_training_curves(loss_history, ...) with the lists themselves."
        )
    return plot_training_curves(
        solver.loss_history,
        getattr(solver, "train_acc_history", None),
        getattr(solver, "val_acc_history", None),
        path=path,
    )


def _rescale(image: np.ndarray, ubound: float) -> np.ndarray:
    """Map an image's smallest value to 0 and its largest to ubound (constant image -> 0)."""
    low, high = float(image.min()), float(image.max())
    if high == low:
        return np.zeros_like(image)
    return ubound * (image - low) / (high - low)


def _displayable(image: np.ndarray) -> np.ndarray:
    """imshow wants (H, W) for one channel and (H, W, 3) for colour."""
    return image[:, :, 0] if image.shape[2] == 1 else image


def _history(values: Any, name: str) -> np.ndarray:
    array = to_numpy(values)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty list of numbers, got shape {array.shape}.")
    return array.astype(np.float64)


def _finish(fig: Figure, path: str | Path | None) -> Figure:
    """Save the figure as a PNG when a path is given; return it either way."""
    if path is not None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(target, format="png", dpi=100)
    return fig
