"""Adapters: how each hidden test calls the student's code, one module per notebook.

An adapter ``name(student, inputs) -> outputs`` calls what the hidden cell handed in (a function,
a class, or a dict of them) on the inputs the judge drew, and returns what came back, as plain
data: arrays, numbers, strings and lists, tuples and dicts of them. It checks nothing and
decides nothing; whatever needs judging (did an input change, do the numbers match) is left to the
judge, which gets these outputs and compares them with the reference on its side.
"""
