"""cs231kit: the helper library of a deep-learning-from-scratch course.

Modules, one job each:

- ``cs231kit.gradient_check``: numeric gradients, ``rel_error``, gradient-check reports
- ``cs231kit.tolerances``:     every numeric tolerance the course uses, in one place
- ``cs231kit.data``:           CIFAR-10 download/loading/preprocessing, synthetic CIFAR-format data
- ``cs231kit.fast_layers``:    fast convolution and max pooling (NumPy, or CuPy on a GPU)
- ``cs231kit.backend``:        choose NumPy or CuPy as the array module
- ``cs231kit.solver``:         the ``Solver`` training loop
- ``cs231kit.optim``:          the given update rule (``sgd``) and the update-rule interface
- ``cs231kit.metrics``:        accuracy and top-k error
- ``cs231kit.visualization``:  image grids, filter grids, training curves
- ``cs231kit.notebook``:       load definitions from a sibling notebook
- ``cs231kit.run_mode``:       full runs versus short grading runs
- ``cs231kit.submission``:     the pre-submission check (``cs231kit-check-submission``) and zip
"""

from cs231kit.batch_threads import shorten_blas_idle_spin

# Before anything imports NumPy (this import does not): see cs231kit.batch_threads. Import
# cs231kit before NumPy for training to get the full speed of the fast layers and the Solver.
shorten_blas_idle_spin()

__version__ = "0.1.0"
