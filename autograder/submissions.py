"""Collect submissions from an LMS download: ids, notebook names, validation, safe repairs.

``collect(SRC)`` reads an LMS download (a folder, or the ``.zip`` as the LMS served it) and writes
``grading/submitted/<id>/a2/<notebook>.ipynb`` for nbgrader, plus a manifest
(``grading/collected.json``) that says, per student, who they are in the LMS and what was wrong.
The originals in SRC are only read, never changed.

Downloads it reads, detected from their file names (the layouts are those the LMSs write):

* **Canvas** "Download Submissions": files flat in one zip, each named
  ``<lastfirst>_[LATE_]<user id>_<file id>_<original name>`` (``anon_<id>`` instead of name and
  user id when grading is anonymous); a submitted zip stays a zip inside the zip;
* **Moodle** "Download all submissions": one folder per student,
  ``<Full Name>_<participant id>_assignsubmission_file[_]/``, or (with "download submissions in
  folders" off) files named ``<Full Name>_<participant id>_assignsubmission_file_<name>``;
* **Gradescope** "Export Submissions": ``submission_<id>/`` folders (or files) plus
  ``submission_metadata.yml``, which names each submission's submitters (name, SID, email);
  a group submission is collected once for each submitter;
* plain **per-student** folders or zips (``Jane Doe/``, ``jane_doe.zip``) and **loose notebooks**
  whose name holds the student (``jdoe_02_jacobian_free_gradients.ipynb``).

An LMS zip inside SRC is opened as if it had been unzipped there.

Rules that keep work from being lost:

* two students never merge: a student's id is a slug of their LMS name (``jane_doe`` →
  ``jane-doe``); two different students with the same slug get ``-2``, ``-3`` and the renaming is
  reported. "The same student" means the same LMS identity (Canvas user id, Moodle participant id,
  Gradescope email/SID, or the same folder/file name for plain downloads);
* collecting adds to the collection. A student already collected and seen again keeps the earlier
  submission (reported, with what to do) unless ``replace=True``, which replaces the whole
  collection with SRC's students. A SRC that holds no submission changes nothing;
* every file that is not collected, and every renaming, is reported with the reason.

What it repairs, in its own copy:

* renamed notebooks (``03_modular_backprop (1).ipynb``, ``Copy of 03_...``) are mapped to the
  release's name when exactly one name fits, else by which notebook's graded cells they contain;
* a notebook that is not JSON, or not a notebook, is reported as malformed and not graded;
* a graded cell the student copied (duplicate ``grade_id``) would abort nbgrader's whole run
  (nbgrader #1083): all copies but one lose their grading metadata (the last answer cell is kept,
  since that is the code the student ran last; the first test cell, whose source nbgrader restores);
* deleted graded cells are put back from the release, after the graded cell that precedes them
  there (nbgrader's own ``add_missing_cells`` crashes when that neighbour is a read-only cell).

The manifest keeps, per student id, ``late``, ``malformed`` and ``notebooks`` (which grading
reads), plus ``lms`` (the LMS identity: ``lms``, ``name``, ``user_id``, ``sis_id``, ``email``,
``submission_id``), ``key`` (what identifies the student across collects), ``digest`` (of the
notebooks as handed in), ``source`` and ``collected_from``; ``export`` joins ``lms`` on the id.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import io
import json
import os
import re
import shutil
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from autograder.course import ASSIGNMENT, RELEASE_DIR
from autograder.grading import GradingPaths

MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024
# A zip inside the download (a student's own zip, or the LMS zip in SRC) is read into memory.
MAX_INNER_ZIP_BYTES = 512 * 1024 * 1024
MAX_ZIP_DEPTH = 3  # SRC zip > LMS zip > a student's zip: deeper is not a real download

LMS_FIELDS = ("lms", "name", "user_id", "sis_id", "email", "submission_id")

# Operating-system litter that zips and file managers add; reported on one line per student.
JUNK_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}
JUNK_DIRS = {"__MACOSX"}

# Canvas (lib/content_zipper.rb): [users_name, "LATE"?, user id].join("_") + "_<file id>_<name>",
# users_name being the sortable name, downcased, with everything but word characters removed.
CANVAS_FILE = re.compile(
    r"^(?P<name>\w+?)_(?:(?P<late>LATE)_)?(?P<user>\d+)_(?P<file_id>\d+)_(?P<file>.+)$"
)
CANVAS_ANON_FILE = re.compile(
    r"^(?:(?P<late>LATE)_)?(?P<user>anon_[A-Za-z0-9]+)_(?P<file_id>\d+)_(?P<file>.+)$"
)
# a text entry or a web link has no file id: "<name>_[LATE_]<user id>_text.html" / "_link.html"
CANVAS_TEXT = re.compile(
    r"^(?:(?P<name>\w+?)_)??(?:(?P<late>LATE)_)?(?P<user>\d+|anon_[A-Za-z0-9]+)_"
    r"(?P<file>(?:text|link)\.html)$"
)
# Moodle (mod/assign/classes/downloader.php): "<full name, '_' -> ' '>_<participant id>" then
# "_assignsubmission_<plugin>" as a folder (older versions end it with "_"), or "_<file name>".
MOODLE_DIR = re.compile(
    r"^(?P<name>[^_/]+)_(?P<user>\d+)_assignsubmission_(?P<plugin>[a-z0-9]+)_?$"
)
MOODLE_FILE = re.compile(
    r"^(?P<name>[^_/]+)_(?P<user>\d+)_assignsubmission_(?P<plugin>[a-z0-9]+)_(?P<file>.+)$"
)
GRADESCOPE_METADATA = "submission_metadata.yml"


@dataclass
class StudentReport:
    """What collect found for one student (saved in the manifest, ``status`` aside)."""

    source: str
    late: bool = False
    notebooks: dict[str, str] = field(default_factory=dict)  # expected name -> "ok" or problem
    problems: list[str] = field(default_factory=list)
    malformed: list[str] = field(default_factory=list)
    lms: dict[str, str] = field(default_factory=dict)
    key: str = ""
    digest: str = ""
    collected_from: str = ""
    # When the student handed it in (ISO 8601, UTC): Gradescope's created_at, else the newest
    # timestamp of the notebooks in the download (a zip entry's time, or a file's mtime).
    submitted_at: str = ""
    # this collect only: "added", "unchanged" (already collected, same notebooks) or
    # "not collected" (already collected with other notebooks; the earlier ones are kept)
    status: str = "added"


class Collection(dict[str, StudentReport]):
    """What one ``collect`` did: a dict id -> StudentReport of the students found in SRC.

    ``format`` names the download layout(s) detected; ``notes`` holds the lines about the
    download as a whole (renamings, files skipped outside any student, students removed by
    ``replace``); ``total`` is the number of students in the collection afterwards. ``changed``
    is False when nothing was written.
    """

    def __init__(self) -> None:
        super().__init__()
        self.format = ""
        self.notes: list[str] = []
        self.total = 0
        self.changed = False


class CollectError(Exception):
    """The download cannot be read; the collection was left as it was."""


def expected_notebooks(release_dir: Path = RELEASE_DIR) -> dict[str, dict]:
    """name -> release notebook JSON."""
    folder = release_dir / ASSIGNMENT
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.ipynb"))}


def grade_ids(notebook: dict) -> list[str]:
    ids = []
    for cell in notebook.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader")
        if isinstance(meta, dict) and meta.get("grade_id"):
            ids.append(meta["grade_id"])
    return ids


# --- student ids ------------------------------------------------------------------------------


def slug(text: str) -> str:
    """An id nbgrader and file systems accept: lowercase ASCII letters, digits and dashes."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def split_student_name(name: str, *, lms_ids: bool = True) -> tuple[str, bool]:
    """(the student part of a folder or file name, late flag).

    ``doejane_LATE_1234_5678_a2.zip`` → ``doejane`` (LMS style: a name, then numeric ids; only
    with ``lms_ids``, as folders such as ``team_1`` are named by people, not LMSs);
    ``good_a2.zip`` → ``good`` (the assignment's name and ``submission`` are not the student);
    ``jane_doe`` stays ``jane_doe``: an underscore alone never cuts a name.
    """
    stem = re.sub(r"\.(zip|ipynb)$", "", name.strip(), flags=re.IGNORECASE).strip()
    late_token = r"(^|[_\- ])late(?=[_\- ]|$)"
    late = bool(re.search(late_token, stem, flags=re.IGNORECASE))
    lms_style = re.match(r"^(.+?)_(?:late_)?\d+(?:_|$)", stem, flags=re.IGNORECASE)
    if lms_style and lms_ids:
        stem = lms_style.group(1)
    else:
        stem = re.sub(
            rf"([_\- ]+{re.escape(ASSIGNMENT)})?([_\- ]+submission)?$", "", stem,
            flags=re.IGNORECASE,
        )
    if late:
        stem = re.sub(late_token, " ", stem, flags=re.IGNORECASE)
    return stem.strip(" _-"), late


def normalise_id(name: str) -> tuple[str, bool]:
    """(student id, late flag) from a folder or LMS file name."""
    raw, late = split_student_name(name)
    return slug(raw) or "unknown", late


def _lms(kind: str, **values: str) -> dict[str, str]:
    identity = dict.fromkeys(LMS_FIELDS, "")
    identity["lms"] = kind
    identity.update({k: str(v) for k, v in values.items() if v is not None})
    return identity


def _describe(identity: dict[str, str]) -> str:
    """``Jane Doe (Moodle participant 123)``: who a student is, for messages."""
    kind = identity.get("lms", "")
    name = identity.get("name", "")
    if not identity:
        return "a student collected by an older collect"
    if kind == "canvas":
        return f"{name or identity['user_id']} (Canvas user {identity['user_id']})"
    if kind == "moodle":
        return f"{name} (Moodle participant {identity['user_id']})"
    if kind == "gradescope":
        who = identity.get("email") or identity.get("sis_id") or "no email or SID"
        return f"{name} (Gradescope, {who})"
    return f"{name!r} (no LMS identity)"


# --- notebook names and repairs ---------------------------------------------------------------


def _clean_stem(name: str) -> str:
    stem = PurePosixPath(name).stem.lower()
    stem = re.sub(r"^copy of ", "", stem)
    stem = re.sub(r"(\s*\(\d+\)|-copy\d*|_copy\d*| copy\d*)$", "", stem)
    return stem.strip()


def map_notebook(name: str, notebook: dict | None, expected: dict[str, dict]) -> str | None:
    """The release name a submitted notebook stands for, or None when it is ambiguous/unknown."""
    stem = _clean_stem(name)
    if stem in expected:
        return stem
    close = [e for e in expected if e in stem or stem in e]
    if len(close) == 1:
        return close[0]
    fuzzy = difflib.get_close_matches(stem, list(expected), n=2, cutoff=0.8)
    if len(fuzzy) == 1:
        return fuzzy[0]
    if notebook is not None:
        ids = set(grade_ids(notebook))
        by_content = [e for e, nb in expected.items() if ids and ids & set(grade_ids(nb))]
        if len(by_content) == 1:
            return by_content[0]
    return None


def repair_duplicates(notebook: dict) -> list[str]:
    """Strip grading metadata from copied graded cells (in place); return what was done."""
    positions: dict[str, list[int]] = {}
    for index, cell in enumerate(notebook.get("cells", [])):
        meta = cell.get("metadata", {}).get("nbgrader")
        if isinstance(meta, dict) and meta.get("grade_id"):
            positions.setdefault(meta["grade_id"], []).append(index)
    notes = []
    for grade_id, where in positions.items():
        if len(where) < 2:
            continue
        meta = notebook["cells"][where[0]]["metadata"]["nbgrader"]
        is_answer = bool(meta.get("solution"))  # code and written answers: the student's text
        keep = where[-1] if is_answer else where[0]
        for index in where:
            if index != keep:
                del notebook["cells"][index]["metadata"]["nbgrader"]
        notes.append(
            f"graded cell {grade_id!r} appears {len(where)} times; kept cell {keep}, "
            "the other copies are graded as ordinary cells"
        )
    return notes


def restore_deleted_cells(notebook: dict, release: dict) -> list[str]:
    """Put graded cells the student deleted back from the release copy (in place)."""
    present = set(grade_ids(notebook))
    notes = []
    previous: str | None = None
    for cell in release.get("cells", []):
        grade_id = (cell.get("metadata", {}).get("nbgrader") or {}).get("grade_id")
        if not grade_id:
            continue
        if grade_id not in present:
            index = 0
            if previous is not None:
                # just after the cell that precedes it in the release
                index = next(
                    i + 1
                    for i, c in enumerate(notebook["cells"])
                    if (c.get("metadata", {}).get("nbgrader") or {}).get("grade_id") == previous
                )
            notebook["cells"].insert(index, json.loads(json.dumps(cell)))
            present.add(grade_id)
            kind = "answer" if cell["metadata"]["nbgrader"].get("solution") else "test"
            notes.append(f"{kind} cell {grade_id!r} was deleted; put back from the release")
        previous = grade_id
    return notes


# --- reading a download -----------------------------------------------------------------------


@dataclass
class _File:
    """One file of the download, by POSIX path relative to the download's root."""

    path: str
    size: int
    read: Callable[[], bytes]
    disk: Path | None = None  # where it lies, when it is not inside a zip
    modified: datetime | None = None  # a zip entry's time (zips keep no zone: taken as UTC)


def _zip_files(archive: zipfile.ZipFile) -> list[_File]:
    return [
        _File(info.filename, info.file_size, lambda a=archive, i=info: a.read(i),
              modified=datetime(*info.date_time, tzinfo=timezone.utc))
        for info in archive.infolist()
        if not info.is_dir()
    ]


def _folder_files(folder: Path, skipped: list[str], dirs: set[str]) -> list[_File]:
    files = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_symlink():  # a link could point anywhere on this machine: never follow it
            skipped.append(f"skipped {relative}: a symbolic link, not a file")
        elif path.is_file():
            stat = path.stat()
            files.append(_File(relative, stat.st_size, path.read_bytes, path,
                               datetime.fromtimestamp(stat.st_mtime, tz=timezone.utc)))
        elif path.parent == folder:
            dirs.add(relative)
    return files


def _open_zip(f: _File, stack: contextlib.ExitStack) -> zipfile.ZipFile:
    """Open a zip of the download (from disk when it lies there, else from memory)."""
    return stack.enter_context(zipfile.ZipFile(f.disk or io.BytesIO(f.read())))


def _top(path: str) -> str:
    return path.split("/", 1)[0]


def _looks_like_download(names: list[str]) -> bool:
    """Whether a zip's members are an LMS download (rather than one student's files)."""
    for name in names:
        parts = name.split("/")
        if parts[-1] == GRADESCOPE_METADATA and len(parts) <= 2:
            return True
        top = parts[0]
        if len(parts) > 1 and MOODLE_DIR.match(top):
            return True
        if len(parts) == 1 and any(pattern.match(top) for pattern in (
                CANVAS_FILE, CANVAS_ANON_FILE, CANVAS_TEXT, MOODLE_FILE)):
            return True
    return False


def _download_files(src: Path, stack: contextlib.ExitStack, skipped: list[str],
                    dirs: set[str]) -> list[_File]:
    """Every file of SRC (a folder or a zip); LMS zips at its top level are opened in place, so
    that a folder holding ``submissions.zip`` reads like the unzipped download. ``dirs`` gets the
    top-level folders (an empty one is a student who handed in nothing)."""
    if src.is_dir():
        files = _folder_files(src, skipped, dirs)
    else:
        try:
            archive = _open_zip(_File(src.name, src.stat().st_size, src.read_bytes, src), stack)
        except zipfile.BadZipFile as exc:
            raise CollectError(f"{src} is not a valid zip file ({exc})") from exc
        files = _zip_files(archive)
        dirs.update(_top(i.filename) for i in archive.infolist() if i.is_dir())
    opened: list[_File] = []
    for f in files:
        if "/" in f.path or not f.path.lower().endswith(".zip") or f.size > MAX_INNER_ZIP_BYTES:
            opened.append(f)
            continue
        try:
            with contextlib.ExitStack() as peek:  # names only: a student's zip is read later
                download = _looks_like_download(_open_zip(f, peek).namelist())
        except zipfile.BadZipFile:
            download = False
        if download:
            skipped.append(f"opened {f.path}: an LMS download, read as if unzipped here")
            opened.extend(_zip_files(_open_zip(f, stack)))
        else:
            opened.append(f)
    return opened


# --- one candidate submission per student -----------------------------------------------------


@dataclass
class _Candidate:
    identity: dict[str, str]
    key: str
    base_id: str
    late: bool = False
    entries: list[str] = field(default_factory=list)
    files: list[tuple[str, _File]] = field(default_factory=list)  # (name shown, file)
    submitted_at: datetime | None = None  # what the LMS says (Gradescope), else None
    notes: list[str] = field(default_factory=list)


def _loose_notebook_student(stem: str, expected: dict[str, dict]) -> str | None:
    """``jdoe`` from ``jdoe_02_jacobian_free_gradients``: the name with the notebook's taken out."""
    lowered = stem.lower()
    for name in sorted(expected, key=len, reverse=True):
        at = lowered.find(name)
        if at >= 0:
            rest = stem[:at] + " " + stem[at + len(name):]
            rest = re.sub(r"\s*\(\d+\)\s*$", "", rest.strip())
            return rest.strip(" _-.") or None
    return None


def _classify(name: str, is_dir: bool, expected: dict[str, dict]) -> tuple[_Candidate | None, str]:
    """The student a top-level entry of the download belongs to, and the name of the file inside
    it (for a flat LMS file), or (None, why it is skipped).

    Plain entries (no LMS) are the same student when their names are: the folder ``jdoe``, the
    zip ``jdoe.zip`` and the loose notebook ``jdoe_02_....ipynb``; ``team_1`` and ``team_2`` are
    two students.
    """
    if is_dir:
        moodle = MOODLE_DIR.match(name)
        if moodle:
            identity = _lms("moodle", name=moodle["name"], user_id=moodle["user"])
            return _candidate(identity, f"moodle:{moodle['user']}", _moodle_id(moodle)), ""
        raw, late = split_student_name(name, lms_ids=False)
        return _candidate(_lms("", name=name), f"name:{name}", slug(raw) or "unknown", late), ""
    # anonymous first: "anon_x7Kq2_9001_02_x.ipynb" would also read as name "anon_x7Kq2",
    # user 9001, file 02 (Canvas keeps "_<digits>_" out of real names for this reason)
    canvas = CANVAS_ANON_FILE.match(name) or CANVAS_FILE.match(name) or CANVAS_TEXT.match(name)
    if canvas:
        groups = canvas.groupdict()
        user, lastfirst = groups["user"], groups.get("name") or groups["user"]
        identity = _lms("canvas", name=lastfirst, user_id=user)
        late = bool(groups["late"])
        return _candidate(identity, f"canvas:{user}", slug(lastfirst) or "unknown", late), (
            groups["file"])
    moodle = MOODLE_FILE.match(name)
    if moodle:
        identity = _lms("moodle", name=moodle["name"], user_id=moodle["user"])
        return _candidate(identity, f"moodle:{moodle['user']}", _moodle_id(moodle)), (
            moodle["file"])
    stem, suffix = PurePosixPath(name).stem, PurePosixPath(name).suffix.lower()
    if suffix == ".zip":
        raw, late = split_student_name(name)
        return _candidate(_lms("", name=stem), f"name:{stem}", slug(raw) or "unknown", late), name
    if suffix == ".ipynb":
        student = _loose_notebook_student(stem, expected)
        if student is None:
            return None, (
                "a notebook at the top of the download whose name holds no student (or no "
                f"notebook of {ASSIGNMENT}): put it in a folder named after the student"
            )
        raw, late = split_student_name(student)
        return _candidate(_lms("", name=student), f"name:{student}", slug(raw) or "unknown",
                          late), name
    return None, "not a student folder, zip or notebook"


def _moodle_id(match: re.Match) -> str:
    # Blind marking names everyone "Participant": the participant id is then the only name.
    if match["name"].strip().lower() == "participant":
        return f"participant-{match['user']}"
    return slug(match["name"]) or f"participant-{match['user']}"


def _candidate(identity: dict[str, str], key: str, base_id: str, late: bool = False) -> _Candidate:
    return _Candidate(identity=identity, key=key, base_id=base_id, late=late)


def _gradescope_root(files: list[_File]) -> str | None:
    """The folder ("" or ``assignment_1_export/``) that holds submission_metadata.yml, if any."""
    for f in files:
        parts = f.path.split("/")
        if parts[-1] == GRADESCOPE_METADATA and len(parts) <= 2:
            return "" if len(parts) == 1 else parts[0] + "/"
    return None


def _yaml_metadata(text: str) -> dict:
    """Gradescope's submission_metadata.yml (written by Ruby: keys such as ``:submitters``)."""
    try:
        import yaml
    except ImportError as exc:  # PyYAML comes with the grader extra (pyproject.toml)
        raise CollectError(
            "reading a Gradescope export needs PyYAML: pip install -e '.[grader]'"
        ) from exc

    class _Loader(yaml.SafeLoader):
        """SafeLoader that reads Ruby object tags (``!ruby/...``) as plain data."""

    def plain(loader: yaml.SafeLoader, node: yaml.Node) -> object:
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node, deep=True)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        return loader.construct_scalar(node)

    _Loader.add_constructor(None, plain)
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise CollectError(f"{GRADESCOPE_METADATA} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise CollectError(f"{GRADESCOPE_METADATA} does not map submissions to submitters")
    return data


def _field(record: dict, name: str) -> str:
    value = record.get(f":{name}", record.get(name))
    return "" if value is None else str(value)


def _gradescope_time(text: str) -> datetime | None:
    """Gradescope's ``:created_at:`` (``2026-11-22 15:04:05.123456000 -0800``), in UTC."""
    match = re.match(r"^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:\.\d+)?\s*(Z|[+-]\d\d:?\d\d)?$",
                     text.strip())
    if not match:
        return None
    day, clock, zone = match.groups()
    zone = "+00:00" if zone in (None, "Z") else f"{zone[:3]}:{zone[-2:]}"  # 3.10 needs the colon
    return datetime.fromisoformat(f"{day}T{clock}{zone}").astimezone(timezone.utc)


def _gradescope_candidates(files: list[_File], root: str,
                           skipped: list[str]) -> list[_Candidate]:
    metadata_file = next(f for f in files if f.path == root + GRADESCOPE_METADATA)
    metadata = _yaml_metadata(metadata_file.read().decode("utf-8", errors="replace"))
    by_entry: dict[str, list[_File]] = {}
    for f in files:
        if f.path == metadata_file.path:
            continue
        if not f.path.startswith(root):
            skipped.append(f"skipped {f.path}: outside the Gradescope export folder {root}")
            continue
        relative = f.path[len(root):]
        by_entry.setdefault(_top(relative), []).append(_File(relative, f.size, f.read, f.disk))
    metadata = {str(key): record for key, record in metadata.items()}
    candidates = []
    for entry in sorted(set(by_entry) | set(metadata)):
        record = metadata.get(entry)
        if not isinstance(record, dict):
            for f in by_entry.get(entry, []):
                skipped.append(f"skipped {root}{f.path}: not listed in {GRADESCOPE_METADATA}")
            continue
        submitters = record.get(":submitters", record.get("submitters")) or []
        submitters = [s for s in submitters if isinstance(s, dict)]
        submission_id = entry.removeprefix("submission_")
        if not submitters:
            skipped.append(f"skipped {entry}: {GRADESCOPE_METADATA} names no submitter for it")
            continue
        names = [_field(s, "name") or _field(s, "email") or _field(s, "sid") for s in submitters]
        entry_files = by_entry.get(entry, [])
        for submitter, who in zip(submitters, names, strict=True):
            email, sid = _field(submitter, "email"), _field(submitter, "sid")
            identity = _lms("gradescope", name=_field(submitter, "name"), sis_id=sid,
                            email=email, submission_id=submission_id)
            base = slug(identity["name"]) or slug(email.split("@")[0]) or slug(sid) or "unknown"
            candidate = _candidate(identity, f"gradescope:{email or sid or who}", base)
            candidate.submitted_at = _gradescope_time(_field(record, "created_at"))
            candidate.entries.append(entry)
            for f in entry_files:
                inner = f.path.split("/", 1)[1] if "/" in f.path else f.path
                candidate.files.append((inner, f))
            if len(submitters) > 1:
                candidate.notes.append(
                    f"group submission {entry} of {', '.join(names)}: each gets a copy")
            if not entry_files:
                candidate.notes.append(
                    f"{entry} is listed in {GRADESCOPE_METADATA} but has no files here")
            candidates.append(candidate)
    return candidates


def _candidates(files: list[_File], dirs: set[str], expected: dict[str, dict],
                skipped: list[str]) -> tuple[list[_Candidate], str]:
    """The students of the download (one candidate per LMS identity) and its format."""
    root = _gradescope_root(files)
    if root is not None:
        return _gradescope_candidates(files, root, skipped), "gradescope"
    entries: dict[str, list[_File]] = {name: [] for name in dirs}
    for f in files:
        entries.setdefault(_top(f.path), []).append(f)
    by_key: dict[str, _Candidate] = {}
    junk: list[str] = []
    for entry in sorted(entries):
        entry_files = entries[entry]
        is_dir = entry in dirs or any("/" in f.path for f in entry_files)
        if entry in JUNK_DIRS or entry in JUNK_NAMES:
            junk.extend(f.path for f in entry_files)
            continue
        if entry.startswith("."):
            skipped.extend(f"skipped {f.path}: a hidden file" for f in entry_files)
            continue
        candidate, inner = _classify(entry, is_dir, expected)
        if candidate is None:
            skipped.extend(f"skipped {f.path}: {inner}" for f in entry_files)
            continue
        known = by_key.setdefault(candidate.key, candidate)
        known.late = known.late or candidate.late
        known.entries.append(entry)
        for f in entry_files:
            known.files.append((f.path.split("/", 1)[1] if is_dir else inner, f))
    if junk:
        skipped.append(f"skipped {len(junk)} file(s) that zip tools and file managers add "
                       f"({', '.join(junk)})")
    kinds = sorted({c.identity["lms"] or "folders" for c in by_key.values()})
    return list(by_key.values()), " + ".join(kinds)


# --- the notebooks of one submission ----------------------------------------------------------


def _expand(files: list[tuple[str, _File]], stack: contextlib.ExitStack, problems: list[str],
            depth: int = 0) -> Iterator[tuple[str, _File]]:
    """The files of a submission, with the zips it contains opened (problems appended)."""
    junk = []
    for name, f in sorted(files, key=lambda item: item[0]):
        parts = PurePosixPath(name).parts
        if JUNK_DIRS & set(parts) or (parts and parts[-1] in JUNK_NAMES):
            junk.append(name)
        elif ".ipynb_checkpoints" in parts:
            problems.append(f"skipped {name}: a copy Jupyter autosaves, not the submission")
        elif name.lower().endswith(".zip"):
            if depth >= MAX_ZIP_DEPTH or f.size > MAX_INNER_ZIP_BYTES:
                problems.append(f"skipped {name}: a zip nested too deep or too large")
                continue
            try:
                inner = _zip_files(_open_zip(f, stack))
            except zipfile.BadZipFile:
                problems.append(f"{PurePosixPath(name).name} is not a valid zip file; skipped")
                continue
            yield from _expand([(f"{name}/{i.path}", i) for i in inner], stack, problems,
                               depth + 1)
        else:
            yield name, f
    if junk:
        problems.append(f"skipped {len(junk)} file(s) that zip tools and file managers add "
                        f"({', '.join(junk)})")


def _notebooks(candidate: _Candidate,
               problems: list[str]) -> tuple[list[tuple[str, bytes]], str, str]:
    """(name, bytes) of each notebook handed in, a digest of them all (what "the same
    submission" means when a student is seen again) and when it was handed in (ISO 8601, UTC;
    "" when nothing tells)."""
    notebooks = []
    times = []
    digest = hashlib.sha256()
    with contextlib.ExitStack() as stack:  # this student's zips are closed before the next's
        for name, f in _expand(candidate.files, stack, problems):
            if not name.lower().endswith(".ipynb"):
                problems.append(f"skipped {name}: not a notebook")
                continue
            if f.size > MAX_NOTEBOOK_BYTES:
                problems.append(f"skipped {name}: larger than {MAX_NOTEBOOK_BYTES >> 20} MB")
                continue
            data = f.read()
            notebooks.append((name, data))
            digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
            if f.modified is not None:
                times.append(f.modified)
    when = candidate.submitted_at or (max(times) if times else None)
    return notebooks, digest.hexdigest(), when.isoformat() if when else ""


def _write_notebooks(report: StudentReport, notebooks: list[tuple[str, bytes]],
                     expected: dict[str, dict], out: Path) -> None:
    """Validate, map and repair each notebook; write it to ``out``; fill in ``report``."""
    out.mkdir(parents=True)
    for rel, data in notebooks:
        name = PurePosixPath(rel).name
        try:
            notebook = json.load(io.BytesIO(data))
            if not isinstance(notebook, dict) or "cells" not in notebook:
                raise ValueError("it has no cells")
        except (ValueError, UnicodeDecodeError) as exc:
            target = map_notebook(name, None, expected)
            label = target or name
            report.malformed.append(label)
            report.notebooks[label] = f"malformed notebook ({name} is not a valid notebook: {exc})"
            continue
        target = map_notebook(name, notebook, expected)
        if target is None:
            report.problems.append(f"{rel} does not match any notebook of {ASSIGNMENT}; skipped")
            continue
        if target in report.notebooks:
            report.problems.append(f"{rel} maps to {target}, which was already collected; skipped")
            continue
        notes = [] if name == f"{target}.ipynb" else [f"renamed: {name} graded as {target}.ipynb"]
        notes += repair_duplicates(notebook)
        notes += restore_deleted_cells(notebook, expected[target])
        (out / f"{target}.ipynb").write_text(json.dumps(notebook, indent=1))
        report.notebooks[target] = "; ".join(notes) or "ok"
    for name in expected:
        report.notebooks.setdefault(name, "missing")


# --- the manifest -----------------------------------------------------------------------------


def manifest_path(paths: GradingPaths) -> Path:
    return paths.root / "collected.json"


def load_manifest(paths: GradingPaths | None = None) -> dict[str, dict]:
    """Per student id, what collect recorded (``{}`` before the first collect)."""
    path = manifest_path(paths or GradingPaths())
    if not path.exists():
        return {}
    return json.loads(path.read_text()).get("students", {})


def lms_identity(paths: GradingPaths | None = None) -> dict[str, dict[str, str]]:
    """Per student id, the LMS identity collect recorded (``lms`` of the manifest)."""
    return {sid: {**dict.fromkeys(LMS_FIELDS, ""), **entry.get("lms", {})}
            for sid, entry in load_manifest(paths).items()}


def _key_of(sid: str, entry: dict, expected: dict[str, dict]) -> str:
    """What identifies an already-collected student (manifests of older versions have no key)."""
    if entry.get("key"):
        return entry["key"]
    source = entry.get("source", "")
    candidate, _ = _classify(source, not source.lower().endswith((".zip", ".ipynb")), expected)
    return candidate.key if candidate else f"id:{sid}"


def _write_manifest(paths: GradingPaths, students: dict[str, dict]) -> None:
    path = manifest_path(paths)
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps({"students": dict(sorted(students.items()))}, indent=1))
    os.replace(temporary, path)  # never a half-written manifest


def _saved(report: StudentReport) -> dict:
    entry = asdict(report)
    del entry["status"]  # what this collect did, not what the collection holds
    return entry


# --- collect ----------------------------------------------------------------------------------


def collect(src: Path, paths: GradingPaths | None = None, *, replace: bool = False) -> Collection:
    """Collect the LMS download ``src`` (a folder or a zip) into the collection; see the module.

    Without ``replace`` the students of ``src`` are added; those already collected keep their
    earlier submission. With ``replace`` the collection becomes exactly ``src``'s students. A
    ``src`` that holds no submission changes nothing. Raises FileNotFoundError when ``src`` or the
    release is missing, CollectError when the download cannot be read.
    """
    paths = paths or GradingPaths()
    src = Path(src)
    if not (src.is_dir() or (src.is_file() and zipfile.is_zipfile(src))):
        raise FileNotFoundError(
            f"{src} is not a folder of student folders or zip files, nor an LMS download zip"
        )
    expected = expected_notebooks()
    if not expected:
        raise FileNotFoundError(
            f"no release notebooks in {RELEASE_DIR / ASSIGNMENT}: "
            "run `python -m autograder release`"
        )
    collection = Collection()
    with contextlib.ExitStack() as stack:
        skipped: list[str] = []
        dirs: set[str] = set()
        files = _download_files(src, stack, skipped, dirs)
        candidates, collection.format = _candidates(files, dirs, expected, skipped)
        collection.notes.extend(skipped)
        old = load_manifest(paths)
        if not candidates:
            collection.total = len(old)
            collection.notes.append(
                f"{src} holds no submission: the collection is unchanged "
                f"({len(old)} student(s)){'; --replace never empties it' if replace else ''}"
            )
            return collection
        _collect(candidates, src, paths, expected, old, replace, collection)
    return collection


def _collect(candidates: list[_Candidate], src: Path, paths: GradingPaths,
             expected: dict[str, dict], old: dict[str, dict], replace: bool,
             collection: Collection) -> None:
    """Write the new students to a staging folder, then move them in and save the manifest, so
    that a crash leaves the collection as it was."""
    kept: dict[str, dict] = {} if replace else dict(old)
    owner = {_key_of(sid, entry, expected): sid for sid, entry in kept.items()}
    taken = set(kept)
    if paths.submitted.is_dir() and not replace:
        # folders a TA put there by hand are students too: never write into them
        for folder in sorted(p.name for p in paths.submitted.iterdir() if p.is_dir()):
            if folder not in kept:
                taken.add(folder)
                collection.notes.append(
                    f"{paths.submitted / folder} was not collected by collect; left as it is")
    staging = paths.root / "collect-staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    added: dict[str, dict] = {}
    try:
        for candidate in sorted(candidates, key=lambda c: (c.base_id, c.key)):
            problems = list(candidate.notes)
            notebooks, digest, submitted_at = _notebooks(candidate, problems)
            report = StudentReport(
                source=", ".join(candidate.entries), late=candidate.late, problems=problems,
                lms=candidate.identity, key=candidate.key, digest=digest,
                collected_from=str(src.resolve()), submitted_at=submitted_at,
            )
            if owner.get(candidate.key) in added:  # e.g. one student in two Gradescope groups
                collection.notes.append(
                    f"skipped {report.source}: {_describe(candidate.identity)} appears twice in "
                    f"this download; kept {added[owner[candidate.key]]['source']}")
                continue
            if candidate.key in owner:
                sid = owner[candidate.key]
                collection[sid] = _seen_again(sid, kept[sid], report)
                continue
            sid = candidate.base_id
            number = 2
            while sid in taken:
                sid = f"{candidate.base_id}-{number}"
                number += 1
            if sid != candidate.base_id:
                holder = kept.get(candidate.base_id) or added.get(candidate.base_id)
                why = (f"{candidate.base_id} is {_describe(holder.get('lms') or {})}, another "
                       "student" if holder else f"{paths.submitted / candidate.base_id} exists")
                collection.notes.append(
                    f"renamed: {_describe(candidate.identity)} is collected as {sid}, because "
                    f"{why}")
            taken.add(sid)
            owner[candidate.key] = sid
            _write_notebooks(report, notebooks, expected, staging / sid / ASSIGNMENT)
            collection[sid] = report
            added[sid] = _saved(report)
        if replace:
            _say_removed(paths, expected, old, added, collection)
        _move_in(paths, staging, added, replace)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    kept.update(added)
    collection.total = len(kept)
    collection.changed = bool(added) or replace
    if collection.changed:
        _write_manifest(paths, kept)


def _seen_again(sid: str, entry: dict, report: StudentReport) -> StudentReport:
    """A student collected before: unchanged, or kept as collected before (never overwritten)."""
    earlier = entry.get("collected_from") or "an earlier collect"
    if entry.get("digest") and entry["digest"] == report.digest:
        fields = {k: v for k, v in entry.items() if k in StudentReport.__dataclass_fields__}
        again = StudentReport(**{**fields, "status": "unchanged"})
        again.problems = [f"unchanged: already collected from {earlier}", *again.problems]
        return again
    why = ("with other notebooks" if entry.get("digest")
           else "by an older collect, which did not record what it held")
    report.status = "not collected"
    report.problems.insert(0, (
        f"already collected as {sid} from {earlier} {why}; kept that one and left this one out. "
        "To take this download instead, collect it with --replace (replaces the whole "
        "collection; then collect the other downloads again)"
    ))
    report.notebooks = {}
    return report


def _say_removed(paths: GradingPaths, expected: dict[str, dict], old: dict[str, dict],
                 added: dict[str, dict], collection: Collection) -> None:
    """One line naming every student ``--replace`` drops (by identity: an id may be reused)."""
    keys = {entry["key"] for entry in added.values()}
    removed = [f"{sid} ({_describe(entry.get('lms') or {})})" for sid, entry in sorted(old.items())
               if _key_of(sid, entry, expected) not in keys]
    if paths.submitted.is_dir():
        removed += [f"{p.name} (put there by hand)" for p in sorted(paths.submitted.iterdir())
                    if p.is_dir() and p.name not in old]
    if removed:
        collection.notes.append(
            f"--replace: removed {len(removed)} student(s) that are not in this download: "
            f"{', '.join(removed)}")


def _move_in(paths: GradingPaths, staging: Path, added: dict[str, dict], replace: bool) -> None:
    if replace:
        previous = paths.root / "submitted-being-replaced"
        shutil.rmtree(previous, ignore_errors=True)
        if paths.submitted.exists():
            os.replace(paths.submitted, previous)
        os.replace(staging, paths.submitted)
        shutil.rmtree(previous, ignore_errors=True)
        return
    paths.submitted.mkdir(parents=True, exist_ok=True)
    for sid in added:
        os.replace(staging / sid, paths.submitted / sid)
