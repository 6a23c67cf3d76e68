"""Reference scalar circuits: the lecture's sigmoid neuron, the Multiply gate and a tiny graph.

- ``sigmoid_circuit`` (notebook 01): f = sigmoid(w0*x0 + w1*x1 + w2) and its gradients, the
  lecture's example, composed here from the reference sigmoid layer;
- ``MultiplyGate`` (notebook 03): the lecture's Multiply gate, z = x * y, stashing its inputs with
  ``save_for_backward`` for the backward pass;
- ``Node``, ``topological_order``, ``backward`` (notebook 03): a scalar computational graph in the
  style of micrograd. Building an expression (``a * b + c``, ``a.sigmoid()``) runs the forward
  pass and records, in every new node, a function that pushes the node's gradient into its parents.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from autograder.judge.reference import layers

Array = np.ndarray


def sigmoid_circuit(w: Array, x: Array) -> tuple[float, Array, Array]:
    """f(w, x) = sigmoid(w[0] * x[0] + w[1] * x[1] + w[2]) and its gradient.

    Inputs:
    - w: (3,) weights, the last one a bias
    - x: (2,) inputs

    Returns a tuple of:
    - f: Python float in (0, 1)
    - dw: (3,) df/dw
    - dx: (2,) df/dx
    """
    w = np.asarray(w, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    # Bias trick: append a constant 1 so the bias is one more weight.
    inputs = np.append(x, 1.0)
    activation = float(inputs @ w)
    out, cache = layers.sigmoid_forward(np.array([activation]))
    dactivation = layers.sigmoid_backward(np.ones(1), cache)[0]
    return float(out[0]), dactivation * inputs, dactivation * w[:2]



class MultiplyGate:
    """z = x * y (scalars, or arrays of one shape), with the forward/backward API."""

    def __init__(self) -> None:
        self.saved_tensors: tuple[Any, ...] = ()

    def save_for_backward(self, *tensors: Any) -> None:
        """Remember ``tensors`` until ``backward`` runs."""
        self.saved_tensors = tensors

    def forward(self, x: Any, y: Any) -> Any:
        """Return z = x * y and stash both factors: each is the other's local gradient."""
        self.save_for_backward(x, y)
        return x * y

    def backward(self, dz: Any) -> tuple[Any, Any]:
        """Given dL/dz, return (dL/dx, dL/dy) = (dz * y, dz * x)."""
        x, y = self.saved_tensors
        return dz * y, dz * x


def _stable_sigmoid(v: float) -> float:
    """1 / (1 + exp(-v)) without overflow for large |v|."""
    if v >= 0:
        return 1.0 / (1.0 + math.exp(-v))
    e = math.exp(v)
    return e / (1.0 + e)


class Node:
    """One scalar in a computational graph: its value, its gradient and how it was made."""

    def __init__(self, value: float, parents: tuple[Node, ...] = (), op: str = "") -> None:
        self.value = float(value)
        self.grad = 0.0
        self.parents = parents
        self.op = op
        # Adds self.grad * (local gradient) into each parent's grad; leaves have nothing to do.
        self.backward_fn: Callable[[], None] = lambda: None

    def __add__(self, other: Node | float) -> Node:
        other = other if isinstance(other, Node) else Node(other)
        out = Node(self.value + other.value, (self, other), "+")

        def backward_fn() -> None:
            self.grad += out.grad
            other.grad += out.grad

        out.backward_fn = backward_fn
        return out

    def __mul__(self, other: Node | float) -> Node:
        other = other if isinstance(other, Node) else Node(other)
        out = Node(self.value * other.value, (self, other), "*")

        def backward_fn() -> None:
            self.grad += other.value * out.grad
            other.grad += self.value * out.grad

        out.backward_fn = backward_fn
        return out

    def sigmoid(self) -> Node:
        out = Node(_stable_sigmoid(self.value), (self,), "sigmoid")

        def backward_fn() -> None:
            self.grad += out.value * (1.0 - out.value) * out.grad

        out.backward_fn = backward_fn
        return out


def topological_order(output: Node) -> list[Node]:
    """Every node ``output`` depends on (itself included), each after all of its parents."""
    order: list[Node] = []
    visited: set[int] = set()

    def visit(node: Node) -> None:
        if id(node) in visited:
            return
        visited.add(id(node))
        for parent in node.parents:
            visit(parent)
        order.append(node)

    visit(output)
    return order


def backward(output: Node) -> None:
    """Fill ``.grad`` of every node ``output`` depends on with d(output)/d(node)."""
    output.grad = 1.0
    for node in reversed(topological_order(output)):
        node.backward_fn()
