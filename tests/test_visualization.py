"""Tests for cs231kit.visualization: grids of images and filters, figures saved as PNG."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure
from PIL import Image

from cs231kit.visualization import (
    filter_grid,
    image_grid,
    plot_filters,
    plot_images,
    plot_solver_history,
    plot_training_curves,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path, min_size=(100, 100)):
    """The file is a real, non-empty PNG image of at least min_size pixels."""
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    with Image.open(path) as image:
        assert image.size[0] >= min_size[0] and image.size[1] >= min_size[1]
        # Not a blank canvas: a figure with content has more than one colour.
        assert len(image.convert("RGB").getcolors(maxcolors=1 << 20) or []) != 1


# ---------------------------------------------------------------------------------------------
# image_grid / filter_grid
# ---------------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 10),
    h=st.integers(1, 5),
    w=st.integers(1, 5),
    c=st.sampled_from([1, 3]),
    padding=st.integers(0, 2),
)
def test_image_grid_shape_and_placement(n, h, w, c, padding):
    rng = np.random.default_rng(n * 100 + h * 10 + w)
    images = rng.normal(size=(n, h, w, c))
    grid = image_grid(images, ubound=255.0, padding=padding)
    side = int(np.ceil(np.sqrt(n)))
    assert grid.shape == (side * h + (side - 1) * padding, side * w + (side - 1) * padding, c)
    for i in range(n):
        row, col = divmod(i, side)
        tile = grid[
            row * (h + padding) : row * (h + padding) + h,
            col * (w + padding) : col * (w + padding) + w,
        ]
        low, high = images[i].min(), images[i].max()
        expected = (
            np.zeros_like(images[i]) if high == low else 255.0 * (images[i] - low) / (high - low)
        )
        np.testing.assert_allclose(tile, expected, atol=1e-9)


def test_image_grid_rescales_each_image_and_pads_with_zero():
    images = np.stack([np.full((2, 2, 3), 7.0), np.arange(12.0).reshape(2, 2, 3) - 100])
    grid = image_grid(images, ubound=1.0, padding=1)
    assert grid.shape == (5, 5, 3)  # 2x2 tiles of 2x2 pixels, one pixel of padding
    np.testing.assert_array_equal(grid[:2, :2], 0.0)  # a constant image becomes 0
    right = grid[:2, 3:5]
    assert right.min() == 0.0 and right.max() == 1.0
    np.testing.assert_array_equal(grid[2, :], 0.0)  # padding row
    np.testing.assert_array_equal(grid[3:, :], 0.0)  # unused tiles


def test_image_grid_rejects_wrong_layouts():
    with pytest.raises(ValueError, match=r"\(N, H, W, C\).*images\[\.\.\., None\]"):
        image_grid(np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match="no images"):
        image_grid(np.zeros((0, 4, 4, 3)))
    with pytest.raises(ValueError, match="padding"):
        image_grid(np.zeros((1, 4, 4, 3)), padding=-1)


def test_filter_grid_shows_filters_channels_last():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(10, 3, 5, 5))  # the lecture's 10 filters of 5x5x3
    grid = filter_grid(w, padding=1)
    assert grid.shape == (4 * 5 + 3, 4 * 5 + 3, 3)
    np.testing.assert_allclose(grid[:5, :5], image_grid(w.transpose(0, 2, 3, 1))[:5, :5])
    # Filter 0's channel 1, pixel (2, 3) lands at grid[2, 3, 1] (after rescaling).
    first = w[0].transpose(1, 2, 0)
    expected = 255 * (first[2, 3, 1] - first.min()) / (first.max() - first.min())
    assert grid[2, 3, 1] == pytest.approx(expected)


def test_filter_grid_rejects_other_channel_counts_with_a_hint():
    with pytest.raises(ValueError, match=r"C = 16.*w\[:, i:i \+ 1\]"):
        filter_grid(np.zeros((4, 16, 3, 3)))
    with pytest.raises(ValueError, match=r"\(F, C, HH, WW\)"):
        filter_grid(np.zeros((4, 3, 3)))


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


def test_plot_training_curves_writes_a_png(tmp_path):
    rng = np.random.default_rng(1)
    losses = list(2.3 * np.exp(-np.arange(200) / 80) + 0.05 * rng.random(200))
    path = tmp_path / "out" / "curves.png"  # parent folder is created
    fig = plot_training_curves(losses, [0.1, 0.3, 0.5], [0.1, 0.25, 0.4], path=path)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2
    loss_ax, acc_ax = fig.axes
    np.testing.assert_allclose(loss_ax.lines[0].get_ydata(), losses)
    assert loss_ax.get_xlabel() == "iteration" and acc_ax.get_xlabel() == "epoch"
    assert [line.get_label() for line in acc_ax.lines] == ["train", "val"]
    assert_png(path)


def test_plot_training_curves_with_loss_only_has_one_panel(tmp_path):
    fig = plot_training_curves([3.0, 2.0, 1.5])
    assert len(fig.axes) == 1
    assert not list(tmp_path.iterdir())  # no path, nothing written


def test_plot_training_curves_rejects_empty_history():
    with pytest.raises(ValueError, match="loss_history"):
        plot_training_curves([])


class _TrainedSolver:
    """Stands in for a Solver after train(): only the history attributes are read."""

    loss_history = [2.3, 2.0, 1.7, 1.6]
    train_acc_history = [0.1, 0.4]
    val_acc_history = [0.1, 0.35]


def test_plot_solver_history_reads_the_solver_attributes(tmp_path):
    path = tmp_path / "solver.png"
    fig = plot_solver_history(_TrainedSolver(), path=path)
    acc_ax = fig.axes[1]
    np.testing.assert_allclose(acc_ax.lines[1].get_ydata(), [0.1, 0.35])
    assert_png(path)
    with pytest.raises(TypeError, match="loss_history"):
        plot_solver_history(object())


def test_plot_images_with_class_names(tmp_path):
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, size=(6, 32, 32, 3), dtype=np.uint8)
    names = ["plane", "car", "bird"]
    path = tmp_path / "images.png"
    fig = plot_images(
        images, labels=np.array([0, 1, 2, 0, 1, 2]), class_names=names, ncols=3, path=path
    )
    assert len(fig.axes) == 6
    assert [ax.get_title() for ax in fig.axes] == names * 2
    np.testing.assert_array_equal(fig.axes[4].images[0].get_array(), images[4])
    assert_png(path)


def test_plot_images_rescales_float_images():
    images = np.stack([np.linspace(-50, 50, 16).reshape(4, 4, 1)] * 2)
    fig = plot_images(images, labels=[3, 7])
    shown = np.asarray(fig.axes[0].images[0].get_array())
    assert shown.shape == (4, 4) and shown.min() == 0.0 and shown.max() == 1.0
    assert [ax.get_title() for ax in fig.axes] == ["3", "7"]


def test_plot_images_rejects_mismatched_labels():
    with pytest.raises(ValueError, match="2 images but 3 labels"):
        plot_images(np.zeros((2, 4, 4, 3)), labels=[0, 1, 2])
    with pytest.raises(ValueError, match="class_names needs labels"):
        plot_images(np.zeros((2, 4, 4, 3)), class_names=["a"])


def test_plot_filters_writes_a_png(tmp_path):
    rng = np.random.default_rng(3)
    path = tmp_path / "filters.png"
    fig = plot_filters(rng.normal(size=(32, 3, 7, 7)), path=path)
    assert fig.axes[0].get_title() == "32 filters of size 7x7"
    assert_png(path)
