"""Train a small three-layer ConvNet for a minute or two and plot its loss curve.

Uses the reference ConvNet, the library's fast layers, the Solver and Adam. Data comes from
``cs231kit.data.get_cifar10_data(source="auto")``: official CIFAR-10 in the data folder if it is
there, else the CIFAR-10 JPEG copy named by CS231KIT_CIFAR10_JPEG, else synthetic CIFAR-shaped
data (announced by a banner). The demo never downloads anything.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_NUM_TRAIN = 5000
DEFAULT_EPOCHS = 2
DEFAULT_OUTPUT_DIR = "demo-output"
LOSS_CURVE_NAME = "loss_curve.png"


@dataclass
class DemoResult:
    """What a demo run produced."""

    data_source: str
    train_acc: float
    best_val_acc: float  # of the epoch the Solver kept, which the validation set chose
    last_val_acc: float  # after the last epoch
    test_acc: float  # of the kept model, on test images that chose nothing
    seconds: float
    loss_curve: Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the demo's command-line options on ``parser``."""
    parser.add_argument(
        "--num-train",
        type=int,
        default=DEFAULT_NUM_TRAIN,
        help=f"number of training images (default {DEFAULT_NUM_TRAIN})",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=DEFAULT_EPOCHS,
        help=f"passes over the training images (default {DEFAULT_EPOCHS})",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path(DEFAULT_OUTPUT_DIR),
        help=f"folder for the loss-curve PNG (default {DEFAULT_OUTPUT_DIR}/)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def run(args: argparse.Namespace) -> int:
    """Run the demo with parsed options; return the process exit code (0 on success)."""
    try:
        train_demo(
            num_train=args.num_train,
            num_epochs=args.epochs,
            output_dir=args.output_dir,
            seed=args.seed,
        )
    except Exception as exc:  # any failure becomes one clear line and a non-zero exit
        print(f"demo failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


def train_demo(
    num_train: int = DEFAULT_NUM_TRAIN,
    num_epochs: int = DEFAULT_EPOCHS,
    output_dir: str | Path = DEFAULT_OUTPUT_DIR,
    seed: int = 0,
) -> DemoResult:
    """Train the reference ThreeLayerConvNet on ``num_train`` images and save its loss curve.

    Inputs:
    - num_train: number of training images (the validation set has a quarter as many, 100 to 1000)
    - num_epochs: passes over the training images
    - output_dir: folder for ``loss_curve.png`` (created if needed)
    - seed: seeds the data split, the initial weights and the minibatch order

    Returns a DemoResult with the data source, the training accuracy, the best-epoch and
    last-epoch validation accuracy, the test accuracy, the training time in seconds and the path
    of the loss-curve PNG.
    """
    if num_train < 1 or num_epochs < 1:
        raise ValueError(
            f"--num-train and --epochs must be at least 1 (got {num_train} and {num_epochs})."
        )
    # Imported here so that `python -m autograder --help` stays quick.
    from autograder.judge.reference.models import ThreeLayerConvNet
    from autograder.judge.reference.optim import adam
    from cs231kit.data import get_cifar10_data
    from cs231kit.solver import Solver
    from cs231kit.visualization import plot_training_curves

    num_val = min(1000, max(100, num_train // 4))
    data = get_cifar10_data(
        num_train=num_train,
        num_val=num_val,
        num_test=num_val,
        source="auto",
        dtype=np.float32,  # enough precision for training, and half the memory traffic
        seed=seed,
    )
    print(f"Data source: {data.source}")

    model = ThreeLayerConvNet(weight_scale=1e-3, dtype=np.float32, seed=seed)
    batch_size = 50
    solver = Solver(
        model,
        data,
        update_rule=adam,
        optim_config={"learning_rate": 1e-3},
        batch_size=batch_size,
        num_epochs=num_epochs,
        num_train_samples=1000,
        print_every=max(1, num_train // batch_size // 4),
        verbose=True,
        progress=True,
        seed=seed,
    )
    print(
        f"Training ThreeLayerConvNet on {len(data['y_train'])} images for {num_epochs} epoch(s) "
        f"(Adam, learning rate 1e-3, batch size {batch_size})"
    )
    start = time.perf_counter()
    solver.train()
    seconds = time.perf_counter() - start

    # The Solver keeps the best epoch's parameters, and the validation set chose that epoch: name
    # both validation numbers, and measure the kept model on test images, which chose nothing.
    num_train_check = min(1000, len(data["y_train"]))
    train_acc = solver.check_accuracy(data["X_train"], data["y_train"], num_samples=1000)
    test_acc = solver.check_accuracy(data["X_test"], data["y_test"])
    print(f"Training took {seconds:.1f} s")
    print(f"Train accuracy: {train_acc:.3f} (on {num_train_check} training images)")
    print(solver.validation_summary())
    print(
        f"Test accuracy: {test_acc:.3f} (on {len(data['y_test'])} test images, which chose "
        "nothing: the honest estimate)"
    )

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    loss_curve = out / LOSS_CURVE_NAME
    figure = plot_training_curves(
        solver.loss_history, solver.train_acc_history, solver.val_acc_history, path=loss_curve
    )
    _close(figure)
    print(f"Loss curve written to {loss_curve}")
    return DemoResult(
        data.source,
        train_acc,
        solver.best_val_acc,
        solver.last_val_acc,
        test_acc,
        seconds,
        loss_curve,
    )


def _close(figure: Any) -> None:
    """Release a matplotlib figure's memory (the demo never shows it)."""
    import matplotlib.pyplot as plt

    plt.close(figure)
