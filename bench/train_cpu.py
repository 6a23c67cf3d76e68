"""CPU benchmark: one training epoch of the course's three-layer ConvNet, ours against PyTorch.

The model (notebook 05's): conv 32 7x7 pad 3 - ReLU - 2x2 max pool - affine 500 - ReLU -
affine 10 - softmax, on 49,000 images 3x32x32 float32, minibatches of 50, Adam 1e-3. Ours is the
grader's reference ConvNet (the library's fast layers) trained by ``cs231kit.solver.Solver``; the
baseline is the same model and loop in PyTorch on the CPU. Each side runs in a process of its own,
so each peak memory is its own; sides alternate over ``--repeats`` rounds and medians are kept.

For our side the time is also split by part: conv, pool, affine, ReLU, loss, update rule, and the
rest of a step (the Solver's batching and bookkeeping, the model's glue), by timing each library
call of a training step. The split costs a little time itself, so it is measured in a run of its
own after the timed ones.

Run from the repository root (PyTorch comes with ``make bench-cpu``'s environment):

    python bench/train_cpu.py [--num-train 49000] [--repeats 1] [--json results.json]
                              [--ours-python OTHER_PYTHON]

``--ours-python`` runs our side under another interpreter (another Python or NumPy version; it
needs NumPy, tqdm and threadpoolctl, and finds cs231kit in this checkout), against PyTorch in
this one.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the reference ConvNet lives with the grader

BATCH = 50
HIDDEN = 500
LEARNING_RATE = 1e-3
NUM_VAL = 1000


def make_data(num_train: int) -> dict[str, Any]:
    """CIFAR-shaped float32 images and labels (the time does not depend on their values)."""
    import numpy as np

    rng = np.random.default_rng(0)
    return {
        "X_train": rng.standard_normal((num_train, 3, 32, 32), dtype=np.float32),
        "y_train": rng.integers(0, 10, num_train),
        "X_val": rng.standard_normal((NUM_VAL, 3, 32, 32), dtype=np.float32),
        "y_val": rng.integers(0, 10, NUM_VAL),
    }


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


# ---------------------------------------------------------------------------------------------
# One side per process
# ---------------------------------------------------------------------------------------------


def run_ours(num_train: int, split: bool) -> dict[str, Any]:
    # cs231kit before NumPy, as notebooks 03-06 import them (see cs231kit.batch_threads). The
    # driver imports neither, so PyTorch's side runs in an environment cs231kit has not touched.
    import cs231kit  # noqa: F401

    # isort: split
    import numpy as np

    from autograder.judge.reference import conv, layers, models
    from autograder.judge.reference.optim import adam
    from cs231kit.solver import Solver

    data = make_data(num_train)
    before = peak_rss_mb()
    parts: dict[str, float] = defaultdict(float)
    if split:
        timed = {
            conv: ("conv_forward_fast", "conv_backward_fast", "max_pool_forward_fast",
                   "max_pool_backward_fast", "relu_forward", "relu_backward"),
            layers: ("affine_forward", "affine_backward", "relu_forward", "relu_backward"),
            models: ("affine_forward", "affine_backward", "softmax_loss"),
        }
        for module, names in timed.items():
            for name in names:
                setattr(module, name, _timed(getattr(module, name), _part(name), parts))
    model = models.ThreeLayerConvNet(hidden_dim=HIDDEN, dtype=np.float32, seed=0)
    solver = Solver(model, data, update_rule=adam, optim_config={"learning_rate": LEARNING_RATE},
                    batch_size=BATCH, num_epochs=1, num_train_samples=1000, verbose=False,
                    seed=0)
    if split:  # the Solver's update of all parameters (it runs the rule on blocks in threads)
        solver._updates = _timed(solver._updates, "update rule", parts)
    start = time.perf_counter()
    solver.train()
    seconds = time.perf_counter() - start
    if split:
        parts["rest (Solver, batching, glue)"] = seconds - sum(parts.values())
    return {"seconds": seconds, "peak_mb": peak_rss_mb(), "data_mb": before, "parts": parts,
            "python": platform.python_version(), "numpy": np.__version__}


def run_torch(num_train: int, split: bool) -> dict[str, Any]:
    import numpy as np
    import torch
    from torch import nn

    torch.set_num_threads(os.cpu_count() or 1)
    data = make_data(num_train)
    before = peak_rss_mb()
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 32, 7, padding=3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(32 * 16 * 16, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 10),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    X, y = torch.from_numpy(data["X_train"]), torch.from_numpy(data["y_train"])
    order = np.random.default_rng(0)
    start = time.perf_counter()
    for batch in np.array_split(order.permutation(num_train), num_train // BATCH):
        index = torch.from_numpy(batch)
        optimizer.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(model(X[index]), y[index])
        loss.backward()
        optimizer.step()
    with torch.no_grad():  # the Solver's end-of-epoch checks: 1000 training images, validation
        for images, labels in ((X[:1000], y[:1000]),
                               (torch.from_numpy(data["X_val"]), torch.from_numpy(data["y_val"]))):
            for lo in range(0, len(images), 100):
                (model(images[lo:lo + 100]).argmax(1) == labels[lo:lo + 100]).float().mean()
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_mb": peak_rss_mb(), "data_mb": before, "parts": {},
            "torch": torch.__version__, "threads": torch.get_num_threads()}


def _part(name: str) -> str:
    for word, part in (("conv", "conv"), ("pool", "pool"), ("affine", "affine"),
                       ("relu", "ReLU"), ("softmax", "loss")):
        if word in name:
            return part
    raise ValueError(name)


def _timed(fn: Callable[..., Any], part: str, parts: dict[str, float]) -> Callable[..., Any]:
    """``fn``, adding the time of each call to ``parts[part]``."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            parts[part] += time.perf_counter() - start

    return wrapper


# ---------------------------------------------------------------------------------------------
# The driver
# ---------------------------------------------------------------------------------------------


def side(name: str, num_train: int, python: str, split: bool = False) -> dict[str, Any]:
    """Run one side in a fresh process of the interpreter ``python``; return what it measured."""
    command = [python, __file__, "--side", name, "--num-train", str(num_train)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's cs231kit, whatever the python
    done = subprocess.run(command + (["--split"] if split else []), capture_output=True,
                          text=True, cwd=ROOT, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the {name} side failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-train", type=int, default=49_000)
    parser.add_argument("--repeats", type=int, default=1, help="timed rounds per side")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--ours-python", default=sys.executable,
                        help="interpreter for our side (default: this one)")
    parser.add_argument("--side", choices=("ours", "torch"), help=argparse.SUPPRESS)
    parser.add_argument("--split", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.side:
        run = run_ours if args.side == "ours" else run_torch
        print(json.dumps(run(args.num_train, args.split)))
        return 0

    print(f"{os.cpu_count()} CPUs; {args.num_train} images, batch {BATCH}, "
          f"{args.repeats} round(s)")
    rounds: dict[str, list[dict[str, Any]]] = {"ours": [], "torch": []}
    for _ in range(args.repeats):
        for name in rounds:
            python = args.ours_python if name == "ours" else sys.executable
            rounds[name].append(side(name, args.num_train, python))
    split = side("ours", args.num_train, args.ours_python, split=True)
    ours = statistics.median(r["seconds"] for r in rounds["ours"])
    theirs = statistics.median(r["seconds"] for r in rounds["torch"])
    peak = {name: max(r["peak_mb"] for r in runs) for name, runs in rounds.items()}
    above = {name: max(r["peak_mb"] - r["data_mb"] for r in runs) for name, runs in rounds.items()}
    print(f"ours: Python {split['python']}, NumPy {split['numpy']}; PyTorch "
          f"{rounds['torch'][0]['torch']} on Python {platform.python_version()}, "
          f"{rounds['torch'][0]['threads']} threads")
    print(f"\n{'':28}{'ours':>10}{'PyTorch':>10}{'ratio':>8}")
    print(f"{'epoch (s)':28}{ours:10.1f}{theirs:10.1f}{ours / theirs:8.2f}")
    print(f"{'peak memory (MB)':28}{peak['ours']:10.0f}{peak['torch']:10.0f}"
          f"{peak['ours'] / peak['torch']:8.2f}")
    print(f"{'  of it above the data (MB)':28}{above['ours']:10.0f}{above['torch']:10.0f}"
          f"{above['ours'] / max(above['torch'], 1):8.2f}")
    print(f"\nwhere our time goes (a separate run, {split['seconds']:.1f} s with the timers):")
    for part, seconds in sorted(split["parts"].items(), key=lambda kv: -kv[1]):
        print(f"  {part:30}{seconds:8.1f} s {100 * seconds / split['seconds']:5.1f}%")
    if args.json:
        args.json.write_text(json.dumps({"rounds": rounds, "split": split}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
