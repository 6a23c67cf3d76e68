"""Turn grading results into ``grades.csv`` and a summary report (HTML with PNG plots).

The CSV has one row per student: status (graded / failed-to-grade / missing), the reason, the late
flag, the total, whether the submission was sandboxed (``bubblewrap``, or ``none`` when graded with
``--unsafe-no-sandbox``), the flags a TA should review, per-notebook points and per-function
points. It is deterministic: grading the same submissions twice writes the same file. The report
lists every flag, student by student.
"""

from __future__ import annotations

import csv
import html
import io
from pathlib import Path
from typing import TYPE_CHECKING

from autograder import rubric
from autograder.grading import FAILED, GRADED, MISSING, GradingPaths, SubmissionResult, load_results

if TYPE_CHECKING:
    from matplotlib.figure import Figure

STATUSES = (GRADED, FAILED, MISSING)


def _points(value: float) -> str:
    return f"{value:g}"


def csv_columns() -> list[str]:
    functions = [g for cells in rubric.POINTS.values() for g in cells]
    return [
        "student_id",
        "status",
        "reason",
        "late",
        "score",
        "max_score",
        "sandbox",
        "flags",
        *rubric.POINTS,
        *functions,
    ]


def csv_rows(results: dict[str, SubmissionResult]) -> list[dict[str, str]]:
    rows = []
    for student, result in sorted(results.items()):
        by_cell = {c.grade_id: c.points for c in result.cells}
        row = {
            "student_id": student,
            "status": result.status,
            "reason": result.reason,
            "late": "yes" if result.late else "no",
            "score": _points(result.score) if result.status != MISSING else "",
            "max_score": _points(rubric.TOTAL),
            "sandbox": result.sandbox if result.status != MISSING else "",
            "flags": " | ".join(result.flags),
        }
        for name, cells in rubric.POINTS.items():
            total = sum(by_cell.get(g, 0.0) for g in cells)
            row[name] = _points(total) if result.status != MISSING else ""
            for grade_id in cells:
                row[grade_id] = _points(by_cell[grade_id]) if grade_id in by_cell else ""
        rows.append(row)
    return rows


def write_csv(results: dict[str, SubmissionResult], path: Path) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=csv_columns(), lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_rows(results))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(buffer.getvalue())
    return path


def score_histogram(scores: list[float]) -> Figure:
    """A histogram of the scores (one per graded submission) in bins of 5 points.

    Returns the matplotlib Figure (one Axes); the caller saves and closes it.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(scores, bins=range(0, rubric.TOTAL + 6, 5), color="#4472c4", edgecolor="white")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts of students: no half-students
    ax.set_xlabel("score")
    ax.set_ylabel("students")
    ax.set_title(f"Scores ({len(scores)} submissions)")
    fig.tight_layout()
    return fig


def _plots(results: dict[str, SubmissionResult], folder: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    graded = [r for r in results.values() if r.status != MISSING]
    names = []
    fig = score_histogram([r.score for r in graded])
    fig.savefig(folder / "score_histogram.png", dpi=100)
    plt.close(fig)
    names.append("score_histogram.png")

    functions = [(name, g) for name, cells in rubric.POINTS.items() for g in cells]
    rates = []
    for _, grade_id in functions:
        cells = [c for r in graded for c in r.cells if c.grade_id == grade_id]
        rates.append(100.0 * sum(c.passed for c in cells) / len(cells) if cells else 0.0)
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(functions) + 1))
    ax.barh([g.removeprefix("test_") for _, g in functions][::-1], rates[::-1], color="#70ad47")
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of submissions passing")
    ax.set_title("Pass rate per graded function")
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(folder / "pass_rate.png", dpi=100)
    plt.close(fig)
    names.append("pass_rate.png")
    return names


def _report_row(student: str, r: SubmissionResult) -> str:
    sid, status = html.escape(student), html.escape(r.status)
    score = "" if r.status == MISSING else _points(r.score)
    unsandboxed = " <b>unsandboxed</b>" if r.status != MISSING and r.sandbox == "none" else ""
    flags = f"<a href='#flags-{sid}'>{len(r.flags)} to review</a>" if r.flags else ""
    return (
        f"<tr class='{status}'><td>{sid}</td><td>{status}{unsandboxed}</td><td>{score}</td>"
        f"<td>{'late' if r.late else ''}</td><td>{html.escape(r.reason)}</td><td>{flags}</td>"
        f"<td><a href='feedback/{sid}.html'>feedback</a></td></tr>"
    )


def _flag_section(results: dict[str, SubmissionResult]) -> str:
    """Every flag, student by student: what a TA should look at (flags never change a grade)."""
    flagged = [(s, r) for s, r in sorted(results.items()) if r.flags]
    if not flagged:
        return "<h2>Flags</h2><p>No submission was flagged.</p>"
    items = "\n".join(
        f"<li id='flags-{html.escape(s)}'><b>{html.escape(s)}</b><ul>"
        + "".join(f"<li><code>{html.escape(flag)}</code></li>" for flag in r.flags)
        + "</ul></li>"
        for s, r in flagged
    )
    return (
        "<h2>Flags to review</h2><p>Code worth a look, and tests where the notebook run and the "
        "judge disagreed. The grades are the judge's; a flag changes none.</p>"
        f"<ul>{items}</ul>"
    )


def write_report(results: dict[str, SubmissionResult], folder: Path) -> Path:
    """``index.html``: counts per status, the grade table (one row per student), then the plots.

    The table comes first because it is what a TA opens the page for; the plots are long.
    """
    folder.mkdir(parents=True, exist_ok=True)
    images = _plots(results, folder)
    counts = {s: sum(r.status == s for r in results.values()) for s in STATUSES}
    late = sum(r.late for r in results.values())
    rows = "\n".join(_report_row(s, r) for s, r in sorted(results.items()))
    summary = ", ".join(f"{n} {s}" for s, n in counts.items()) + f", {late} late"
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{rubric.ASSIGNMENT} grading report</title>
<style>body{{font-family:sans-serif;margin:2em}} td,th{{padding:2px 8px;text-align:left}}
tr.failed-to-grade{{background:#fde9e7}} tr.missing{{background:#eee}}</style></head>
<body><h1>Assignment {rubric.ASSIGNMENT}: grading report</h1>
<p>{len(results)} students: {summary}. Maximum score {rubric.TOTAL}.</p>
<table><tr><th>student</th><th>status</th><th>score</th><th>late</th><th>reason</th><th>flags</th>
<th></th></tr>
{rows}
</table>
{_flag_section(results)}
<p>{"".join(f'<img src="{name}" alt="{name}"> ' for name in images)}</p>
</body></html>
"""
    path = folder / "index.html"
    path.write_text(page)
    return path


def export(paths: GradingPaths | None = None, csv_path: Path | None = None) -> tuple[Path, Path]:
    """Write grades.csv and the report from the saved results; return their paths."""
    paths = paths or GradingPaths()
    results = load_results(paths)
    if not results:
        raise FileNotFoundError(
            f"no grading results in {paths.results}: run `python -m autograder grade`"
        )
    csv_file = write_csv(results, csv_path or paths.root / "grades.csv")
    report = write_report(results, paths.root / "report")
    return csv_file, report
