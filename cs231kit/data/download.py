"""Download CIFAR-10: verified, retried, and atomic.

``download_cifar10()`` fetches ``cifar-10-python.tar.gz`` and extracts it to
``<data dir>/cifar-10-batches-py``. The guarantees:

- **Verified**: the archive's size and MD5 are checked after the download; an archive that fails
  the check is never extracted.
- **Retried**: network errors, dropped connections, truncated bodies and server errors (5xx) get
  another attempt after a short, growing pause; a broken-off download resumes where it stopped
  when the server supports it. A 404 (or any other 4xx) is final: another attempt would get the
  same answer.
- **Atomic**: the archive goes to a temporary file and is extracted into a temporary folder in
  the data directory; only a complete, verified folder is renamed into place. Whatever fails
  (or Ctrl-C), the temporary files are removed: no partial archive, no partial dataset.

Command line: ``cs231kit-download-cifar10 [--data-dir DIR] [--url URL] [--no-progress]``
(or ``python datasets/get_cifar10.py``).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import shutil
import sys
import tarfile
import tempfile
import time
import zlib
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import requests
import urllib3
from tqdm import tqdm

from cs231kit.data.cifar10 import FOLDER_NAME, missing_cifar10_files
from cs231kit.data.paths import DATA_DIR_ENV, URL_ENV, default_data_dir, resolve_data_dir

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_SIZE = 170_498_071
ARCHIVE_NAME = "cifar-10-python.tar.gz"

_CHUNK = 1 << 16

# Errors of the network or the server's connection (never of our own disk): worth a retry.
_NETWORK_ERRORS = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    ConnectionError,
    TimeoutError,
)


class DownloadError(RuntimeError):
    """The CIFAR-10 download or its verification failed; the message says why and what to do."""


class _Retryable(Exception):
    """A failed attempt that another attempt may fix (network trouble, 5xx, short body)."""


def _local_copy(data_dir: Path, md5: str | None, size: int | None) -> str:
    """How to use a copy of the official archive that is already on disk (one sentence)."""
    checks = []
    if size is not None:
        checks.append(f"{size:,} bytes")
    if md5 is not None:
        checks.append(f"MD5 {md5.lower()}")
    expected = f" ({', '.join(checks)})" if checks else ""
    return (
        f"If you have the official {ARCHIVE_NAME}{expected} (from {CIFAR10_URL}, a course share "
        f"or another machine), copy it to {data_dir / ARCHIVE_NAME} and run the download again: "
        "it is then verified and extracted, not fetched."
    )


def _advice_retry(data_dir: Path, md5: str | None, size: int | None) -> str:
    """What to do when the host failed (5xx, no answer, dropped connection) on every attempt."""
    return (
        "What to do: try again later (the host fails at times; a run that breaks off resumes "
        f"where it stopped when the server allows it); or set {URL_ENV} to a mirror of "
        f"{ARCHIVE_NAME}. {_local_copy(data_dir, md5, size)}"
    )


def _advice_wrong_url(
    url: str, status: int, data_dir: Path, md5: str | None, size: int | None
) -> str:
    """What to do when the server refused the URL (a 4xx answer): trying again cannot help."""
    problem = (
        "the URL is wrong: the server has nothing there"
        if status in (404, 410)
        else "the URL is wrong or the server refuses it"
    )
    return (
        f"What to do: {problem}, and another attempt would get the same answer. Check {url} for "
        f"typos; if it came from --url or {URL_ENV}, point it at a mirror that serves "
        f"{ARCHIVE_NAME}, or unset {URL_ENV} to use the official {CIFAR10_URL}. "
        f"{_local_copy(data_dir, md5, size)}"
    )


def _advice_not_official(data_dir: Path, md5: str | None, size: int | None) -> str:
    """What to do when the file is not the expected archive: downloading it again cannot help."""
    return (
        "What to do: this file is not the official CIFAR-10 archive, and downloading it again "
        f"would get the same file. Set {URL_ENV} (or --url) to a mirror that serves the official "
        f"{ARCHIVE_NAME}. {_local_copy(data_dir, md5, size)}"
    )


def download_cifar10(
    data_dir: str | os.PathLike[str] | None = None,
    url: str | None = None,
    *,
    md5: str | None = CIFAR10_MD5,
    size: int | None = CIFAR10_SIZE,
    retries: int = 3,
    timeout: float = 30.0,
    progress: bool = True,
    backoff: float = 1.0,
) -> Path:
    """Download and extract CIFAR-10 unless it is already there; return its folder.

    Inputs:
    - data_dir: where the data goes; default ``$CS231KIT_DATA_DIR``, else the repository's
      ``datasets/`` folder in a source checkout, else ``~/.cache/cs231kit``.
    - url: where to fetch the archive; default ``$CS231KIT_CIFAR10_URL``, else the official URL.
    - md5, size: what the archive must hash to and weigh (bytes); None skips that check.
    - retries: how many more attempts after a failed one (at most ``retries + 1`` requests).
    - timeout: seconds to wait for the server to connect or to send the next bytes.
    - progress: show a progress bar (on stderr); retry notices are shown either way.
    - backoff: seconds to wait before the first retry; the wait doubles each time.

    If ``<data_dir>/cifar-10-python.tar.gz`` exists (downloaded by hand), it is verified and
    extracted instead of downloading.

    Returns:
    - the Path of the extracted ``cifar-10-batches-py`` folder.

    Raises DownloadError (naming the URL, the expected and actual size or MD5, and what to do)
    when the data cannot be had; it then leaves nothing behind in ``data_dir``.
    """
    if retries < 0 or timeout <= 0 or backoff < 0:
        raise ValueError("retries and backoff must be >= 0 and timeout > 0")
    data_dir = resolve_data_dir(data_dir)
    url = url or os.environ.get(URL_ENV, "").strip() or CIFAR10_URL
    target = data_dir / FOLDER_NAME
    if target.is_dir():
        missing = missing_cifar10_files(target)
        if not missing:
            return target
        raise DownloadError(
            f"{target} exists but is incomplete ({', '.join(missing)} missing). It was not made "
            "by this downloader, so it is left alone: delete it and run the download again."
        )

    data_dir.mkdir(parents=True, exist_ok=True)
    by_hand = data_dir / ARCHIVE_NAME
    if by_hand.is_file():
        try:
            _verify(by_hand, str(by_hand), md5=md5, size=size, data_dir=data_dir)
        except DownloadError as err:
            raise DownloadError(f"{err}\n(The file {by_hand} was left alone: delete it.)") from None
        _extract_into_place(by_hand, str(by_hand), data_dir)
        return target

    # The temporary archive sits in data_dir, a dot-file, so that nothing half-written ever
    # carries the real archive's name.
    fd, name = tempfile.mkstemp(dir=data_dir, prefix=".cifar-10-", suffix=".tar.gz.part")
    os.close(fd)
    partial = Path(name)
    try:
        attempts = retries + 1
        for attempt in range(1, attempts + 1):
            try:
                _fetch(
                    url,
                    partial,
                    md5=md5,
                    size=size,
                    timeout=timeout,
                    progress=progress,
                    data_dir=data_dir,
                )
                break
            except _Retryable as err:
                if attempt == attempts:
                    raise DownloadError(
                        f"could not download {url} ({_attempts(attempts)} failed; the last: "
                        f"{err}).\n{_advice_retry(data_dir, md5, size)}"
                    ) from err
                wait = backoff * 2 ** (attempt - 1)
                # Always shown, progress bar or not: a download that seems to hang while it
                # waits should say why.
                print(
                    f"Attempt {attempt} of {attempts} failed ({err}); retrying in {wait:g} s.",
                    file=sys.stderr,
                )
                time.sleep(wait)
        _verify(partial, url, md5=md5, size=size, data_dir=data_dir)
        _extract_into_place(partial, url, data_dir)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _fetch(
    url: str,
    dest: Path,
    *,
    md5: str | None,
    size: int | None,
    timeout: float,
    progress: bool,
    data_dir: Path,
) -> None:
    """Make one attempt at downloading ``url`` into ``dest``, resuming from what ``dest`` holds.

    Raises _Retryable for failures worth another attempt, DownloadError for final ones.
    """
    have = dest.stat().st_size
    # "identity": the raw bytes of the .tar.gz, never a re-compressed transfer.
    headers = {"Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    got, total, answered = 0, None, False
    try:
        with requests.get(url, headers=headers, stream=True, timeout=timeout) as response:
            answered = True
            status = response.status_code
            if status >= 500:
                raise _Retryable(f"the server answered HTTP {status} {response.reason}")
            content_range = response.headers.get("Content-Range", "")
            if status == 206 and have and content_range.startswith(f"bytes {have}-"):
                mode = "ab"  # the server sends the rest: resume
            elif status == 200:
                have, mode = 0, "wb"  # the whole file (again)
            else:
                # A 4xx says the request itself is wrong; anything else unexpected here (a 206
                # that does not continue our bytes, a 1xx/3xx) is not fixed by asking again either.
                raise DownloadError(
                    f"could not download {url}: the server answered HTTP {status} "
                    f"{response.reason} (not retried: another attempt would get the same "
                    f"answer).\n{_advice_wrong_url(url, status, data_dir, md5, size)}"
                )
            length = response.headers.get("Content-Length")
            total = have + int(length) if length is not None and length.isdigit() else None
            if size is not None and total is not None and total != size:
                raise DownloadError(
                    f"{url} has the wrong size: the server reports {total:,} bytes, expected "
                    f"{size:,} bytes. It is not the CIFAR-10 archive (or the expected size is "
                    f"wrong); nothing was downloaded.\n{_advice_not_official(data_dir, md5, size)}"
                )
            got = have
            with (
                open(dest, mode) as f,
                tqdm(
                    total=size or total,
                    initial=have,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=ARCHIVE_NAME,
                    disable=not progress,
                ) as bar,
            ):
                for chunk in response.raw.stream(_CHUNK, decode_content=False):
                    f.write(chunk)
                    got += len(chunk)
                    bar.update(len(chunk))
                    if size is not None and got > size:
                        raise DownloadError(
                            f"{url} has the wrong size: more than the expected {size:,} bytes "
                            f"arrived (at least {got:,}); download stopped."
                            f"\n{_advice_not_official(data_dir, md5, size)}"
                        )
    except _NETWORK_ERRORS as err:
        if not answered:
            raise _Retryable(f"no answer from the server: {_reason(err)}") from err
        so_far = f"{got:,} of {total:,} bytes" if total is not None else f"{got:,} bytes"
        raise _Retryable(f"the connection failed after {so_far}: {_reason(err)}") from err
    expected = total if total is not None else size
    if expected is not None and got < expected:
        raise _Retryable(f"the connection closed after {got:,} of {expected:,} bytes")


def _reason(err: BaseException) -> str:
    """The innermost useful message of a requests/urllib3 error (they nest several deep)."""
    inner: object = err.args[0] if err.args else err
    inner = getattr(inner, "reason", inner)  # urllib3's MaxRetryError holds the real cause
    if isinstance(inner, BaseException) and inner.args and isinstance(inner.args[0], str):
        return inner.args[0].rstrip(".")
    return str(inner).rstrip(".")


def _attempts(n: int) -> str:
    return "1 attempt" if n == 1 else f"{n} attempts"


def _md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)  # a checksum, not security: allowed under FIPS
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verify(path: Path, source: str, *, md5: str | None, size: int | None, data_dir: Path) -> None:
    """Raise DownloadError unless the archive at ``path`` has the expected size and MD5."""
    actual_size = path.stat().st_size
    if size is not None and actual_size != size:
        raise DownloadError(
            f"{source} has the wrong size: {actual_size:,} bytes, expected {size:,} bytes. "
            f"It was not extracted.\n{_advice_not_official(data_dir, md5, size)}"
        )
    if md5 is not None:
        actual_md5 = _md5_of(path)
        if actual_md5 != md5.lower():
            raise DownloadError(
                f"{source} is corrupted or not the CIFAR-10 archive: its MD5 is {actual_md5}, "
                f"expected {md5.lower()} ({actual_size:,} bytes). It was not extracted."
                f"\n{_advice_not_official(data_dir, md5, size)}"
            )


def _check_members(members: list[tarfile.TarInfo], source: str) -> None:
    """Refuse archives with anything but plain files and folders under ``cifar-10-batches-py/``.

    Why: a crafted archive could write outside the data directory (``../x``, ``/etc/x``, links).
    """
    for member in members:
        parts = PurePosixPath(member.name).parts
        unsafe = (
            member.name.startswith("/")
            or "\\" in member.name
            or ".." in parts
            or not (member.isfile() or member.isdir())
            or not parts
            or parts[0] != FOLDER_NAME
        )
        if unsafe:
            raise DownloadError(
                f"{source} holds an unexpected entry {member.name!r} (only files under "
                f"{FOLDER_NAME}/ are allowed); it was not extracted. Use the official archive."
            )


def _extract_into_place(archive: Path, source: str, data_dir: Path) -> None:
    """Extract ``archive`` into a temporary folder, check it, and rename it into place."""
    target = data_dir / FOLDER_NAME
    staging = Path(tempfile.mkdtemp(dir=data_dir, prefix=".cifar-10-extract-"))
    try:
        try:
            with tarfile.open(archive, "r:gz") as tar:
                members = tar.getmembers()
                _check_members(members, source)
                if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12 / 3.11.4: belt and braces
                    tar.extractall(staging, members=members, filter="data")
                else:
                    tar.extractall(staging, members=members)  # members checked above
        except (tarfile.TarError, EOFError, zlib.error, OSError) as err:
            raise DownloadError(f"could not extract {source}: {err}. Nothing was kept.") from err
        missing = missing_cifar10_files(staging / FOLDER_NAME)
        if missing:
            raise DownloadError(
                f"{source} is not a complete CIFAR-10 archive: {', '.join(missing)} missing. "
                "Nothing was kept."
            )
        try:
            os.replace(staging / FOLDER_NAME, target)  # a rename: the folder appears whole
        except OSError as err:
            if missing_cifar10_files(target):  # not a concurrent download that finished first
                raise DownloadError(f"could not move the data into {target}: {err}") from err
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: download CIFAR-10. Returns the exit status (0 ok, 1 failed, 130 Ctrl-C)."""
    parser = argparse.ArgumentParser(
        prog="cs231kit-download-cifar10",
        description=(
            f"Download CIFAR-10 ({ARCHIVE_NAME}, {CIFAR10_SIZE:,} bytes), check its size and MD5, "
            f"and extract it to <data dir>/{FOLDER_NAME}. Does nothing if it is already there."
        ),
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"where the data goes (default: ${DATA_DIR_ENV} if set, else {default_data_dir()})",
    )
    parser.add_argument(
        "--url",
        default=None,
        help=f"a mirror of {ARCHIVE_NAME} (default: ${URL_ENV} if set, else {CIFAR10_URL})",
    )
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar (notices of failed attempts are still shown)",
    )
    args = parser.parse_args(argv)
    try:
        folder = download_cifar10(args.data_dir, args.url, progress=not args.no_progress)
    except DownloadError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: nothing was kept; run the command again.", file=sys.stderr)
        return 130
    print(f"CIFAR-10 is ready in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
