"""Apply an update rule to a large parameter block by block, in parallel threads.

Why: an update rule written with whole-array NumPy expressions, such as the course's Adam
(``m = beta1 * m + (1 - beta1) * dw`` ...), makes about fifteen temporaries the size of the
parameter. For a 4-million-entry weight matrix each one is 16 MB, far more than the CPU cache,
so every expression waits on main memory, on one core. Cut into blocks of ``BLOCK_ELEMENTS``
entries, the same expressions work in the cache, and the blocks run in parallel threads (NumPy
releases the GIL for them): Adam on that matrix took 21 ms a step whole and 9.5 ms in blocks
on 2 cores.

Why the result is the same: every update rule of the course treats each entry of the parameter
on its own (its state arrays, ``m``, ``v``, ``velocity``, ``cache``, have the parameter's shape
and are read and written entry by entry). Element-wise float arithmetic gives the same bits
whichever block an entry is in, so the blocks together give exactly what one call on the whole
parameter gives. The ``Solver`` does not take that on trust: the first time it updates a
parameter it computes the update both ways and compares them bit for bit (see
``BlockedUpdates``); a rule that does not treat entries on their own (one that clips the
gradient by its norm, say, or draws random numbers) gives different bits and is then always
applied to the whole parameter.

How a block is given to the rule: ``rule(w_block, dw_block, block_config)``, where ``w_block`` and
``dw_block`` are flat views of the block's entries, and ``block_config`` is the parameter's
config with every state array replaced by its block (a view). What the rule returns for the
blocks is put back together: ``next_w`` and each state array the parameter's shape again, each
other entry (a step counter ``t``) as the first block returned it. The parameter's config then
holds what a call on the whole parameter would have left there.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from cs231kit.batch_threads import split_over_batch
from cs231kit.optim import UpdateRule

# Entries per block: 128K float32 entries are 512 KB, so a block's arrays stay in the CPU cache.
# (Adam on 4M float32 entries, 2 cores: blocks of 32K entries 12.6 ms, 64K 11.1, 128K 9.5,
# 256K 9.3, where 256K blocks leave little for the second thread on smaller parameters.)
BLOCK_ELEMENTS = 1 << 17
# Parameters smaller than this are updated whole: a block's Python overhead would not pay off.
MIN_ELEMENTS = 2 * BLOCK_ELEMENTS


def update_in_blocks(
    rule: UpdateRule, w: np.ndarray, dw: np.ndarray, config: dict[str, Any]
) -> tuple[np.ndarray, dict[str, Any]]:
    """``rule(w, dw, config)`` computed block by block in parallel threads (see module doc).

    Inputs:
    - rule: an update rule ``(w, dw, config) -> (next_w, config)`` that treats entries on their own
    - w: the parameter, a NumPy array of any shape; dw: its gradient, same shape
    - config: the parameter's config, not modified itself; the rule may change its state arrays
      (those of w's shape) in place, as it may in a call on the whole parameter

    Returns next_w (a new array of w's shape) and a new config: the state arrays new arrays of
    w's shape, every other entry as the rule returned it for the first block.
    """
    size = w.size
    flat_w = np.ascontiguousarray(w).reshape(-1)
    flat_dw = np.ascontiguousarray(dw).reshape(-1)
    # Entries that are state arrays are cut into blocks; the others are given to every block.
    state = {
        key: np.ascontiguousarray(value).reshape(-1)
        for key, value in config.items()
        if isinstance(value, np.ndarray) and value.shape == w.shape
    }
    bounds = list(range(0, size, BLOCK_ELEMENTS)) + [size]

    def update_block(k: int) -> tuple[Any, dict[str, Any]]:
        lo, hi = bounds[k], bounds[k + 1]
        block_config = dict(config)
        block_config.update({key: value[lo:hi] for key, value in state.items()})
        return rule(flat_w[lo:hi], flat_dw[lo:hi], block_config)

    # The first block shows what the rule returns: the other entries of the config are taken
    # from it, and each state array (an array of the block's length) gets a whole-size array.
    first_w, next_config = update_block(0)
    returned_state = [
        key
        for key, value in next_config.items()
        if isinstance(value, np.ndarray) and value.shape == (bounds[1],)
    ]
    next_w = np.empty(size, dtype=first_w.dtype)
    wholes = {key: np.empty(size, dtype=next_config[key].dtype) for key in returned_state}

    def put(k: int, block_w: Any, block_config: dict[str, Any]) -> None:
        lo, hi = bounds[k], bounds[k + 1]
        next_w[lo:hi] = block_w
        for key, whole in wholes.items():
            whole[lo:hi] = block_config[key]

    put(0, first_w, next_config)

    def update_rest(lo: int, hi: int) -> None:  # blocks lo+1..hi (chunks run in parallel)
        for k in range(lo + 1, hi + 1):
            put(k, *update_block(k))  # while the block's results are still in the cache

    split_over_batch(update_rest, len(bounds) - 2, size, uses_blas=False)
    next_config.update({key: whole.reshape(w.shape) for key, whole in wholes.items()})
    return next_w.reshape(w.shape), next_config


class BlockedUpdates:
    """Applies update rules parameter by parameter, in blocks where that gives the same bits.

    Use: ``next_w, next_config = updates(rule, name, w, dw, config)``, in place of
    ``rule(w, dw, config)``. The first update of each large NumPy parameter by a rule is
    computed both in blocks and whole; if the two differ in any bit (next_w, or any entry of the
    config), the whole result is used and that rule never updates the parameter in blocks.
    """

    def __init__(self) -> None:
        self.rule: UpdateRule | None = None
        self.in_blocks: dict[str, bool] = {}  # parameter name -> whether blocks give the same bits

    def __call__(
        self, rule: UpdateRule, name: str, w: Any, dw: Any, config: dict[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        if rule is not self.rule:  # a new rule must prove itself again
            self.rule, self.in_blocks = rule, {}
        eligible = (
            isinstance(w, np.ndarray)
            and isinstance(dw, np.ndarray)
            and w.shape == dw.shape
            and w.size >= MIN_ELEMENTS
        )
        if not eligible or self.in_blocks.get(name) is False:
            return rule(w, dw, config)
        if self.in_blocks.get(name):
            return update_in_blocks(rule, w, dw, config)
        # The first update: in blocks on a copy of the config, then whole, then compare. A rule
        # that fails in blocks (say, one that returns something other than an array) is applied
        # whole, where any error it raises is its own.
        try:
            blocked: Any = update_in_blocks(rule, w, dw, copy.deepcopy(config))
        except Exception:
            blocked = None
        whole = rule(w, dw, config)
        self.in_blocks[name] = blocked is not None and _same_bits(blocked, whole)
        return whole


def _same_bits(a: Any, b: Any) -> bool:
    """Whether two update results are identical: arrays bit for bit (same shape and dtype),
    dicts key by key, anything else by ==."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return False
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        return a.tobytes() == b.tobytes()
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_bits(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same_bits(x, y) for x, y in zip(a, b, strict=True))
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False
