"""TA and instructor tooling for the course: the ``python -m autograder`` command line.

Subcommands (see ``python -m autograder --help``):

``release``, ``collect``, ``grade``, ``feedback``, ``export``, ``demo`` (the TA workflow on the
bundled samples) and ``train-demo`` (a small ConvNet trained on CIFAR-10, or clearly labelled
synthetic data, with its loss curve).

The grading side is split by trust: ``autograder.judge`` (references, hidden checks, the judge)
never runs student code and is never visible to it; ``autograder.sandbox`` confines student code,
and only its ``handin`` package is mounted inside a sandbox. Neither may ever be copied into the
student release. This file and ``autograder/sandbox/__init__.py`` are mounted in every sandbox:
keep them free of imports.
"""
