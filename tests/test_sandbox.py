"""The per-submission limits are real: a memory bomb and an oversized file fail cleanly."""

from __future__ import annotations

import subprocess
import sys

from autograder.sandbox import Limits


def run_limited(code: str, **limits: int) -> subprocess.CompletedProcess[str]:
    prefix = Limits(**limits).launcher()
    return subprocess.run([*prefix, sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)


def test_memory_bomb_gets_a_memory_error():
    result = run_limited("import numpy as np\nnp.ones((100_000, 100_000))", memory_mb=1024)
    assert result.returncode != 0
    assert "MemoryError" in result.stderr


def test_normal_code_runs_under_the_limits():
    result = run_limited("import numpy as np\nprint(np.ones((1000, 1000)).sum())", memory_mb=1024)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1000000.0"


def test_file_size_limit_stops_a_disk_filler(tmp_path):
    target = tmp_path / "big.bin"
    code = f"open({str(target)!r}, 'wb').write(b'x' * (3 * 1024 * 1024))"
    result = run_limited(code, max_file_mb=1)
    assert result.returncode != 0
    assert "File too large" in result.stderr or "OSError" in result.stderr
    assert target.stat().st_size <= 1024 * 1024


def test_limits_reach_child_processes():
    code = (
        "import resource, subprocess, sys\n"
        "out = subprocess.run([sys.executable, '-c', "
        "'import resource; print(resource.getrlimit(resource.RLIMIT_AS)[0])'], "
        "capture_output=True, text=True).stdout\n"
        "print(out.strip())"
    )
    result = run_limited(code, memory_mb=2048)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) == 2048 * 1024 * 1024
