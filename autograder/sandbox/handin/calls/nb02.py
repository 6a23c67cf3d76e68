"""Adapters of notebook 02 (Jacobian-free gradients); see the package docstring."""

from __future__ import annotations

from typing import Any


def relu_jacobian(student: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"J": student(inputs["x"])}


def relu_backward_implicit(student: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    x, dy = inputs["x"], inputs["dy"]
    dx = student(x, dy)
    # x and dy go back too: the judge checks that they were not changed in place.
    return {"dx": dx, "x after the call": x, "dy after the call": dy}


def matmul_backward(student: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    dx, dw = student(inputs["x"], inputs["w"], inputs["dy"])
    return {"dx": dx, "dw": dw}


def matmul_jacobians(student: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    jac_x, jac_w = student(inputs["x"], inputs["w"])
    return {"J_x": jac_x, "J_w": jac_w}


def explicit_jacobian_bytes(student: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    sizes = inputs["N"], inputs["D"], inputs["M"]
    per_element = inputs["bytes_per_element"]
    return {"result": student(*sizes) if per_element is None else student(*sizes, per_element)}


def broadcast_backward(student: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"grad": student(inputs["dout"], inputs["shape"])}
