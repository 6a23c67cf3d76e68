"""Reference implementations of every graded function of the course (instructor and TA side).

These are the answers. They exist so that the grading side has something trusted to compare a
student's work against:

- hidden tests check a student's function against the reference on random inputs, and feed the
  reference versions of a function's graded dependencies to it, so that one bug costs points once;
- the trusted re-check compares the arrays a sandboxed submission returns with the reference;
- the training demo and the benchmarks train the reference models.

**Never copy this package, or code from it, into ``cs231kit/`` or ``assignments/``**: students
receive both, and neither may contain a reference implementation of a graded function.

Modules, one job each:

- ``layers``:      affine, ReLU, sigmoid, dropout, the affine-ReLU sandwich, softmax and SVM losses
- ``conv_layers``: naive convolution and max pooling, and conv sandwiches built on the library's
                   fast layers
- ``optim``:       the update rules SGD with momentum, RMSProp and Adam (with weight decay)
- ``models``:      ``FullyConnectedNet`` and ``ThreeLayerConvNet``
- ``nb01_*`` ... ``nb05_*``: answers that belong to one notebook only (hand-staged examples,
                   gates, size formulas), beside the shared modules above

All code is generic over the array module: it runs on NumPy arrays and, unchanged, on CuPy arrays
(``xp = get_array_module(x)``); model parameters are created on the current backend
(``cs231kit.backend.array_module()``).
"""
