"""The untrusted side of grading: where student code runs, and how it is confined.

* :mod:`autograder.sandbox.limits`: per-submission limits (time, memory, processes, files);
* :mod:`autograder.sandbox.bubblewrap`: the bubblewrap command line that confines a kernel or a
  worker (no network, its own PID namespace, a non-root user, read-only system, a private scratch
  directory, no view of the grader, the gradebooks or other students);
* :mod:`autograder.sandbox.handin`: the only grader code a sandbox can see. It calls the student's
  functions on the inputs the judge sends and hands back plain arrays; it decides nothing.

This package imports nothing from :mod:`autograder.judge`, and this file must stay import-free:
it is mounted inside every sandbox so that ``autograder.sandbox.handin`` can be imported there.
"""
