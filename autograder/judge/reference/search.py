"""Reference random-search helpers of notebook 01 (coarse-to-fine search in log space).

- ``sample_log_uniform``: samples whose base-10 logarithm is uniform between two bounds;
- ``should_abort``: the early abort of a trial whose loss exploded (above 3x its start).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def sample_log_uniform(rng: np.random.Generator, low: float, high: float, size: Any = None) -> Any:
    """Samples whose base-10 logarithm is uniform on [log10(low), log10(high)].

    Inputs:
    - rng: a NumPy Generator (the only source of randomness, so a seeded rng repeats)
    - low, high: positive bounds
    - size: None for one float, or an int / tuple for an array of that shape
    """
    exponent = rng.uniform(math.log10(low), math.log10(high), size=size)
    return np.power(10.0, exponent)


def should_abort(loss: float, initial_loss: float, factor: float = 3.0) -> bool:
    """True when a trial's loss is not finite or exceeds factor times its initial loss."""
    if not math.isfinite(loss):
        return True
    return bool(loss > factor * initial_loss)
