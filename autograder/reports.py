"""Turn grading results into ``grades.csv``, the LMS upload files and a summary report.

``grades.csv`` has one row per student: the student's LMS identity as collect recorded it (``lms``:
canvas / moodle / gradescope, or empty for plain folders; ``lms_name``, ``lms_id`` (Canvas user id
or Moodle participant id), ``lms_sis_id`` (Gradescope SID), ``lms_email``), status (graded /
failed-to-grade / missing), the reason, the late flag, the total, whether the submission was
sandboxed (``bubblewrap``, or ``none`` when graded with ``--unsafe-no-sandbox``), the flags a TA
should review, how many tests did not run (a failed-to-grade submission's tests after the cell
where it stopped; see ``grading.POINTS_RULE``), per-notebook points and per-function points. It is
deterministic: grading the same submissions twice writes the same file. The report states the
points rule and the limits in force, lists every flag student by student, and gives each
failed-to-grade submission the command that regrades it alone with the limit it hit raised.

Beside it, the LMSs' upload formats: ``grades-canvas.csv`` (Canvas's gradebook import),
``grades-gradescope.csv`` (Gradescope's name / SID / email + score) and ``grades-moodle.csv``
(Moodle's offline grading worksheet). Only ``graded`` submissions get a
score there: a missing or failed-to-grade one is left blank (the LMS then keeps what it has) and
named in the export's notes, so that no grade is a silent 0.
"""

from __future__ import annotations

import csv
import html
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from autograder import manual_grades, rubric
from autograder.deadlines import LatePolicy, load_policy
from autograder.grading import (
    FAILED,
    GRADED,
    MISSING,
    POINTS_RULE,
    GradingPaths,
    SubmissionResult,
    load_results,
)
from autograder.manual_grades import ManualGrade, ungraded, written_score
from autograder.sandbox.limits import Limits
from autograder.submissions import lms_identity

if TYPE_CHECKING:
    from matplotlib.figure import Figure

STATUSES = (GRADED, FAILED, MISSING)
# grades.csv column -> field of the LMS identity collect recorded (submissions.LMS_FIELDS)
LMS_COLUMNS = {"lms": "lms", "lms_name": "name", "lms_id": "user_id", "lms_sis_id": "sis_id",
               "lms_email": "email"}
CANVAS_FILE, GRADESCOPE_FILE, MOODLE_FILE = (
    "grades-canvas.csv", "grades-gradescope.csv", "grades-moodle.csv")

Identities = dict[str, dict[str, str]]
Manual = dict[str, list[ManualGrade]]  # student -> written-answer grades


def _points(value: float) -> str:
    return f"{value:g}"


def csv_columns() -> list[str]:
    functions = [g for cells in rubric.POINTS.values() for g in cells]
    return [
        "student_id",
        *LMS_COLUMNS,
        "status",
        "reason",
        "late",
        "score",
        "max_score",
        "written_score",
        "written_max",
        "written_ungraded",
        "total",
        "total_max",
        "submitted_at",
        "late_days",
        "late_penalty",
        "final_score",
        "sandbox",
        "flags",
        "tests_not_run",
        *rubric.POINTS,
        *functions,
    ]


def csv_rows(
    results: dict[str, SubmissionResult],
    identities: Identities | None = None,
    manual: Manual | None = None,
) -> list[dict[str, str]]:
    """One row per student; ``identities`` (id -> LMS identity) fills the ``lms*`` columns,
    ``manual`` (id -> written-answer grades) the ``written_*`` ones and the total."""
    identities, manual = identities or {}, manual or {}
    rows = []
    for student, result in sorted(results.items()):
        written = manual.get(student, [])
        by_cell = {c.grade_id: c.points for c in result.cells}
        who = identities.get(student, {})
        row = {
            "student_id": student,
            **{column: who.get(key, "") for column, key in LMS_COLUMNS.items()},
            "status": result.status,
            "reason": result.reason,
            "late": "yes" if result.late else "no",
            "score": _points(result.score) if result.status != MISSING else "",
            "max_score": _points(rubric.AUTO_TOTAL),
            "written_score": _points(written_score(written)) if result.status != MISSING else "",
            "written_max": _points(rubric.MANUAL_TOTAL),
            "written_ungraded": str(len(ungraded(written))) if result.status != MISSING else "",
            "total": _points(result.score + written_score(written))
            if result.status != MISSING else "",
            "total_max": _points(rubric.TOTAL),
            "submitted_at": result.submitted_at,
            "late_days": str(result.late_days),
            "late_penalty": _points(penalty(result, written)) if result.status != MISSING else "",
            "final_score": _points(final_score(result, written))
            if result.status != MISSING else "",
            "sandbox": result.sandbox if result.status != MISSING else "",
            "flags": " | ".join(result.flags),
            "tests_not_run": str(result.tests_not_run) if result.status != MISSING else "",
        }
        for name, cells in rubric.POINTS.items():
            total = sum(by_cell.get(g, 0.0) for g in cells)
            row[name] = _points(total) if result.status != MISSING else ""
            for grade_id in cells:
                row[grade_id] = _points(by_cell[grade_id]) if grade_id in by_cell else ""
        rows.append(row)
    return rows


def _write_rows(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(buffer.getvalue())
    return path


def write_csv(
    results: dict[str, SubmissionResult], path: Path, identities: Identities | None = None,
    manual: Manual | None = None,
) -> Path:
    columns = csv_columns()
    rows = csv_rows(results, identities, manual)
    return _write_rows(path, columns, [[row[c] for c in columns] for row in rows])


# --- LMS upload files -------------------------------------------------------------------------
#
# Each LMS matches a row to a student by its own identity, which collect kept from the download:
# Canvas by its user id ("ID"; then SIS ids, then the name), Moodle by "Participant <id>"
# (the number in the download's folder names), Gradescope by email/SID. A student collected from a
# plain folder has none of these and is written with what is known (the name), and said so.


def penalty(result: SubmissionResult, written: list[ManualGrade] | None = None) -> float:
    """Points taken away for lateness: its share of the judge's and the written answers'."""
    return result.late_fraction * (result.score + written_score(written or []))


def final_score(result: SubmissionResult, written: list[ManualGrade] | None = None) -> float:
    """The judge's points plus the written answers' graded so far, less the late penalty."""
    return result.score + written_score(written or []) - penalty(result, written)


def upload_score(result: SubmissionResult, written: list[ManualGrade] | None = None) -> str:
    """The score to upload (:func:`final_score`): only a graded submission has one; a blank
    leaves the LMS as it is."""
    return _points(final_score(result, written)) if result.status == GRADED else ""


def _unscored_note(results: dict[str, SubmissionResult]) -> list[str]:
    blank = [f"{s} ({r.status})" for s, r in sorted(results.items()) if r.status != GRADED]
    if not blank:
        return []
    return [f"upload files: no score for {len(blank)} student(s), so the LMS keeps what it has; "
            f"grade them there by hand: {', '.join(blank)}"]


def _ungraded_note(results: dict[str, SubmissionResult], manual: Manual) -> list[str]:
    waiting = {s: len(ungraded(manual.get(s, []))) for s, r in sorted(results.items())
               if r.status != MISSING}
    waiting = {s: n for s, n in waiting.items() if n}
    if not waiting:
        return []
    return [f"written answers: {sum(waiting.values())} still ungraded, for {len(waiting)} "
            "student(s); their totals and uploads hold the points graded so far (grade them in "
            "formgrader, then export again): "
            + ", ".join(f"{s} ({n})" for s, n in waiting.items())]


def _read_csv(path: Path, what: str) -> list[list[str]]:
    try:
        text = Path(path).read_text(encoding="utf-8-sig")  # Excel and Canvas may add a BOM
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read the {what} {path}: {exc}") from exc
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    if not rows:
        raise ValueError(f"the {what} {path} is empty")
    return rows


@dataclass
class CanvasGradebook:
    """What a Canvas gradebook export (Grades > Export) says about each student, by Canvas ID."""

    students: dict[str, dict[str, str]] = field(default_factory=dict)
    assignments: dict[str, str] = field(default_factory=dict)  # column title -> points possible


CANVAS_STUDENT_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


def read_canvas_gradebook(path: Path) -> CanvasGradebook:
    """Parse Canvas's gradebook export: ``Student, ID, [SIS User ID,] SIS Login ID, ...,
    Section, <assignment> (<id>)...``, a ``Points Possible`` row, then one row per student."""
    rows = _read_csv(path, "Canvas gradebook export")
    header = [cell.strip() for cell in rows[0]]
    if len(header) < 3 or "Student" not in header[0] or header[1] != "ID":
        raise ValueError(f"{path} is not a Canvas gradebook export: its first columns should be "
                         f"Student, ID, ... (they are {', '.join(header[:3])})")
    book = CanvasGradebook()
    points = next((r for r in rows[1:] if r and "Points Possible" in r[0]), [])
    for index, title in enumerate(header):
        if re.fullmatch(r".+ \(\d+\)", title):
            book.assignments[title] = points[index].strip() if index < len(points) else ""
    for row in rows[1:]:
        if not row or "Points Possible" in row[0] or not row[1].strip().isdigit():
            continue  # the points row, or a "muted"/"manual posting" row
        values = dict(zip(header, (cell.strip() for cell in row), strict=False))
        if values["Student"] in ("Student, Test", "Test Student"):
            continue  # Canvas's "student view" user, in every export
        book.students[values["ID"]] = {c: values.get(c, "") for c in CANVAS_STUDENT_COLUMNS}
    return book


def canvas_column(assignment: str | None, book: CanvasGradebook | None) -> str:
    """The assignment column's title: ``a2 (12345)`` (Canvas matches the number in parentheses
    to its assignment), taken from ``assignment`` (an id, or a whole title) or found in ``book``."""
    if assignment:
        return f"{rubric.ASSIGNMENT} ({assignment})" if assignment.isdigit() else assignment
    if book is None:
        return rubric.ASSIGNMENT
    named = [t for t in book.assignments
             if t.rsplit(" (", 1)[0].strip().lower() == rubric.ASSIGNMENT.lower()]
    if len(named) == 1:
        return named[0]
    choices = ", ".join(repr(t) for t in book.assignments) or "none"
    raise ValueError(
        f"cannot tell which column of the Canvas gradebook is {rubric.ASSIGNMENT}: pass "
        f"--canvas-assignment with its title or id (the gradebook's assignments: {choices})"
    )


def write_canvas(results: dict[str, SubmissionResult], identities: Identities, path: Path,
                 column: str, book: CanvasGradebook | None = None,
                 manual: Manual | None = None) -> list[str]:
    """``grades-canvas.csv`` for Canvas's Grades > Import; return notes for the TA.

    The layout is that of Canvas's own export (``lib/gradebook_exporter.rb``): ``Student, ID,
    SIS User ID, SIS Login ID, Section, <assignment> (<id>)``, then a ``Points Possible`` row
    (optional for the importer, which reads it when present), then one row per student. With
    ``book`` (the TA's Canvas export) the name, SIS ids and section come from Canvas itself.
    """
    notes = []
    points = (book.assignments.get(column) if book else "") or f"{rubric.TOTAL:.2f}"
    if book and column in book.assignments and points and float(points) != rubric.TOTAL:
        notes.append(f"{path.name}: Canvas's {column!r} is worth {points} points, the grades here "
                     f"are out of {rubric.TOTAL}: change one of them before importing")
    rows = [["    Points Possible", "", "", "", "", points]]  # as Canvas writes it
    no_id, seen = [], set()
    for student, result in sorted(results.items()):
        who = identities.get(student, {})
        canvas_id = who.get("user_id", "") if who.get("lms") == "canvas" else ""
        if canvas_id.startswith("anon_"):
            canvas_id = ""  # an anonymous id is not a user id: Canvas would not match it
        known = (book.students.get(canvas_id) if book and canvas_id else None) or {}
        if not canvas_id:
            no_id.append(student)
        seen.add(canvas_id)
        rows.append([known.get("Student") or who.get("name") or student, canvas_id,
                     known.get("SIS User ID", ""), known.get("SIS Login ID", ""),
                     known.get("Section", ""), upload_score(result, (manual or {}).get(student))])
    if no_id:
        notes.append(f"{path.name}: {len(no_id)} student(s) have no Canvas user id (not "
                     "collected from a Canvas download), so Canvas can only match them by name; "
                     f"check its import preview: {', '.join(no_id)}")
    if book:
        absent = sorted(v["Student"] for k, v in book.students.items() if k not in seen)
        if absent:
            notes.append(f"{path.name}: {len(absent)} student(s) of the Canvas gradebook have no "
                         f"collected submission: {'; '.join(absent)}")
    _write_rows(path, [*CANVAS_STUDENT_COLUMNS, column], rows)
    return notes


GRADESCOPE_COLUMNS = ["Name", "SID", "Email", "Total Score", "Max Points", "Submission ID"]


def write_gradescope(results: dict[str, SubmissionResult], identities: Identities,
                     path: Path, manual: Manual | None = None) -> list[str]:
    """``grades-gradescope.csv``: the student columns of Gradescope's own grade export (Name,
    SID, Email), the score and the maximum, and the Gradescope submission id; return notes."""
    rows, unknown = [], []
    for student, result in sorted(results.items()):
        who = identities.get(student, {})
        if not (who.get("email") or who.get("sis_id")):
            unknown.append(student)
        rows.append([who.get("name") or student, who.get("sis_id", ""), who.get("email", ""),
                     upload_score(result, (manual or {}).get(student)), _points(rubric.TOTAL),
                     who.get("submission_id", "")])
    _write_rows(path, GRADESCOPE_COLUMNS, rows)
    notes = []
    if unknown:
        notes.append(f"{path.name}: {len(unknown)} student(s) have no Gradescope email or SID "
                     f"(not collected from a Gradescope export): {', '.join(unknown)}")
    return notes


# Moodle's offline grading worksheet (mod/assign/feedback/offline): the importer finds the
# columns "Identifier" ("Participant <id>"), "Grade" and "Last modified (grade)" by name and
# ignores the others. "Feedback comments" is left out on purpose: an empty one would erase the
# comments a marker typed in Moodle.
MOODLE_COLUMNS = ["Identifier", "Full name", "Email address", "Grade", "Maximum Grade",
                  "Last modified (grade)"]


def write_moodle(results: dict[str, SubmissionResult], identities: Identities, path: Path,
                 worksheet: Path | None = None, manual: Manual | None = None) -> list[str]:
    """``grades-moodle.csv`` for Moodle's "Upload grading worksheet"; return notes.

    With ``worksheet`` (the one downloaded from Moodle) its rows are copied with only the Grade
    of our students changed, so its "Last modified (grade)" dates stay Moodle's own. Without it,
    the dates are blank: Moodle then updates only grades it does not hold yet, unless "Allow
    updating records that have been modified more recently in Moodle than in the spreadsheet" is
    ticked on upload.
    """
    ours = {}
    for student, result in results.items():
        who = identities.get(student, {})
        if who.get("lms") == "moodle" and who.get("user_id"):
            ours[who["user_id"]] = (student, result)
    notes = []
    if worksheet is None:
        rows = []
        for student, result in sorted(results.items()):
            who = identities.get(student, {})
            participant = who.get("user_id", "") if who.get("lms") == "moodle" else ""
            rows.append([f"Participant {participant}" if participant else "",
                         who.get("name") or student, who.get("email", ""),
                         upload_score(result, (manual or {}).get(student)),
                         _points(rubric.TOTAL), ""])
        _write_rows(path, MOODLE_COLUMNS, rows)
        notes.append(f"{path.name}: no Moodle worksheet given, so its 'Last modified (grade)' is "
                     "blank: on upload, tick 'Allow updating records that have been modified more "
                     "recently in Moodle' if Moodle already holds grades for a2, or pass "
                     "--moodle-worksheet with the worksheet downloaded from Moodle")
    else:
        rows = _read_csv(worksheet, "Moodle grading worksheet")
        header = rows[0]
        for column in ("Identifier", "Grade", "Last modified (grade)"):
            if column not in header:
                raise ValueError(f"{worksheet} is not a Moodle grading worksheet: it has no "
                                 f"{column!r} column")
        ident, grade = header.index("Identifier"), header.index("Grade")
        found = set()
        for row in rows[1:]:
            row += [""] * (len(header) - len(row))  # a spreadsheet may drop trailing blanks
            participant = row[ident].removeprefix("Participant").strip()
            if participant in ours:
                found.add(participant)
                student, result = ours[participant]
                row[grade] = upload_score(result, (manual or {}).get(student)) or row[grade]
        _write_rows(path, header, rows[1:])
        absent = sorted(ours[p][0] for p in ours if p not in found)
        if absent:
            notes.append(f"{path.name}: {len(absent)} student(s) collected from Moodle are not in "
                         f"the worksheet: {', '.join(absent)}")
    no_id = sorted(s for s in results if s not in {v[0] for v in ours.values()})
    if no_id:
        notes.append(f"{path.name}: {len(no_id)} student(s) have no Moodle participant id (not "
                     f"collected from a Moodle download); Moodle skips them: {', '.join(no_id)}")
    return notes


def score_histogram(scores: list[float]) -> Figure:
    """A histogram of the scores (one per graded submission) in bins of 5 points.

    Returns the matplotlib Figure (one Axes); the caller saves and closes it.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(scores, bins=range(0, rubric.AUTO_TOTAL + 6, 5), color="#4472c4", edgecolor="white")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts of students: no half-students
    ax.set_xlabel(f"score from the hidden tests (out of {rubric.AUTO_TOTAL})")
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


def _report_row(student: str, r: SubmissionResult, written: list[ManualGrade]) -> str:
    sid, status = html.escape(student), html.escape(r.status)
    score = "" if r.status == MISSING else _points(r.score)
    waiting = len(ungraded(written))
    written_cell = "" if r.status == MISSING else (
        f"{_points(written_score(written))}" + (f" ({waiting} ungraded)" if waiting else ""))
    total = "" if r.status == MISSING else _points(r.score + written_score(written))
    unsandboxed = " <b>unsandboxed</b>" if r.status != MISSING and r.sandbox == "none" else ""
    flags = f"<a href='#flags-{sid}'>{len(r.flags)} to review</a>" if r.flags else ""
    return (
        f"<tr class='{status}'><td>{sid}</td><td>{status}{unsandboxed}</td><td>{score}</td>"
        f"<td>{written_cell}</td><td>{total}</td><td>{html.escape(_late(r))}</td>"
        f"<td>{html.escape(r.reason)}{_regrade(r)}</td>"
        f"<td>{flags}</td>"
        f"<td><a href='feedback/{sid}.html'>feedback</a></td></tr>"
    )


def _limits_line(results: dict[str, SubmissionResult]) -> str:
    """The limits the submissions were graded under (several lines when they differ)."""
    seen: dict[str, list[str]] = {}
    for student, r in sorted(results.items()):
        if r.limits:
            known = {k: v for k, v in r.limits.items() if k in Limits.__dataclass_fields__}
            seen.setdefault(Limits(**known).describe(), []).append(student)
    if len(seen) == 1:
        return f"<p>Graded under these limits: {html.escape(next(iter(seen)))}.</p>"
    return "".join(f"<p>{len(who)} graded under: {html.escape(limits)}.</p>"
                   for limits, who in seen.items())


def _late(r: SubmissionResult) -> str:
    return r.lateness or ("late (LMS)" if r.late else "")


def _regrade(r: SubmissionResult) -> str:
    """For a failed-to-grade row: how many tests did not run, and the command to regrade it."""
    if r.status != FAILED:
        return ""
    return (f"<br>{r.tests_not_run} test(s) not run; regrade alone: "
            f"<code>{html.escape(r.regrade_command())}</code>")


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


def write_report(results: dict[str, SubmissionResult], folder: Path,
                 manual: Manual | None = None, late_rule: str = "") -> Path:
    """``index.html``: counts per status, the grade table (one row per student: the judge's
    points, the written answers' manual points, the total), then the plots.

    The table comes first because it is what a TA opens the page for; the plots are long.
    """
    manual = manual or {}
    folder.mkdir(parents=True, exist_ok=True)
    images = _plots(results, folder)
    counts = {s: sum(r.status == s for r in results.values()) for s in STATUSES}
    late = sum(r.late for r in results.values())
    rows = "\n".join(_report_row(s, r, manual.get(s, [])) for s, r in sorted(results.items()))
    waiting = sum(len(ungraded(manual.get(s, []))) for s, r in results.items()
                  if r.status != MISSING)
    summary = ", ".join(f"{n} {s}" for s, n in counts.items()) + f", {late} late"
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{rubric.ASSIGNMENT} grading report</title>
<style>body{{font-family:sans-serif;margin:2em}} td,th{{padding:2px 8px;text-align:left}}
tr.failed-to-grade{{background:#fde9e7}} tr.missing{{background:#eee}}</style></head>
<body><h1>Assignment {rubric.ASSIGNMENT}: grading report</h1>
<p>{len(results)} students: {summary}. Maximum score {rubric.TOTAL}: {rubric.AUTO_TOTAL} from
the hidden tests (score) and {rubric.MANUAL_TOTAL} from the written answers, graded by TAs in
nbgrader's formgrader (written). Written answers still ungraded: {waiting}.</p>
<p>{html.escape(POINTS_RULE)} {html.escape(late_rule)}</p>
{_limits_line(results)}
<table><tr><th>student</th><th>status</th><th>score</th><th>written</th><th>total</th><th>late</th>
<th>reason</th><th>flags</th><th></th></tr>
{rows}
</table>
{_flag_section(results)}
<p>{"".join(f'<img src="{name}" alt="{name}"> ' for name in images)}</p>
</body></html>
"""
    path = folder / "index.html"
    path.write_text(page)
    return path


@dataclass
class Exported:
    """What ``export_all`` wrote, and what the TA should know about it."""

    csv: Path
    report: Path
    uploads: list[Path]
    notes: list[str]


def export_all(
    paths: GradingPaths | None = None,
    csv_path: Path | None = None,
    *,
    canvas_assignment: str | None = None,
    canvas_gradebook: Path | None = None,
    moodle_worksheet: Path | None = None,
    policy: LatePolicy | None = None,
) -> Exported:
    """Write grades.csv, the LMS upload files beside it, and the report, from the saved results.

    Results of students no longer in the collection (``collect --replace`` left them out) are not
    exported, and the notes say so. Raises FileNotFoundError when there are no results, and
    ValueError (before writing anything) when a Canvas or Moodle file passed in cannot be used.
    """
    paths = paths or GradingPaths()
    results = load_results(paths)
    if not results:
        raise FileNotFoundError(
            f"no grading results in {paths.results}: run `python -m autograder grade`"
        )
    notes = []
    if paths.submitted.is_dir():
        gone = sorted(s for s in results if not (paths.submitted / s).is_dir())
        if gone:
            notes.append(f"not exported: {len(gone)} result(s) of students no longer in "
                         f"grading/submitted/ (a collect --replace left them out): "
                         f"{', '.join(gone)}")
            results = {s: r for s, r in results.items() if s not in gone}
        if not results:
            raise FileNotFoundError(
                f"no grading results for the students in {paths.submitted}: "
                "run `python -m autograder grade`")
    book = read_canvas_gradebook(canvas_gradebook) if canvas_gradebook else None
    column = canvas_column(canvas_assignment, book)
    if moodle_worksheet:
        _read_csv(moodle_worksheet, "Moodle grading worksheet")  # fail before writing anything
    identities = lms_identity(paths)
    manual = manual_grades.for_results(paths.course_db, results)
    csv_file = write_csv(results, csv_path or paths.root / "grades.csv", identities, manual)
    folder = csv_file.parent
    # Notes about an LMS's file only when its students are here or the TA asked for it: a
    # Canvas-only class needs no word on Moodle participant ids.
    used = {identities.get(s, {}).get("lms", "") for s in results}
    canvas_notes = write_canvas(results, identities, folder / CANVAS_FILE, column, book, manual)
    if column == rubric.ASSIGNMENT:
        canvas_notes.insert(0, (
            f"{CANVAS_FILE}: its column {column!r} has no Canvas assignment id, so Canvas "
            "matches it by title or makes a new assignment; pass --canvas-assignment ID (the "
            "number in the assignment's address) or --canvas-gradebook EXPORT.csv"))
    gradescope_notes = write_gradescope(results, identities, folder / GRADESCOPE_FILE, manual)
    moodle_notes = write_moodle(results, identities, folder / MOODLE_FILE, moodle_worksheet,
                                manual)
    notes += canvas_notes if "canvas" in used or canvas_assignment or book else []
    notes += gradescope_notes if "gradescope" in used else []
    notes += moodle_notes if "moodle" in used or moodle_worksheet else []
    if used <= {""}:
        notes.append("upload files: no student was collected from an LMS download, so they hold "
                     "names only, which an LMS may not match; collect the LMS's own download")
    notes += _unscored_note(results)
    notes += _ungraded_note(results, manual)
    report = write_report(results, paths.root / "report", manual,
                          (policy or load_policy()).describe())
    uploads = [folder / name for name in (CANVAS_FILE, GRADESCOPE_FILE, MOODLE_FILE)]
    return Exported(csv_file, report, uploads, notes)


def export(paths: GradingPaths | None = None, csv_path: Path | None = None) -> tuple[Path, Path]:
    """Write grades.csv (with the LMS upload files beside it) and the report; return the paths of
    grades.csv and the report (``export_all`` says more)."""
    done = export_all(paths, csv_path)
    return done.csv, done.report
