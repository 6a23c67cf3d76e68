"""Adapters of notebook 03 (modular backprop); see the package docstring."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

# ---------------------------------------------------------------------------------------------
# MultiplyGate
# ---------------------------------------------------------------------------------------------


def _record_saves(gate: Any) -> list[tuple[Any, ...]]:
    """Wrap ``gate.save_for_backward`` so that every call is recorded (and still happens)."""
    calls: list[tuple[Any, ...]] = []
    original = gate.save_for_backward

    def recording(*tensors: Any) -> Any:
        calls.append(tensors)
        return original(*tensors)

    gate.save_for_backward = recording
    return calls


def multiply_gate(gate_class: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """Forward every (x, y) pair through its own gate, then backward in reverse order."""
    gates = [gate_class() for _ in inputs["pairs"]]
    saves = [_record_saves(gate) for gate in gates]
    outputs: dict[str, Any] = {}
    for k, (gate, (x, y)) in enumerate(zip(gates, inputs["pairs"], strict=True)):
        outputs[f"gate {k}: z"] = gate.forward(x, y)
    for k in reversed(range(len(gates))):
        dx, dy = gates[k].backward(inputs["upstream"][k])
        outputs[f"gate {k}: dx"], outputs[f"gate {k}: dy"] = dx, dy
    for k, calls in enumerate(saves):
        outputs[f"gate {k}: save_for_backward calls"] = [list(call) for call in calls]
    return outputs


# ---------------------------------------------------------------------------------------------
# The tiny graph: a recipe {"leaves": [floats], "ops": [(op, i, j)]} built with the student's Node
# ---------------------------------------------------------------------------------------------


def _build(node_class: Any, recipe: dict[str, Any]) -> list[Any]:
    """Build the recipe's graph with ``node_class``; return every node (leaves first)."""
    nodes = [node_class(v) for v in recipe["leaves"]]
    for op, i, j in recipe["ops"]:
        if op == "+":
            nodes.append(nodes[i] + nodes[j])
        elif op == "*":
            nodes.append(nodes[i] * nodes[j])
        else:
            nodes.append(nodes[i].sigmoid())
    return nodes


def graph_backward(student: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    nodes = _build(student["Node"], inputs["recipe"])
    student["backward"](nodes[-1])
    num_leaves = len(inputs["recipe"]["leaves"])
    return {
        "output value": float(nodes[-1].value),
        "leaf gradients": np.array([float(n.grad) for n in nodes[:num_leaves]]),
        "gradients of the intermediate nodes": np.array(
            [float(n.grad) for n in nodes[num_leaves:]]
        ),
    }


def topological_order(student: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """The order as node numbers (leaves first, as built); anything else as its repr."""
    nodes = _build(student["Node"], inputs["recipe"])
    order = student["topological_order"](nodes[-1])
    if not isinstance(order, (list, tuple)):
        return {"order": None, "returned": type(order).__name__}
    index = {id(node): k for k, node in enumerate(nodes)}
    return {"order": [index.get(id(node), repr(node)[:80]) for node in order]}


# ---------------------------------------------------------------------------------------------
# Layers and losses
# ---------------------------------------------------------------------------------------------


def affine_forward(student: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    out, cache = student(inputs["x"], inputs["w"], inputs["b"])
    if not isinstance(cache, tuple) or len(cache) != 3:
        raise TypeError(
            f"the cache must be the tuple (x, w, b) that affine_backward unpacks, got {cache!r:.80}"
        )
    x, w, b = cache
    return {"out": out, "cache[0] (x)": x, "cache[1] (w)": w, "cache[2] (b)": b}


def affine_backward(student: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    cache = (inputs["x"], inputs["w"], inputs["b"])  # the documented cache of affine_forward
    dx, dw, db = student(inputs["dout"], cache)
    return {"dx": dx, "dw": dw, "db": db}


def relu_forward(student: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    x = inputs["x"]
    out, cache = student(x)
    return {"out": out, "cache (the input x)": cache, "x after": x}


def relu_backward(student: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"dx": student(inputs["dout"], inputs["x"])}  # the documented cache is x itself


def sigmoid_layer(student: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """Forward, then backward with the student's own cache."""
    out, cache = student["sigmoid_forward"](inputs["x"])
    dx = student["sigmoid_backward"](inputs["dout"], cache)
    return {"out": out, "dx": dx}


def loss(student: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """svm_loss or softmax_loss: (loss, dx)."""
    value, dx = student(inputs["x"], inputs["y"])
    return {"loss": value, "dx": dx}


def affine_relu(student: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    out, cache = student["affine_relu_forward"](inputs["x"], inputs["w"], inputs["b"])
    dx, dw, db = student["affine_relu_backward"](inputs["dout"], cache)
    return {"out": out, "dx": dx, "dw": dw, "db": db}


# ---------------------------------------------------------------------------------------------
# FullyConnectedNet
# ---------------------------------------------------------------------------------------------


def fc_net(cls: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """Scores, then loss and gradients, with the judge's parameters put into the net."""
    net = cls(
        inputs["hidden_dims"],
        input_dim=inputs["input_dim"],
        num_classes=inputs["num_classes"],
        reg=inputs["reg"],
        weight_scale=1e-2,
        dtype=np.float64,
        seed=0,
    )
    for name, value in inputs["params"].items():
        net.params[name] = value.copy()
    outputs: dict[str, Any] = {"scores": net.loss(inputs["X"])}
    loss_value, grads = net.loss(inputs["X"], inputs["y"])
    outputs["loss"] = loss_value
    for name in inputs["params"]:
        if name in grads:
            outputs[f"grads[{name!r}]"] = grads[name]
    return outputs


def fc_net_init(cls: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """The initial parameters of two nets built with the same seed."""

    def build() -> Any:
        return cls(
            inputs["hidden_dims"],
            input_dim=inputs["input_dim"],
            num_classes=inputs["num_classes"],
            weight_scale=inputs["weight_scale"],
            dtype=np.dtype(inputs["dtype"]).type,
            seed=inputs["seed"],
        )

    return {"params": build().params, "params again": build().params}


def hyperparameters(student: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """The values the notebook chose (the judge trains its own net with them)."""
    return {"learning_rate": student["learning_rate"], "weight_scale": student["weight_scale"]}


# ---------------------------------------------------------------------------------------------
# Update rules
# ---------------------------------------------------------------------------------------------


def update_rule(rule: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """Several steps of ``rule``, each fed the config the previous one returned."""
    w, config = inputs["w"], inputs["config"]
    for step, dw in enumerate(inputs["dws"], start=1):
        w, config = rule(w, dw, config)
        if not isinstance(config, dict):
            raise TypeError(
                f"step {step} returned {type(config).__name__} as the config; an update rule "
                "returns (next_w, config) with config the dict for the next step"
            )
    state: Sequence[str] = inputs["state"]
    outputs: dict[str, Any] = {"next_w after the last step": w}
    for key in state:
        if key not in config:
            raise KeyError(f"the returned config has no {key!r}: the rule must store it there")
        outputs[f"config[{key!r}]"] = config[key]
    return outputs
