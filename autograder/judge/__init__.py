"""The trusted side of grading: the judge never imports, unpickles or runs student code.

* :mod:`autograder.judge.cases`: what a hidden check is (inputs, reference, comparison);
* :mod:`autograder.judge.checks`: the hidden checks of every notebook;
* :mod:`autograder.judge.reference`: the reference implementations, one per graded function;
* :mod:`autograder.judge.oracles`: reference results for a student's function's dependencies;
* :mod:`autograder.judge.session`: the judge itself: draws inputs from a secret seed, serves a
  sandbox over a Unix socket, compares what comes back, keeps the verdicts.

The student's code runs only in a sandbox (:mod:`autograder.sandbox`), which sees none of this.
"""
