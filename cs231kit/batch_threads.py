"""Run a layer's work on chunks of the batch in parallel threads.

Why threads: NumPy's element-wise copies (im2col, padding, col2im) run on one core, but they
release Python's GIL, so a few threads, each handling its own images ``x[lo:hi]``, finish them
about that many times faster. The matrix multiplies of a chunk run in the same thread.

Why one BLAS thread per chunk: NumPy's BLAS (OpenBLAS) would otherwise start its own threads
inside every chunk's matrix multiply, and more busy threads than cores make OpenBLAS spin while
it waits for threads that are not running: on a shared, loaded 2-core machine a multiply was
measured about 14x slower that way. So while chunks run in parallel, BLAS is limited to one thread
per call, with ``threadpoolctl`` (at run time; no environment variables are touched), and the
chunk threads supply the parallelism. Without threadpoolctl, work that calls BLAS runs as one
chunk, with BLAS using its own threads as usual.

Small jobs run directly in the calling thread: handing them to threads costs more than it saves.

Why BLAS's idle threads are put to sleep sooner: after each matrix multiply OpenBLAS keeps its
own threads spinning for 2**28 CPU cycles (about 0.1 s), ready for the next one. A training step
multiplies every few milliseconds, so they never stop, and they take cores from the chunk
threads: on 2 cores a conv backward pass right after an affine layer's took 27 ms instead of
14 ms. ``shorten_blas_idle_spin`` (run by ``import cs231kit``) lowers the spin to 2**20 cycles.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

# Below this many array elements a job is too short for threads to pay off (a copy of 2**16
# float64 takes ~20 microseconds, about the cost of handing work to a thread and back).
MIN_ELEMENTS_TO_SPLIT = 1 << 16
# Chunks are made about this small (in array elements of the largest buffer a chunk fills), so
# that what one step of a chunk writes is still in the CPU cache when the next step reads it.
TARGET_CHUNK_ELEMENTS = 1 << 21
MAX_WORKERS = 32
# log2 of the CPU cycles OpenBLAS's idle threads spin before they sleep (OpenBLAS: 28, ~0.1 s).
# 2**20 cycles are well under a millisecond: back-to-back multiplies still find them awake.
BLAS_IDLE_SPIN_LOG2_CYCLES = 20

_pool: ThreadPoolExecutor | None = None
_pool_pid = -1  # the process that started the pool: a forked child must start its own
_blas_limiter: Any = None
_lock = threading.Lock()


def worker_count() -> int:
    """How many threads split work uses: the CPUs this process may run on (at most MAX_WORKERS)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no sched_getaffinity
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_WORKERS))


def shorten_blas_idle_spin() -> None:
    """Have OpenBLAS's idle threads sleep after 2**BLAS_IDLE_SPIN_LOG2_CYCLES cycles (see above).

    OpenBLAS reads the setting (the environment variable OPENBLAS_THREAD_TIMEOUT) once, when NumPy
    loads it, so this only helps before NumPy is first imported: ``import cs231kit`` first. A
    value the user has set is kept. Other BLAS libraries ignore the variable.
    """
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", str(BLAS_IDLE_SPIN_LOG2_CYCLES))


def blas_threads_limited_per_chunk() -> bool:
    """True if BLAS can be kept to one thread per chunk (threadpoolctl is installed and knows
    NumPy's BLAS library)."""
    return _get_blas_limiter() is not None


def split_over_batch(
    step: Callable[[int, int], None],
    batch: int,
    elements: int,
    *,
    uses_blas: bool = True,
    min_elements: int = MIN_ELEMENTS_TO_SPLIT,
) -> None:
    """Call step(lo, hi) for chunks [lo, hi) that together cover range(batch), in parallel.

    Inputs:
    - step: function of (lo, hi) that works on batch items lo..hi-1 only; chunks never overlap,
      so steps may write to their own rows of shared output arrays
    - batch: number of items N
    - elements: size of the largest array the job fills (in elements), to size the chunks
    - uses_blas: whether step calls BLAS (matrix multiplies); if so BLAS is kept to one thread
      per call while the chunks run
    - min_elements: jobs smaller than this run in the calling thread, in one go

    Exceptions raised by a step are re-raised here.
    """
    workers = min(worker_count(), batch)
    if workers <= 1 or elements < min_elements:
        step(0, batch)
        return
    if not uses_blas:
        _run_chunks(step, _chunk_bounds(batch, elements, workers), workers)
        return
    limiter = _get_blas_limiter()
    if limiter is None:  # BLAS would start threads of its own in every chunk: do not add ours
        step(0, batch)
        return
    # Use no more threads than BLAS may (e.g. OPENBLAS_NUM_THREADS=1 in a grading sandbox).
    workers = min(workers, _blas_thread_count(limiter))
    if workers <= 1:
        step(0, batch)
        return
    with limiter.limit(limits=1, user_api="blas"):
        _run_chunks(step, _chunk_bounds(batch, elements, workers), workers)


def _chunk_bounds(batch: int, elements: int, workers: int) -> list[tuple[int, int]]:
    """Chunks of about TARGET_CHUNK_ELEMENTS, as many for every worker (so that no thread is
    left with a last chunk while the others wait), at least one each. More, smaller chunks were
    measured slower: each chunk has a fixed cost."""
    per_worker = -(-elements // (TARGET_CHUNK_ELEMENTS * workers))  # ceil, at least 1
    parts = min(batch, max(1, per_worker) * workers)
    bounds = [batch * k // parts for k in range(parts + 1)]
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def _run_chunks(step: Callable[[int, int], None], chunks: list, workers: int) -> None:
    # Threads take the next chunk when they are free, so a thread that the OS pauses (on a
    # busy machine) does not hold the others up.
    todo: queue.SimpleQueue = queue.SimpleQueue()
    for chunk in chunks:
        todo.put(chunk)

    def drain() -> None:
        while True:
            try:
                lo, hi = todo.get_nowait()
            except queue.Empty:
                return
            step(lo, hi)

    futures = [_get_pool().submit(drain) for _ in range(workers - 1)]
    try:
        drain()  # the calling thread works too instead of waiting idle
    finally:
        for future in futures:
            future.result()


def _blas_thread_count(limiter: Any) -> int:
    """The most threads any loaded BLAS library is currently set to use."""
    counts = [lib.num_threads for lib in limiter.lib_controllers if lib.user_api == "blas"]
    return max(counts, default=1)


def _get_blas_limiter() -> Any:
    """threadpoolctl's controller of the loaded BLAS libraries, or None if there is none."""
    global _blas_limiter
    with _lock:
        if _blas_limiter is None:
            try:
                from threadpoolctl import ThreadpoolController
            except ImportError:
                _blas_limiter = False
            else:
                # threadpoolctl may warn about clashing OpenMP libraries; a warning is printed
                # on stderr, which nbgrader scores as a failed cell, and changes nothing here.
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    controller = ThreadpoolController()
                knows_blas = any(lib.user_api == "blas" for lib in controller.lib_controllers)
                _blas_limiter = controller if knows_blas else False
        return _blas_limiter or None


def _get_pool() -> ThreadPoolExecutor:
    global _pool, _pool_pid
    with _lock:
        if _pool is None or _pool_pid != os.getpid():  # threads do not survive a fork
            _pool_pid = os.getpid()
            _pool = ThreadPoolExecutor(
                max_workers=max(1, worker_count() - 1), thread_name_prefix="cs231kit"
            )
        return _pool
