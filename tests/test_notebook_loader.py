"""Tests for cs231kit.notebook.load_definitions, on real .ipynb files written with nbformat."""

import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from cs231kit.notebook import load_definitions


def write_notebook(path, *cells):
    """Write a notebook whose cells are given as strings (code) or ("md", text) tuples."""
    nb = new_notebook()
    nb.cells = [
        new_markdown_cell(cell[1]) if isinstance(cell, tuple) else new_code_cell(cell)
        for cell in cells
    ]
    nbformat.write(nb, str(path))
    return path


@pytest.fixture
def student_notebook(tmp_path):
    """A notebook as a student leaves it: answers mixed with prints, training and magics."""
    marker = tmp_path / "side_effect.txt"
    return write_notebook(
        tmp_path / "01_flat_backprop.ipynb",
        ("md", "# Flat backprop\nSome text with `def not_code():`"),
        "%matplotlib inline\nimport numpy as np\nfrom math import exp as math_exp",
        "print('SETUP CELL RAN')\nX = np.ones(3)",
        "def sigmoid(x):\n    '''The logistic function.'''\n    return 1 / (1 + np.exp(-x))",
        f"open({str(marker)!r}, 'w').write('ran')",
        "class Multiply:\n    def forward(self, a, b):\n        self.a, self.b = a, b\n"
        "        return a * b\n\nlosses = [Multiply().forward(i, 2) for i in range(3)]\n"
        "print('TRAINING', losses)",
        "!pip install something-that-must-not-run\nresult = !ls\n%time x = 1\n"
        "def after_magics():\n    return 'ok'",
        "%%bash\necho CELL MAGIC RAN",
        "def uses_global():\n    return X",
        "sigmoid?",
    )


def test_only_definitions_are_loaded_and_nothing_else_runs(student_notebook, capsys):
    nb = load_definitions(student_notebook)
    assert nb.sigmoid(0.0) == 0.5
    assert nb.sigmoid.__doc__ == "The logistic function."
    assert nb.Multiply().forward(3, 4) == 12
    assert nb.after_magics() == "ok"
    assert nb.np.__name__ == "numpy" and nb.math_exp(0) == 1.0
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""  # no print, no magic, no shell command ran
    assert not (student_notebook.parent / "side_effect.txt").exists()
    for name in ("X", "losses", "result"):
        assert name not in vars(nb)


def test_functions_cannot_see_skipped_top_level_variables(student_notebook):
    nb = load_definitions(student_notebook)
    with pytest.raises(NameError, match="'X'"):
        nb.uses_global()


def test_module_file_points_at_the_notebook_and_name_is_derived(student_notebook):
    nb = load_definitions(student_notebook)
    assert nb.__file__ == str(student_notebook)
    assert nb.__name__ == "notebook_01_flat_backprop"
    assert nb.__name__ not in sys.modules  # loading leaves no global trace
    assert load_definitions(student_notebook, module_name="nb01").__name__ == "nb01"


def test_missing_name_says_where_to_define_it(student_notebook):
    nb = load_definitions(student_notebook)
    with pytest.raises(AttributeError) as info:
        nb.affine_forward  # noqa: B018
    message = str(info.value)
    assert "'affine_forward'" in message and "01_flat_backprop.ipynb" in message
    assert "define it" in message
    with pytest.raises(AttributeError, match="only def/class/import statements are loaded"):
        nb.losses  # noqa: B018  (assigned at top level, so not loaded)
    assert not hasattr(nb, "__wrapped__")  # dunder probes still get a plain AttributeError


def test_syntax_error_cell_is_skipped_with_a_message_on_stdout(tmp_path, capsys):
    path = write_notebook(
        tmp_path / "02_jacobian.ipynb",
        "def good_before():\n    return 1",
        "def broken(:\n    return 2",
        "def good_after():\n    return 3",
    )
    nb = load_definitions(path)
    out = capsys.readouterr()
    assert out.err == ""  # stderr would cost the student the test cell's points under nbgrader
    assert "skipped cell 2 of 02_jacobian.ipynb" in out.out
    assert "'def broken(:'" in out.out and "syntax error on line 1" in out.out
    assert nb.good_before() == 1 and nb.good_after() == 3
    with pytest.raises(AttributeError, match="Cells skipped because of syntax errors: 2"):
        nb.broken  # noqa: B018


def test_failing_definition_is_reported_and_the_rest_loads(tmp_path, capsys):
    path = write_notebook(
        tmp_path / "nb.ipynb",
        "import package_that_does_not_exist_anywhere\n\ndef still_here():\n    return 'yes'",
    )
    nb = load_definitions(path)
    out = capsys.readouterr()
    assert "cell 1" in out.out and "ModuleNotFoundError" in out.out and out.err == ""
    assert nb.still_here() == "yes"


def test_warnings_while_loading_go_to_stdout_not_stderr(tmp_path, capsys):
    path = write_notebook(
        tmp_path / "nb.ipynb",
        "import warnings\n\ndef noisy(f):\n    warnings.warn('decorator says hi')\n    return f",
        "@noisy\ndef quiet():\n    return 1",
    )
    nb = load_definitions(path)
    out = capsys.readouterr()
    assert out.err == ""
    assert "warning while loading nb.ipynb: UserWarning: decorator says hi" in out.out
    assert nb.quiet() == 1


def test_cells_load_in_order_so_later_definitions_win(tmp_path):
    path = write_notebook(
        tmp_path / "nb.ipynb",
        "def answer():\n    return 'first'",
        "def answer():\n    return 'second'",
    )
    assert load_definitions(path).answer() == "second"


def test_decorators_dataclasses_and_future_annotations_work(tmp_path):
    path = write_notebook(
        tmp_path / "nb.ipynb",
        "from __future__ import annotations",
        "from dataclasses import dataclass\n\n@dataclass\nclass Gate:\n    value: float = 0.0",
        "def typed(x: UndefinedType) -> UndefinedType:\n    return x",
    )
    nb = load_definitions(path)
    assert nb.Gate(2.0).value == 2.0
    assert nb.typed.__annotations__ == {"x": "UndefinedType", "return": "UndefinedType"}


def test_relative_path_is_resolved_against_the_current_directory(tmp_path, monkeypatch):
    write_notebook(tmp_path / "sibling.ipynb", "def hello():\n    return 'hi'")
    monkeypatch.chdir(tmp_path)
    nb = load_definitions("sibling.ipynb")
    assert nb.hello() == "hi"
    assert nb.__file__ == str(tmp_path / "sibling.ipynb")


def test_missing_notebook_names_the_file_and_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="nowhere.ipynb not found"):
        load_definitions("nowhere.ipynb")


def test_malformed_json_gives_a_clear_error_naming_the_file(tmp_path):
    path = tmp_path / "broken.ipynb"
    path.write_text('{"cells": [', encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken\.ipynb is not a readable notebook"):
        load_definitions(path)
    path.write_text('{"worksheets": []}', encoding="utf-8")
    with pytest.raises(ValueError, match="nbformat 4"):
        load_definitions(path)


def test_source_stored_as_a_single_string_is_read(tmp_path):
    # nbformat on disk stores source as a list of lines; a plain string is valid too.
    path = tmp_path / "nb.ipynb"
    path.write_text(
        '{"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], '
        '"execution_count": null, "source": "def f():\\n    return 5\\n"}], '
        '"metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
        encoding="utf-8",
    )
    assert load_definitions(path).f() == 5


def test_magic_inside_a_function_body_is_tolerated(tmp_path):
    path = write_notebook(
        tmp_path / "nb.ipynb",
        "def timed():\n    %time y = 1\n    return 'defined'",
    )
    assert load_definitions(path).timed() == "defined"


def test_valid_python_that_looks_like_a_magic_is_left_alone(tmp_path):
    # A line starting with % inside an expression is Python; the cell parses, nothing is blanked.
    path = write_notebook(
        tmp_path / "nb.ipynb",
        "def modulo(a, b):\n    return (a\n            % b)",
    )
    assert load_definitions(path).modulo(7, 4) == 3
