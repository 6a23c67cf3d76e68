"""The ``Solver``: a training loop for any model with ``params`` and ``loss``.

A model the Solver can train has

- ``model.params``: a dict mapping parameter names (``"W1"``, ``"b1"``, ...) to arrays;
- ``model.loss(X, y=None)``: with ``y=None`` it runs the test-time forward pass and returns class
  scores of shape (N, C); with labels ``y`` of shape (N,) it runs the training forward and backward
  pass and returns ``(loss, grads)``, where ``grads`` has one gradient per key of ``params``.

Example::

    solver = Solver(model, data, update_rule=sgd, optim_config={"learning_rate": 1e-3},
                    lr_decay=0.95, batch_size=100, num_epochs=10)
    solver.train()
    solver.best_val_acc   # the model now holds the parameters that reached it
    print(solver.validation_summary())   # best-epoch and last-epoch validation accuracy

The validation set chooses which epoch's parameters the model keeps, so ``best_val_acc`` is an
optimistic estimate of the kept model's accuracy; ``last_val_acc`` is the last epoch's. Measure
the kept model on data that chose nothing (a test set) for an honest estimate.

Each epoch is one pass over the training set in a random order (seeded by ``seed``). After every
epoch the learning rate of every parameter is multiplied by ``lr_decay`` and the accuracies on
(a sample of) the training set and on the validation set are recorded.

The data stays on the host as NumPy arrays; each minibatch is moved to the current array backend
(NumPy, or CuPy on a GPU) just before it is used, so a model whose parameters live on the GPU
trains without any change here.

During a training step the minibatch is marked as the training batch (``cs231kit.training_batch``):
nothing needs the gradient of the loss with respect to the images, so a fast convolution applied
to them returns dx = None instead of computing it.
"""

from __future__ import annotations

import math
import os
import pickle
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from tqdm import tqdm

from cs231kit import optim
from cs231kit.backend import get_array_module, to_device, to_numpy
from cs231kit.memory_reuse import keep_freed_memory
from cs231kit.metrics import accuracy
from cs231kit.optim import Array, UpdateRule
from cs231kit.run_mode import grading_mode
from cs231kit.training_batch import training_batch
from cs231kit.update_in_blocks import BlockedUpdates

REQUIRED_DATA_KEYS = ("X_train", "y_train", "X_val", "y_val")


class Model(Protocol):
    """What the Solver needs from a model: a ``params`` dict and a ``loss`` method."""

    params: dict[str, Any]

    def loss(self, X: Array, y: Array | None = None) -> Any: ...


class TrainingDivergedError(FloatingPointError):
    """The training loss became NaN or infinite, so training was stopped."""


def resolve_update_rule(update_rule: UpdateRule | str) -> UpdateRule:
    """Turn ``update_rule`` (a function, or the name of a rule in ``cs231kit.optim``) into a rule.

    Inputs:
    - update_rule: a callable ``(w, dw, config) -> (next_w, config)``, or a string such as ``"sgd"``

    Returns the update rule function. Raises ValueError for an unknown name.
    """
    if callable(update_rule):
        return update_rule
    if isinstance(update_rule, str):
        given = _given_update_rules()
        if update_rule in given:
            return given[update_rule]
        raise ValueError(
            f"Unknown update rule {update_rule!r}: cs231kit.optim provides only {sorted(given)}. "
            "If you wrote the rule yourself (e.g. adam in your notebook), pass the function "
            "itself, not its name: Solver(model, data, update_rule=adam)."
        )
    raise TypeError(
        "update_rule must be a function (w, dw, config) -> (next_w, config) or the name of a rule "
        f"in cs231kit.optim, got {type(update_rule).__name__}."
    )


def _given_update_rules() -> dict[str, UpdateRule]:
    """The update rules that ship with cs231kit.optim, by name (today only ``sgd``)."""
    return {
        name: obj
        for name, obj in vars(optim).items()
        if callable(obj)
        and not name.startswith("_")
        and getattr(obj, "__module__", None) == optim.__name__
        and not isinstance(obj, type)
    }


class Solver:
    """Trains a model with minibatch gradient descent and an update rule.

    Inputs:
    - model: an object with ``params`` (dict of arrays) and ``loss(X, y=None)`` (see module doc)
    - data: dict with
      - X_train: (N_train, ...) training inputs, e.g. (N, 3, 32, 32) images
      - y_train: (N_train,) integer labels in [0, C)
      - X_val: (N_val, ...) validation inputs
      - y_val: (N_val,) validation labels
      (``get_cifar10_data`` returns such a dict; other keys are ignored)
    - update_rule: a function ``(w, dw, config) -> (next_w, config)`` (see ``cs231kit.optim``), or
      the name of a rule in ``cs231kit.optim`` such as ``"sgd"``. A large parameter is updated in
      cache-sized blocks, in parallel, once a first update has shown that this gives exactly
      the bits of a whole update (see ``cs231kit.update_in_blocks``); so a ``print`` inside the
      rule prints once per block
    - optim_config: hyperparameters for the update rule, e.g. ``{"learning_rate": 1e-3}``; every
      parameter gets its own copy, because rules keep per-parameter state in it
    - lr_decay: after each epoch every learning rate is multiplied by this
    - batch_size: number of training examples per step
    - num_epochs: number of passes over the training set
    - num_train_samples: how many training examples to use when measuring training accuracy after
      each epoch (None: all of them)
    - num_val_samples: the same for the validation set (None: all of them)
    - checkpoint_name: if given, after each epoch the parameters and histories are saved (pickle)
      to ``f"{checkpoint_name}_epoch_{epoch}.pkl"``, with the parameters as NumPy arrays
    - print_every: print the loss every this many iterations (when verbose)
    - verbose: print the loss and the accuracies during training
    - progress: show a progress bar on stdout; None shows it when ``verbose`` is true and the
      notebook is not being graded (see ``cs231kit.run_mode.grading_mode``)
    - seed: seed for the order of the minibatches and the accuracy subsamples (None: random)

    After ``train()``:
    - loss_history: list of floats, the loss of every iteration
    - train_acc_history, val_acc_history: lists of floats, one entry before training and one after
      each epoch (so ``num_epochs + 1`` entries)
    - best_val_acc: the best validation accuracy seen; best_params: the parameters that reached it;
      best_epoch: the epoch that reached it (0: before training). The model's parameters are set
      to best_params at the end of training. The validation set chose that epoch, so best_val_acc
      is optimistic; ``validation_summary()`` says so.
    - last_val_acc: the validation accuracy after the last epoch (``val_acc_history[-1]``)
    """

    def __init__(
        self,
        model: Model,
        data: Mapping[str, Any],
        *,
        update_rule: UpdateRule | str = optim.sgd,
        optim_config: dict[str, Any] | None = None,
        lr_decay: float = 1.0,
        batch_size: int = 100,
        num_epochs: int = 10,
        num_train_samples: int | None = 1000,
        num_val_samples: int | None = None,
        checkpoint_name: str | os.PathLike[str] | None = None,
        print_every: int = 10,
        verbose: bool = True,
        progress: bool | None = None,
        seed: int | None = None,
    ) -> None:
        _check_model(model)
        self.model = model
        self.X_train, self.y_train = _host_split(data, "X_train", "y_train")
        self.X_val, self.y_val = _host_split(data, "X_val", "y_val")
        if self.X_train.shape[1:] != self.X_val.shape[1:]:
            raise ValueError(
                f"X_train examples have shape {self.X_train.shape[1:]} but X_val examples have "
                f"shape {self.X_val.shape[1:]}; both splits must hold the same kind of input."
            )

        self.update_rule: UpdateRule = resolve_update_rule(update_rule)
        self.optim_config: dict[str, Any] = dict(optim_config or {})
        self.lr_decay = _positive_float(lr_decay, "lr_decay")
        self.batch_size = _positive_int(batch_size, "batch_size")
        self.num_epochs = _positive_int(num_epochs, "num_epochs")
        self.num_train_samples = _optional_positive_int(num_train_samples, "num_train_samples")
        self.num_val_samples = _optional_positive_int(num_val_samples, "num_val_samples")
        self.checkpoint_name = None if checkpoint_name is None else os.fspath(checkpoint_name)
        self.print_every = _positive_int(print_every, "print_every")
        self.verbose = bool(verbose)
        self.progress = (self.verbose and not grading_mode()) if progress is None else progress
        self.seed = seed

        self._reset()

    # ------------------------------------------------------------------ set-up

    def _reset(self) -> None:
        """Clear the histories and the update rule state (called by the constructor)."""
        self.epoch = 0
        self.best_val_acc = 0.0
        self.best_epoch = 0
        self.last_val_acc = 0.0
        self.best_params: dict[str, Array] = {}
        self.loss_history: list[float] = []
        self.train_acc_history: list[float] = []
        self.val_acc_history: list[float] = []
        # One config per parameter: update rules keep per-parameter state (velocity, moments) there.
        self.optim_configs: dict[str, dict[str, Any]] = {
            name: dict(self.optim_config) for name in self.model.params
        }
        # Large parameters are updated in blocks, in parallel, when that gives the same bits.
        self._updates = BlockedUpdates()
        # Two streams, so how accuracy is sampled never changes the order of the minibatches.
        batch_seed, eval_seed = np.random.SeedSequence(self.seed).spawn(2)
        self._batch_rng = np.random.default_rng(batch_seed)
        self._eval_rng = np.random.default_rng(eval_seed)
        self._bar: Any = None
        self._last_epoch = self.num_epochs  # the epoch the current train() call ends at

    # ------------------------------------------------------------------ training

    def train(self) -> None:
        """Run ``num_epochs`` epochs of training, then load the best parameters into the model.

        Calling it again trains ``num_epochs`` more epochs from there; the histories grow.
        Raises TrainingDivergedError if the loss becomes NaN or infinite.
        """
        keep_freed_memory()  # a step's temporaries reuse the last step's memory (see its module)
        num_train = self.X_train.shape[0]
        iterations_per_epoch = max(num_train // self.batch_size, 1)
        num_iterations = self.num_epochs * iterations_per_epoch
        first_epoch = self.epoch + 1
        self._last_epoch = self.epoch + self.num_epochs

        self._bar = tqdm(
            total=num_iterations,
            desc="training",
            unit="it",
            file=sys.stdout,  # stderr output in a graded cell scores it 0
            disable=not self.progress,
            mininterval=0.5,
            leave=True,
        )
        try:
            if not self.val_acc_history:
                self._record_accuracies()  # the starting point, "epoch 0"
            iteration = 0
            for epoch in range(first_epoch, self._last_epoch + 1):
                order = self._batch_rng.permutation(num_train)
                for i in range(iterations_per_epoch):
                    iteration += 1
                    batch = order[i * self.batch_size : (i + 1) * self.batch_size]
                    loss = self._step(batch, iteration, epoch)
                    self._bar.update(1)
                    if iteration == 1 or iteration % self.print_every == 0:
                        self._bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
                        if self.verbose:
                            self._log(f"(Iteration {iteration} / {num_iterations}) loss: {loss:f}")

                self.epoch = epoch
                self._decay_learning_rates()
                self._record_accuracies()
                self._save_checkpoint()
        finally:
            self._bar.close()
            self._bar = None

        # Keep the parameters that did best on the validation set, not merely the last ones.
        for name, value in self.best_params.items():
            self.model.params[name] = value.copy()

    def _step(self, batch: np.ndarray, iteration: int, epoch: int) -> float:
        """One gradient step on the training examples with indices ``batch``; returns the loss."""
        X_batch = to_device(self.X_train[batch])
        y_batch = to_device(self.y_train[batch])

        with training_batch(X_batch):  # layers may skip the gradient of the images themselves
            result = self.model.loss(X_batch, y_batch)
        if not (isinstance(result, tuple) and len(result) == 2):
            raise TypeError(
                "model.loss(X, y) must return a tuple (loss, grads) when labels are given; "
                f"got {type(result).__name__}."
            )
        loss, grads = result
        loss_value = float(loss)
        self.loss_history.append(loss_value)
        if not math.isfinite(loss_value):
            raise TrainingDivergedError(
                f"Training stopped: the loss became {loss_value} at iteration {iteration} "
                f"(epoch {epoch}). Usually the learning rate is too high (try one 10x smaller) or "
                "the loss or a gradient is wrong (run a gradient check). The model keeps its last "
                "parameters; solver.loss_history holds every loss up to this one."
            )

        for name, w in list(self.model.params.items()):
            if name not in grads:
                raise KeyError(
                    f"model.loss returned no gradient for parameter {name!r}; grads must have "
                    f"one entry per key of model.params ({sorted(self.model.params)})."
                )
            config = self.optim_configs.setdefault(name, dict(self.optim_config))
            next_w, next_config = self._updates(self.update_rule, name, w, grads[name], config)
            self.model.params[name] = next_w
            self.optim_configs[name] = next_config
        return loss_value

    def _decay_learning_rates(self) -> None:
        """Multiply every parameter's learning rate by ``lr_decay`` (once per epoch)."""
        for config in self.optim_configs.values():
            if "learning_rate" in config:
                config["learning_rate"] *= self.lr_decay

    def _record_accuracies(self) -> None:
        """Measure train/val accuracy, append them to the histories and track the best params."""
        train_acc = self.check_accuracy(
            self.X_train, self.y_train, num_samples=self.num_train_samples
        )
        val_acc = self.check_accuracy(self.X_val, self.y_val, num_samples=self.num_val_samples)
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)
        self.last_val_acc = val_acc
        if self.verbose:
            self._log(
                f"(Epoch {self.epoch} / {self._last_epoch}) "
                f"train acc: {train_acc:f}; val_acc: {val_acc:f}"
            )
        if val_acc > self.best_val_acc or not self.best_params:
            self.best_val_acc = val_acc
            self.best_epoch = self.epoch
            # .copy() keeps the copy on the same device as the parameter.
            self.best_params = {name: w.copy() for name, w in self.model.params.items()}

    # ------------------------------------------------------------------ evaluation

    def check_accuracy(
        self, X: Array, y: Array, num_samples: int | None = None, batch_size: int = 100
    ) -> float:
        """Classification accuracy of the model on the data (X, y).

        Inputs:
        - X: (N, ...) inputs
        - y: (N,) integer labels
        - num_samples: if given and smaller than N, use a random subset of this many examples
        - batch_size: how many examples to push through the model at once (bounds memory use)

        Returns the fraction of examples classified correctly, a Python float in [0, 1].
        """
        y_host = np.asarray(to_numpy(y))
        num_examples = X.shape[0]
        if y_host.shape != (num_examples,):
            raise ValueError(
                f"check_accuracy: y must have shape ({num_examples},) to match X, "
                f"got {y_host.shape}."
            )
        if num_examples == 0:
            raise ValueError("check_accuracy: X holds no examples.")
        batch_size = _positive_int(batch_size, "batch_size")

        if num_samples is not None and num_examples > num_samples:
            subset = self._eval_rng.choice(num_examples, num_samples, replace=False)
            X, y_host = X[subset], y_host[subset]
            num_examples = num_samples

        predictions = []
        for start in range(0, num_examples, batch_size):
            scores = self.model.loss(to_device(X[start : start + batch_size]))
            if isinstance(scores, tuple):
                raise TypeError(
                    "model.loss(X) without labels must return the class scores (N, C), not a "
                    "tuple; return the scores early when y is None."
                )
            xp = get_array_module(scores)
            predictions.append(to_numpy(xp.argmax(scores, axis=1)))
        return float(accuracy(np.concatenate(predictions), y_host))

    # ------------------------------------------------------------------ output

    def validation_summary(self) -> str:
        """Two lines naming the best-epoch and the last-epoch validation accuracy, for printing.

        For example::

            Best-epoch validation accuracy: 0.355 (epoch 2 of 3; the validation set chose this
            epoch, so this number is optimistic)
            Last-epoch validation accuracy: 0.307 (epoch 3)

        (each on one line). Raises RuntimeError before ``train()``.
        """
        if self.epoch == 0:
            raise RuntimeError("No epoch has been trained yet: call solver.train() first.")
        return (
            f"Best-epoch validation accuracy: {self.best_val_acc:.3f} (epoch {self.best_epoch} "
            f"of {self.epoch}; the validation set chose this epoch, so this number is "
            "optimistic)\n"
            f"Last-epoch validation accuracy: {self.last_val_acc:.3f} (epoch {self.epoch})"
        )

    def _log(self, message: str) -> None:
        """Print a line on stdout without tearing the progress bar."""
        if self._bar is not None and not self._bar.disable:
            self._bar.write(message, file=sys.stdout)
        else:
            print(message)

    def _save_checkpoint(self) -> None:
        """Pickle parameters and histories to ``{checkpoint_name}_epoch_{epoch}.pkl`` atomically."""
        if self.checkpoint_name is None:
            return
        checkpoint = {
            "model_class": type(self.model).__name__,
            "params": {name: _host_copy(w) for name, w in self.model.params.items()},
            "update_rule": getattr(self.update_rule, "__name__", repr(self.update_rule)),
            "optim_config": {k: _host_copy(v) for k, v in self.optim_config.items()},
            "optim_configs": {
                name: {k: _host_copy(v) for k, v in config.items()}
                for name, config in self.optim_configs.items()
            },
            "lr_decay": self.lr_decay,
            "batch_size": self.batch_size,
            "num_train_samples": self.num_train_samples,
            "num_val_samples": self.num_val_samples,
            "epoch": self.epoch,
            "loss_history": list(self.loss_history),
            "train_acc_history": list(self.train_acc_history),
            "val_acc_history": list(self.val_acc_history),
            "best_val_acc": self.best_val_acc,
        }
        path = Path(f"{self.checkpoint_name}_epoch_{self.epoch}.pkl")
        _write_atomically(path, checkpoint)
        if self.verbose:
            self._log(f"Saved checkpoint {path}")


# ---------------------------------------------------------------------- helpers


def _write_atomically(path: Path, obj: Any) -> None:
    """Pickle ``obj`` to ``path`` so that a reader never sees a half-written file."""
    directory = path.parent
    if not directory.is_dir():
        raise FileNotFoundError(
            f"Cannot write checkpoint {path}: the folder {directory} does not exist; create it "
            "or choose another checkpoint_name."
        )
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp_name, path)  # atomic on POSIX and Windows
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _host_copy(value: Any) -> Any:
    """Arrays (NumPy or CuPy) become NumPy arrays; anything else is returned unchanged."""
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return np.array(to_numpy(value))
    return value


def _check_model(model: Any) -> None:
    """Raise a clear TypeError if ``model`` lacks ``params`` (a dict) or ``loss`` (a method)."""
    if not isinstance(getattr(model, "params", None), dict):
        raise TypeError(
            "The model needs a `params` attribute: a dict mapping parameter names to arrays "
            f"(got {type(model).__name__} without one)."
        )
    if not callable(getattr(model, "loss", None)):
        raise TypeError(
            "The model needs a `loss(X, y=None)` method returning scores (y is None) or "
            f"(loss, grads) (got {type(model).__name__} without one)."
        )


def _host_split(data: Mapping[str, Any], x_key: str, y_key: str) -> tuple[np.ndarray, np.ndarray]:
    """Check that ``data`` has matching ``x_key``/``y_key`` arrays and return them as NumPy."""
    if not isinstance(data, Mapping):
        raise TypeError(
            f"data must be a dict with keys {', '.join(REQUIRED_DATA_KEYS)} (for example the dict "
            f"returned by get_cifar10_data), got {type(data).__name__}."
        )
    missing = [key for key in REQUIRED_DATA_KEYS if key not in data]
    if missing:
        raise ValueError(
            f"data is missing {', '.join(missing)}; the Solver needs a dict with keys "
            f"{', '.join(REQUIRED_DATA_KEYS)} (for example the dict returned by get_cifar10_data)."
        )
    X = np.asarray(to_numpy(data[x_key]))
    y = np.asarray(to_numpy(data[y_key]))
    if X.ndim < 1 or X.shape[0] == 0:
        raise ValueError(f"data[{x_key!r}] holds no examples (shape {X.shape}).")
    if y.shape != (X.shape[0],):
        raise ValueError(
            f"data[{y_key!r}] must have shape ({X.shape[0]},), one label per row of "
            f"data[{x_key!r}], but it has shape {y.shape}."
        )
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"data[{y_key!r}] must hold integer class labels, got dtype {y.dtype}; "
            f"convert with .astype(int)."
        )
    return X, y


def _positive_int(value: Any, name: str) -> int:
    """Return ``value`` as an int if it is a positive integer; raise a clear ValueError if not."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def _optional_positive_int(value: Any, name: str) -> int | None:
    """Like ``_positive_int`` but also accepts None."""
    return None if value is None else _positive_int(value, name)


def _positive_float(value: Any, name: str) -> float:
    """Return ``value`` as a float if it is a finite positive number; raise otherwise."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {value!r}.") from None
    if not (math.isfinite(number) and number > 0):
        raise ValueError(f"{name} must be a positive number, got {value!r}.")
    return number
