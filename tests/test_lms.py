"""The LMS round trip: collect reads Canvas, Moodle and Gradescope downloads as they come, never
loses or merges a student, and export writes the LMSs' upload files beside grades.csv.

The downloads are built here in the layouts the LMSs write (file and folder names as in Canvas's
lib/content_zipper.rb, Moodle's mod/assign/classes/downloader.php, Gradescope's export with its
submission_metadata.yml), with the release's notebook 02 as every student's work. No grading
run: export is checked on SubmissionResults written as grading/results/<id>.json.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder import rubric
from autograder.course import RELEASE_DIR, ROOT
from autograder.grading import FAILED, GRADED, MISSING, CellResult, GradingPaths, SubmissionResult
from autograder.reports import export, export_all
from autograder.submissions import collect, load_manifest
from tests.conftest import tree_digest

MAX = f"{rubric.TOTAL:g}"  # the maximum score, as the upload files write it
POSSIBLE = f"{rubric.TOTAL:.2f}"  # as Canvas and Moodle write it

NB = "02_jacobian_free_gradients"
NOTEBOOK = (RELEASE_DIR / rubric.ASSIGNMENT / f"{NB}.ipynb").read_text()


def edited(text: str = NOTEBOOK) -> str:
    """The notebook with one more cell: the same student's later, different submission."""
    notebook = json.loads(text)
    notebook["cells"].append({"cell_type": "markdown", "metadata": {}, "source": "done"})
    return json.dumps(notebook)


def zip_bytes(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def canvas_download(path: Path) -> Path:
    """Canvas "Download Submissions": flat files <lastfirst>_[LATE_]<user>_<file id>_<name>."""
    path.write_bytes(zip_bytes({
        f"doejane_111_9001_{NB}.ipynb": NOTEBOOK,
        # another Jane Doe: same sortable name, another user id; she handed in a zip, late
        "doejane_LATE_222_9002_a2_submission.zip": zip_bytes({
            f"a2/{NB}.ipynb": NOTEBOOK,
            f"__MACOSX/a2/._{NB}.ipynb": b"\0",
        }),
        # Canvas adds -1 when a student uploads a file name again
        f"smithjohn_333_9003_{NB}-1.ipynb": NOTEBOOK,
        "smithjohn_333_9004_notes.pdf": b"%PDF-1.4",
        "leeann_LATE_444_text.html": "<p>I could not upload</p>",  # a text entry
    }))
    return path


def moodle_download(path: Path) -> Path:
    """Moodle "Download all submissions", in folders (the older "_" ending for Jane Smith)."""
    path.write_bytes(zip_bytes({
        f"Jane Doe_1234_assignsubmission_file/{NB}.ipynb": NOTEBOOK,
        f"Jane Smith_1235_assignsubmission_file_/a2/{NB} (1).ipynb": NOTEBOOK,
        "Jane Smith_1235_assignsubmission_onlinetext/onlinetext.html": "<p>see file</p>",
    }))
    return path


GRADESCOPE_METADATA = """\
---
submission_501:
  :submitters:
  - :name: Jane Doe
    :sid: '3031'
    :email: jane.doe@uni.edu
  :created_at: 2024-03-01 10:00:00.123456000 -08:00
  :score: 0.0
  :results: !ruby/hash:ActiveSupport::HashWithIndifferentAccess
    tests:
    - name: 'notebook 02: ok'
      output: |-
        ran
        fine
  :history: []
submission_502:
  :submitters:
  - :name: Ann Lee
    :sid: '3032'
    :email: ann.lee@uni.edu
  - :name: Bo Kim
    :sid: '3033'
    :email: bo.kim@uni.edu
  :created_at: 2024-03-01 11:00:00.000000000 -08:00
  :score: 0.0
"""


def gradescope_download(folder: Path) -> Path:
    """Gradescope "Export Submissions": submission_<id>/ folders + submission_metadata.yml."""
    root = folder / "assignment_4242_export"
    for submission in ("submission_501", "submission_502"):
        (root / submission).mkdir(parents=True)
        (root / submission / f"{NB}.ipynb").write_text(NOTEBOOK)
    (root / "submission_metadata.yml").write_text(GRADESCOPE_METADATA)
    return folder


def plain_download(folder: Path) -> Path:
    """Per-student folders and loose notebooks, as a TA might gather them by hand."""
    for student in ("jane_doe", "jane_smith"):
        (folder / student).mkdir(parents=True)
        (folder / student / f"{NB}.ipynb").write_text(NOTEBOOK)
    (folder / "Bob").mkdir()  # handed in nothing
    (folder / f"jdoe_{NB}.ipynb").write_text(NOTEBOOK)
    (folder / f"{NB}.ipynb").write_text(NOTEBOOK)  # whose?
    (folder / "roster.txt").write_text("not a submission")
    return folder


def run_cli(*args: str, grading: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CS231KIT_GRADING_DIR": str(grading)}
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


# --- formats in -------------------------------------------------------------------------------


def test_canvas_download_keeps_both_jane_does_and_reports_every_skip(tmp_path):
    paths = GradingPaths(tmp_path / "grading")
    got = collect(canvas_download(tmp_path / "submissions.zip"), paths)
    assert got.format == "canvas"
    assert sorted(got) == ["doejane", "doejane-2", "leeann", "smithjohn"]
    assert any("renamed: doejane (Canvas user 222) is collected as doejane-2" in n
               for n in got.notes), got.notes
    assert not got["doejane"].late and got["doejane-2"].late and got["leeann"].late
    assert got["doejane-2"].notebooks[NB] == "ok"  # read from the zip inside the zip
    assert any("__MACOSX" in p for p in got["doejane-2"].problems)
    assert "renamed" in got["smithjohn"].notebooks[NB]
    assert "skipped notes.pdf: not a notebook" in got["smithjohn"].problems
    assert "skipped text.html: not a notebook" in got["leeann"].problems
    assert all(s == "missing" for s in got["leeann"].notebooks.values())

    manifest = load_manifest(paths)
    assert manifest["doejane-2"]["lms"] == {"lms": "canvas", "name": "doejane", "user_id": "222",
                                            "sis_id": "", "email": "", "submission_id": ""}
    assert manifest["doejane-2"]["late"] is True  # what grading reads
    assert (paths.submitted / "doejane-2" / "a2" / f"{NB}.ipynb").exists()


def test_canvas_anonymous_grading_names_students_by_their_anonymous_id(tmp_path):
    src = tmp_path / "anon.zip"
    src.write_bytes(zip_bytes({f"anon_x7Kq2_9001_{NB}.ipynb": NOTEBOOK,
                               f"LATE_anon_Zz9pQ_9002_{NB}.ipynb": NOTEBOOK}))
    got = collect(src, GradingPaths(tmp_path / "grading"))
    assert sorted(got) == ["anon-x7kq2", "anon-zz9pq"]
    assert got["anon-zz9pq"].late and got["anon-x7kq2"].lms["user_id"] == "anon_x7Kq2"


def test_moodle_download_keeps_full_names_and_participant_ids(tmp_path):
    paths = GradingPaths(tmp_path / "grading")
    got = collect(moodle_download(tmp_path / "moodle.zip"), paths)
    assert got.format == "moodle"
    assert sorted(got) == ["jane-doe", "jane-smith"]
    assert got["jane-smith"].lms["user_id"] == "1235"
    assert got["jane-smith"].lms["name"] == "Jane Smith"
    assert "renamed" in got["jane-smith"].notebooks[NB]
    assert "skipped onlinetext.html: not a notebook" in got["jane-smith"].problems


def test_moodle_download_without_folders(tmp_path):
    src = tmp_path / "flat"
    src.mkdir()
    (src / f"Jane Doe_1234_assignsubmission_file_{NB}.ipynb").write_text(NOTEBOOK)
    (src / "Participant_1236_assignsubmission_file_notes.txt").write_text("blind marking")
    got = collect(src, GradingPaths(tmp_path / "grading"))
    assert sorted(got) == ["jane-doe", "participant-1236"]
    assert got["jane-doe"].notebooks[NB] == "ok"


def test_gradescope_export_reads_the_metadata_and_copies_group_work(tmp_path):
    paths = GradingPaths(tmp_path / "grading")
    got = collect(gradescope_download(tmp_path / "export"), paths)
    assert got.format == "gradescope"
    assert sorted(got) == ["ann-lee", "bo-kim", "jane-doe"]
    assert got["jane-doe"].lms == {"lms": "gradescope", "name": "Jane Doe", "user_id": "",
                                   "sis_id": "3031", "email": "jane.doe@uni.edu",
                                   "submission_id": "501"}
    for member in ("ann-lee", "bo-kim"):  # one group submission: each member is graded
        assert got[member].notebooks[NB] == "ok"
        assert any("group submission submission_502 of Ann Lee, Bo Kim" in p
                   for p in got[member].problems)


def test_gradescope_export_as_the_zip_it_downloads_as(tmp_path):
    folder = gradescope_download(tmp_path / "export")
    src = tmp_path / "submissions.zip"
    with zipfile.ZipFile(src, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    got = collect(src, GradingPaths(tmp_path / "grading"))
    assert sorted(got) == ["ann-lee", "bo-kim", "jane-doe"]


def test_plain_folders_and_loose_notebooks_never_lose_a_name(tmp_path):
    got = collect(plain_download(tmp_path / "src"), GradingPaths(tmp_path / "grading"))
    assert got.format == "folders"
    assert sorted(got) == ["bob", "jane-doe", "jane-smith", "jdoe"]  # not jane, jane-2
    assert got["jdoe"].notebooks[NB].startswith(f"renamed: jdoe_{NB}.ipynb")
    assert all(state == "missing" for state in got["bob"].notebooks.values())
    skipped = [n for n in got.notes if n.startswith("skipped ")]
    assert any(n.startswith(f"skipped {NB}.ipynb: a notebook at the top") for n in skipped)
    assert any(n.startswith("skipped roster.txt: not a student") for n in skipped)
    assert not any(n.startswith("renamed") for n in got.notes)


def test_a_real_collision_gets_a_suffix_and_a_reported_renaming(tmp_path):
    src = tmp_path / "src"
    for folder in ("Jane Doe", "jane_doe"):  # two folders, maybe two students: never merged
        (src / folder).mkdir(parents=True)
        (src / folder / f"{NB}.ipynb").write_text(NOTEBOOK)
    got = collect(src, GradingPaths(tmp_path / "grading"))
    assert sorted(got) == ["jane-doe", "jane-doe-2"]
    assert [n for n in got.notes if n.startswith("renamed")] == [
        "renamed: 'jane_doe' (no LMS identity) is collected as jane-doe-2, because jane-doe is "
        "'Jane Doe' (no LMS identity), another student"]


def test_an_lms_zip_inside_the_folder_is_read_as_the_download(tmp_path):
    src = tmp_path / "downloads"
    src.mkdir()
    canvas_download(src / "cs231-a2 submissions.zip")
    got = collect(src, GradingPaths(tmp_path / "grading"))
    assert sorted(got) == ["doejane", "doejane-2", "leeann", "smithjohn"]
    assert any(n.startswith("opened cs231-a2 submissions.zip") for n in got.notes)


# --- never lose a collection ------------------------------------------------------------------


def test_a_second_download_adds_and_a_student_seen_again_keeps_the_earlier_submission(tmp_path):
    paths = GradingPaths(tmp_path / "grading")
    collect(moodle_download(tmp_path / "moodle.zip"), paths)
    got = collect(canvas_download(tmp_path / "canvas.zip"), paths)
    assert got.total == 6 and set(load_manifest(paths)) == {
        "jane-doe", "jane-smith", "doejane", "doejane-2", "leeann", "smithjohn"}

    again = collect(tmp_path / "moodle.zip", paths)
    assert {r.status for r in again.values()} == {"unchanged"} and not again.changed

    src = tmp_path / "moodle-later"
    (src / "Jane Doe_1234_assignsubmission_file").mkdir(parents=True)
    (src / "Jane Doe_1234_assignsubmission_file" / f"{NB}.ipynb").write_text(edited())
    before = tree_digest(paths.root)
    later = collect(src, paths)
    assert later["jane-doe"].status == "not collected"
    assert "--replace" in later["jane-doe"].problems[0]
    assert tree_digest(paths.root) == before  # the earlier submission is kept, untouched


def test_an_empty_folder_changes_nothing_even_with_replace(tmp_path):
    paths = GradingPaths(tmp_path / "grading")
    collect(moodle_download(tmp_path / "moodle.zip"), paths)
    before = tree_digest(paths.root)
    (tmp_path / "empty").mkdir()
    for replace in (False, True):
        got = collect(tmp_path / "empty", paths, replace=replace)
        assert not got and not got.changed and got.total == 2
        assert "holds no submission: the collection is unchanged" in got.notes[-1]
    assert tree_digest(paths.root) == before


def test_replace_replaces_the_whole_collection_and_says_who_left(tmp_path):
    paths = GradingPaths(tmp_path / "grading")
    collect(moodle_download(tmp_path / "moodle.zip"), paths)
    collect(canvas_download(tmp_path / "canvas.zip"), paths)
    got = collect(tmp_path / "moodle.zip", paths, replace=True)
    assert set(load_manifest(paths)) == {"jane-doe", "jane-smith"}
    assert sorted(p.name for p in paths.submitted.iterdir()) == ["jane-doe", "jane-smith"]
    assert any(n.startswith("--replace: removed 4 student(s)") and "doejane-2 (doejane (Canvas "
               "user 222))" in n for n in got.notes), got.notes


def test_command_line_adds_refuses_empty_and_replaces(tmp_path):
    grading = tmp_path / "grading"
    first = run_cli("collect", str(moodle_download(tmp_path / "moodle.zip")), grading=grading)
    assert first.returncode == 0, first.stdout + first.stderr
    assert 'format: Moodle "Download all submissions"' in first.stdout
    assert "collect: 2 added; grading/submitted/ now holds 2 student(s)" in first.stdout

    second = run_cli("collect", str(plain_download(tmp_path / "plain")), grading=grading)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "renamed: 'jane_doe' (no LMS identity) is collected as jane-doe-2" in second.stdout
    assert f"skipped {NB}.ipynb: a notebook at the top of the download" in second.stdout
    assert "now holds 6 student(s)" in second.stdout

    (tmp_path / "empty").mkdir()
    empty = run_cli("collect", str(tmp_path / "empty"), grading=grading)
    assert empty.returncode == 1
    assert "holds no submission: the collection is unchanged (6 student(s))" in empty.stdout

    replaced = run_cli("collect", str(tmp_path / "moodle.zip"), "--replace", grading=grading)
    assert replaced.returncode == 0, replaced.stdout + replaced.stderr
    assert "--replace: removed 4 student(s)" in replaced.stdout
    assert sorted(json.loads((grading / "collected.json").read_text())["students"]) == [
        "jane-doe", "jane-smith"]


# --- formats out ------------------------------------------------------------------------------


def results_for(paths: GradingPaths, scores: dict[str, float | str]) -> None:
    """Write grading/results/<id>.json: a number is a graded score, else the status."""
    paths.results.mkdir(parents=True, exist_ok=True)
    for student, score in scores.items():
        if isinstance(score, str):
            result = SubmissionResult(student, score, reason="no notebook was submitted"
                                      if score == MISSING else "timeout")
        else:
            result = SubmissionResult(student, GRADED, cells=[
                CellResult(NB, "test_relu_jacobian", score, score)])
        (paths.results / f"{student}.json").write_text(result.to_json())


def read(path: Path) -> list[list[str]]:
    return list(csv.reader(path.open(newline="")))


@pytest.fixture
def collected(tmp_path):
    """One collection from every kind of download, with a result per student."""
    paths = GradingPaths(tmp_path / "grading")
    collect(canvas_download(tmp_path / "canvas.zip"), paths)
    collect(moodle_download(tmp_path / "moodle.zip"), paths)
    collect(gradescope_download(tmp_path / "gradescope"), paths)
    collect(plain_download(tmp_path / "plain"), paths)
    results_for(paths, {
        "doejane": 91, "doejane-2": 80, "smithjohn": 70, "leeann": MISSING,
        "jane-doe": 95, "jane-smith": FAILED,
        "jane-doe-2": 88, "ann-lee": 77, "bo-kim": 77,
        "jane-doe-3": 60, "jane-smith-2": 61, "jdoe": 62, "bob": MISSING,
    })
    return paths


def test_grades_csv_keeps_the_lms_identity(collected):
    csv_path, _ = export(collected)
    rows = {r["student_id"]: r for r in csv.DictReader(csv_path.open())}
    assert len(rows) == 13
    assert {k: rows["doejane-2"][k] for k in ("lms", "lms_name", "lms_id", "late")} == {
        "lms": "canvas", "lms_name": "doejane", "lms_id": "222", "late": "no"}
    assert (rows["jane-doe"]["lms"], rows["jane-doe"]["lms_name"], rows["jane-doe"]["lms_id"]) == (
        "moodle", "Jane Doe", "1234")
    assert (rows["jane-doe-2"]["lms_sis_id"], rows["jane-doe-2"]["lms_email"]) == (
        "3031", "jane.doe@uni.edu")
    assert (rows["jane-doe-3"]["lms"], rows["jane-doe-3"]["lms_name"]) == ("", "jane_doe")
    first = csv_path.read_bytes()
    export(collected)
    assert csv_path.read_bytes() == first  # deterministic


def test_canvas_upload_has_canvas_layout_and_blank_for_ungraded(collected):
    done = export_all(collected, canvas_assignment="12345")
    rows = read(collected.root / "grades-canvas.csv")
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "a2 (12345)"]
    assert rows[1] == ["    Points Possible", "", "", "", "", f"{rubric.TOTAL:.2f}"]
    assert len(rows) == 2 + 13
    assert ["doejane", "111", "", "", "", "91"] in rows  # two Jane Does, told apart by their ID
    assert ["doejane", "222", "", "", "", "80"] in rows
    assert ["leeann", "444", "", "", "", ""] in rows  # missing: Canvas keeps what it has
    assert ["Jane Doe", "", "", "", "", "95"] in rows  # from Moodle: no Canvas id, just a name
    notes = " | ".join(done.notes)
    assert "upload files: no score for 3 student(s)" in notes
    assert "bob (missing), jane-smith (failed-to-grade), leeann (missing)" in notes
    assert "have no Canvas user id" in notes


CANVAS_EXPORT = f"""\
Student,ID,SIS User ID,SIS Login ID,Section,a1 (12000),a2 (12345),Current Score,Final Score
    Points Possible,,,,,50.00,{POSSIBLE},(read only),(read only)
"Doe, Jane",111,S-0111,jdoe1@uni.edu,CS231 Section A,45.00,,90.00,45.00
"Doe, Jane",222,S-0222,jdoe2@uni.edu,CS231 Section B,40.00,,80.00,40.00
"Smith, John",333,S-0333,jsmith@uni.edu,CS231 Section A,30.00,,60.00,30.00
"Quiet, Ann",555,S-0555,aquiet@uni.edu,CS231 Section B,,,,
"Student, Test",999,,,CS231 Section A,,,,
"""


def test_canvas_upload_from_a_canvas_gradebook_export(collected, tmp_path):
    book = tmp_path / "gradebook.csv"
    book.write_text("\ufeff" + CANVAS_EXPORT)  # as Excel saves it, with a byte-order mark
    done = export_all(collected, canvas_gradebook=book)
    rows = read(collected.root / "grades-canvas.csv")
    assert rows[0][-1] == "a2 (12345)"  # found in the export by the assignment's name
    assert ["Doe, Jane", "222", "S-0222", "jdoe2@uni.edu", "CS231 Section B", "80"] in rows
    assert ["Smith, John", "333", "S-0333", "jsmith@uni.edu", "CS231 Section A", "70"] in rows
    assert any("1 student(s) of the Canvas gradebook have no collected submission: Quiet, Ann"
               in n for n in done.notes), done.notes


def test_canvas_export_without_the_assignment_says_which_columns_it_has(collected, tmp_path):
    book = tmp_path / "gradebook.csv"
    book.write_text(CANVAS_EXPORT.replace("a2 (12345)", "Homework 2 (12345)"))
    with pytest.raises(ValueError, match="pass --canvas-assignment .*'Homework 2 \\(12345\\)'"):
        export_all(collected, canvas_gradebook=book)
    assert not (collected.root / "grades.csv").exists()  # nothing half-written


def test_gradescope_upload_has_name_sid_email_and_score(collected):
    export_all(collected)
    rows = read(collected.root / "grades-gradescope.csv")
    assert rows[0] == ["Name", "SID", "Email", "Total Score", "Max Points", "Submission ID"]
    assert ["Jane Doe", "3031", "jane.doe@uni.edu", "88", MAX, "501"] in rows
    assert ["Ann Lee", "3032", "ann.lee@uni.edu", "77", MAX, "502"] in rows
    assert ["Bo Kim", "3033", "bo.kim@uni.edu", "77", MAX, "502"] in rows
    assert ["jdoe", "", "", "62", MAX, ""] in rows  # no Gradescope identity: what we know


def test_moodle_upload_is_an_offline_grading_worksheet(collected):
    export_all(collected)
    rows = read(collected.root / "grades-moodle.csv")
    assert rows[0] == ["Identifier", "Full name", "Email address", "Grade", "Maximum Grade",
                       "Last modified (grade)"]
    assert ["Participant 1234", "Jane Doe", "", "95", MAX, ""] in rows
    assert ["Participant 1235", "Jane Smith", "", "", MAX, ""] in rows  # failed: by hand


MOODLE_WORKSHEET = f"""\
Identifier,"Full name","Email address",Status,Grade,"Maximum Grade","Grade can be changed",\
"Last modified (submission)","Last modified (grade)","Feedback comments"
"Participant 1234","Jane Doe",jane@uni.edu,"Submitted for grading",,{POSSIBLE},Yes,\
"Friday, 1 March 2024, 10:00 AM",-,
"Participant 1235","Jane Smith",smith@uni.edu,"Submitted for grading",55.00,{POSSIBLE},Yes,\
"Friday, 1 March 2024, 11:00 AM","Saturday, 2 March 2024, 9:00 AM","See me"
"Participant 1299","Ola Nord",ola@uni.edu,"No submission",,{POSSIBLE},Yes,-,-,
"""


def test_moodle_upload_fills_the_worksheet_moodle_gave(collected, tmp_path):
    worksheet = tmp_path / "worksheet.csv"
    worksheet.write_text(MOODLE_WORKSHEET)
    export_all(collected, moodle_worksheet=worksheet)
    rows = read(collected.root / "grades-moodle.csv")
    assert rows[0] == next(csv.reader(io.StringIO(MOODLE_WORKSHEET)))
    assert rows[1][4] == "95"  # graded here
    assert rows[2][4] == "55.00" and rows[2][9] == "See me"  # failed to grade: Moodle's kept
    assert rows[3][4] == ""


def test_results_of_students_replaced_away_are_not_exported(collected, tmp_path):
    collect(tmp_path / "moodle.zip", collected, replace=True)
    done = export_all(collected)
    rows = list(csv.DictReader((collected.root / "grades.csv").open()))
    assert [r["student_id"] for r in rows] == ["jane-doe", "jane-smith"]
    assert any(n.startswith("not exported: 11 result(s) of students no longer in") for n in
               done.notes), done.notes


def test_command_line_export_writes_every_upload_file(collected):
    result = run_cli("export", "--canvas-assignment", "12345", grading=collected.root)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("grades.csv", "grades-canvas.csv", "grades-gradescope.csv", "grades-moodle.csv"):
        assert (collected.root / name).exists()
        assert name in result.stdout
    assert "! upload files: no score for 3 student(s)" in result.stdout


def test_upload_files_of_a_class_collected_from_plain_folders_say_they_hold_names_only(tmp_path):
    paths = GradingPaths(tmp_path / "grading")
    collect(plain_download(tmp_path / "plain"), paths)
    results_for(paths, {"jane-doe": 90, "jane-smith": 80, "jdoe": 70, "bob": MISSING})
    done = export_all(paths)
    assert any(n.startswith("upload files: no student was collected from an LMS download")
               for n in done.notes), done.notes
    assert not any("Moodle participant id" in n for n in done.notes)  # no noise per LMS
    assert ["jdoe", "", "", "", "", "70"] in read(paths.root / "grades-canvas.csv")
