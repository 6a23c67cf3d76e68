"""Which array is the batch of images the Solver is training on right now.

Nothing uses the gradient of the loss with respect to the data: training changes the
parameters, not the images. A layer whose input *is* that batch may therefore skip computing
its dx, as PyTorch does for inputs that do not require a gradient. For the course's ConvNet this
is the first convolution, where dx was about 40% of the backward pass.

The ``Solver`` names the batch for the length of a step::

    with training_batch(X_batch):
        loss, grads = model.loss(X_batch, y_batch)

and ``conv_forward_fast`` asks ``is_training_batch(x)``. Only that very array object counts (a
model that passes ``X.astype(self.dtype, copy=False)`` on data already of that dtype passes it
on); a copy or any array computed from it is an ordinary input, with dx computed as usual.
Outside a Solver step nothing is a training batch.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_local = threading.local()  # each thread its own: a step runs in the thread that called train()


@contextmanager
def training_batch(x: Any) -> Iterator[None]:
    """Mark x as the training batch (whose gradient nobody needs) inside the ``with`` block."""
    before = getattr(_local, "batch", None)
    _local.batch = x
    try:
        yield
    finally:
        _local.batch = before


def is_training_batch(x: Any) -> bool:
    """Whether x is the array the Solver is training on in this thread right now."""
    batch = getattr(_local, "batch", None)
    return batch is not None and batch is x
