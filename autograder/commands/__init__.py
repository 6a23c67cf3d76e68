"""One module per ``python -m autograder`` command: ``add_arguments(parser)`` and ``run(args)``."""
