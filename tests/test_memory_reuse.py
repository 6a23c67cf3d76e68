"""Training reuses freed memory: a step's temporaries cost no fresh pages from the system."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Adam-like steps on a 4-million-entry float32 matrix (fifteen whole-array temporaries each),
# counting the page faults of the steps after the first: fresh memory from the system faults
# once per page, reused memory does not.
STEPS = """
import json, resource, sys
import numpy as np
if sys.argv[1] == "keep":
    from cs231kit.memory_reuse import keep_freed_memory
    assert keep_freed_memory()
w = np.ones((8192, 500), dtype=np.float32)
m, v, dw = np.zeros_like(w), np.zeros_like(w), np.full_like(w, 0.5)
def step(w, m, v, t):
    m = 0.9 * m + (1 - 0.9) * dw
    v = 0.999 * v + (1 - 0.999) * dw * dw
    step = (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8) + 0.0 * w
    return w - 1e-3 * step, m, v
w, m, v = step(w, m, v, 1)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for t in range(2, 12):
    w, m, v = step(w, m, v, t)
print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before))
"""


def faults(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", STEPS, mode], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_kept_memory_spares_the_page_faults_of_every_step():
    default, kept = faults("default"), faults("keep")
    # By default every step faults in fresh pages (thousands here; fewer, larger ones where
    # NumPy gets transparent huge pages); with the memory kept, next to none.
    assert default > 100 and kept * 20 < default, (default, kept)


def test_the_solver_keeps_freed_memory(monkeypatch):
    from cs231kit import solver as solver_module

    calls = []
    monkeypatch.setattr(solver_module, "keep_freed_memory", lambda: calls.append(1))
    rng = __import__("numpy").random.default_rng(0)

    class Linear:
        def __init__(self) -> None:
            self.params = {"W": rng.normal(size=(4, 3))}

        def loss(self, X, y=None):
            scores = X @ self.params["W"]
            return scores if y is None else (float((scores**2).sum()), {"W": 2 * X.T @ scores})

    data = {"X_train": rng.normal(size=(20, 4)), "y_train": rng.integers(0, 3, 20),
            "X_val": rng.normal(size=(5, 4)), "y_val": rng.integers(0, 3, 5)}
    solver_module.Solver(Linear(), data, num_epochs=1, batch_size=10, verbose=False).train()
    assert calls == [1]
