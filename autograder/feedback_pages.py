"""One feedback page per student: per test, passed or failed, points, and the diagnostic message.

The message is what the judge reported (for example "affine_backward (run 2 of 4): dw is wrong
(relative error 3.1e-01 > tolerance 1e-07)"); the source of hidden tests is never shown, unlike
nbgrader's own feedback, which prints it.
"""

from __future__ import annotations

import html
from pathlib import Path

from autograder import manual_grades, rubric
from autograder.grading import (
    MISSING,
    NOT_SUBMITTED,
    POINTS_RULE,
    GradingPaths,
    SubmissionResult,
    load_results,
)
from autograder.manual_grades import ManualGrade, written_score


def _written(grades: list[ManualGrade]) -> str:
    """The written answers: a TA's points and comment, or "not graded yet"."""
    if not grades:
        return ""
    rows = "\n".join(
        f"<tr><td>{html.escape(g.notebook)}</td><td>{html.escape(g.grade_id)}</td><td>"
        + (f"{g.score:g} / {g.max_points:g}" if not g.ungraded else
           f"not graded yet (out of {g.max_points:g})")
        + (" (not submitted)" if not g.submitted else "")
        + f"</td><td><pre>{html.escape(g.comment)}</pre></td></tr>"
        for g in grades
    )
    return (f"<h2>Written answers: {written_score(grades):g} / {rubric.MANUAL_TOTAL}</h2>"
            "<table><tr><th>notebook</th><th>question</th><th>points</th><th>comment</th></tr>"
            f"{rows}</table>")


def render(result: SubmissionResult, written: list[ManualGrade] | None = None) -> str:
    """The student's page: per notebook, each test's outcome (passed, failed, not run, not
    submitted), points and message; then the written answers' points (``written``)."""
    written = written or []
    sections = []
    for name in rubric.POINTS:
        cells = [c for c in result.cells if c.notebook == name]
        total = sum(rubric.POINTS[name].values())
        if not cells or all(c.state == NOT_SUBMITTED for c in cells):
            sections.append(f"<h2>{html.escape(name)}: not submitted (0 / {total})</h2>"
                            "<p>This notebook was not handed in.</p>")
            continue
        rows = "\n".join(
            f"<tr class='{'pass' if c.passed else 'fail'}'><td>{html.escape(c.grade_id)}</td>"
            f"<td>{html.escape(c.state)}</td>"
            f"<td>{c.points:g} / {c.max_points:g}</td>"
            f"<td><pre>{html.escape(c.message)}</pre></td></tr>"
            for c in cells
        )
        got = sum(c.points for c in cells)
        sections.append(
            f"<h2>{html.escape(name)}: {got:g} / {total}</h2>"
            f"<table><tr><th>test</th><th>result</th><th>points</th><th>message</th></tr>{rows}</table>"
        )
    status = html.escape(result.status)
    reason = f"<p><b>Note:</b> {html.escape(result.reason)}</p>" if result.reason else ""
    if result.late_days:
        lost = result.late_fraction * (result.score + written_score(written))
        reason += (f"<p><b>Late:</b> handed in {html.escape(result.submitted_at)}, "
                   f"{html.escape(result.lateness)} ({lost:g} points).</p>")
    score = "" if result.status == MISSING else (
        f"{result.score:g} / {rubric.AUTO_TOTAL} from the hidden tests"
        + (f", {result.score + written_score(written):g} / {rubric.TOTAL} with the written "
           f"answers graded so far" if written else ""))
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Feedback for {html.escape(result.student)}</title>
<style>body{{font-family:sans-serif;margin:2em}} td,th{{padding:2px 8px;text-align:left;
vertical-align:top}} tr.pass{{background:#e8f5e9}} tr.fail{{background:#fde9e7}}
pre{{margin:0;white-space:pre-wrap}}</style></head>
<body><h1>Assignment {rubric.ASSIGNMENT}: feedback for {html.escape(result.student)}</h1>
<p>Status: <b>{status}</b>{"" if not result.late else " (late)"}. Score: <b>{score}</b></p>
{reason}
<p><small>{html.escape(POINTS_RULE)}</small></p>
{"".join(sections)}
{_written(written) if result.status != MISSING else ""}
</body></html>
"""


def write_feedback(paths: GradingPaths | None = None) -> list[Path]:
    """Write ``grading/report/feedback/<id>.html`` for every graded student."""
    paths = paths or GradingPaths()
    results = load_results(paths)
    if not results:
        raise FileNotFoundError(
            f"no grading results in {paths.results}: run `python -m autograder grade`"
        )
    folder = paths.root / "report" / "feedback"
    folder.mkdir(parents=True, exist_ok=True)
    manual = manual_grades.for_results(paths.course_db, results)
    pages = []
    for student, result in results.items():
        path = folder / f"{student}.html"
        path.write_text(render(result, manual.get(student)))
        pages.append(path)
    return pages
