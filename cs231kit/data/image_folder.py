"""Load an image-folder copy of a dataset: one sub-folder of 32x32 images per class.

The source may be a folder or a ``.tar`` / ``.tar.gz`` archive of one, for example::

    train/airplane/0000.jpg
    train/airplane/0001.jpg
    ...
    train/truck/4999.jpg

The label of an image is the name of the folder it sits in. Decoding tens of thousands of JPEGs
takes seconds, so the decoded arrays are cached as an ``.npz`` file in ``<data dir>/cache``; the
cache is keyed by the source's size and modification time (for a folder: of every image in it), so
a changed source is decoded again.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import secrets
import tarfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image

from cs231kit.data.cifar10 import CIFAR10_CLASSES
from cs231kit.data.paths import resolve_data_dir

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".ppm", ".webp")
"""File name endings read as images (any case); other files are ignored."""

_CACHE_VERSION = "1"  # bump when the cached layout changes, so old caches are ignored


def load_image_folder(
    path: str | os.PathLike[str],
    *,
    data_dir: str | os.PathLike[str] | None = None,
    cache: bool = True,
    verbose: bool = False,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Load every image of an image-folder copy, in a fixed order.

    Inputs:
    - path: a folder with one sub-folder per class, or a ``.tar`` / ``.tar.gz`` of such a folder.
      All images must be 32x32; they are converted to RGB.
    - data_dir: the data directory whose ``cache/`` sub-folder holds the decoded arrays
      (default: see ``cs231kit.data.paths``).
    - cache: read and write the ``.npz`` cache (False: always decode).
    - verbose: print what is being decoded or read from the cache (on stdout).

    Returns a tuple of:
    - X: uint8 images, shape (N, 32, 32, 3).
    - y: int64 labels, shape (N,); ``y[i]`` indexes ``class_names``.
    - class_names: list of C folder names. In CIFAR-10 order when the folders are exactly the ten
      CIFAR-10 classes, else sorted alphabetically.
    Images are ordered by label, then by file name.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no image folder or archive at {path}")
    if not path.is_dir() and not tarfile.is_tarfile(path):
        raise ValueError(f"{path} is neither a folder nor a .tar/.tar.gz archive of one")

    cache_file = _cache_file(path, resolve_data_dir(data_dir) / "cache") if cache else None
    if cache_file is not None:
        cached = _read_cache(cache_file)
        if cached is not None:
            if verbose:
                print(f"Read {len(cached[0]):,} decoded images from the cache {cache_file}")
            return cached

    if verbose:
        print(f"Decoding the images in {path}" + (" (once: the result is cached)" if cache else ""))
    X, y, class_names = _decode_all(path)
    if cache_file is not None:
        try:
            _write_cache(cache_file, X, y, class_names)
        except OSError as err:  # a read-only data directory costs speed, not correctness
            if verbose:
                print(f"Could not write the cache {cache_file} ({err}); continuing without it.")
    return X, y, class_names


def _image_entries(path: Path) -> Iterator[tuple[str, bytes]]:
    """Yield (relative POSIX path, file bytes) for every image file under ``path``."""

    def wanted(name: str) -> bool:
        base = PurePosixPath(name).name
        # Hidden files include macOS "._x.jpg" resource forks, which are not images.
        return not base.startswith(".") and base.lower().endswith(IMAGE_SUFFIXES)

    if path.is_dir():
        for file in sorted(path.rglob("*")):
            rel = file.relative_to(path).as_posix()
            if file.is_file() and wanted(rel):
                yield rel, file.read_bytes()
        return
    with tarfile.open(path, "r:*") as tar:
        for member in tar:  # streamed: a .tar.gz is read once, front to back
            if member.isfile() and wanted(member.name):
                handle = tar.extractfile(member)
                if handle is not None:
                    yield member.name, handle.read()


def _decode(data: bytes, name: str) -> np.ndarray:
    """Decode one image file's bytes into a uint8 array (32, 32, 3)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.size != (32, 32):
                width, height = image.size
                raise ValueError(f"{name} is {width}x{height}; every image must be 32x32")
            rgb = image if image.mode == "RGB" else image.convert("RGB")
            return np.asarray(rgb, dtype=np.uint8)  # decodes the pixels
    except OSError as err:
        raise ValueError(f"cannot decode the image {name}: {err}") from err


def _decode_all(path: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Decode every image under ``path``; see ``load_image_folder`` for the result."""
    images: list[np.ndarray] = []
    keys: list[tuple[str, str]] = []  # (class folder, relative path), for labels and ordering
    class_parent: dict[str, str] = {}
    depth = None
    for rel, data in _image_entries(path):
        parts = PurePosixPath(rel).parts
        if len(parts) < 2:
            raise ValueError(f"{path}: the image {rel} is not inside a class folder")
        if depth is not None and len(parts) != depth:
            raise ValueError(
                f"{path}: images sit at different depths ({rel}); expected one folder per class"
            )
        depth = len(parts)
        parent = "/".join(parts[:-1])
        if class_parent.setdefault(parts[-2], parent) != parent:
            raise ValueError(
                f"{path}: class {parts[-2]!r} appears in both {class_parent[parts[-2]]}/ and "
                f"{parent}/; point at a folder that holds one split only"
            )
        images.append(_decode(data, rel))
        keys.append((parts[-2], rel))
    if not images:
        raise ValueError(
            f"{path} holds no images (looked for {', '.join(IMAGE_SUFFIXES)} in class folders)"
        )

    names = set(class_parent)
    class_names = list(CIFAR10_CLASSES) if names == set(CIFAR10_CLASSES) else sorted(names)
    index = {name: k for k, name in enumerate(class_names)}
    labels = np.array([index[cls] for cls, _ in keys], dtype=np.int64)
    # Sort by label, then file path: the result does not depend on the archive's member order.
    order = sorted(range(len(keys)), key=lambda i: (labels[i], keys[i][1]))
    X = np.stack([images[i] for i in order])
    return X, labels[order], class_names


def _cache_file(path: Path, cache_dir: Path) -> Path:
    """Name the cache file of ``path`` after its size and mtime (every image's, for a folder)."""
    source = path.resolve()
    digest = hashlib.sha256(f"v{_CACHE_VERSION}|{source}".encode())
    if source.is_dir():
        for file in sorted(source.rglob("*")):
            if file.is_file():
                stat = file.stat()
                digest.update(
                    f"|{file.relative_to(source)}:{stat.st_size}:{stat.st_mtime_ns}".encode()
                )
    else:
        stat = source.stat()
        digest.update(f"|{stat.st_size}:{stat.st_mtime_ns}".encode())
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", source.name)
    return cache_dir / f"{stem}-{digest.hexdigest()[:16]}.npz"


def _read_cache(cache_file: Path) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
    """Return the cached (X, y, class_names), or None if absent or unreadable."""
    if not cache_file.is_file():
        return None
    try:
        with np.load(cache_file, allow_pickle=False) as stored:
            X, y, names = stored["X"], stored["y"], stored["class_names"]
    except (OSError, ValueError, KeyError):
        return None  # a damaged cache is simply rebuilt
    if X.dtype != np.uint8 or X.ndim != 4 or X.shape[1:] != (32, 32, 3) or y.shape != X.shape[:1]:
        return None
    return X, y.astype(np.int64), [str(name) for name in names]


def _write_cache(cache_file: Path, X: np.ndarray, y: np.ndarray, class_names: list[str]) -> None:
    """Write the cache atomically: a temporary file in the same folder, then a rename."""
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    # A unique name opened normally (not tempfile's owner-only mode): others may read the cache.
    tmp = cache_file.with_name(f".{cache_file.name}.{os.getpid()}.{secrets.token_hex(4)}.part")
    try:
        with open(tmp, "xb") as f:
            np.savez(f, X=X, y=y, class_names=np.array(class_names))
        os.replace(tmp, cache_file)
    finally:
        tmp.unlink(missing_ok=True)
