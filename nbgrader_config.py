"""nbgrader configuration for the cs231kit course (run nbgrader from the repository root).

The instructor's source notebooks live in ``solutions/``, the generated student release in
``assignments/``; everything produced while grading goes to ``grading/`` (git-ignored).
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent

# Hidden test cells hand functions to the judge (``autograder.sandbox.handin``, which runs the
# judge in the kernel when nbgrader runs without ``python -m autograder grade``): make the grader
# importable in this process and in every kernel nbgrader starts (kernels inherit the environment).
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
)

c = get_config()  # noqa: F821 (injected by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = "cs231kit"
c.CourseDirectory.root = str(ROOT)
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"
c.CourseDirectory.submitted_directory = "grading/submitted"
c.CourseDirectory.autograded_directory = "grading/autograded"
c.CourseDirectory.feedback_directory = "grading/feedback"
# The gradebook: $CS231KIT_DB_URL (any SQLAlchemy URL, e.g. a shared PostgreSQL database; read from
# the environment so that no password shows on a command line), else grading/gradebook.db.
# sqlite cannot create the folder that holds its file.
(ROOT / "grading").mkdir(exist_ok=True)
c.CourseDirectory.db_url = (
    os.environ.get("CS231KIT_DB_URL") or f"sqlite:///{ROOT / 'grading' / 'gradebook.db'}"
)

# Only the notebooks are released; data and caches never are.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".*", "*.npz", "*.png", "*.pkl",
    "*_submission.zip",
]

# The release shows students an explicit stub where their code goes.
c.ClearSolutions.code_stub = {
    "python": "# YOUR CODE HERE\nraise NotImplementedError()",
}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Per-cell time limit (nbgrader's default is 30 s; with Execute.timeout set,
# ExecutePreprocessor.timeout is ignored). Training cells run on a small budget under autograde.
c.Execute.timeout = 300
c.Execute.kernel_name = "python3"
# Deleted grade cells are put back from the gradebook instead of silently scoring 0.
c.OverwriteCells.add_missing_cells = True
