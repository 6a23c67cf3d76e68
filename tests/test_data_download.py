"""download_cifar10 against a real HTTP server on 127.0.0.1 serving a small CIFAR-format archive."""

from __future__ import annotations

import _thread
import hashlib
import io
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest

from cs231kit.data import paths
from cs231kit.data.cifar10 import FOLDER_NAME, load_cifar10_batches, write_cifar10_archive
from cs231kit.data.download import (
    ARCHIVE_NAME,
    CIFAR10_SIZE,
    CIFAR10_URL,
    DownloadError,
    download_cifar10,
    main,
)
from cs231kit.data.synthetic import make_synthetic_cifar10
from tests.http_fixture import ArchiveServer

pytestmark = pytest.mark.network

REPO_ROOT = Path(__file__).resolve().parents[1]
FAST = {"progress": False, "backoff": 0.001, "timeout": 5.0}  # tiny backoff keeps retries quick


class Archive:
    """A small CIFAR-format archive: its bytes, MD5, size, and the arrays inside it."""

    def __init__(self, path: Path, arrays: tuple[np.ndarray, ...]) -> None:
        self.payload = path.read_bytes()
        self.md5 = hashlib.md5(self.payload).hexdigest()
        self.size = len(self.payload)
        self.arrays = arrays


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    arrays = make_synthetic_cifar10(num_train=60, num_test=20, seed=3)
    path = tmp_path_factory.mktemp("archive") / ARCHIVE_NAME
    write_cifar10_archive(path, *arrays)
    return Archive(path, arrays)


@pytest.fixture
def server(archive: Archive):
    with ArchiveServer(archive.payload) as srv:
        yield srv


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def leftovers(data_dir: Path) -> list[str]:
    """Everything in the data directory (hidden temporary files included)."""
    return sorted(p.name for p in data_dir.iterdir()) if data_dir.exists() else []


def assert_matches(folder: Path, archive: Archive) -> None:
    loaded = load_cifar10_batches(folder)
    for got, expected in zip(loaded, archive.arrays, strict=True):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("progress", [False, True])
def test_download_verifies_extracts_and_loads(server, archive, data_dir, capsys, progress):
    folder = download_cifar10(
        data_dir, server.url, md5=archive.md5, size=archive.size, **{**FAST, "progress": progress}
    )
    assert folder == data_dir / FOLDER_NAME
    assert_matches(folder, archive)
    assert leftovers(data_dir) == [FOLDER_NAME]  # no archive, no temporary files
    assert len(server.requests) == 1
    assert server.requests[0]["headers"].get("Accept-Encoding") == "identity"
    err = capsys.readouterr().err
    assert (ARCHIVE_NAME in err) == progress  # tqdm's bar, on stderr, only when asked for


def test_wrong_md5_is_reported_and_nothing_is_kept(server, archive, data_dir):
    wrong = "0" * 32
    with pytest.raises(DownloadError) as info:
        download_cifar10(data_dir, server.url, md5=wrong, size=archive.size, **FAST)
    message = str(info.value)
    assert server.url in message and wrong in message and archive.md5 in message
    assert "CS231KIT_CIFAR10_URL" in message and str(data_dir) in message  # the next steps
    assert leftovers(data_dir) == []
    assert len(server.requests) == 1  # a wrong file is not fetched again


def test_wrong_size_announced_by_the_server_stops_at_once(server, archive, data_dir):
    with pytest.raises(DownloadError) as info:
        download_cifar10(data_dir, server.url, md5=archive.md5, size=archive.size + 1, **FAST)
    message = str(info.value)
    assert server.url in message
    assert f"{archive.size:,}" in message and f"{archive.size + 1:,}" in message
    assert leftovers(data_dir) == []
    assert len(server.requests) == 1


def test_body_longer_than_expected_without_length_header_is_refused(server, archive, data_dir):
    server.default = "no-length"
    with pytest.raises(DownloadError, match="wrong size") as info:
        download_cifar10(data_dir, server.url, md5=archive.md5, size=archive.size - 10, **FAST)
    assert f"{archive.size - 10:,}" in str(info.value)
    assert leftovers(data_dir) == []
    assert len(server.requests) == 1


@pytest.mark.parametrize("failures", [["truncate"], ["drop", "truncate-no-length", "503"]])
def test_broken_attempts_are_retried_until_one_succeeds(server, archive, data_dir, failures):
    server.plan = list(failures)
    folder = download_cifar10(data_dir, server.url, md5=archive.md5, size=archive.size, **FAST)
    assert_matches(folder, archive)
    assert len(server.requests) == len(failures) + 1
    assert leftovers(data_dir) == [FOLDER_NAME]


def test_a_broken_off_download_resumes_where_it_stopped(server, archive, data_dir):
    server.support_range = True
    server.plan = ["truncate"]
    folder = download_cifar10(data_dir, server.url, md5=archive.md5, size=archive.size, **FAST)
    assert_matches(folder, archive)
    assert "Range" not in server.requests[0]["headers"]
    assert server.requests[1]["headers"]["Range"] == f"bytes={archive.size // 2}-"


def test_a_stalled_server_times_out_and_is_retried(server, archive, data_dir):
    server.plan = ["stall"]
    server.stall_s = 1.5
    options = {**FAST, "timeout": 0.3}
    folder = download_cifar10(data_dir, server.url, md5=archive.md5, size=archive.size, **options)
    assert_matches(folder, archive)
    assert len(server.requests) == 2


def test_always_truncated_gives_a_clear_error_and_leaves_nothing(server, archive, data_dir):
    server.default = "truncate"
    with pytest.raises(DownloadError) as info:
        download_cifar10(
            data_dir, server.url, md5=archive.md5, size=archive.size, retries=2, **FAST
        )
    message = str(info.value)
    assert server.url in message and "3 attempts" in message
    assert f"{archive.size // 2:,} of {archive.size:,} bytes" in message
    assert leftovers(data_dir) == []
    assert len(server.requests) == 3


def test_404_is_not_retried(server, archive, data_dir):
    with pytest.raises(DownloadError) as info:
        download_cifar10(
            data_dir, server.url + ".missing", md5=archive.md5, size=archive.size, retries=3, **FAST
        )
    message = str(info.value)
    assert "404" in message and server.url + ".missing" in message and "not retried" in message
    assert len(server.requests) == 1
    assert leftovers(data_dir) == []


def test_503_is_retried_then_reported(server, archive, data_dir):
    server.default = "503"
    with pytest.raises(DownloadError) as info:
        download_cifar10(
            data_dir, server.url, md5=archive.md5, size=archive.size, retries=2, **FAST
        )
    message = str(info.value)
    assert "503" in message and "3 attempts" in message and server.url in message
    assert len(server.requests) == 3
    assert leftovers(data_dir) == []


# What each kind of failure must advise (and no other kind may): a wrong URL is not fixed by
# trying again, a file that is not the official archive is not fixed by downloading it again, and
# a flaky host is.
ADVICE = {
    "url": "the URL is wrong",
    "archive": "not the official CIFAR-10 archive",
    "retry": "try again later",
}


@pytest.mark.parametrize(
    ("behaviour", "change", "advice"),
    [
        ("404", {}, "url"),
        ("ok", {"md5": "0" * 32}, "archive"),
        ("ok", {"size": -1}, "archive"),  # the size the server announces is not the expected one
        ("no-length", {"size": -10}, "archive"),  # more bytes arrive than the archive has
        ("503", {}, "retry"),
        ("truncate", {}, "retry"),
        ("drop", {}, "retry"),
    ],
)
def test_the_advice_fits_the_failure(server, archive, data_dir, behaviour, change, advice):
    server.default = behaviour
    options = {"md5": archive.md5, "size": archive.size, "retries": 1, **FAST}
    if "md5" in change:
        options["md5"] = change["md5"]
    if "size" in change:
        options["size"] = archive.size + change["size"]
    with pytest.raises(DownloadError) as info:
        download_cifar10(data_dir, server.url, **options)
    message = str(info.value)
    for kind, phrase in ADVICE.items():
        assert (phrase in message) == (kind == advice), (kind, message)
    if advice == "archive":  # how to use a local copy of the official archive instead
        assert str(data_dir / ARCHIVE_NAME) in message and "MD5" in message
    if advice == "url":
        assert CIFAR10_URL in message  # the official URL, to compare with
    assert leftovers(data_dir) == []


def test_a_wrong_archive_put_there_by_hand_gets_the_local_copy_advice(archive, data_dir):
    data_dir.mkdir()
    (data_dir / ARCHIVE_NAME).write_bytes(archive.payload[:-1])
    with pytest.raises(DownloadError) as info:
        download_cifar10(data_dir, "http://127.0.0.1:9/unused", md5=archive.md5,
                         size=archive.size, **FAST)
    message = str(info.value)
    assert ADVICE["archive"] in message and ADVICE["retry"] not in message
    assert "was left alone: delete it" in message


def test_retry_notices_are_shown_without_the_progress_bar(server, archive, data_dir, capsys):
    server.plan = ["503"]
    download_cifar10(data_dir, server.url, md5=archive.md5, size=archive.size, **FAST)
    err = capsys.readouterr().err
    assert "Attempt 1 of 4 failed (the server answered HTTP 503" in err
    assert "retrying in" in err
    assert "%|" not in err  # no progress bar


def test_cli_no_progress_still_announces_retries(server, data_dir, capsys):
    server.plan = ["503"]  # then the small archive, which has the wrong size for the CLI: exit 1
    status = main(["--data-dir", str(data_dir), "--url", server.url, "--no-progress"])
    err = capsys.readouterr().err
    assert status == 1
    assert "Attempt 1 of 4 failed (the server answered HTTP 503" in err
    assert "%|" not in err
    assert len(server.requests) == 2


def test_present_data_is_not_downloaded_again(server, archive, data_dir):
    first = download_cifar10(data_dir, server.url, md5=archive.md5, size=archive.size, **FAST)
    stamp = (first / "data_batch_1").stat().st_mtime_ns
    second = download_cifar10(data_dir, server.url, md5=archive.md5, size=archive.size, **FAST)
    assert second == first
    assert len(server.requests) == 1  # the second call asked the server nothing
    assert (first / "data_batch_1").stat().st_mtime_ns == stamp


def test_an_incomplete_folder_is_reported_and_left_alone(server, archive, data_dir):
    folder = data_dir / FOLDER_NAME
    folder.mkdir(parents=True)
    (folder / "data_batch_1").write_bytes(b"mine")
    with pytest.raises(DownloadError, match="incomplete") as info:
        download_cifar10(data_dir, server.url, md5=archive.md5, size=archive.size, **FAST)
    assert "data_batch_2" in str(info.value)
    assert (folder / "data_batch_1").read_bytes() == b"mine"
    assert server.requests == []


def test_an_archive_put_there_by_hand_is_verified_and_extracted(server, archive, data_dir):
    data_dir.mkdir()
    (data_dir / ARCHIVE_NAME).write_bytes(archive.payload)
    folder = download_cifar10(data_dir, server.url, md5=archive.md5, size=archive.size, **FAST)
    assert_matches(folder, archive)
    assert server.requests == []
    assert leftovers(data_dir) == sorted([ARCHIVE_NAME, FOLDER_NAME])  # the user's file stays


def test_a_corrupted_archive_put_there_by_hand_is_not_extracted(server, archive, data_dir):
    data_dir.mkdir()
    damaged = bytearray(archive.payload)
    damaged[len(damaged) // 2] ^= 0xFF
    (data_dir / ARCHIVE_NAME).write_bytes(bytes(damaged))
    with pytest.raises(DownloadError, match="MD5") as info:
        download_cifar10(data_dir, server.url, md5=archive.md5, size=archive.size, **FAST)
    assert hashlib.md5(bytes(damaged)).hexdigest() in str(info.value)
    assert leftovers(data_dir) == [ARCHIVE_NAME]
    assert server.requests == []


def _tar_gz(entries: list[tarfile.TarInfo], payload: bytes = b"x") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info in entries:
            tar.addfile(info, io.BytesIO(payload) if info.isfile() else None)
    return buffer.getvalue()


def _file(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = 1
    return info


def _link(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info


@pytest.mark.parametrize(
    "entries",
    [
        [_file(f"{FOLDER_NAME}/../escaped")],
        [_file("/tmp/absolute-escape")],
        [_link(f"{FOLDER_NAME}/data_batch_1", "/etc/passwd")],
        [_file("somewhere-else/data_batch_1")],
    ],
    ids=["dot-dot", "absolute", "symlink", "other-folder"],
)
def test_unsafe_archive_entries_are_refused(server, data_dir, tmp_path, entries):
    server.payload = _tar_gz(entries)
    md5 = hashlib.md5(server.payload).hexdigest()
    with pytest.raises(DownloadError, match="unexpected entry"):
        download_cifar10(data_dir, server.url, md5=md5, size=len(server.payload), **FAST)
    assert leftovers(data_dir) == []
    assert not (tmp_path / "escaped").exists()


def test_an_unreadable_archive_fails_cleanly_when_checks_are_off(server, data_dir):
    server.payload = b"this is not a gzip file" * 100
    with pytest.raises(DownloadError, match="could not extract"):
        download_cifar10(data_dir, server.url, md5=None, size=None, **FAST)
    assert leftovers(data_dir) == []


def test_an_archive_without_the_cifar_files_is_refused(server, data_dir):
    server.payload = _tar_gz([_file(f"{FOLDER_NAME}/data_batch_1")])
    with pytest.raises(DownloadError, match="not a complete CIFAR-10 archive") as info:
        download_cifar10(data_dir, server.url, md5=None, size=None, **FAST)
    assert "test_batch" in str(info.value)
    assert leftovers(data_dir) == []


def test_an_interrupted_download_leaves_nothing(server, archive, data_dir):
    server.default = "drip"  # about 1 KiB per 20 ms: the download takes seconds
    timer = threading.Timer(0.3, _thread.interrupt_main)  # a real Ctrl-C, mid-download
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            download_cifar10(data_dir, server.url, md5=archive.md5, size=archive.size, **FAST)
    finally:
        timer.cancel()
        timer.join()
    assert leftovers(data_dir) == []


def test_environment_variables_choose_the_data_dir_and_the_mirror(
    server, archive, data_dir, monkeypatch
):
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(data_dir))
    monkeypatch.setenv(paths.URL_ENV, server.url)
    folder = download_cifar10(md5=archive.md5, size=archive.size, **FAST)
    assert folder == data_dir / FOLDER_NAME
    assert_matches(folder, archive)
    assert len(server.requests) == 1


def test_default_data_dir_is_the_checkout_datasets_folder(monkeypatch, tmp_path):
    monkeypatch.delenv(paths.DATA_DIR_ENV, raising=False)
    assert paths.default_data_dir() == REPO_ROOT / "datasets"
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(tmp_path))
    assert paths.default_data_dir() == tmp_path


def test_cli_reports_a_failure_with_exit_status_1(server, data_dir, capsys):
    # The command line checks the official size, which the small archive does not have.
    status = main(["--data-dir", str(data_dir), "--url", server.url, "--no-progress"])
    out, err = capsys.readouterr()
    assert status == 1
    assert err.startswith("error: ") and server.url in err and f"{CIFAR10_SIZE:,}" in err
    assert out == ""
    assert leftovers(data_dir) == []


def test_cli_succeeds_at_once_when_the_data_is_there(server, archive, data_dir, capsys):
    download_cifar10(data_dir, server.url, md5=archive.md5, size=archive.size, **FAST)
    status = main(["--data-dir", str(data_dir), "--url", server.url])
    assert status == 0
    assert capsys.readouterr().out.strip() == f"CIFAR-10 is ready in {data_dir / FOLDER_NAME}"
    assert len(server.requests) == 1


def test_download_script_runs(tmp_path):
    script = REPO_ROOT / "datasets" / "get_cifar10.py"
    result = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "--data-dir" in result.stdout and "--url" in result.stdout


def test_bad_arguments_are_refused(data_dir):
    with pytest.raises(ValueError, match="retries"):
        download_cifar10(data_dir, "http://127.0.0.1:9/x", retries=-1)
    assert not data_dir.exists()
