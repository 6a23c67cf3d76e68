"""Reference implementations of every graded function of the course: the judge's answers.

They exist so that the judge has something trusted to compare a student's work against: it calls
them on the inputs it drew, and answers with them when a student's function calls a graded
function it depends on (see ``autograder.judge.oracles``), so that one bug costs points once. The
training demo and the benchmarks also use them. Nothing here ever runs inside a sandbox, and the
leak check proves that no line of it reaches ``cs231kit/`` or ``assignments/``.

One module per topic, one implementation per function:

- ``circuits``:  the lecture's sigmoid circuit, the Multiply gate, a scalar computational graph
- ``linear_classifiers``: SVM and softmax losses of a linear classifier (notebook 01)
- ``search``:    log-uniform sampling and early abort for random search (notebook 01)
- ``jacobians``: explicit Jacobians and the implicit backward passes (notebook 02)
- ``layers``:    affine, ReLU, sigmoid, the affine-ReLU sandwich, dropout, softmax and SVM losses
- ``conv``:      naive convolution and max pooling, conv sandwiches on the library's fast layers,
                 the output-size and parameter-count formulas, hand-set filters (notebook 05)
- ``normalization``: batch norm (forward; backward staged on the graph and in closed form), layer
                 norm, spatial batch norm (notebook 06)
- ``optim``:     the update rules SGD with momentum, RMSProp and Adam
- ``models``:    the two-layer net, ``FullyConnectedNet`` (dropout and batch or layer norm
                 optional) and ``ThreeLayerConvNet``

All code is generic over the array module: it runs on NumPy arrays and, unchanged, on CuPy arrays
(``xp = get_array_module(x)``); model parameters are created on the current backend
(``cs231kit.backend.array_module()``).
"""
