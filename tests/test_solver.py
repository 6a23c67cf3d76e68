"""Tests for cs231kit.solver.Solver and cs231kit.optim.sgd on a tiny softmax classifier."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest

from autograder.judge.reference.optim import adam, sgd_momentum
from cs231kit import optim, update_in_blocks
from cs231kit.fast_layers import conv_backward_fast, conv_forward_fast
from cs231kit.solver import Solver, TrainingDivergedError, resolve_update_rule

NUM_CLASSES = 3
DIM = 5


class SoftmaxClassifier:
    """A linear softmax classifier: scores = X @ W + b. Small enough to train in milliseconds."""

    def __init__(self, dim: int = DIM, num_classes: int = NUM_CLASSES, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.params = {
            "W": 1e-2 * rng.standard_normal((dim, num_classes)),
            "b": np.zeros(num_classes),
        }

    def loss(self, X: np.ndarray, y: np.ndarray | None = None) -> Any:
        scores = X @ self.params["W"] + self.params["b"]
        if y is None:
            return scores
        shifted = scores - scores.max(axis=1, keepdims=True)
        probs = np.exp(shifted)
        probs /= probs.sum(axis=1, keepdims=True)
        n = X.shape[0]
        loss = -np.log(probs[np.arange(n), y]).mean()
        dscores = probs.copy()
        dscores[np.arange(n), y] -= 1
        dscores /= n
        return loss, {"W": X.T @ dscores, "b": dscores.sum(axis=0)}


def make_blobs(num_train: int = 300, num_val: int = 90, seed: int = 0) -> dict[str, np.ndarray]:
    """Three Gaussian clusters in DIM dimensions: easy to separate, but not at initialisation."""
    rng = np.random.default_rng(seed)
    centres = 2.0 * rng.standard_normal((NUM_CLASSES, DIM))

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, NUM_CLASSES, size=n)
        return centres[y] + 0.5 * rng.standard_normal((n, DIM)), y

    X_train, y_train = split(num_train)
    X_val, y_val = split(num_val)
    return {"X_train": X_train, "y_train": y_train, "X_val": X_val, "y_val": y_val}


def quiet_solver(model: Any, data: dict[str, Any], **kwargs: Any) -> Solver:
    """A Solver that prints nothing unless the test asks for output."""
    kwargs.setdefault("verbose", False)
    kwargs.setdefault("progress", False)
    kwargs.setdefault("seed", 0)
    return Solver(model, data, **kwargs)


# ---------------------------------------------------------------------- training


def test_training_reduces_the_loss_and_fills_the_histories() -> None:
    data = make_blobs()
    solver = quiet_solver(
        SoftmaxClassifier(), data, optim_config={"learning_rate": 0.5}, batch_size=50, num_epochs=3
    )
    solver.train()

    iterations_per_epoch = 300 // 50
    assert len(solver.loss_history) == 3 * iterations_per_epoch
    assert len(solver.train_acc_history) == 3 + 1  # before training, then after each epoch
    assert len(solver.val_acc_history) == 3 + 1
    assert all(isinstance(v, float) for v in solver.loss_history + solver.val_acc_history)
    assert np.mean(solver.loss_history[-3:]) < 0.5 * np.mean(solver.loss_history[:3])
    assert solver.val_acc_history[-1] > 0.9
    assert solver.best_val_acc == max(solver.val_acc_history)


def test_a_second_train_call_continues_training() -> None:
    solver = quiet_solver(SoftmaxClassifier(), make_blobs(), batch_size=100, num_epochs=2)
    solver.train()
    solver.train()
    assert solver.epoch == 4
    assert len(solver.loss_history) == 4 * 3
    assert len(solver.val_acc_history) == 4 + 1


def test_partial_last_batch_still_counts_one_iteration_per_epoch() -> None:
    data = make_blobs(num_train=30)
    solver = quiet_solver(SoftmaxClassifier(), data, batch_size=100, num_epochs=2)
    solver.train()
    assert len(solver.loss_history) == 2


@pytest.mark.parametrize("rule", [sgd_momentum, adam], ids=lambda rule: rule.__name__)
def test_updating_parameters_in_blocks_changes_no_bit_of_training(
    rule: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Solver's block-by-block update of large parameters trains exactly as whole updates."""
    runs = []
    for block in (4, 10**9):  # W (15 entries) in blocks of 4; then every parameter whole
        monkeypatch.setattr(update_in_blocks, "BLOCK_ELEMENTS", block)
        monkeypatch.setattr(update_in_blocks, "MIN_ELEMENTS", 2 * block)
        solver = quiet_solver(SoftmaxClassifier(), make_blobs(), update_rule=rule,
                              optim_config={"learning_rate": 1e-2}, num_epochs=2, batch_size=30)
        solver.train()
        runs.append(solver)
    blocked, whole = runs
    assert blocked._updates.in_blocks == {"W": True}  # W was updated in blocks
    assert whole._updates.in_blocks == {}
    assert blocked.loss_history == whole.loss_history
    for name in whole.model.params:
        assert blocked.model.params[name].tobytes() == whole.model.params[name].tobytes()
        for key, value in whole.optim_configs[name].items():
            got = blocked.optim_configs[name][key]
            assert np.asarray(got).tobytes() == np.asarray(value).tobytes(), (name, key)


class TinyConvNet:
    """conv 2 3x3 - global sum - affine: small, and its first layer is a fast conv on X."""

    def __init__(self) -> None:
        rng = np.random.default_rng(0)
        self.params = {"W1": 0.1 * rng.standard_normal((2, 1, 3, 3)), "b1": np.zeros(2),
                       "W2": 0.1 * rng.standard_normal((2, NUM_CLASSES))}
        self.first_layer_dx: list[Any] = []

    def loss(self, X: np.ndarray, y: np.ndarray | None = None) -> Any:
        conv, cache = conv_forward_fast(X, self.params["W1"], self.params["b1"],
                                        {"stride": 1, "pad": 1})
        features = conv.sum(axis=(2, 3))
        scores = features @ self.params["W2"]
        if y is None:
            return scores
        dscores = np.full_like(scores, 1.0 / len(X))  # the gradient of scores.mean()
        dfeatures = dscores @ self.params["W2"].T
        dx, dW1, db1 = conv_backward_fast(np.broadcast_to(dfeatures[:, :, None, None],
                                                          conv.shape), cache)
        self.first_layer_dx.append(dx)
        return float(scores.mean()), {"W1": dW1, "b1": db1, "W2": features.T @ dscores}


def test_a_training_step_skips_only_the_gradient_of_the_images() -> None:
    model = TinyConvNet()
    X = np.random.default_rng(1).standard_normal((60, 1, 4, 4))
    data = {"X_train": X, "y_train": np.zeros(60, dtype=int), "X_val": X[:6],
            "y_val": np.zeros(6, dtype=int)}
    quiet_solver(model, data, batch_size=20, num_epochs=1).train()
    assert len(model.first_layer_dx) == 3  # one step per batch of 20
    assert all(dx is None for dx in model.first_layer_dx)  # nothing uses it: not computed
    model.loss(X[:20], data["y_train"][:20])  # the same call outside a training step
    assert model.first_layer_dx[-1].shape == (20, 1, 4, 4)


def test_learning_rate_decays_once_per_epoch_for_every_parameter() -> None:
    solver = quiet_solver(
        SoftmaxClassifier(),
        make_blobs(),
        optim_config={"learning_rate": 0.1},
        lr_decay=0.5,
        batch_size=100,
        num_epochs=3,
    )
    solver.train()
    for name in ("W", "b"):
        assert solver.optim_configs[name]["learning_rate"] == pytest.approx(0.1 * 0.5**3)


def test_each_parameter_gets_its_own_update_rule_state() -> None:
    config = {"learning_rate": 0.1, "momentum": 0.9}
    solver = quiet_solver(
        SoftmaxClassifier(), make_blobs(), update_rule=sgd_momentum, optim_config=config,
        batch_size=100, num_epochs=1,
    )
    solver.train()
    assert solver.optim_configs["W"]["velocity"].shape == (DIM, NUM_CLASSES)
    assert solver.optim_configs["b"]["velocity"].shape == (NUM_CLASSES,)
    assert config == {"learning_rate": 0.1, "momentum": 0.9}  # the caller's dict is untouched


def test_best_parameters_are_restored_after_training() -> None:
    """An update rule that wrecks the weights after epoch 1: the model must end with epoch 1's."""
    data = make_blobs()
    steps = {"count": 0}

    def sgd_then_collapse(w: Any, dw: Any, config: dict[str, Any] | None = None) -> Any:
        steps["count"] += 1
        next_w, config = optim.sgd(w, dw, config)
        if steps["count"] > 2 * 6:  # 2 parameters x 6 iterations = epoch 1
            next_w = np.zeros_like(w)  # every example then scores all classes equally
        return next_w, config

    model = SoftmaxClassifier()
    solver = quiet_solver(
        model, data, update_rule=sgd_then_collapse, optim_config={"learning_rate": 0.5},
        batch_size=50, num_epochs=3,
    )
    solver.train()

    assert solver.val_acc_history[1] == solver.best_val_acc > 0.9
    assert solver.val_acc_history[-1] < 0.5
    for name, value in solver.best_params.items():
        np.testing.assert_array_equal(model.params[name], value)
        assert model.params[name] is not value  # a copy, so later changes cannot leak back
    assert np.abs(model.params["W"]).sum() > 0
    assert solver.check_accuracy(data["X_val"], data["y_val"]) == solver.best_val_acc


def test_best_and_last_epoch_validation_accuracies_are_both_recorded_and_named() -> None:
    """The restored best epoch's accuracy was chosen on the validation set: report both numbers."""
    data = make_blobs()
    steps = {"count": 0}

    def sgd_then_collapse(w: Any, dw: Any, config: dict[str, Any] | None = None) -> Any:
        steps["count"] += 1
        next_w, config = optim.sgd(w, dw, config)
        if steps["count"] > 2 * 6:  # after epoch 1 (2 parameters x 6 iterations)
            next_w = np.zeros_like(w)
        return next_w, config

    solver = quiet_solver(
        SoftmaxClassifier(), data, update_rule=sgd_then_collapse,
        optim_config={"learning_rate": 0.5}, batch_size=50, num_epochs=3,
    )
    solver.train()

    assert solver.best_epoch == 1
    assert solver.last_val_acc == solver.val_acc_history[-1] < 0.5 < solver.best_val_acc
    best_line, last_line = solver.validation_summary().splitlines()
    assert best_line.startswith(f"Best-epoch validation accuracy: {solver.best_val_acc:.3f} ")
    assert "epoch 1 of 3" in best_line and "the validation set chose this epoch" in best_line
    assert last_line.startswith(f"Last-epoch validation accuracy: {solver.last_val_acc:.3f} ")
    assert "epoch 3" in last_line


def test_validation_summary_before_training_says_to_train_first() -> None:
    solver = quiet_solver(SoftmaxClassifier(), make_blobs())
    with pytest.raises(RuntimeError, match=r"call solver.train\(\) first"):
        solver.validation_summary()


def test_same_seed_same_run_other_seed_other_run() -> None:
    def losses(seed: int) -> list[float]:
        solver = quiet_solver(SoftmaxClassifier(), make_blobs(), batch_size=20, num_epochs=1,
                              seed=seed)
        solver.train()
        return solver.loss_history

    assert losses(1) == losses(1)
    assert losses(1) != losses(2)


def test_string_update_rule_resolves_to_the_library_function() -> None:
    solver = quiet_solver(SoftmaxClassifier(), make_blobs(), update_rule="sgd")
    assert solver.update_rule is optim.sgd
    assert resolve_update_rule(sgd_momentum) is sgd_momentum


def test_unknown_update_rule_name_gives_a_clear_error() -> None:
    message = r"Unknown update rule 'adam'.*\['sgd'\].*update_rule=adam"
    with pytest.raises(ValueError, match=message):
        quiet_solver(SoftmaxClassifier(), make_blobs(), update_rule="adam")
    with pytest.raises(TypeError, match="update_rule must be a function"):
        quiet_solver(SoftmaxClassifier(), make_blobs(), update_rule=42)


# ---------------------------------------------------------------------- divergence


def test_nan_loss_stops_training_with_a_clear_error() -> None:
    solver = quiet_solver(
        SoftmaxClassifier(), make_blobs(), optim_config={"learning_rate": 1e300}, num_epochs=5
    )
    # The huge step overflows on purpose; silence NumPy's warnings about it.
    with np.errstate(all="ignore"), pytest.raises(
        TrainingDivergedError, match=r"loss became (nan|inf) at iteration \d+.*learning rate"
    ):
        solver.train()
    assert not np.isfinite(solver.loss_history[-1])
    assert len(solver.loss_history) < 5 * 10  # it stopped early


def test_nan_in_the_data_is_caught_at_the_first_step() -> None:
    data = make_blobs()
    data["X_train"][:] = np.nan
    solver = quiet_solver(SoftmaxClassifier(), data)
    with pytest.raises(TrainingDivergedError, match="loss became nan at iteration 1 "):
        solver.train()


# ---------------------------------------------------------------------- checkpoints


def test_checkpoints_are_written_per_epoch_and_hold_numpy_arrays(tmp_path: Any) -> None:
    name = tmp_path / "softmax"
    solver = quiet_solver(
        SoftmaxClassifier(), make_blobs(), num_epochs=2, batch_size=100, checkpoint_name=name
    )
    solver.train()

    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["softmax_epoch_1.pkl", "softmax_epoch_2.pkl"]  # no temporary files left over
    with open(tmp_path / "softmax_epoch_2.pkl", "rb") as f:
        checkpoint = pickle.load(f)
    assert checkpoint["epoch"] == 2
    assert checkpoint["update_rule"] == "sgd"
    assert checkpoint["model_class"] == "SoftmaxClassifier"
    assert set(checkpoint["params"]) == {"W", "b"}
    for value in checkpoint["params"].values():
        assert type(value) is np.ndarray
    assert len(checkpoint["loss_history"]) == 2 * 3
    assert checkpoint["val_acc_history"] == solver.val_acc_history


def test_checkpoint_into_a_missing_folder_gives_a_clear_error(tmp_path: Any) -> None:
    solver = quiet_solver(
        SoftmaxClassifier(), make_blobs(), num_epochs=1, checkpoint_name=tmp_path / "no" / "ckpt"
    )
    with pytest.raises(FileNotFoundError, match="does not exist"):
        solver.train()


# ---------------------------------------------------------------------- input validation


@pytest.mark.parametrize("missing", ["X_train", "y_train", "X_val", "y_val"])
def test_missing_data_key_gives_a_clear_error(missing: str) -> None:
    data = make_blobs()
    del data[missing]
    with pytest.raises(ValueError, match=f"data is missing {missing}.*X_train, y_train, X_val"):
        quiet_solver(SoftmaxClassifier(), data)


def test_malformed_data_gives_clear_errors() -> None:
    with pytest.raises(TypeError, match="data must be a dict"):
        quiet_solver(SoftmaxClassifier(), [1, 2, 3])  # type: ignore[arg-type]

    data = make_blobs()
    data["y_val"] = data["y_val"][:-1]
    with pytest.raises(ValueError, match=r"data\['y_val'\] must have shape \(90,\)"):
        quiet_solver(SoftmaxClassifier(), data)

    data = make_blobs()
    data["y_train"] = data["y_train"].astype(float)
    with pytest.raises(ValueError, match="integer class labels"):
        quiet_solver(SoftmaxClassifier(), data)


@pytest.mark.parametrize(
    ("option", "value"),
    [("batch_size", 0), ("num_epochs", -1), ("print_every", 2.5), ("lr_decay", 0.0)],
)
def test_bad_options_give_clear_errors(option: str, value: Any) -> None:
    with pytest.raises(ValueError, match=f"{option} must be a positive"):
        quiet_solver(SoftmaxClassifier(), make_blobs(), **{option: value})


def test_model_without_params_or_loss_is_rejected() -> None:
    with pytest.raises(TypeError, match="`params` attribute"):
        quiet_solver(object(), make_blobs())


def test_missing_gradient_is_reported_by_parameter_name() -> None:
    class ForgetsBias(SoftmaxClassifier):
        def loss(self, X: np.ndarray, y: np.ndarray | None = None) -> Any:
            out = super().loss(X, y)
            if y is None:
                return out
            loss, grads = out
            del grads["b"]
            return loss, grads

    with pytest.raises(KeyError, match="no gradient for parameter 'b'"):
        quiet_solver(ForgetsBias(), make_blobs()).train()


# ---------------------------------------------------------------------- accuracy


def test_check_accuracy_matches_a_direct_computation() -> None:
    data = make_blobs()
    model = SoftmaxClassifier(seed=3)
    solver = quiet_solver(model, data)
    expected = float(np.mean(np.argmax(model.loss(data["X_val"]), axis=1) == data["y_val"]))

    for batch_size in (7, 100, 1000):
        acc = solver.check_accuracy(data["X_val"], data["y_val"], batch_size=batch_size)
        assert type(acc) is float
        assert acc == expected
    sampled = solver.check_accuracy(data["X_train"], data["y_train"], num_samples=10)
    assert sampled * 10 == pytest.approx(round(sampled * 10))  # a fraction of 10 examples


# ---------------------------------------------------------------------- output


def test_progress_bar_goes_to_stdout_not_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    solver = quiet_solver(SoftmaxClassifier(), make_blobs(), num_epochs=2, progress=True)
    solver.train()
    captured = capsys.readouterr()
    assert "training" in captured.out
    assert "6/6" in captured.out  # the final count: 2 epochs x (300 // 100) iterations
    assert captured.err == ""


def test_verbose_lines_go_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    solver = quiet_solver(SoftmaxClassifier(), make_blobs(), num_epochs=1, verbose=True,
                          print_every=2)
    solver.train()
    captured = capsys.readouterr()
    assert "(Iteration 1 / 3) loss:" in captured.out
    assert "(Epoch 1 / 1) train acc:" in captured.out
    assert captured.err == ""


def test_progress_bar_default_is_off_in_grading_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("NBGRADER_EXECUTION", "CI", "CS231KIT_GRADING", "CS231KIT_FULL"):
        monkeypatch.delenv(variable, raising=False)
    assert Solver(SoftmaxClassifier(), make_blobs()).progress is True

    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert Solver(SoftmaxClassifier(), make_blobs()).progress is False
    assert Solver(SoftmaxClassifier(), make_blobs(), progress=True).progress is True


# ---------------------------------------------------------------------- the given sgd rule


def test_sgd_takes_one_step_against_the_gradient() -> None:
    w = np.array([[1.0, -2.0], [0.5, 0.0]])
    dw = np.array([[0.5, 1.0], [-1.0, 2.0]])
    next_w, config = optim.sgd(w, dw, {"learning_rate": 0.1})
    np.testing.assert_allclose(next_w, [[0.95, -2.1], [0.6, -0.2]], rtol=1e-12)
    next_w, config = optim.sgd(w, dw)
    assert config == {"learning_rate": 1e-2}
    np.testing.assert_allclose(next_w, [[0.995, -2.01], [0.51, -0.02]], rtol=1e-12)
    assert optim.sgd(w.astype(np.float32), dw.astype(np.float32))[0].dtype == np.float32


def test_sgd_rejects_a_gradient_of_the_wrong_shape() -> None:
    with pytest.raises(ValueError, match=r"gradient has shape \(3,\) but the parameter has shape"):
        optim.sgd(np.zeros(2), np.zeros(3))
