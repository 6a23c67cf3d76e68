"""CPU benchmark of cs231kit's fast conv/pool layers.

(a) fast vs plain loops (bench/naive_loops.py, a student's first version) on CS231n's cell:
    conv x 100x3x31x31, w 25x3x3x3, stride 2, pad 1; pool x 100x3x32x32, 2x2, stride 2 (float64).
(b) fast conv forward+backward vs PyTorch's CPU conv2d forward+backward (x, w, b all requiring
    grad, backward with a fixed upstream gradient), float32 and float64, when torch is importable.

Every time is the median of several runs after warm-up runs, all in this one process; in (b) our
runs and PyTorch's alternate, so both see the same background load. ratio = ours_s / baseline_s.

Run from the repository root:

    python bench/conv_cpu.py [--json results.json] [--repeats 9] [--naive-repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import sys
from pathlib import Path
from typing import Any

# Run from a checkout: the repository root gives cs231kit and the reference layers that both
# sides are checked against, which live with the grader (students write their own).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# cs231kit before NumPy, as the notebooks import it: it shortens the spin of NumPy's BLAS
# threads (cs231kit/batch_threads.py). PyTorch's side is untouched: its BLAS is MKL, and its
# convolutions are oneDNN's.
import cs231kit  # noqa: E402, F401, I001
import numpy as np  # noqa: E402

from naive_loops import (  # noqa: E402
    conv_backward_loops,
    conv_forward_loops,
    max_pool_backward_loops,
    max_pool_forward_loops,
)
from timing import interleaved_median_times, median_time, write_records  # noqa: E402

from autograder.judge.reference.conv import (  # noqa: E402
    conv_backward_naive,
    conv_forward_naive,
    max_pool_backward_naive,
    max_pool_forward_naive,
)
from cs231kit.batch_threads import blas_threads_limited_per_chunk, worker_count  # noqa: E402
from cs231kit.fast_layers import (  # noqa: E402
    conv_backward_fast,
    conv_forward_fast,
    max_pool_backward_fast,
    max_pool_forward_fast,
)

# (name, x shape, w shape, stride, pad) for part (b): the course's layer shapes.
TORCH_CASES = [
    ("x50x3x32x32_w32x3x7x7_s1p3", (50, 3, 32, 32), (32, 3, 7, 7), 1, 3),
    ("x32x64x32x32_w64x64x3x3_s1p1", (32, 64, 32, 32), (64, 64, 3, 3), 1, 1),
    ("x32x128x16x16_w128x128x3x3_s1p1", (32, 128, 16, 16), (128, 128, 3, 3), 1, 1),
    ("x8x1x224x224_w4x1x9x9_s2p4", (8, 1, 224, 224), (4, 1, 9, 9), 2, 4),
]
# (name, x shape, pool size, stride) for part (b): the ConvNet's pool, and a wider one.
TORCH_POOL_CASES = [
    ("pool_x50x32x32x32_2x2_s2", (50, 32, 32, 32), 2, 2),
    ("pool_x32x64x32x32_2x2_s2", (32, 64, 32, 32), 2, 2),
]

Record = dict[str, Any]
def record(case: str, op: str, dtype: str, ours: float, baseline: str, base: float) -> Record:
    return {
        "case": case,
        "op": op,
        "dtype": dtype,
        "ours_s": ours,
        "baseline": baseline,
        "baseline_s": base,
        "ratio": ours / base,
    }


# ---------------------------------------------------------------------------------------------
# Environment report
# ---------------------------------------------------------------------------------------------


def print_environment(torch: Any) -> None:
    print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")
    limited = "yes" if blas_threads_limited_per_chunk() else "no (threadpoolctl missing)"
    print(f"NumPy {np.__version__}; cs231kit chunk threads: {worker_count()}")
    print(f"cs231kit keeps BLAS to one thread per chunk: {limited}")
    print("NumPy BLAS: " + numpy_blas_summary())
    try:
        import numba

        print(
            f"Numba {numba.__version__}: big 3x3 stride-1 layers use Winograd's algorithm, "
            "big layers with few filters direct sums"
        )
    except ImportError:
        print("Numba not installed: every layer uses im2col")
    try:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            print(
                f"  threadpoolctl: {pool.get('internal_api')} {pool.get('version')} "
                f"threads={pool.get('num_threads')} ({pool.get('filepath')})"
            )
    except ImportError:
        print("  (threadpoolctl not installed: BLAS thread count not shown)")
    if torch is None:
        return
    print(f"PyTorch {torch.__version__}: torch.get_num_threads() = {torch.get_num_threads()}")
    print("torch.__config__.show():")
    for line in torch.__config__.show().strip().splitlines():
        print("  " + line)


def numpy_blas_summary() -> str:
    try:
        config = np.show_config(mode="dicts")  # NumPy >= 1.26
        blas = config["Build Dependencies"]["blas"]
        return (
            f"{blas.get('name')} {blas.get('version')} ({blas.get('openblas configuration', '')})"
        )
    except TypeError:  # older NumPy: show_config only prints
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            np.show_config()
        return " | ".join(line.strip() for line in buffer.getvalue().splitlines() if line.strip())


# ---------------------------------------------------------------------------------------------
# (a) fast vs naive on CS231n's cell
# ---------------------------------------------------------------------------------------------


def bench_vs_naive(repeats: int, naive_repeats: int) -> list[Record]:
    """Fast layers against plain loops (bench/naive_loops.py); both are first checked against the
    grader's reference layers."""
    rng = np.random.default_rng(231)
    records = []

    x = rng.standard_normal((100, 3, 31, 31))
    w = rng.standard_normal((25, 3, 3, 3))
    b = rng.standard_normal(25)
    conv_param = {"stride": 2, "pad": 1}
    out_ref, cache_ref = conv_forward_naive(x, w, b, conv_param)
    out_fast, cache_fast = conv_forward_fast(x, w, b, conv_param)
    out_loops, cache_loops = conv_forward_loops(x, w, b, 2, 1)
    dout = rng.standard_normal(out_fast.shape)
    grads_ref = conv_backward_naive(dout, cache_ref)
    for name, got in (("fast", out_fast), ("loops", out_loops)):
        check_close(f"conv forward ({name})", got, out_ref)
    for name, grads in (("fast", conv_backward_fast(dout, cache_fast)),
                        ("loops", conv_backward_loops(dout, cache_loops))):
        for got, want, what in zip(grads, grads_ref, "dx dw db".split(), strict=True):
            check_close(f"conv backward {what} ({name})", got, want)

    case = "cs231n_conv_x100x3x31x31_w25x3x3x3_s2p1"
    t_naive = median_time(lambda: conv_forward_loops(x, w, b, 2, 1), naive_repeats)
    t_fast = median_time(lambda: conv_forward_fast(x, w, b, conv_param), repeats, warmup=2)
    records.append(record(case, "conv_forward", "float64", t_fast, "naive", t_naive))
    t_naive = median_time(lambda: conv_backward_loops(dout, cache_loops), naive_repeats)
    t_fast = median_time(lambda: conv_backward_fast(dout, cache_fast), repeats, warmup=2)
    records.append(record(case, "conv_backward", "float64", t_fast, "naive", t_naive))

    x = rng.standard_normal((100, 3, 32, 32))
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    out_ref, cache_ref = max_pool_forward_naive(x, pool_param)
    out_fast, cache_fast = max_pool_forward_fast(x, pool_param)
    out_loops, cache_loops = max_pool_forward_loops(x, 2, 2)
    dout = rng.standard_normal(out_fast.shape)
    dx_ref = max_pool_backward_naive(dout, cache_ref)
    for name, got, dx in (("fast", out_fast, max_pool_backward_fast(dout, cache_fast)),
                          ("loops", out_loops, max_pool_backward_loops(dout, cache_loops))):
        check_close(f"pool forward ({name})", got, out_ref)
        check_close(f"pool backward ({name})", dx, dx_ref)

    case = "cs231n_pool_x100x3x32x32_2x2_s2"
    t_naive = median_time(lambda: max_pool_forward_loops(x, 2, 2), naive_repeats)
    t_fast = median_time(lambda: max_pool_forward_fast(x, pool_param), repeats, warmup=2)
    records.append(record(case, "pool_forward", "float64", t_fast, "naive", t_naive))
    t_naive = median_time(lambda: max_pool_backward_loops(dout, cache_loops), naive_repeats)
    t_fast = median_time(lambda: max_pool_backward_fast(dout, cache_fast), repeats, warmup=2)
    records.append(record(case, "pool_backward", "float64", t_fast, "naive", t_naive))
    return records


def check_close(what: str, got: np.ndarray, want: np.ndarray, tol: float = 1e-9) -> None:
    """Refuse to time layers that disagree: a fast wrong answer is worth nothing."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    err = float(np.max(np.abs(got - want)) / max(1e-30, float(np.max(np.abs(want)))))
    if not err < tol:
        raise SystemExit(f"{what}: fast and reference disagree (scaled max error {err:.2e})")


# ---------------------------------------------------------------------------------------------
# (b) fast conv forward+backward vs PyTorch CPU
# ---------------------------------------------------------------------------------------------


def bench_vs_torch(torch: Any, repeats: int) -> list[Record]:
    records = []
    for dtype_name in ("float32", "float64"):
        np_dtype = np.dtype(dtype_name)
        torch_dtype = getattr(torch, dtype_name)
        for case, x_shape, w_shape, stride, pad in TORCH_CASES:
            rng = np.random.default_rng(0)
            x = rng.standard_normal(x_shape).astype(np_dtype)
            w = (rng.standard_normal(w_shape) * 0.1).astype(np_dtype)
            b = rng.standard_normal(w_shape[0]).astype(np_dtype)
            conv_param = {"stride": stride, "pad": pad}
            out, _ = conv_forward_fast(x, w, b, conv_param)
            dout = rng.standard_normal(out.shape).astype(np_dtype)

            def ours(
                x: np.ndarray = x,
                w: np.ndarray = w,
                b: np.ndarray = b,
                conv_param: dict = conv_param,
                dout: np.ndarray = dout,
            ) -> tuple:
                _, cache = conv_forward_fast(x, w, b, conv_param)
                return conv_backward_fast(dout, cache)

            tx = torch.tensor(x, dtype=torch_dtype, requires_grad=True)
            tw = torch.tensor(w, dtype=torch_dtype, requires_grad=True)
            tb = torch.tensor(b, dtype=torch_dtype, requires_grad=True)
            tdout = torch.tensor(dout, dtype=torch_dtype)

            def theirs(
                tx: Any = tx,
                tw: Any = tw,
                tb: Any = tb,
                tdout: Any = tdout,
                s: int = stride,
                p: int = pad,
            ) -> tuple:
                tx.grad = tw.grad = tb.grad = None
                y = torch.nn.functional.conv2d(tx, tw, tb, stride=s, padding=p)
                y.backward(tdout)
                return tx.grad, tw.grad, tb.grad

            records.append(
                compare(case, "conv_forward_backward", dtype_name, ours, theirs, repeats)
            )
        for case, x_shape, size, stride in TORCH_POOL_CASES:
            x = np.random.default_rng(0).standard_normal(x_shape).astype(np_dtype)
            pool_param = {"pool_height": size, "pool_width": size, "stride": stride}
            out, _ = max_pool_forward_fast(x, pool_param)
            dout = np.random.default_rng(1).standard_normal(out.shape).astype(np_dtype)

            def ours_pool(x: np.ndarray = x, p: dict = pool_param, dout: Any = dout) -> tuple:
                _, cache = max_pool_forward_fast(x, p)
                return (max_pool_backward_fast(dout, cache),)

            tx = torch.tensor(x, dtype=torch_dtype, requires_grad=True)
            tdout = torch.tensor(dout, dtype=torch_dtype)

            def theirs_pool(tx: Any = tx, tdout: Any = tdout, k: int = size, s: int = stride
                            ) -> tuple:
                tx.grad = None
                torch.nn.functional.max_pool2d(tx, k, s).backward(tdout)
                return (tx.grad,)

            records.append(
                compare(case, "pool_forward_backward", dtype_name, ours_pool, theirs_pool, repeats)
            )
    return records


def compare(case: str, op: str, dtype: str, ours: Any, theirs: Any, repeats: int) -> Record:
    """Check that ours and theirs agree, time them side by side, print and return the record."""
    agree = max_scaled_difference(ours(), theirs())
    t_ours, t_torch = interleaved_median_times([ours, theirs], repeats)
    rec = record(case, op, dtype, t_ours, "torch", t_torch)
    print(
        f"  measured {case} {dtype}: ratio {rec['ratio']:.2f} "
        f"(max scaled difference from torch {agree:.1e})",
        flush=True,
    )
    return rec


def max_scaled_difference(ours: tuple, theirs: tuple) -> float:
    worst = 0.0
    for a, t in zip(ours, theirs, strict=True):
        t_np = t.detach().numpy().astype(np.float64)
        scale = max(1e-30, float(np.max(np.abs(t_np))))
        worst = max(worst, float(np.max(np.abs(a.astype(np.float64) - t_np))) / scale)
    return worst


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def print_table(records: list[Record]) -> None:
    header = f"{'case':<42} {'op':<22} {'dtype':<8} {'ours (s)':>10} {'baseline':>9} "
    header += f"{'base (s)':>10} {'ratio':>8} {'speed-up':>9}"
    print(header)
    print("-" * len(header))
    for r in records:
        print(
            f"{r['case']:<42} {r['op']:<22} {r['dtype']:<8} {r['ours_s']:>10.5f} "
            f"{r['baseline']:>9} {r['baseline_s']:>10.5f} {r['ratio']:>8.4f} "
            f"{1 / r['ratio']:>8.1f}x"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="write the records to this JSON file")
    parser.add_argument("--repeats", type=int, default=9, help="timed runs per fast measurement")
    parser.add_argument("--naive-repeats", type=int, default=3, help="timed runs of naive loops")
    parser.add_argument("--skip-naive", action="store_true", help="skip part (a)")
    parser.add_argument("--skip-torch", action="store_true", help="skip part (b)")
    args = parser.parse_args(argv)

    try:
        import torch
    except ImportError:
        torch = None
    print_environment(torch)
    print()

    records: list[Record] = []
    if not args.skip_naive:
        print("(a) fast vs naive loops, CS231n's benchmark cell (float64)", flush=True)
        records += bench_vs_naive(args.repeats, args.naive_repeats)
    if args.skip_torch:
        pass
    elif torch is None:
        print("(b) skipped: PyTorch is not installed (pip install torch) - no baseline to compare")
    else:
        print("(b) fast conv and max-pool forward+backward vs PyTorch CPU", flush=True)
        records += bench_vs_torch(torch, args.repeats)

    print()
    print_table(records)
    write_records(records, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
