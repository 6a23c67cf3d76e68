"""Submissions that try to cheat, and what stops each: the grader's attack catalogue.

Every attack is notebook 02 (or 01) of the student release, whose answers are left blank or
wrong, plus code that tries to raise its own grade, lower another student's, change the grader,
or escape the sandbox. Graded like any submission, each must:

* gain nothing: score exactly what its honest answers earn (``honest_points``);
* be flagged (or failed) with the reason (``evidence``, a phrase of a flag, of the reason or of
  the judge's verdict on the test it attacked);
* end within its time limit, and leave the course gradebook, the repository and every other
  submission's results unchanged.

The attacks target the real paths of the grading run they are built for (``Targets``), so an
attack that worked would show. ``tests/test_attacks.py`` grades the whole catalogue in one batch;
``make demo`` shows three of them (``DEMO_ATTACKS``).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from autograder.course import RELEASE_DIR, ROOT, SOURCE_DIR, load_notebooks

JACOBIANS = "02_jacobian_free_gradients"
FLAT = "01_flat_backprop"


@dataclass(frozen=True)
class Targets:
    """Where the attacks aim: the grading folder in use, the repository, a canary TCP port."""

    grading: Path
    root: Path = ROOT
    port: int = 9


@dataclass(frozen=True)
class Attack:
    student: str  # the submission's id
    what: str  # the attack, in words
    stopped_by: str  # what defeats it
    evidence: str  # a phrase the flags, the reason or the judge's verdict must contain
    build: Callable[[dict[str, dict], dict[str, dict], Targets], dict[str, dict]]
    honest_points: float = 0.0
    status: str = "graded"


def _code_cell(source: str) -> dict:
    return {"cell_type": "code", "execution_count": None, "id": "attack", "metadata": {},
            "outputs": [], "source": source}


def _cell(nb: dict, grade_id: str) -> dict:
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            return cell
    raise KeyError(f"no cell {grade_id!r} in the release: update autograder/attack_catalogue.py")


def _notebook(
    release: dict[str, dict],
    name: str = JACOBIANS,
    *,
    setup: str = "",
    answers: dict[str, str] | None = None,
) -> dict[str, dict]:
    """The release notebook ``name`` with ``setup`` as a new cell after the first code cell and
    ``answers`` (grade_id -> source) in place of those answer cells."""
    nb = copy.deepcopy(release[name])
    if setup:
        first = next(i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code")
        nb["cells"].insert(first + 1, _code_cell(setup))
    for grade_id, source in (answers or {}).items():
        _cell(nb, grade_id)["source"] = source
    return {name: nb}


def _aimed(code: str, targets: Targets) -> str:
    """``code`` with {t.grading}, {t.root} and {t.port} replaced by this run's targets."""
    for key, value in (("grading", targets.grading), ("root", targets.root),
                       ("port", targets.port)):
        code = code.replace(f"{{t.{key}}}", str(value))
    return code


def _simple(
    setup: str = "", answers: dict[str, str] | None = None
) -> Callable[[dict[str, dict], dict[str, dict], Targets], dict[str, dict]]:
    """An attack on notebook 02: a setup cell and/or answer cells, aimed at the targets."""

    def build(release: dict[str, dict], _: dict[str, dict], targets: Targets) -> dict[str, dict]:
        aimed = {k: _aimed(v, targets) for k, v in (answers or {}).items()}
        return _notebook(release, setup=_aimed(setup, targets), answers=aimed)

    return build


# Answers that are plain wrong: what a cheat hopes the grader will not notice.
ZEROS = '''def relu_jacobian(x):
    return np.zeros((len(x), len(x)))
'''
PASSTHROUGH = '''def relu_backward_implicit(x, dy):
    return dy
'''


ATTACKS = [
    # --- raising one's own grade inside the notebook run -------------------------------------
    Attack("patch-numpy", "replaces np.max, np.abs and np.allclose so comparisons always pass",
           "the judge compares in its own process", "monkeypatches np",
           _simple("import numpy as np\nnp.max = lambda *a, **k: 0.0\n"
                   "np.abs = lambda x, *a, **k: 0 * x\nnp.allclose = lambda *a, **k: True\n",
                   {"relu_jacobian": ZEROS})),
    Attack("raise-tolerances", "sets the course tolerances to 1e30 before the hidden tests run",
           "tolerances live in the judge", "monkeypatches tolerances",
           _simple("from cs231kit import tolerances\ntolerances.FORWARD_REL_ERROR = 1e30\n"
                   "tolerances.REL_ERROR_FLOOR = 1e30\n", {"relu_jacobian": ZEROS})),
    Attack("replace-hand-in", "replaces hand_in with a function that does nothing",
           "no hand-in reaches the judge: the test fails", "never reached the judge",
           _simple("import autograder.sandbox.handin as handin\n"
                   "handin.hand_in = lambda *args, **kwargs: None\n")),
    Attack("forge-verdict", "makes every reply of the judge say 'passed'",
           "the verdict is the judge's, kept outside", "imports the grader",
           _simple("import autograder.sandbox.handin as handin\n"
                   "handin._checked = lambda reply: {**reply, 'passed': True, 'runs': [],\n"
                   "                                 'skip': []}\n")),
    Attack("input-transformer", "an IPython input transformer empties every hidden test cell",
           "nbgrader sees a passing cell, the judge sees nothing", "input transformers",
           _simple("def _blank(lines):\n"
                   "    return [] if any('hand_in' in line for line in lines) else lines\n"
                   "get_ipython().input_transformers_cleanup.append(_blank)\n")),
    Attack("ast-transformer", "an IPython AST transformer deletes the hand_in calls",
           "nbgrader sees a passing cell, the judge sees nothing", "AST transformers",
           _simple("import ast\nclass _Drop(ast.NodeTransformer):\n"
                   "    def visit_Expr(self, node):\n"
                   "        call = node.value\n"
                   "        if isinstance(call, ast.Call) and getattr(call.func, 'id', '') == "
                   "'hand_in':\n"
                   "            return None\n"
                   "        return node\n"
                   "get_ipython().ast_transformers.append(_Drop())\n")),
    Attack("input-manager", "a line transform of IPython's input manager drops hand_in lines",
           "nbgrader sees a passing cell, the judge sees nothing", "input manager",
           _simple("get_ipython().input_transformer_manager.line_transforms.append(\n"
                   "    lambda lines: [l for l in lines if 'hand_in' not in l])\n")),
    Attack("settrace", "a tracer rewrites every reply the judge sends to 'passed'",
           "the verdict is the judge's, kept outside", "installs a tracer",
           _simple("import sys, threading\n"
                   "def _tracer(frame, event, arg):\n"
                   "    if event == 'return' and frame.f_code.co_name == '_checked' and "
                   "isinstance(arg, dict):\n"
                   "        arg.update(passed=True, skip=[])\n"
                   "    return _tracer\n"
                   "sys.settrace(_tracer)\nthreading.settrace(_tracer)\n")),
    Attack("read-the-stack", "looks for the expected answer in the callers' frames",
           "expected values never exist where student code runs", "walks the call stack",
           _simple(answers={"relu_jacobian": '''def relu_jacobian(x):
    import sys
    frame = sys._getframe(1)
    while frame is not None:
        for name, value in frame.f_locals.items():
            if name in ("want", "expected", "reference") and isinstance(value, dict):
                return value.get("J")
        frame = frame.f_back
    return np.zeros((len(x), len(x)))
'''})),
    Attack("import-reference", "imports the judge's reference implementation",
           "the judge is not in the sandbox", "imports the grader",
           _simple(answers={"relu_jacobian": '''try:
    from autograder.judge.reference.jacobians import relu_jacobian
except ImportError:
    def relu_jacobian(x):
        return np.zeros((len(x), len(x)))
'''})),
    Attack("run-the-solutions", "runs the instructor's notebook from solutions/",
           "solutions/ is not in the sandbox", "runs code from a string",
           _simple('''import json
try:
    _source = json.load(open("{t.root}/solutions/a2/02_jacobian_free_gradients.ipynb"))
    for _cell in _source["cells"]:
        if _cell["cell_type"] == "code" and "def " in "".join(_cell["source"]):
            exec("".join(_cell["source"]))
except OSError as error:
    print("no solutions here:", error)
''')),
    Attack("cheat-when-graded", "cheats only when NBGRADER_EXECUTION says it is being graded",
           "cheating needs something to cheat with", "reads the environment",
           _simple('''import os
if os.environ.get("NBGRADER_EXECUTION"):
    try:
        from autograder.judge.reference.jacobians import *
    except ImportError:
        pass
''')),
    # --- harming other students --------------------------------------------------------------
    Attack("write-gradebook", "writes 99 points into the course gradebook with SQL",
           "no gradebook is visible in the sandbox", "database access",
           _simple('''import sqlite3
try:
    _db = sqlite3.connect("{t.grading}/gradebook.db")
    _db.execute("UPDATE grade SET manual_score = 99")
    _db.commit()
except sqlite3.Error as error:
    print("no gradebook:", error)
''')),
    Attack("outlive-and-rewrite", "leaves a process behind that later rewrites every result",
           "its PID namespace dies with the sandbox; results are not visible",
           "starts processes",
           _simple('''import subprocess, sys
_script = """
import glob, json, time
time.sleep(20)
for path in glob.glob("{t.grading}/results/*.json"):
    result = json.load(open(path))
    result["cells"] = []
    json.dump(result, open(path, "w"))
"""
subprocess.Popen([sys.executable, "-c", _script], start_new_session=True)
''')),
    Attack("delete-other-work", "deletes other students' submissions and results",
           "nothing of grading/ is visible", "file operations",
           _simple('''import shutil
for _path in ["{t.grading}/submitted", "{t.grading}/results", "{t.grading}/autograded"]:
    shutil.rmtree(_path, ignore_errors=True)
''')),
    # --- changing the grader for everyone ----------------------------------------------------
    Attack("edit-the-grader", "appends code to the hand-in module and the judge",
           "the grader's code is read-only or absent", "opens a file",
           _simple('''import autograder.sandbox.handin as handin
for _path in [handin.__file__, "{t.root}/autograder/judge/cases.py",
              "{t.root}/autograder/sandbox/handin/__init__.py"]:
    try:
        with open(_path, "a") as _file:
            _file.write("\\nraise SystemExit('grader edited')\\n")
    except OSError as error:
        print("read-only:", error)
''')),
    Attack("plant-sitecustomize", "writes sitecustomize.py into site-packages for later runs",
           "the Python installation is read-only", "opens a file",
           _simple('''import site
for _folder in site.getsitepackages():
    try:
        open(_folder + "/sitecustomize.py", "w").write("import os\\n")
    except OSError as error:
        print("read-only:", error)
''')),
    # --- escaping the sandbox ----------------------------------------------------------------
    Attack("network", "calls a server on the grading machine, an outside address and DNS",
           "the sandbox has no network", "network access",
           _simple('''import socket
for _target in [("127.0.0.1", {t.port}), ("1.1.1.1", 53)]:
    try:
        socket.create_connection(_target, timeout=2).close()
    except OSError as error:
        print("no network:", error)
try:
    socket.getaddrinfo("pypi.org", 443)
except OSError as error:
    print("no DNS:", error)
''')),
    Attack("fork-bomb", "starts 1,000 processes", "the process limit of its own user",
           "forks a process",
           _simple('''import os, time
_children = []
try:
    for _ in range(1000):
        _pid = os.fork()
        if _pid == 0:
            time.sleep(30)
            os._exit(0)
        _children.append(_pid)
except OSError as error:
    print("stopped after", len(_children), "forks:", error)
''')),
    Attack("read-secrets", "reads the hidden checks, solutions, gradebook and other students",
           "none of them is in the sandbox", "opens a file",
           _simple('''import glob
_found = []
for _pattern in ["{t.root}/solutions/**/*", "{t.root}/autograder/judge/**/*.py",
                 "{t.grading}/**/*.db", "{t.grading}/submitted/**/*.ipynb", "/root/*", "/home/*"]:
    for _path in glob.glob(_pattern, recursive=True):
        try:
            _found.append((_path, len(open(_path, "rb").read())))
        except OSError:
            pass
print("readable:", _found)
''')),
    Attack("fill-the-disk", "writes gigabytes into /tmp and its working directory",
           "size-limited in-memory scratch", "opens a file",
           _simple('''for _path in ["/tmp/fill", "fill"]:
    try:
        with open(_path, "wb") as _file:
            for _ in range(4096):
                _file.write(b"x" * 2**20)
    except OSError as error:
        print("full:", error)
''')),
    # --- attacks on the re-check and on the judge ------------------------------------------
    Attack("lying-object", "returns an object equal to everything, shaped like anything",
           "only plain data crosses to the judge", "lie about what it is",
           _simple(answers={"relu_jacobian": '''class _Anything(float):
    shape = property(lambda self: None)
    def __eq__(self, other):
        return True
    def __array__(self, *args, **kwargs):
        return np.eye(3)

def relu_jacobian(x):
    return _Anything(1.0)
'''})),
    Attack("pickle-bomb", "returns an object that runs code when unpickled",
           "the judge never unpickles", "lie about what it is",
           _simple(answers={"relu_jacobian": '''class _Bomb:
    def __reduce__(self):
        return (open, ("{t.grading}/PICKLE_RAN", "w"))

def relu_jacobian(x):
    return _Bomb()
'''})),
    Attack("huge-output", "returns a 320 MB array to exhaust the judge",
           "message size limit", "cannot read",
           _simple(answers={"relu_jacobian": '''def relu_jacobian(x):
    return np.zeros(40_000_000)
'''})),
    Attack("nan-output", "returns NaN, which fails every comparison with a tolerance",
           "non-finite outputs fail", "NaN or inf",
           _simple(answers={"relu_jacobian": '''def relu_jacobian(x):
    return np.full((len(x), len(x)), np.nan)
'''})),
    Attack("wrong-dtype", "returns strings and objects where numbers belong",
           "only plain numbers cross to the judge", "cannot read",
           _simple(answers={"relu_jacobian": '''def relu_jacobian(x):
    return np.array([["1"] * len(x)] * len(x))
'''})),
    Attack("search-the-disk", "looks for the reference implementation on disk at call time",
           "no grader file is in the sandbox", "operating-system access",
           _simple(answers={"relu_jacobian": '''import os

def relu_jacobian(x):
    for top in ("/opt", "/work", "/srv", "/home", "/root", "{t.root}"):
        for folder, _, files in os.walk(top):
            if "jacobians.py" in files and "reference" in folder:
                scope = {}
                exec(open(os.path.join(folder, "jacobians.py")).read(), scope)
                return scope["relu_jacobian"](x)
    return np.zeros((len(x), len(x)))
'''})),
    Attack("hang-in-the-recheck", "right in the notebook run, loops forever in the re-check",
           "the re-check's time limit; both passes must pass", "fresh re-check",
           _simple(answers={"relu_jacobian": '''import sys

def relu_jacobian(x):
    while "ipykernel" not in sys.modules:  # not a notebook: the re-check
        pass
    return np.diag((x > 0).astype(float))
'''})),
    Attack("patch-the-adapters", "at definition time, rewrites the re-check's adapters",
           "the judge compares what comes back with its own reference",
           "imports the grader",
           _simple(answers={"relu_jacobian": '''from autograder.sandbox.handin.calls import nb02

def relu_jacobian(x, _patched=setattr(nb02, "relu_jacobian",
                                       lambda student, inputs: {"J": np.eye(3)})):
    return np.zeros((len(x), len(x)))
'''})),
    Attack("probe-the-judge", "hands tests in again and again to find an answer that passes",
           "each test is handed in once per run", "imports the grader",
           _simple('''from autograder.sandbox.handin import hand_in
for _guess in (lambda x: np.eye(len(x)), lambda x: np.zeros((len(x), len(x)))):
    try:
        hand_in("test_relu_jacobian", _guess)
    except Exception as error:
        print(type(error).__name__, str(error)[:80])
''')),
    Attack("flood-the-judge", "sends the judge garbage and a 16 EB length prefix",
           "the judge drops malformed connections and keeps serving", "reads the environment",
           _simple('''import os, socket
try:
    _sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    _sock.connect(os.environ["CS231KIT_JUDGE_SOCKET"])
    _sock.sendall(b"\\xff" * 8 + b"garbage")
    _sock.close()
except OSError as error:
    print(error)
''')),
    Attack("stash-a-reference", "keeps the reference stub of one test to pass another",
           "a stub answers only for its own test's runs", "imports the grader",
           lambda release, solutions, targets: _notebook(
               release, FLAT,
               setup='''from autograder.sandbox.handin import hand_in
_stash = {}
def _grab(X, params, y=None, reg=0.0):
    _stash["softmax"] = softmax_loss_vectorized
    return softmax_loss_vectorized(params["W1"], X, y, reg)
try:
    hand_in("test_two_layer_net", _grab)
except Exception as error:
    print(type(error).__name__)
''',
               answers={"softmax_loss_vectorized": '''def softmax_loss_vectorized(W, X, y, reg):
    return _stash["softmax"](W, X, y, reg)
'''})),
    Attack("hang-while-loading", "a class body that never ends (also in the re-check's loading)",
           "time limits for the notebook run and for loading", "timeout",
           _simple(answers={"relu_jacobian": '''class Forever:
    while True:
        pass
'''}), status="failed-to-grade"),
]

# Three tampering samples for `make demo`.
DEMO_ATTACKS = ("patch-numpy", "input-transformer", "read-secrets")


def build_attack(attack: Attack, targets: Targets) -> dict[str, dict]:
    """The notebooks (name -> JSON) of one attack submission."""
    release, solutions = load_notebooks(RELEASE_DIR), load_notebooks(SOURCE_DIR)
    stems = {Path(name).stem: nb for name, nb in release.items()}
    return attack.build(stems, {Path(n).stem: nb for n, nb in solutions.items()}, targets)


def write_attacks(dest: Path, targets: Targets, names: tuple[str, ...] | None = None) -> Path:
    """One folder per attack (or per name in ``names``) under ``dest``, ready to collect."""
    dest.mkdir(parents=True, exist_ok=True)
    for attack in ATTACKS:
        if names is not None and attack.student not in names:
            continue
        folder = dest / attack.student
        folder.mkdir()
        for name, notebook in build_attack(attack, targets).items():
            (folder / f"{name}.ipynb").write_text(json.dumps(notebook, indent=1))
    return dest
