"""End-to-end test of `python -m autograder train-demo` in a subprocess, on synthetic data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def run_demo(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run the demo with an empty data folder and no JPEG copy, so it must use synthetic data."""
    env = dict(os.environ)
    env.pop("CS231KIT_CIFAR10_JPEG", None)
    env["CS231KIT_DATA_DIR"] = str(tmp_path / "data")
    env["MPLBACKEND"] = "Agg"
    return subprocess.run(
        [sys.executable, "-m", "autograder", "train-demo", *args],
        cwd=tmp_path,  # nothing may be written into the repository
        env={**env, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")])},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_demo_trains_on_synthetic_data_and_writes_the_loss_curve(tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    result = run_demo(["--num-train", "200", "--epochs", "1", "--output-dir", str(out_dir)],
                      tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SYNTHETIC DATA" in result.stdout  # the banner: never a silent stand-in
    assert "Data source: synthetic" in result.stdout
    assert "training: 100%" in result.stdout  # the progress bar, on stdout
    # The Solver keeps the best epoch's parameters, chosen on the validation set: the demo names
    # both validation numbers and reports the test accuracy, on images that chose nothing.
    lines = {
        label: next(line for line in result.stdout.splitlines() if line.startswith(label))
        for label in ("Train accuracy:", "Best-epoch validation accuracy:",
                      "Last-epoch validation accuracy:", "Test accuracy:")
    }
    values = {label: float(line.split(":")[1].split()[0]) for label, line in lines.items()}
    assert all(0.0 <= v <= 1.0 for v in values.values()), lines
    assert values["Best-epoch validation accuracy:"] >= values["Last-epoch validation accuracy:"]
    assert "the validation set chose this epoch" in lines["Best-epoch validation accuracy:"]
    assert "chose nothing" in lines["Test accuracy:"]
    assert not any(line.startswith("Validation accuracy") for line in result.stdout.splitlines())

    png = out_dir / "loss_curve.png"
    assert f"Loss curve written to {png}" in result.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 1000


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--epochs", "0"], "must be at least 1"), (["--num-train", "x"], "invalid int value")],
)
def test_demo_fails_clearly_on_bad_options(args: list[str], message: str, tmp_path: Path) -> None:
    result = run_demo(args, tmp_path)
    assert result.returncode != 0
    assert message in result.stderr


def test_cli_without_a_command_lists_the_commands() -> None:
    result = subprocess.run([sys.executable, "-m", "autograder"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "demo" in result.stderr
