"""Update rules: how a parameter moves one step given its gradient.

The contract every update rule follows (the ``Solver`` relies on it)::

    next_w, config = update_rule(w, dw, config)

- ``w``: the current parameter, an array of any shape (NumPy or CuPy).
- ``dw``: the gradient of the loss with respect to ``w``, same shape as ``w``.
- ``config``: a dict of hyperparameters (``learning_rate``, ``momentum``, ...) **and state** the
  rule carries from one step to the next (a velocity, moment estimates, a step counter ``t``).
  ``None`` means "use the defaults". The rule fills in missing hyperparameters with
  ``config.setdefault(...)``, updates its state, and returns the config so the caller can hand it
  back on the next step. Each parameter of a model gets its own config, because the state belongs
  to one parameter.
- ``next_w``: the updated parameter, same shape and dtype as ``w``.

The rules of the course treat every entry of ``w`` on its own, so the ``Solver`` may call a rule
on blocks of a large parameter, in parallel, and put the results together (it checks on the
first update that this changes no bit; see ``cs231kit.update_in_blocks``).

This module ships only the plain ``sgd`` rule. The other rules of the course (SGD with momentum,
RMSProp, Adam) are yours to write in the notebook; pass the function itself to the ``Solver``,
e.g. ``Solver(model, data, update_rule=adam)``.
"""

from __future__ import annotations

from typing import Any, Protocol

# A NumPy or a CuPy ndarray. (CuPy is optional, so the alias stays loose.)
Array = Any


class UpdateRule(Protocol):
    """Type of an update rule: ``(w, dw, config) -> (next_w, config)``; see the module docstring."""

    def __call__(
        self, w: Array, dw: Array, config: dict[str, Any] | None = None
    ) -> tuple[Array, dict[str, Any]]: ...


def sgd(w: Array, dw: Array, config: dict[str, Any] | None = None) -> tuple[Array, dict[str, Any]]:
    """Vanilla stochastic gradient descent: step against the gradient.

    Inputs:
    - w: parameter, an array of any shape
    - dw: gradient of the loss with respect to w, same shape as w
    - config: dict with
      - learning_rate: step size (default 1e-2)

    Returns a tuple of:
    - next_w: w - learning_rate * dw, same shape as w
    - config: the config dict (with the default learning rate filled in)
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    if getattr(w, "shape", None) != getattr(dw, "shape", None):
        raise ValueError(
            f"sgd: the gradient has shape {getattr(dw, 'shape', None)} but the parameter has shape "
            f"{getattr(w, 'shape', None)}; dw must have exactly the shape of w."
        )

    next_w = w - config["learning_rate"] * dw
    return next_w, config
