"""Hidden tests of notebook 03 (modular backprop: gates, a tiny graph, layers, a net, optimizers).

Every graded function is compared with the reference (``autograder.judge.reference``: layers,
models, optim and circuits) on grader-chosen inputs the notebook never
shows: random shapes (1 to 3 feature axes), one-example batches, two-class problems, ReLU inputs
that are exactly 0 (the documented rule: no gradient there), scores near +-1e3 (which overflow a
softmax computed without the max shift), random computational graphs in which nodes feed several
others, and several consecutive steps of every update rule.

Isolation: ``affine_relu_*`` and ``FullyConnectedNet`` run with the reference affine/ReLU/loss
layers swapped in for the student's, and the overfitting check trains the *reference* net with the
student's hyper-parameters, so a bug costs the points of its own function only.

The overfitting check is a *value* test: the notebook's chosen ``learning_rate`` and
``weight_scale`` are taken from the notebook run, and the judge trains its own net with them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from autograder.judge.cases import Case, Outputs
from autograder.judge.reference import circuits as ref_graph
from autograder.judge.reference import layers as ref_layers
from autograder.judge.reference import models as ref_models
from autograder.judge.reference import optim as ref_optim
from autograder.sandbox.handin.calls import nb03 as calls
from cs231kit import tolerances
from cs231kit.data import make_synthetic_cifar10
from cs231kit.optim import sgd
from cs231kit.solver import Solver, TrainingDivergedError

# Forward values and analytic gradients are compared with the reference in float64; correct code
# agrees to ~1e-12 (it may sum in another order), so the course's forward tolerance fits all.
TOL = tolerances.FORWARD_REL_ERROR
# Update rules: several steps in float64 against the same formulas (see cs231kit.tolerances).
RULE_TOL = tolerances.UPDATE_RULE_REL_ERROR
# Graph gradients against centred differences (h = 1e-5) of the same expression in float64. The
# rounding error eps |f| / h is ~1e-11 absolute (|f| <= 8 here), and a saturated sigmoid can make a
# true gradient as small as ~1e-8, the floor of rel_error: relative errors up to ~1e-3 are then
# noise. A wrong local gradient is off by far more; subtle errors are caught by the exact cases.
NUMERIC_GRAPH_TOL = 1e-3
# The std of N(0, s^2) weights estimated from n >= 1000 draws is off by ~1/sqrt(2n) <= 2.3%;
# rel_error(r, 1) ~ |r - 1| / 2, so 0.08 accepts |r - 1| < 16% (7 standard deviations) and
# rejects every wrong initialisation (variance instead of std, uniform, fixed scale...).
INIT_STD_TOL = 0.08

NOTEBOOK = "03_modular_backprop"
CALLS = "nb03"
VALUE_TESTS = frozenset({"test_overfit_small"})

# The layer names a FullyConnectedNet or a sandwich layer may call; isolation swaps them all.
REFERENCE_LAYERS = (
    "affine_forward",
    "affine_backward",
    "relu_forward",
    "relu_backward",
    "sigmoid_forward",
    "sigmoid_backward",
    "affine_relu_forward",
    "affine_relu_backward",
    "softmax_loss",
    "svm_loss",
)


def _shape(rng: np.random.Generator, min_axes: int = 1, max_axes: int = 3) -> tuple[int, ...]:
    axes = int(rng.integers(min_axes, max_axes, endpoint=True))
    return tuple(int(d) for d in rng.integers(1, 5, size=axes, endpoint=True))


# ---------------------------------------------------------------------------------------------
# MultiplyGate
# ---------------------------------------------------------------------------------------------



def _saved_both(calls: list[tuple[Any, ...]], x: Any, y: Any) -> bool:
    """Whether some call of save_for_backward received values equal to x and to y."""
    for tensors in calls:
        has_x = any(np.shape(t) == np.shape(x) and np.array_equal(t, x) for t in tensors)
        has_y = any(np.shape(t) == np.shape(y) and np.array_equal(t, y) for t in tensors)
        if has_x and has_y:
            return True
    return False




def _gate_derive(inputs: dict[str, Any], raw: Any) -> Outputs:
    outputs = {}
    for k, (x, y) in enumerate(inputs["pairs"]):
        for what in ("z", "dx", "dy"):
            outputs[f"gate {k}: {what}"] = raw[f"gate {k}: {what}"]
        outputs[f"gate {k}: forward stashed x and y with save_for_backward"] = _saved_both(
            raw[f"gate {k}: save_for_backward calls"], x, y
        )
    return outputs


def _gate_reference(inputs: dict[str, Any]) -> Outputs:
    return _gate_derive(inputs, calls.multiply_gate(ref_graph.MultiplyGate, inputs))


def _gate_scalars(rng: np.random.Generator) -> dict[str, Any]:
    x, y, dz = (float(v) for v in rng.uniform(-3, 3, size=3))
    return {"pairs": [(x, y)], "upstream": [dz]}


def _gate_arrays(rng: np.random.Generator) -> dict[str, Any]:
    shape = _shape(rng)
    return {
        "pairs": [(rng.normal(size=shape), rng.normal(size=shape))],
        "upstream": [rng.normal(size=shape)],
    }


def _gate_several(rng: np.random.Generator) -> dict[str, Any]:
    """Three gates alive at once: each must keep its own inputs (not the class, not a global)."""
    pairs, upstream = [], []
    for _ in range(3):
        shape = _shape(rng)
        pairs.append((rng.normal(size=shape), rng.normal(size=shape)))
        upstream.append(rng.normal(size=shape))
    return {"pairs": pairs, "upstream": upstream}


MULTIPLY_GATE_CASES = [
    Case("MultiplyGate on scalars", _gate_scalars, "multiply_gate", _gate_reference,
         derive=_gate_derive, tol=TOL),
    Case("MultiplyGate on arrays", _gate_arrays, "multiply_gate", _gate_reference,
         derive=_gate_derive, tol=TOL),
    Case(
        "three MultiplyGates used one after the other (each keeps its own inputs)",
        _gate_several,
        "multiply_gate",
        _gate_reference,
        derive=_gate_derive,
        tol=TOL,
    ),
]


# ---------------------------------------------------------------------------------------------
# The tiny graph: Node, topological_order, backward
# ---------------------------------------------------------------------------------------------

# A graph recipe: {"leaves": [floats], "ops": [(op, i, j)]}, where op is "+", "*" or "sigmoid",
# and i, j index earlier nodes (leaves first, then one node per op; j is -1 for "sigmoid").
# The output is the last node. Operands may repeat, so nodes feed several others (fan-out).
MAX_GRAPH_VALUE = 8.0


def _sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v)) if v >= 0 else math.exp(v) / (1.0 + math.exp(v))


def _apply(op: str, a: float, b: float) -> float:
    if op == "+":
        return a + b
    if op == "*":
        return a * b
    return _sigmoid(a)


def _pick(rng: np.random.Generator, count: int) -> int:
    """An earlier node, favouring the most recent ones so the output depends on most nodes."""
    if rng.random() < 0.5:
        return count - 1 - int(rng.integers(0, min(count, 2)))
    return int(rng.integers(0, count))


def _random_recipe(rng: np.random.Generator) -> dict[str, Any]:
    leaves = [float(v) for v in rng.uniform(-2, 2, size=int(rng.integers(2, 5, endpoint=True)))]
    values = list(leaves)
    ops: list[tuple[str, int, int]] = []
    for _ in range(int(rng.integers(3, 10, endpoint=True))):
        op = str(rng.choice(["+", "*", "sigmoid"]))
        i = _pick(rng, len(values))
        j = -1 if op == "sigmoid" else _pick(rng, len(values))
        value = _apply(op, values[i], values[j])
        if abs(value) > MAX_GRAPH_VALUE:  # keep values bounded: squash instead
            op, j, value = "sigmoid", -1, _sigmoid(values[i])
        ops.append((op, i, j))
        values.append(value)
    return {"leaves": leaves, "ops": ops}


def _fan_out_recipe(rng: np.random.Generator) -> dict[str, Any]:
    """a = x * y; out = sigmoid(a * a + a + x): a feeds three consumers, x two."""
    x, y = (float(v) for v in rng.uniform(-1.5, 1.5, size=2))
    ops = [("*", 0, 1), ("*", 2, 2), ("+", 3, 2), ("+", 4, 0), ("sigmoid", 5, -1)]
    return {"leaves": [x, y], "ops": ops}


def _add_then_multiply_recipe(rng: np.random.Generator) -> dict[str, Any]:
    """a = x * y; b = a + x; out = sigmoid(b * a + y).

    ``a`` feeds an add gate made *before* a multiply gate, so in reverse order the add gate's
    backward runs last: one that overwrites (=) instead of adding (+=) loses the other path.
    """
    x, y = (float(v) for v in rng.uniform(-1.5, 1.5, size=2))
    ops = [("*", 0, 1), ("+", 2, 0), ("*", 3, 2), ("+", 4, 1), ("sigmoid", 5, -1)]
    return {"leaves": [x, y], "ops": ops}


def _seed_recipe(rng: np.random.Generator) -> dict[str, Any]:
    """The lecture's f = sigmoid(w0*x0 + w1*x1 + w2), leaves [w0, x0, w1, x1, w2]."""
    leaves = [float(v) for v in rng.uniform(-3, 3, size=5)]
    ops = [("*", 0, 1), ("*", 2, 3), ("+", 5, 6), ("+", 7, 4), ("sigmoid", 8, -1)]
    return {"leaves": leaves, "ops": ops}





def _graph_reference(inputs: dict[str, Any]) -> Outputs:
    return calls.graph_backward({"Node": ref_graph.Node, "backward": ref_graph.backward}, inputs)


def _evaluate(recipe: dict[str, Any], leaves: Sequence[float]) -> float:
    values = list(leaves)
    for op, i, j in recipe["ops"]:
        values.append(_apply(op, values[i], values[j]))
    return values[-1]



def _graph_numeric_reference(inputs: dict[str, Any]) -> Outputs:
    """Centred differences of the expression, evaluated on plain floats (no graph at all)."""
    recipe, h = inputs["recipe"], tolerances.GRAD_CHECK_H
    grads = []
    for k in range(len(recipe["leaves"])):
        plus, minus = list(recipe["leaves"]), list(recipe["leaves"])
        plus[k] += h
        minus[k] -= h
        grads.append((_evaluate(recipe, plus) - _evaluate(recipe, minus)) / (2 * h))
    return {"leaf gradients": np.array(grads)}


def _ancestors(recipe: dict[str, Any]) -> dict[int, tuple[int, ...]]:
    """Parents (as node indices) of every node the output depends on."""
    num_leaves = len(recipe["leaves"])
    parents: dict[int, tuple[int, ...]] = {k: () for k in range(num_leaves)}
    for k, (op, i, j) in enumerate(recipe["ops"]):
        parents[num_leaves + k] = (i,) if op == "sigmoid" else (i, j)
    needed, stack = set(), [num_leaves + len(recipe["ops"]) - 1]
    while stack:
        k = stack.pop()
        if k not in needed:
            needed.add(k)
            stack.extend(parents[k])
    return {k: tuple(dict.fromkeys(parents[k])) for k in sorted(needed)}


def _order_problem(inputs: dict[str, Any], raw: Any) -> Outputs:
    """'ok', or what is wrong with the order (node numbers, leaves first) the sandbox sent."""
    message = _order_message(raw["order"], raw.get("returned"), inputs["recipe"])
    return {"topological order": message}


def _order_message(order: Any, returned: Any, recipe: dict[str, Any]) -> str:
    if order is None:
        return f"topological_order returned a {returned}, not a list of nodes"
    positions: dict[int, list[int]] = {}
    for position, node in enumerate(order):
        if not isinstance(node, int):
            return f"entry {position} of the order is {node}, which is not a node of the graph"
        positions.setdefault(node, []).append(position)
    needed = _ancestors(recipe)
    num_leaves = len(recipe["leaves"])

    def label(k: int) -> str:
        return f"node #{k} (op {recipe['ops'][k - num_leaves][0]!r})" if k >= num_leaves else (
            f"leaf #{k}"
        )

    for k, where in positions.items():
        if len(where) > 1:
            return f"{label(k)} appears {len(where)} times; every node must appear exactly once"
        if k not in needed:
            return f"{label(k)} is listed but the output does not depend on it"
    for k, parents in needed.items():
        if k not in positions:
            return f"{label(k)} is missing, although the output depends on it"
        for p in parents:
            if positions[p][0] > positions[k][0]:
                return f"{label(k)} comes before its input {label(p)}; parents must come first"
    return "ok"



def _order_reference(inputs: dict[str, Any]) -> Outputs:
    return {"topological order": "ok"}


def _recipe_inputs(make: Callable[[np.random.Generator], dict[str, Any]]) -> Callable[..., Any]:
    return lambda rng: {"recipe": make(rng)}


GRAPH_CASES = [
    Case(
        "the lecture's circuit sigmoid(w0*x0 + w1*x1 + w2) on random values",
        _recipe_inputs(_seed_recipe),
        "graph_backward",
        _graph_reference,
        tol=TOL,
    ),
    Case(
        "a node that feeds several others (its gradients must add up)",
        _recipe_inputs(_fan_out_recipe),
        "graph_backward",
        _graph_reference,
        tol=TOL,
    ),
    Case(
        "a node that feeds an add gate and, later, a multiply gate (gradients must add up)",
        _recipe_inputs(_add_then_multiply_recipe),
        "graph_backward",
        _graph_reference,
        tol=TOL,
    ),
    Case(
        "random graphs of +, * and sigmoid nodes",
        _recipe_inputs(_random_recipe),
        "graph_backward",
        _graph_reference,
        tol=TOL,
        runs=6,
    ),
    Case(
        "random graphs against a numeric gradient check",
        _recipe_inputs(_random_recipe),
        "graph_backward",
        _graph_numeric_reference,
        tol=NUMERIC_GRAPH_TOL,
        runs=3,
    ),
    Case(
        "topological_order of random graphs",
        _recipe_inputs(_random_recipe),
        "topological_order",
        _order_reference,
        derive=_order_problem,
        runs=4,
    ),
]


# ---------------------------------------------------------------------------------------------
# Affine layer
# ---------------------------------------------------------------------------------------------


def _affine_problem(rng: np.random.Generator, n: int | None = None) -> dict[str, Any]:
    N = n if n is not None else int(rng.integers(1, 6, endpoint=True))
    feature_shape = _shape(rng)
    D = math.prod(feature_shape)
    M = int(rng.integers(1, 7, endpoint=True))
    return {
        "x": rng.normal(size=(N, *feature_shape)),
        "w": rng.normal(scale=1 / math.sqrt(D), size=(D, M)),
        "b": rng.normal(size=M),
        "dout": rng.normal(size=(N, M)),
    }



def _affine_forward_reference(inputs: dict[str, Any]) -> Outputs:
    out, (x, w, b) = ref_layers.affine_forward(inputs["x"], inputs["w"], inputs["b"])
    return {"out": out, "cache[0] (x)": x, "cache[1] (w)": w, "cache[2] (b)": b}



def _affine_backward_reference(inputs: dict[str, Any]) -> Outputs:
    _, cache = ref_layers.affine_forward(inputs["x"], inputs["w"], inputs["b"])
    dx, dw, db = ref_layers.affine_backward(inputs["dout"], cache)
    return {"dx": dx, "dw": dw, "db": db}


def _affine_cases(name: str, call: str, reference: Callable[..., Outputs]) -> list[Case]:
    return [
        Case(
            f"{name}: random shapes", _affine_problem, call, reference, tol=TOL, runs=4
        ),
        Case(
            f"{name}: one example (N = 1)",
            lambda rng: _affine_problem(rng, n=1),
            call,
            reference,
            tol=TOL,
        ),
        Case(
            f"{name}: images (N, 3, 4, 5)",
            lambda rng: _affine_images(rng),
            call,
            reference,
            tol=TOL,
        ),
    ]


def _affine_images(rng: np.random.Generator) -> dict[str, Any]:
    N, M = int(rng.integers(2, 6, endpoint=True)), int(rng.integers(2, 8, endpoint=True))
    return {
        "x": rng.normal(size=(N, 3, 4, 5)),
        "w": rng.normal(scale=0.1, size=(60, M)),
        "b": rng.normal(size=M),
        "dout": rng.normal(size=(N, M)),
    }


AFFINE_FORWARD_CASES = _affine_cases("affine_forward", "affine_forward", _affine_forward_reference)
AFFINE_BACKWARD_CASES = _affine_cases(
    "affine_backward", "affine_backward", _affine_backward_reference
)


# ---------------------------------------------------------------------------------------------
# ReLU
# ---------------------------------------------------------------------------------------------


def _relu_problem(rng: np.random.Generator, zeros: bool = False) -> dict[str, Any]:
    shape = _shape(rng, 1, 4)
    x = rng.normal(size=shape)
    if zeros:  # about a third of the inputs sit exactly on the kink
        x[rng.random(size=shape) < 0.35] = 0.0
    return {"x": x, "dout": rng.normal(size=shape)}



def _relu_forward_derive(inputs: dict[str, Any], raw: Any) -> Outputs:
    return {
        "out": raw["out"],
        "cache (the input x)": raw["cache (the input x)"],
        "x left unchanged by relu_forward": bool(np.array_equal(raw["x after"], inputs["x"])),
    }


def _relu_forward_reference(inputs: dict[str, Any]) -> Outputs:
    out, cache = ref_layers.relu_forward(inputs["x"])
    return {"out": out, "cache (the input x)": cache, "x left unchanged by relu_forward": True}



def _relu_backward_reference(inputs: dict[str, Any]) -> Outputs:
    return {"dx": ref_layers.relu_backward(inputs["dout"], inputs["x"])}


RELU_FORWARD_CASES = [
    Case(
        "relu_forward: random shapes",
        _relu_problem,
        "relu_forward",
        _relu_forward_reference,
        derive=_relu_forward_derive,
        tol=TOL,
        runs=4,
    ),
    Case(
        "relu_forward: inputs exactly 0",
        lambda rng: _relu_problem(rng, zeros=True),
        "relu_forward",
        _relu_forward_reference,
        derive=_relu_forward_derive,
        tol=TOL,
    ),
]
RELU_BACKWARD_CASES = [
    Case(
        "relu_backward: random shapes",
        _relu_problem,
        "relu_backward",
        _relu_backward_reference,
        tol=TOL,
        runs=4,
    ),
    Case(
        "relu_backward: inputs exactly 0 (no gradient flows where x == 0)",
        lambda rng: _relu_problem(rng, zeros=True),
        "relu_backward",
        _relu_backward_reference,
        tol=TOL,
    ),
]


# ---------------------------------------------------------------------------------------------
# Sigmoid layer (forward and backward together: the backward receives the student's own cache)
# ---------------------------------------------------------------------------------------------


def _sigmoid_problem(rng: np.random.Generator, scale: float = 2.0) -> dict[str, Any]:
    shape = _shape(rng, 1, 4)
    return {"x": rng.normal(scale=scale, size=shape), "dout": rng.normal(size=shape)}



def _sigmoid_reference(inputs: dict[str, Any]) -> Outputs:
    out, cache = ref_layers.sigmoid_forward(inputs["x"])
    return {"out": out, "dx": ref_layers.sigmoid_backward(inputs["dout"], cache)}


SIGMOID_CASES = [
    Case(
        "sigmoid layer: random shapes",
        _sigmoid_problem,
        "sigmoid_layer",
        _sigmoid_reference,
        tol=TOL,
        runs=4,
    ),
    # |x| up to ~60: far in the flat tails, yet no overflow for any sensible formula.
    Case(
        "sigmoid layer: saturated inputs",
        lambda rng: _sigmoid_problem(rng, scale=20.0),
        "sigmoid_layer",
        _sigmoid_reference,
        tol=TOL,
    ),
]


# ---------------------------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------------------------


def _scores_problem(
    rng: np.random.Generator,
    n: int | None = None,
    num_classes: int | None = None,
    scale: float = 1.0,
    offset: float = 0.0,
) -> dict[str, Any]:
    N = n if n is not None else int(rng.integers(2, 40, endpoint=True))
    C = num_classes if num_classes is not None else int(rng.integers(2, 12, endpoint=True))
    x = rng.normal(scale=scale, size=(N, C))
    if offset:  # each row shifted by a different large amount: only a per-row max shift helps
        x += offset * rng.uniform(0.5, 2.0, size=(N, 1))
    return {"x": x, "y": rng.integers(0, C, size=N)}


def _separated_scores(rng: np.random.Generator, sign: float) -> dict[str, Any]:
    """The correct class leads (+1) or trails (-1) every other class by ~5."""
    problem = _scores_problem(rng, scale=0.3)
    x, y = problem["x"], problem["y"]
    x[np.arange(len(y)), y] += sign * 5.0
    return problem



def _loss_reference(reference: Callable[..., Any]) -> Callable[[dict[str, Any]], Outputs]:
    def run(inputs: dict[str, Any]) -> Outputs:
        loss, dx = reference(inputs["x"], inputs["y"])
        return {"loss": loss, "dx": dx}

    return run


def _loss_cases(prefix: str, reference: Callable[..., Any], huge: bool) -> list[Case]:
    def case(name: str, make: Callable[[np.random.Generator], dict[str, Any]]) -> Case:
        return Case(f"{prefix}: {name}", make, "loss", _loss_reference(reference), tol=TOL)

    cases = [
        case("random scores", lambda rng: _scores_problem(rng)),
        case("one example (N = 1)", lambda rng: _scores_problem(rng, n=1)),
        case("two classes (C = 2)", lambda rng: _scores_problem(rng, num_classes=2)),
        case("correct class far ahead", lambda rng: _separated_scores(rng, +1.0)),
        case("correct class far behind", lambda rng: _separated_scores(rng, -1.0)),
    ]
    if huge:
        cases += [
            case("scores near +1000", lambda rng: _scores_problem(rng, scale=5.0, offset=1e3)),
            case("scores near -1000", lambda rng: _scores_problem(rng, scale=5.0, offset=-1e3)),
        ]
    return cases


SVM_CASES = _loss_cases("svm_loss", ref_layers.svm_loss, huge=False)
SOFTMAX_CASES = _loss_cases("softmax_loss", ref_layers.softmax_loss, huge=True)


# ---------------------------------------------------------------------------------------------
# affine_relu sandwich (reference affine and ReLU swapped in)
# ---------------------------------------------------------------------------------------------



def _affine_relu_reference(inputs: dict[str, Any]) -> Outputs:
    out, cache = ref_layers.affine_relu_forward(inputs["x"], inputs["w"], inputs["b"])
    dx, dw, db = ref_layers.affine_relu_backward(inputs["dout"], cache)
    return {"out": out, "dx": dx, "dw": dw, "db": db}


SANDWICH_ORACLES = ("affine_forward", "affine_backward", "relu_forward", "relu_backward")

AFFINE_RELU_CASES = [
    Case(
        "affine_relu: random shapes",
        _affine_problem,
        "affine_relu",
        _affine_relu_reference,
        oracles=SANDWICH_ORACLES,
        tol=TOL,
        runs=4,
    ),
    Case(
        "affine_relu: images (N, 3, 4, 5)",
        _affine_images,
        "affine_relu",
        _affine_relu_reference,
        oracles=SANDWICH_ORACLES,
        tol=TOL,
    ),
]


# ---------------------------------------------------------------------------------------------
# FullyConnectedNet (reference layers swapped in)
# ---------------------------------------------------------------------------------------------


def _net_problem(
    rng: np.random.Generator, reg: float | None = None, depth: int | None = None
) -> dict[str, Any]:
    """Architecture, parameters (mixed ReLU activity) and a minibatch of images."""
    channels, height, width = 3, int(rng.integers(2, 4, endpoint=True)), 2
    input_dim = channels * height * width
    num_hidden = depth if depth is not None else int(rng.integers(1, 3, endpoint=True))
    hidden_dims = [int(h) for h in rng.integers(3, 12, size=num_hidden, endpoint=True)]
    num_classes = int(rng.integers(2, 8, endpoint=True))
    dims = [input_dim, *hidden_dims, num_classes]
    params = {}
    for k in range(1, len(dims)):
        params[f"W{k}"] = rng.normal(
            scale=1.5 / math.sqrt(dims[k - 1]), size=(dims[k - 1], dims[k])
        )
        params[f"b{k}"] = rng.normal(scale=0.2, size=dims[k])
    N = int(rng.integers(2, 8, endpoint=True))
    return {
        "hidden_dims": hidden_dims,
        "input_dim": input_dim,
        "num_classes": num_classes,
        "reg": float(10 ** rng.uniform(-2, 0.5)) if reg is None else reg,
        "params": params,
        "X": rng.normal(size=(N, channels, height, width)),
        "y": rng.integers(0, num_classes, size=N),
    }





def _net_reference(inputs: dict[str, Any]) -> Outputs:
    return calls.fc_net(ref_models.FullyConnectedNet, inputs)


def _init_problem(rng: np.random.Generator) -> dict[str, Any]:
    """Sizes with >= 1000 first-layer weights, so the measured std is accurate to a few %."""
    return {
        "hidden_dims": [int(h) for h in rng.integers(20, 40, size=int(rng.integers(1, 3)) + 1)],
        "input_dim": int(rng.integers(50, 80, endpoint=True)),
        "num_classes": int(rng.integers(3, 10, endpoint=True)),
        "weight_scale": float(10 ** rng.uniform(-3, -0.5)),
        "dtype": str(rng.choice(["float32", "float64"])),
        "seed": int(rng.integers(0, 2**31)),
    }


def _expected_shapes(inputs: dict[str, Any]) -> str:
    dims = [inputs["input_dim"], *inputs["hidden_dims"], inputs["num_classes"]]
    shapes: dict[str, tuple[int, ...]] = {}
    for k in range(1, len(dims)):
        shapes[f"W{k}"], shapes[f"b{k}"] = (dims[k - 1], dims[k]), (dims[k],)
    return _describe_shapes(shapes)


def _describe_shapes(shapes: Mapping[str, tuple[int, ...]]) -> str:
    def key(name: str) -> tuple[int, str]:
        digits = "".join(c for c in name if c.isdigit())
        return (int(digits) if digits else 0, name)

    return ", ".join(f"{name} {tuple(shapes[name])}" for name in sorted(shapes, key=key))



def _init_derive(inputs: dict[str, Any], raw: Any) -> Outputs:
    params, again = raw["params"], raw["params again"]
    if not isinstance(params, dict) or not isinstance(again, dict):
        raise TypeError(f"net.params must be a dict, got {type(params).__name__}")
    weights = [np.asarray(v, dtype=np.float64).ravel() for k, v in params.items() if k[:1] == "W"]
    biases = [np.asarray(v).ravel() for k, v in params.items() if k[:1] == "b"]
    pooled = np.concatenate(weights) if weights else np.zeros(1)
    scale = inputs["weight_scale"]
    return {
        "parameter names and shapes": _describe_shapes({k: np.shape(v) for k, v in params.items()}),
        "dtype of every parameter": ", ".join(
            sorted({str(np.asarray(v).dtype) for v in params.values()})
        ),
        "std of the initial weights / weight_scale": float(pooled.std() / scale),
        "initial weights centred on 0": bool(
            abs(pooled.mean()) < 6 * scale / math.sqrt(pooled.size)
        ),
        "initial biases all 0": bool(all(not np.any(b) for b in biases)),
        "the same seed gives the same initial weights": bool(
            params.keys() == again.keys()
            and all(np.array_equal(params[k], again[k]) for k in params)
        ),
    }


def _init_reference(inputs: dict[str, Any]) -> Outputs:
    return {
        "parameter names and shapes": _expected_shapes(inputs),
        "dtype of every parameter": inputs["dtype"],
        "std of the initial weights / weight_scale": 1.0,
        "initial weights centred on 0": True,
        "initial biases all 0": True,
        "the same seed gives the same initial weights": True,
    }


FC_NET_CASES = [
    Case(
        "FullyConnectedNet: parameters and initialisation",
        _init_problem,
        "fc_net_init",
        _init_reference,
        derive=_init_derive,
        tols={"std of the initial weights / weight_scale": INIT_STD_TOL},
        runs=4,
    ),
    Case(
        "FullyConnectedNet: scores, loss and gradients with reg > 0",
        _net_problem,
        "fc_net",
        _net_reference,
        oracles=REFERENCE_LAYERS,
        tol=TOL,
        runs=4,
    ),
    Case(
        "FullyConnectedNet: scores, loss and gradients with reg = 0",
        lambda rng: _net_problem(rng, reg=0.0),
        "fc_net",
        _net_reference,
        oracles=REFERENCE_LAYERS,
        tol=TOL,
    ),
    Case(
        "FullyConnectedNet: four hidden layers",
        lambda rng: _net_problem(rng, depth=4),
        "fc_net",
        _net_reference,
        oracles=REFERENCE_LAYERS,
        tol=TOL,
    ),
    Case(
        "FullyConnectedNet: no hidden layer (hidden_dims = [], a softmax classifier)",
        lambda rng: _net_problem(rng, depth=0),
        "fc_net",
        _net_reference,
        oracles=REFERENCE_LAYERS,
        tol=TOL,
    ),
]


# ---------------------------------------------------------------------------------------------
# Overfitting 50 images: the student's learning_rate and weight_scale on the reference net
# ---------------------------------------------------------------------------------------------

OVERFIT_NUM_TRAIN = 50
OVERFIT_EPOCHS = 20
OVERFIT_BATCH = 25
OVERFIT_HIDDEN = [100, 100]
OVERFIT_DATA_SEED = 3141
_overfit_data: dict[str, np.ndarray] = {}


def overfit_data() -> dict[str, np.ndarray]:
    """50 grader-made training images (synthetic, CIFAR-shaped, mean-subtracted) and 50 val."""
    if not _overfit_data:
        X_train, y_train, X_val, y_val = make_synthetic_cifar10(
            OVERFIT_NUM_TRAIN, OVERFIT_NUM_TRAIN, seed=OVERFIT_DATA_SEED
        )
        mean = X_train.astype(np.float64).mean(axis=0)
        for key, X in (("X_train", X_train), ("X_val", X_val)):
            _overfit_data[key] = np.ascontiguousarray((X - mean).transpose(0, 3, 1, 2))
        _overfit_data["y_train"], _overfit_data["y_val"] = y_train, y_val
    return _overfit_data


def _overfit_inputs(rng: np.random.Generator) -> dict[str, Any]:
    return {"model_seed": int(rng.integers(0, 2**31)), "solver_seed": int(rng.integers(0, 2**31))}


def overfit_outcome(
    learning_rate: Any, weight_scale: Any, model_seed: int, solver_seed: int
) -> str:
    """Train the reference 3-layer net on the 50 images; say whether it reached 100% train acc."""
    for name, value in (("learning_rate", learning_rate), ("weight_scale", weight_scale)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
            return f"{name} must be a number, got {value!r}"
        if not (math.isfinite(float(value)) and float(value) > 0):
            return f"{name} must be a positive number, got {value!r}"
    model = ref_models.FullyConnectedNet(
        OVERFIT_HIDDEN, weight_scale=float(weight_scale), dtype=np.float64, seed=model_seed
    )
    solver = Solver(
        model,
        overfit_data(),
        update_rule=sgd,
        optim_config={"learning_rate": float(learning_rate)},
        batch_size=OVERFIT_BATCH,
        num_epochs=OVERFIT_EPOCHS,
        num_train_samples=None,
        verbose=False,
        progress=False,
        seed=solver_seed,
    )
    try:
        with np.errstate(all="ignore"):  # a diverging run is reported below, not as warnings
            solver.train()
    except TrainingDivergedError:
        return (
            f"training diverged (the loss became {solver.loss_history[-1]}): the learning rate "
            "is too large, or the weights too large for it"
        )
    best = max(solver.train_acc_history)
    if best >= 1.0:
        return "100% training accuracy"
    losses = solver.loss_history
    first, last, highest = losses[0], losses[-1], max(losses)
    if highest > 1.5 * first:
        hint = "the loss jumped up on the way: the learning rate is probably too large"
    elif last > 0.8 * first:
        hint = "the loss barely moved: the learning rate or weight_scale is probably too small"
    else:
        hint = "the loss went down but not far enough: tune learning_rate and weight_scale"
    return (
        f"best training accuracy {best:.0%} after {OVERFIT_EPOCHS} epochs (loss {first:.3g} -> "
        f"{last:.3g}, highest {highest:.3g}); {hint}"
    )



def _overfit_derive(inputs: dict[str, Any], raw: Any) -> Outputs:
    outcome = overfit_outcome(
        raw["learning_rate"], raw["weight_scale"], inputs["model_seed"], inputs["solver_seed"]
    )
    return {"50-image overfit": outcome}


def _overfit_reference(inputs: dict[str, Any]) -> Outputs:
    return {"50-image overfit": "100% training accuracy"}


OVERFIT_CASES = [
    Case(
        "3-layer net (100, 100 hidden), sgd, 50 images, 20 epochs, batch 25",
        _overfit_inputs,
        "hyperparameters",
        _overfit_reference,
        derive=_overfit_derive,
        runs=1,
    )
]


# ---------------------------------------------------------------------------------------------
# Update rules
# ---------------------------------------------------------------------------------------------



def _rule_problem(
    rng: np.random.Generator,
    hyper: Callable[[np.random.Generator], dict[str, Any]] | None,
    state: Callable[[np.random.Generator, tuple[int, ...]], dict[str, Any]] | None = None,
    steps: tuple[int, int] = (2, 5),
) -> dict[str, Any]:
    shape = _shape(rng, 1, 4)
    num_steps = int(rng.integers(steps[0], steps[1], endpoint=True))
    config: dict[str, Any] | None = None
    if hyper is not None:
        config = hyper(rng)
    if state is not None:
        config = {**(config or {}), **state(rng, shape)}
    return {
        "w": rng.normal(size=shape),
        "dws": [rng.normal(size=shape) for _ in range(num_steps)],
        "config": config,
    }


def _rule_cases(
    name: str,
    reference: Callable[..., Any],
    state_keys: Sequence[str],
    hyper: Callable[[np.random.Generator], dict[str, Any]],
    state: Callable[[np.random.Generator, tuple[int, ...]], dict[str, Any]],
    defaults: str,
) -> list[Case]:
    def ref(inputs: dict[str, Any]) -> Outputs:
        return calls.update_rule(reference, inputs)

    def problem(rng: np.random.Generator, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return {**_rule_problem(rng, *args, **kwargs), "state": list(state_keys)}

    return [
        Case(
            f"{name}: one step with config=None ({defaults})",
            lambda rng: problem(rng, None, steps=(1, 1)),
            "update_rule",
            ref,
            tol=RULE_TOL,
        ),
        Case(
            f"{name}: several steps with config=None ({defaults})",
            lambda rng: problem(rng, None),
            "update_rule",
            ref,
            tol=RULE_TOL,
        ),
        Case(
            f"{name}: several steps with hyper-parameters in the config",
            lambda rng: problem(rng, hyper),
            "update_rule",
            ref,
            tol=RULE_TOL,
            runs=4,
        ),
        Case(
            f"{name}: several steps starting from state already in the config",
            lambda rng: problem(rng, hyper, state),
            "update_rule",
            ref,
            tol=RULE_TOL,
        ),
    ]


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(10 ** rng.uniform(math.log10(low), math.log10(high)))


SGD_MOMENTUM_CASES = _rule_cases(
    "sgd_momentum",
    ref_optim.sgd_momentum,
    ["velocity"],
    lambda rng: {
        "learning_rate": _log_uniform(rng, 1e-3, 1e-1),
        "momentum": rng.uniform(0.5, 0.99),
    },
    lambda rng, shape: {"velocity": rng.normal(scale=0.1, size=shape)},
    "learning_rate 1e-2, momentum 0.9",
)
RMSPROP_CASES = _rule_cases(
    "rmsprop",
    ref_optim.rmsprop,
    ["cache"],
    lambda rng: {
        "learning_rate": _log_uniform(rng, 1e-3, 1e-1),
        "decay_rate": rng.uniform(0.9, 0.999),
        "epsilon": _log_uniform(rng, 1e-8, 1e-6),
    },
    lambda rng, shape: {"cache": rng.uniform(0.1, 2.0, size=shape)},
    "learning_rate 1e-2, decay_rate 0.99, epsilon 1e-8",
)
_ADAM_HYPER = {
    "learning_rate": lambda rng: _log_uniform(rng, 1e-4, 1e-1),
    "beta1": lambda rng: rng.uniform(0.8, 0.95),
    "beta2": lambda rng: rng.uniform(0.99, 0.9999),
    "epsilon": lambda rng: _log_uniform(rng, 1e-8, 1e-6),
}
ADAM_CASES = _rule_cases(
    "adam",
    ref_optim.adam,
    ["m", "v", "t"],
    lambda rng: {key: make(rng) for key, make in _ADAM_HYPER.items()},
    lambda rng, shape: {
        "m": rng.normal(scale=0.3, size=shape),
        "v": rng.uniform(0.1, 1.0, size=shape),
        "t": int(rng.integers(1, 20, endpoint=True)),
    },
    "learning_rate 1e-3, beta1 0.9, beta2 0.999, epsilon 1e-8",
) + [
    Case(
        "adam: several steps with weight_decay > 0 (decoupled, AdamW)",
        lambda rng: {
            **_rule_problem(
                rng,
                lambda r: {
                    **{key: make(r) for key, make in _ADAM_HYPER.items()},
                    "weight_decay": _log_uniform(r, 1e-3, 1e-1),
                },
            ),
            "state": ["m", "v", "t"],
        },
        "update_rule",
        lambda inputs: calls.update_rule(ref_optim.adam, inputs),
        tol=RULE_TOL,
    )
]


CASES: dict[str, list[Case]] = {
    "test_multiply_gate": MULTIPLY_GATE_CASES,
    "test_graph_backward": GRAPH_CASES,
    "test_affine_forward": AFFINE_FORWARD_CASES,
    "test_affine_backward": AFFINE_BACKWARD_CASES,
    "test_relu_forward": RELU_FORWARD_CASES,
    "test_relu_backward": RELU_BACKWARD_CASES,
    "test_sigmoid_layer": SIGMOID_CASES,
    "test_svm_loss": SVM_CASES,
    "test_softmax_loss": SOFTMAX_CASES,
    "test_affine_relu": AFFINE_RELU_CASES,
    "test_fc_net": FC_NET_CASES,
    "test_overfit_small": OVERFIT_CASES,
    "test_sgd_momentum": SGD_MOMENTUM_CASES,
    "test_rmsprop": RMSPROP_CASES,
    "test_adam": ADAM_CASES,
}

