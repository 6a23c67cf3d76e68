"""The sandboxed worker: calls the student's definitions afresh on the judge's inputs.

    python -m autograder.sandbox.handin.worker        (inside a sandbox, in the notebooks' folder)

It asks the judge which test is next, loads the definitions of that test's notebook (imports,
functions, classes and simple constants, never the notebook's other top-level code:
:func:`cs231kit.notebook.load_definitions`), hands in what the test names, and asks again until
the judge says it is done. Nothing the notebook's top-level code did (patching NumPy, rewriting
later cells, editing the hidden tests) happens here, and nothing here decides a grade.
"""

from __future__ import annotations

import os
import types
from typing import Any

from autograder.sandbox.handin import SOCKET_VARIABLE, CheckFailure, SocketConnection, hand_in
from cs231kit.notebook import load_definitions


class _Missing:
    """Stands for a name the notebook does not define: any use raises a clear error."""

    def __init__(self, message: str) -> None:
        self.message = message

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NameError(self.message)

    def __getattr__(self, name: str) -> Any:
        raise NameError(self.message)


def _lookup(module: types.ModuleType, name: str) -> Any:
    try:
        return getattr(module, name)
    except AttributeError as error:
        return _Missing(
            f"{error}. The grader's re-check loads only definitions (def, class, import) and "
            "simple constants from the notebook."
        )


def student_objects(module: types.ModuleType, what: Any) -> Any:
    """What a hidden cell hands in, looked up in ``module``: a name, or a dict of keys to names."""
    if isinstance(what, str):
        return _lookup(module, what)
    return {key: _lookup(module, name) for key, name in what.items()}


def main() -> None:
    judge = SocketConnection(os.environ[SOCKET_VARIABLE])
    loaded: dict[str, types.ModuleType] = {}
    while True:
        job = judge.request({"op": "next"})
        if job.get("done"):
            return
        notebook = job["notebook"]
        if notebook not in loaded:
            judge.request({"op": "loading", "notebook": notebook})
            loaded[notebook] = load_definitions(notebook, simple_assignments=True)
            judge.request({"op": "loading", "notebook": None})
        try:
            hand_in(job["test"], student_objects(loaded[notebook], job["student"]), judge)
        except CheckFailure:
            pass  # the judge has the verdict; the next test may pass


if __name__ == "__main__":
    main()
