"""The student bundle: what is in it, what is not, and that it installs and runs on its own."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from autograder.course import ASSIGNMENT, RELEASE_DIR, SOURCE_DIR
from autograder.leak_check import split_notebook
from autograder.student_bundle import build_bundle, bundle_leaks

TOP = f"{ASSIGNMENT}-student"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_bundle(tmp_path_factory.mktemp("dist"))


def names(bundle: Path) -> list[str]:
    with zipfile.ZipFile(bundle) as archive:
        return archive.namelist()


def test_the_bundle_holds_the_notebooks_the_wheel_and_the_student_files(bundle):
    notebooks = sorted(p.name for p in (RELEASE_DIR / ASSIGNMENT).glob("*.ipynb"))
    files = names(bundle)
    assert sorted(n for n in files if n.endswith(".ipynb")) == [
        f"{TOP}/{ASSIGNMENT}/{name}" for name in notebooks
    ]
    (wheel,) = [n for n in files if n.endswith(".whl")]
    others = set(files) - {wheel} - {f"{TOP}/{ASSIGNMENT}/{name}" for name in notebooks}
    assert others == {f"{TOP}/{name}" for name in
                      ("README.md", "environment.yml", "get_cifar10.py", "DATA_LICENSE.md")}
    with zipfile.ZipFile(bundle) as archive:
        environment = archive.read(f"{TOP}/environment.yml").decode()
        with zipfile.ZipFile(archive.open(wheel)) as inner:
            packaged = {n.split("/")[0] for n in inner.namelist()}
    assert f"./{Path(wheel).name}[student]" in environment
    assert {p for p in packaged if not p.endswith(".dist-info")} == {"cs231kit"}


def test_the_student_extra_brings_jupyterlab():
    from importlib.metadata import requires

    wanted = [r for r in requires("cs231kit") or [] if 'extra == "student"' in r]
    assert any(r.startswith("jupyterlab") for r in wanted), wanted


def test_the_bundle_holds_no_solution_hidden_test_or_reference(bundle):
    assert bundle_leaks(bundle) == []
    files = " ".join(names(bundle))
    for part in ("solutions/", "autograder", "tests/", "hidden"):
        assert part not in files


def test_the_bundle_check_finds_what_was_planted(bundle, tmp_path):
    """The content search is not vacuous: a solution line or an instructor file is caught."""
    solution = SOURCE_DIR / ASSIGNMENT / "03_modular_backprop.ipynb"
    inside, _ = split_notebook(solution)
    secret = max(inside, key=len)  # a long line from a solution region
    planted = tmp_path / "planted.zip"
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(planted, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("03_modular_backprop.ipynb"):
                nb = json.loads(data)
                nb["cells"][-1]["source"] = secret
                data = json.dumps(nb).encode()
            dst.writestr(info, data)
        dst.writestr(f"{TOP}/autograder/judge/extra.py", "x = 1\n")
    problems = bundle_leaks(planted)
    assert any(secret.strip() in p and "03_modular_backprop.ipynb" in p for p in problems)
    assert any("instructor files" in p and "autograder/judge/extra.py" in p for p in problems)


def test_a_fresh_virtualenv_installs_the_bundle_and_runs_notebook_02(bundle, tmp_path):
    """Only the bundle and the package registry: install the wheel in a new virtualenv, then run
    notebook 02 of the release there. Its cells run; the only errors are the answer stubs'
    NotImplementedError and the visible tests that call them."""
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(tmp_path)
    folder = tmp_path / TOP
    (wheel,) = folder.glob("cs231kit-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(wheel)],
                             capture_output=True, text=True, timeout=900)
    assert install.returncode == 0, install.stdout + install.stderr
    script = textwrap.dedent("""
        import collections, json, sys
        import nbformat
        from nbclient import NotebookClient
        import cs231kit
        assert "site-packages" in cs231kit.__file__, cs231kit.__file__
        path = sys.argv[1]
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": sys.argv[2]}}).execute()
        errors = collections.Counter(o["ename"] for c in nb.cells for o in c.get("outputs", [])
                                     if o.get("output_type") == "error")
        ran = sum(1 for c in nb.cells if c.cell_type == "code" and c.execution_count)
        print(json.dumps({"errors": errors, "ran": ran,
                          "code": sum(c.cell_type == "code" for c in nb.cells)}))
    """)
    notebook = folder / ASSIGNMENT / "02_jacobian_free_gradients.ipynb"
    done = subprocess.run(
        [str(python), "-c", script, str(notebook), str(notebook.parent)],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,
        env={"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["ran"] == report["code"]
    assert set(report["errors"]) == {"NotImplementedError"}, report["errors"]
