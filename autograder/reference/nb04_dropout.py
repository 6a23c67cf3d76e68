"""Reference answers of notebook 04 (dropout) that the shared modules do not hold.

- ``dropout_forward`` / ``dropout_backward``: inverted dropout with the notebook's random-number
  contract. ``p`` is the probability of *keeping* a unit (as in the lecture). With a seed the mask
  is ``np.random.default_rng(seed).random(x.shape) < p``; without one it is
  ``np.random.random(x.shape) < p``, drawn from NumPy's global generator (which ``np.random.seed``
  seeds, so a notebook's training runs are reproducible). Either way the kept units are divided by
  ``p``. (``autograder.reference.layers.dropout_forward`` draws its seeded masks from
  ``RandomState(seed).rand`` instead, so its masks differ from these for the same seed.)
- ``vanilla_dropout_predict``: the test-time output of the neurons that follow a *vanilla* dropout
  layer (no rescaling during training), which must scale the activations by ``p``.

The network with dropout is ``autograder.reference.models.FullyConnectedNet`` with these dropout
layers swapped in (see ``autograder.hidden_tests.nb04_dropout``).
"""

from __future__ import annotations

from typing import Any

from cs231kit.backend import get_array_module

Array = Any  # a NumPy or CuPy ndarray
Cache = Any


def _check_param(dropout_param: dict[str, Any]) -> tuple[float, str]:
    """(p, mode) from a dropout_param dict, with a clear error for values that make no sense."""
    p = dropout_param["p"]
    mode = dropout_param.get("mode", "train")
    if not 0 < p <= 1:
        raise ValueError(f"the keep probability p must be in (0, 1], got {p}.")
    if mode not in ("train", "test"):
        raise ValueError(f"dropout mode must be 'train' or 'test', got {mode!r}.")
    return p, mode


def dropout_forward(x: Array, dropout_param: dict[str, Any]) -> tuple[Array, Cache]:
    """Inverted dropout forward.

    Inputs:
    - x: array of any shape, floating dtype
    - dropout_param: dict with
      - "p": probability of keeping each unit, 0 < p <= 1
      - "mode": "train" (drop units) or "test" (the identity)
      - "seed" (optional): int; the mask is then the same on every call

    Returns a tuple of:
    - out: same shape and dtype as x; x * mask in training, x itself at test time
    - cache: (dropout_param, mask), mask of x's shape and dtype holding 0 or 1/p (None in test mode)
    """
    p, mode = _check_param(dropout_param)
    if mode == "test":
        return x, (dropout_param, None)
    xp = get_array_module(x)
    seed = dropout_param.get("seed")
    rng = xp.random if seed is None else xp.random.default_rng(seed)
    keep = rng.random(x.shape) < p
    mask = keep.astype(x.dtype) / x.dtype.type(p)
    return x * mask, (dropout_param, mask)


def dropout_backward(dout: Array, cache: Cache) -> Array:
    """Inverted dropout backward: dx = dout * mask (the local gradient of x * mask is mask).

    Inputs:
    - dout: upstream gradient, same shape as x
    - cache: (dropout_param, mask) from dropout_forward

    Returns dx, same shape as dout.
    """
    dropout_param, mask = cache
    if dropout_param.get("mode", "train") == "test":
        return dout
    return dout * mask


def vanilla_dropout_predict(x: Array, W: Array, p: float) -> Array:
    """Test-time output of neurons fed by a vanilla dropout layer with keep probability p.

    During training each input unit is kept with probability p and *not* rescaled, so the expected
    training-time output is E[(x * m) @ W] = p * (x @ W). At test time every unit is on; scaling by
    p makes the test output equal that expectation.

    Inputs:
    - x: (N, D) activations entering the dropout layer
    - W: (D, M) weights of the neurons that follow it
    - p: keep probability, 0 < p <= 1

    Returns out: (N, M).
    """
    if not 0 < p <= 1:
        raise ValueError(f"the keep probability p must be in (0, 1], got {p}.")
    return p * (x @ W)
