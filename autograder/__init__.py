"""TA and instructor tooling for the course: the ``python -m autograder`` command line.

Subcommands (see ``python -m autograder --help``):

- ``demo``: train a small three-layer ConvNet on CIFAR-10 (or clearly labelled synthetic data when
  CIFAR-10 is not available) and write its loss curve.

``autograder.reference`` holds the reference implementations of the graded functions; it is for
the grading side only and must never be copied into the student release.
"""
