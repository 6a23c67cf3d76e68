"""The student bundle: what is in it, what is not, and that it installs and runs on its own."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import pytest

from autograder.course import ASSIGNMENT, COLAB_CELL, COLAB_CELL_ID, RELEASE_DIR, SOURCE_DIR
from autograder.leak_check import split_notebook
from autograder.static_scan import scan_notebook
from autograder.student_bundle import STUDENT_FILES, build_bundle, bundle_leaks
from cs231kit.data.cifar10 import FOLDER_NAME, REQUIRED_FILES

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
    assert others == {f"{TOP}/{name}" for name in ("README.md", "environment.yml", "colab_setup.py",
                                                   "get_cifar10.py", "DATA_LICENSE.md")}
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


# Runs a notebook in a real kernel (allowing errors) and prints, as JSON, the error names, how many
# code cells ran of how many, and the outputs of the cell with id ``colab-setup`` and the last cell.
RUN_NOTEBOOK = textwrap.dedent("""
    import collections, json, sys
    import nbformat
    from nbclient import NotebookClient
    path, cwd = sys.argv[1], sys.argv[2]
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(sys.argv[3]))
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": cwd}}).execute()
    errors = collections.Counter(o["ename"] for c in nb.cells for o in c.get("outputs", [])
                                 if o.get("output_type") == "error")
    def text(cell):
        return "".join(o.get("text", "") + o.get("evalue", "") for o in cell.get("outputs", []))
    print(json.dumps({
        "errors": errors,
        "ran": sum(1 for c in nb.cells if c.cell_type == "code" and c.execution_count),
        "code": sum(c.cell_type == "code" for c in nb.cells),
        "colab": "".join(text(c) for c in nb.cells if c.get("id") == "colab-setup"),
        "probe": text(nb.cells[-1]),
    }))
""")
# The last cell: where the library, the working folder, the data and the fast layers are.
PROBE = textwrap.dedent("""
    import json, os
    import cs231kit
    from cs231kit.backend import get_backend
    from cs231kit.data import default_data_dir
    print(json.dumps({"library": cs231kit.__file__, "cwd": os.getcwd(),
                      "data": str(default_data_dir()), "backend": get_backend()}))
""")


def fresh_venv(bundle: Path, tmp_path: Path) -> tuple[Path, Path]:
    """(unzipped bundle folder, python of a new virtualenv with the wheel's dependencies only)."""
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(tmp_path)
    folder = tmp_path / TOP
    (wheel,) = folder.glob("cs231kit-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    for step in (["install", "--quiet", str(wheel)], ["uninstall", "--yes", "cs231kit"]):
        done = subprocess.run([str(python), "-m", "pip", *step], capture_output=True, text=True,
                              timeout=900)
        assert done.returncode == 0, done.stdout + done.stderr
    return folder, python


def run_notebook(python: Path, notebook: Path, cwd: str, *, wrapper: Sequence[str] = (),
                 env: dict[str, str]) -> dict:
    done = subprocess.run(
        [*wrapper, str(python), "-c", RUN_NOTEBOOK, str(notebook), cwd, PROBE],
        capture_output=True, text=True, timeout=900, env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["ran"] == report["code"], report
    assert set(report["errors"]) == {"NotImplementedError"}, report["errors"]
    report["probe"] = json.loads(report["probe"])
    return report


def test_a_fresh_virtualenv_installs_the_bundle_and_runs_notebook_02(bundle, tmp_path):
    """Only the bundle and the package registry: install the wheel in a new virtualenv, then run
    notebook 02 of the release there. Its cells run (the Colab cell does nothing); the only errors
    are the answer stubs' NotImplementedError and the visible tests that call them."""
    folder, python = fresh_venv(bundle, tmp_path)
    (wheel,) = folder.glob("cs231kit-*.whl")
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(wheel)],
                             capture_output=True, text=True, timeout=900)
    assert install.returncode == 0, install.stdout + install.stderr
    notebook = folder / ASSIGNMENT / "02_jacobian_free_gradients.ipynb"
    report = run_notebook(python, notebook, str(notebook.parent),
                          env={"PATH": f"{python.parent}:/usr/bin:/bin", "HOME": str(tmp_path)})
    assert report["colab"] == ""
    assert "site-packages" in report["probe"]["library"], report["probe"]
    assert report["probe"]["cwd"] == str(notebook.parent)


# A stand-in for Colab's google.colab.drive: "mounting" links the mount point to a folder here.
DRIVE_STAND_IN = """
import os

def mount(mountpoint):
    if not os.path.exists(mountpoint):
        os.symlink(os.environ["STAND_IN_DRIVE"], mountpoint)
"""


def test_on_colab_the_first_cell_installs_the_library_and_sets_folders_data_and_backend(
    bundle, tmp_path
):
    """Colab as students meet it: a session without cs231kit that has imported google.colab,
    working in /content, with the unzipped bundle in My Drive. Notebook 02 from the Drive runs
    after its first cell installed the wheel, moved to the notebooks' folder, put the data on the
    Drive and chose the CPU (no GPU here); then the notebook runs as on a laptop."""
    folder, python = fresh_venv(bundle, tmp_path)
    (wheel,) = folder.glob("cs231kit-*.whl")
    version = wheel.name.split("-")[1]
    drive = tmp_path / "drive"
    (drive / "MyDrive").mkdir(parents=True)
    folder.rename(drive / "MyDrive" / TOP)
    stand_in = tmp_path / "stand-in"
    (stand_in / "google" / "colab").mkdir(parents=True)
    (stand_in / "google" / "__init__.py").write_text("")
    (stand_in / "google" / "colab" / "__init__.py").write_text("")
    (stand_in / "google" / "colab" / "drive.py").write_text(DRIVE_STAND_IN)
    startup = tmp_path / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-colab.py").write_text("import google.colab\n")  # Colab's kernel has it loaded
    # /content, as on Colab: a private empty folder (bubblewrap) where the session starts.
    wrapper = ["bwrap", "--dev-bind", "/", "/", "--tmpfs", "/content", "--chdir", "/content"]
    if os.geteuid() != 0:
        wrapper.append("--unshare-user")
    env = {"PATH": f"{python.parent}:/usr/bin:/bin", "HOME": str(tmp_path),
           "PYTHONPATH": str(stand_in), "IPYTHONDIR": str(tmp_path / "ipython"),
           "STAND_IN_DRIVE": str(drive)}
    on_drive = Path("/content/drive/MyDrive") / TOP
    notebook = drive / "MyDrive" / TOP / ASSIGNMENT / "02_jacobian_free_gradients.ipynb"
    report = run_notebook(python, notebook, "/content", wrapper=[*wrapper, "--"], env=env)
    assert f"cs231kit {version}: installed" in report["colab"], report["colab"]
    assert "CIFAR-10 is not there yet" in report["colab"]
    assert "fast layers: on the CPU" in report["colab"]
    assert report["probe"] == {
        "library": report["probe"]["library"],
        "cwd": str(notebook.parent),  # what /content/drive links to here
        "data": str(on_drive / "datasets"),
        "backend": "numpy",
    }
    assert str(python.parent.parent) in report["probe"]["library"]
    assert (drive / "MyDrive" / TOP / "datasets").is_dir()


@pytest.fixture
def colab_setup(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """student/colab_setup.py, imported; setup_colab's chdir and variables undone afterwards."""
    monkeypatch.chdir(Path.cwd())
    for name in ("CS231KIT_DATA_DIR", "CS231KIT_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    spec = importlib.util.spec_from_file_location("colab_setup", STUDENT_FILES / "colab_setup.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "colab_setup", module)  # dataclasses look it up there
    spec.loader.exec_module(module)
    return module


def test_colab_setup_finds_the_data_picks_the_gpu_and_says_what_is_wrong(
    colab_setup, bundle, tmp_path, capsys
):
    """The branches the Colab run above does not take: the data there, a GPU, a broken folder."""
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(tmp_path)
    folder = tmp_path / TOP
    batches = folder / "datasets" / FOLDER_NAME
    batches.mkdir(parents=True)
    for name in REQUIRED_FILES:  # their content is the loader's business, tested elsewhere
        (batches / name).touch()
    done = colab_setup.setup_colab(folder, gpu=True)
    assert not done.installed  # the same version as the wheel is installed here
    assert done.have_cifar10 and done.backend == "cupy"
    assert os.environ["CS231KIT_BACKEND"] == "cupy"
    assert os.environ["CS231KIT_DATA_DIR"] == str(folder / "datasets")
    assert Path.cwd() == folder / ASSIGNMENT
    out = capsys.readouterr().out
    assert "not there yet" not in out and "on the GPU (CuPy)" in out

    (folder / "extra").mkdir()
    shutil.copy(next(folder.glob("*.whl")), folder / "cs231kit-9.9.9-py3-none-any.whl")
    with pytest.raises(colab_setup.ColabSetupError, match="exactly one cs231kit-.*whl"):
        colab_setup.setup_colab(folder)
    for extra in folder.glob("cs231kit-9*.whl"):
        extra.unlink()
    shutil.rmtree(folder / ASSIGNMENT)
    with pytest.raises(colab_setup.ColabSetupError, match="no a2/ folder"):
        colab_setup.setup_colab(folder)


def test_the_static_scan_leaves_the_colab_cell_alone_unless_its_code_changes(tmp_path):
    """The Colab cell is the course's code, folder name and all; code added to it is the
    student's and is scanned."""
    release = RELEASE_DIR / ASSIGNMENT / "02_jacobian_free_gradients.ipynb"
    notebook = json.loads(release.read_text())
    (colab,) = [c for c in notebook["cells"] if c.get("id") == COLAB_CELL_ID]
    assert "".join(colab["source"]) == COLAB_CELL
    path = tmp_path / release.name
    path.write_text(json.dumps(notebook))
    assert scan_notebook(path) == []
    colab["source"] = COLAB_CELL.replace('"a2-student"', '"courses/a2-student"')
    path.write_text(json.dumps(notebook))
    assert scan_notebook(path) == []
    colab["source"] = COLAB_CELL + "\nimport os\nos.system('true')"
    path.write_text(json.dumps(notebook))
    assert {f.what for f in scan_notebook(path)} >= {"operating-system access (os)",
                                                      "runs a shell command (os.system)"}
