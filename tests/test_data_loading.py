"""Loading CIFAR-10 batches and image-folder copies, and get_cifar10_data's splits."""

from __future__ import annotations

import os
import pickle
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from cs231kit.data import paths
from cs231kit.data.cifar10 import (
    CIFAR10_CLASSES,
    FOLDER_NAME,
    load_cifar10_batch,
    load_cifar10_batches,
    write_cifar10_archive,
)
from cs231kit.data.image_folder import load_image_folder
from cs231kit.data.prepare import get_cifar10_data
from cs231kit.data.synthetic import make_synthetic_cifar10

REPO_ROOT = Path(__file__).resolve().parents[1]
REAL_JPEG = REPO_ROOT.parent / "shared" / "data" / "cifar10-train-jpeg.tar.gz"


@pytest.fixture(autouse=True)
def no_data_env(monkeypatch):
    """Tests choose their data explicitly; the caller's environment must not leak in."""
    for name in (paths.DATA_DIR_ENV, paths.JPEG_ENV, paths.URL_ENV):
        monkeypatch.delenv(name, raising=False)


def extract(archive: Path, into: Path) -> Path:
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(into, filter="data")
        else:
            tar.extractall(into)
    return into / FOLDER_NAME


def random_images(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, n)


# --- the official batch format -------------------------------------------------------------------


def test_archive_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    X_train, y_train = random_images(rng, 23)  # not a multiple of 5: uneven batches
    X_test, y_test = random_images(rng, 7)
    write_cifar10_archive(tmp_path / "a.tar.gz", X_train, y_train, X_test, y_test)
    loaded = load_cifar10_batches(extract(tmp_path / "a.tar.gz", tmp_path))
    assert [a.dtype for a in loaded] == [np.uint8, np.int64, np.uint8, np.int64]
    assert loaded[0].shape == (23, 32, 32, 3) and loaded[2].shape == (7, 32, 32, 3)
    for got, expected in zip(loaded, (X_train, y_train, X_test, y_test), strict=True):
        np.testing.assert_array_equal(got, expected)


@settings(max_examples=15, deadline=None)
@given(n_train=st.integers(0, 12), n_test=st.integers(0, 6), seed=st.integers(0, 2**32 - 1))
def test_archive_round_trip_property(n_train, n_test, seed):
    rng = np.random.default_rng(seed)
    arrays = (*random_images(rng, n_train), *random_images(rng, n_test))
    with tempfile.TemporaryDirectory() as tmp:
        write_cifar10_archive(Path(tmp) / "a.tar.gz", *arrays)
        loaded = load_cifar10_batches(extract(Path(tmp) / "a.tar.gz", Path(tmp)))
    for got, expected in zip(loaded, arrays, strict=True):
        np.testing.assert_array_equal(got, expected)


def test_batch_rows_are_channel_major(tmp_path):
    """Check the written layout against the format description, not against our own reader."""
    rng = np.random.default_rng(1)
    X, y = random_images(rng, 5)
    folder = extract(write_cifar10_archive(tmp_path / "a.tar.gz", X, y, X, y), tmp_path)
    with open(folder / "test_batch", "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    rows = batch[b"data"]
    assert rows.shape == (5, 3072) and rows.dtype == np.uint8
    assert batch[b"labels"] == [int(v) for v in y]
    for channel in range(3):  # R, then G, then B, each a row-major 32x32 image
        np.testing.assert_array_equal(
            rows[:, channel * 1024 : (channel + 1) * 1024], X[..., channel].reshape(5, -1)
        )
    with open(folder / "batches.meta", "rb") as f:
        assert pickle.load(f, encoding="bytes")[b"label_names"] == [
            name.encode() for name in CIFAR10_CLASSES
        ]


def test_python2_style_batches_load(tmp_path):
    """The official files: str keys, arrays pickled by NumPy 1 (module numpy.core.multiarray)."""
    rng = np.random.default_rng(2)
    X, y = random_images(rng, 4)
    rows = np.ascontiguousarray(X.transpose(0, 3, 1, 2).reshape(4, -1))
    payload = pickle.dumps({"data": rows, "labels": [int(v) for v in y]}, protocol=2)
    payload = payload.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert b"numpy.core.multiarray" in payload  # the NumPy 1 module name is really in there
    (tmp_path / "batch").write_bytes(payload)
    X_loaded, y_loaded = load_cifar10_batch(tmp_path / "batch")
    np.testing.assert_array_equal(X_loaded, X)
    np.testing.assert_array_equal(y_loaded, y)


class _Sneaky:
    def __reduce__(self):
        return (os.getcwd, ())


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    (tmp_path / "batch").write_bytes(pickle.dumps({"data": _Sneaky(), "labels": []}))
    with pytest.raises(ValueError, match=r"refusing to load (posix|nt)\.getcwd"):
        load_cifar10_batch(tmp_path / "batch")


def test_malformed_batches_are_reported(tmp_path):
    (tmp_path / "short").write_bytes(
        pickle.dumps({b"data": np.zeros((3, 100), np.uint8), b"labels": [0, 1, 2]})
    )
    with pytest.raises(ValueError, match=r"\(N, 3072\)"):
        load_cifar10_batch(tmp_path / "short")
    (tmp_path / "labels").write_bytes(
        pickle.dumps({b"data": np.zeros((3, 3072), np.uint8), b"labels": [0, 1]})
    )
    with pytest.raises(ValueError, match="3 images but 2 labels"):
        load_cifar10_batch(tmp_path / "labels")
    (tmp_path / "junk").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="not a readable CIFAR-10 batch"):
        load_cifar10_batch(tmp_path / "junk")


def test_missing_or_incomplete_folders_say_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="cs231kit-download-cifar10"):
        load_cifar10_batches(tmp_path / "nowhere")
    folder = extract(
        write_cifar10_archive(tmp_path / "a.tar.gz", *make_synthetic_cifar10(10, 5)), tmp_path
    )
    (folder / "data_batch_4").unlink()
    with pytest.raises(FileNotFoundError, match="incomplete: data_batch_4 missing"):
        load_cifar10_batches(folder)


# --- image-folder copies -------------------------------------------------------------------------


def flat_image(label: int, index: int) -> np.ndarray:
    """A flat-colour image that encodes its label and index (JPEG keeps flat colours closely)."""
    return np.broadcast_to(np.array([25 * label, 8 * index, 200], np.uint8), (32, 32, 3)).copy()


def write_folder(root: Path, classes, per_class: int, suffix: str = ".jpg") -> None:
    for label, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for index in reversed(range(per_class)):  # written in reverse: order must not matter
            Image.fromarray(flat_image(label, index)).save(root / name / f"{index:04d}{suffix}")


def tar_folder(root: Path, archive: Path) -> Path:
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root, arcname=root.name)
    return archive


@pytest.fixture
def jpeg_copy(tmp_path):
    """A small image-folder copy of the ten CIFAR-10 classes, as a folder and as a .tar.gz."""
    folder = tmp_path / "copy" / "train"
    write_folder(folder, CIFAR10_CLASSES[::-1], per_class=3)  # created in reverse class order
    (folder / "cat" / "._0000.jpg").write_bytes(b"macOS resource fork, not an image")
    (folder / "cat" / "notes.txt").write_text("not an image either")
    return folder, tar_folder(folder, tmp_path / "copy.tar.gz")


@pytest.mark.parametrize("kind", ["folder", "tar.gz"])
def test_image_folder_loads_in_cifar_order(jpeg_copy, tmp_path, kind):
    source = jpeg_copy[0] if kind == "folder" else jpeg_copy[1]
    X, y, class_names = load_image_folder(source, data_dir=tmp_path / "data")
    assert class_names == list(CIFAR10_CLASSES)
    assert X.shape == (30, 32, 32, 3) and X.dtype == np.uint8 and y.dtype == np.int64
    np.testing.assert_array_equal(y, np.repeat(np.arange(10), 3))
    # The folders were written in reverse class order, so folder k got colour code 9 - k.
    expected = np.stack([flat_image(9 - label, index) for label in range(10) for index in range(3)])
    assert np.abs(X.astype(int) - expected).max() <= 3  # JPEG is lossy, but flat colours survive


def test_folder_and_archive_agree_and_other_class_names_are_sorted(tmp_path):
    root = tmp_path / "pets"
    write_folder(root, ["zebra", "ant", "moose"], per_class=2, suffix=".png")
    from_folder = load_image_folder(root, data_dir=tmp_path, cache=False)
    from_tar = load_image_folder(tar_folder(root, tmp_path / "pets.tar"), data_dir=tmp_path)
    assert from_folder[2] == from_tar[2] == ["ant", "moose", "zebra"]
    np.testing.assert_array_equal(from_folder[0], from_tar[0])
    np.testing.assert_array_equal(from_folder[1], [0, 0, 1, 1, 2, 2])
    # PNG is lossless: "moose" was written with label 2, and now has label 1.
    np.testing.assert_array_equal(from_folder[0][2], flat_image(2, 0))


def test_the_cache_is_used_and_follows_changes_to_the_source(jpeg_copy, tmp_path, capsys):
    folder, archive = jpeg_copy
    data_dir = tmp_path / "data"
    first = load_image_folder(archive, data_dir=data_dir, verbose=True)
    assert "Decoding" in capsys.readouterr().out
    assert len(list((data_dir / "cache").glob("*.npz"))) == 1
    second = load_image_folder(archive, data_dir=data_dir, verbose=True)
    assert "from the cache" in capsys.readouterr().out
    for a, b in zip(first[:2], second[:2], strict=True):
        np.testing.assert_array_equal(a, b)
    assert first[2] == second[2]

    # A changed source is decoded again: add an image and rebuild the archive.
    Image.fromarray(flat_image(0, 9)).save(folder / "airplane" / "0009.jpg")
    tar_folder(folder, archive)
    os.utime(archive, ns=(time.time_ns(), time.time_ns() + 10**9))  # a distinct mtime
    third = load_image_folder(archive, data_dir=data_dir, verbose=True)
    assert "Decoding" in capsys.readouterr().out
    assert len(third[0]) == 31


def test_a_damaged_cache_is_rebuilt(jpeg_copy, tmp_path):
    data_dir = tmp_path / "data"
    first = load_image_folder(jpeg_copy[1], data_dir=data_dir)
    (cache_file,) = (data_dir / "cache").glob("*.npz")
    cache_file.write_bytes(b"garbage")
    again = load_image_folder(jpeg_copy[1], data_dir=data_dir)
    np.testing.assert_array_equal(first[0], again[0])
    assert np.load(cache_file)["X"].shape == (30, 32, 32, 3)  # rewritten


def test_image_folder_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_image_folder(tmp_path / "nowhere", data_dir=tmp_path)
    (tmp_path / "plain.txt").write_text("hello")
    with pytest.raises(ValueError, match="neither a folder nor a .tar"):
        load_image_folder(tmp_path / "plain.txt", data_dir=tmp_path)

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="holds no images"):
        load_image_folder(empty, data_dir=tmp_path, cache=False)

    loose = tmp_path / "loose"
    loose.mkdir()
    Image.fromarray(flat_image(0, 0)).save(loose / "a.png")
    with pytest.raises(ValueError, match="not inside a class folder"):
        load_image_folder(loose, data_dir=tmp_path, cache=False)

    big = tmp_path / "big" / "cat"
    big.mkdir(parents=True)
    Image.new("RGB", (64, 48)).save(big / "x.png")
    with pytest.raises(ValueError, match="x.png is 64x48; every image must be 32x32"):
        load_image_folder(big.parent, data_dir=tmp_path, cache=False)

    broken = tmp_path / "broken" / "cat"
    broken.mkdir(parents=True)
    (broken / "0001.jpg").write_bytes(b"\xff\xd8 not really a JPEG")
    with pytest.raises(ValueError, match="cannot decode the image cat/0001.jpg"):
        load_image_folder(broken.parent, data_dir=tmp_path, cache=False)

    two_splits = tmp_path / "both"
    for split in ("train", "test"):
        write_folder(two_splits / split, ["cat"], per_class=1, suffix=".png")
    with pytest.raises(ValueError, match="appears in both"):
        load_image_folder(two_splits, data_dir=tmp_path, cache=False)


# --- get_cifar10_data ----------------------------------------------------------------------------


@pytest.fixture
def official(tmp_path):
    """A data dir with a small official-format CIFAR-10 (60 train, 20 test) and its arrays."""
    arrays = make_synthetic_cifar10(60, 20, seed=5)
    extract(write_cifar10_archive(tmp_path / "a.tar.gz", *arrays), tmp_path / "data")
    return tmp_path / "data", arrays


def test_official_split_and_mean_subtraction(official, capsys):
    data_dir, (X_tr, y_tr, X_te, y_te) = official
    data = get_cifar10_data(40, 10, 15, data_dir=data_dir)
    assert data.source == "cifar10" and "CIFAR-10" in data.description
    assert capsys.readouterr().out.strip() == data.description  # exactly one line
    shapes = {k: v.shape for k, v in data.items()}
    assert shapes == {
        "X_train": (40, 3, 32, 32),
        "y_train": (40,),
        "X_val": (10, 3, 32, 32),
        "y_val": (10,),
        "X_test": (15, 3, 32, 32),
        "y_test": (15,),
    }
    assert all(data[k].dtype == np.float64 for k in ("X_train", "X_val", "X_test"))
    assert all(data[k].dtype == np.int64 for k in ("y_train", "y_val", "y_test"))

    def raw(X):
        return X.transpose(0, 3, 1, 2).astype(np.float64)

    mean = raw(X_tr[:40]).mean(axis=0)  # the training split only
    np.testing.assert_allclose(data.mean_image, mean)
    np.testing.assert_allclose(data["X_train"], raw(X_tr[:40]) - mean)
    np.testing.assert_allclose(data["X_val"], raw(X_tr[40:50]) - mean)
    np.testing.assert_allclose(data["X_test"], raw(X_te[:15]) - mean)
    np.testing.assert_array_equal(data["y_val"], y_tr[40:50])
    np.testing.assert_array_equal(data["y_test"], y_te[:15])


def test_channels_last_float32_without_mean(official):
    data_dir, (X_tr, _, _, _) = official
    data = get_cifar10_data(
        20,
        5,
        5,
        subtract_mean=False,
        channels_first=False,
        data_dir=data_dir,
        dtype=np.float32,
        verbose=False,
    )
    assert data["X_train"].shape == (20, 32, 32, 3) and data["X_train"].dtype == np.float32
    assert data.mean_image is None
    np.testing.assert_array_equal(data["X_train"], X_tr[:20])


def test_sizes_that_do_not_fit_are_refused(official, tmp_path):
    data_dir, _ = official
    with pytest.raises(ValueError, match="must fit"):
        get_cifar10_data(55, 10, 5, data_dir=data_dir, verbose=False)
    with pytest.raises(ValueError, match="must fit"):
        get_cifar10_data(10, 10, 21, data_dir=data_dir, verbose=False)
    with pytest.raises(ValueError, match="num_val must be an integer >= 0"):
        get_cifar10_data(10, -1, 5, data_dir=data_dir, verbose=False)
    with pytest.raises(ValueError, match="source must be one of"):
        get_cifar10_data(source="imagenet", data_dir=data_dir)
    with pytest.raises(ValueError, match="floating dtype"):
        get_cifar10_data(10, 1, 1, data_dir=data_dir, dtype=np.uint8)


def test_asking_for_cifar10_without_data_says_how_to_download(tmp_path):
    with pytest.raises(FileNotFoundError, match="cs231kit-download-cifar10"):
        get_cifar10_data(source="cifar10", data_dir=tmp_path)


def test_auto_prefers_the_official_batches(official, jpeg_copy):
    data_dir, _ = official
    data = get_cifar10_data(10, 5, 5, data_dir=data_dir, jpeg_path=jpeg_copy[1], verbose=False)
    assert data.source == "cifar10"


def test_auto_uses_a_jpeg_copy_named_by_the_environment(jpeg_copy, tmp_path, monkeypatch):
    monkeypatch.setenv(paths.JPEG_ENV, str(jpeg_copy[1]))
    data = get_cifar10_data(20, 5, 5, data_dir=tmp_path / "data", verbose=False)
    assert data.source == "cifar10-jpeg" and "JPEG copy" in data.description
    monkeypatch.setenv(paths.JPEG_ENV, str(tmp_path / "missing.tar.gz"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        get_cifar10_data(20, 5, 5, data_dir=tmp_path / "data")


@pytest.fixture(scope="module")
def numbered_copy(tmp_path_factory):
    """An image-folder copy of 200 PNGs (lossless), each image unique: pixel (0,0) = index."""
    root = tmp_path_factory.mktemp("numbered") / "train"
    for index in range(200):
        label = index % 10
        folder = root / CIFAR10_CLASSES[label]
        folder.mkdir(parents=True, exist_ok=True)
        image = np.full((32, 32, 3), 7 * label, np.uint8)
        image[0, 0] = (index // 256, index % 256, label)
        Image.fromarray(image).save(folder / f"{index:04d}.png")
    return root


def ids_of(X: np.ndarray) -> np.ndarray:
    return X[:, 0, 0, 0].astype(int) * 256 + X[:, 0, 0, 1].astype(int)


@settings(max_examples=20, deadline=None)
@given(
    num_train=st.integers(1, 200),
    num_val=st.integers(0, 60),
    num_test=st.integers(0, 60),
    seed=st.integers(0, 3),
)
def test_jpeg_copy_splits_are_disjoint_and_deterministic(
    numbered_copy, tmp_path_factory, num_train, num_val, num_test, seed
):
    fits = num_val + num_test < 200
    data_dir = tmp_path_factory.getbasetemp() / "numbered-cache"
    kwargs = dict(
        subtract_mean=False,
        channels_first=False,
        source="cifar10-jpeg",
        data_dir=data_dir,
        jpeg_path=numbered_copy,
        seed=seed,
        verbose=False,
    )
    if not fits:
        with pytest.raises(ValueError, match="leave none for training"):
            get_cifar10_data(num_train, num_val, num_test, **kwargs)
        return
    data = get_cifar10_data(num_train, num_val, num_test, **kwargs)
    train, val, test = (ids_of(data[f"X_{s}"]) for s in ("train", "val", "test"))
    assert len(train) == min(num_train, 200 - num_val - num_test)
    assert (len(val), len(test)) == (num_val, num_test)
    everything = np.concatenate([train, val, test])
    assert len(np.unique(everything)) == len(everything)  # disjoint
    for split in ("train", "val", "test"):  # labels travel with their images
        np.testing.assert_array_equal(data[f"y_{split}"], ids_of(data[f"X_{split}"]) % 10)
    again = get_cifar10_data(num_train, num_val, num_test, **kwargs)
    np.testing.assert_array_equal(again["X_test"], data["X_test"])  # deterministic
    if num_train + num_val + num_test > 200:
        assert "asked for" in data.description


def test_auto_falls_back_to_synthetic_with_a_banner(tmp_path, capsys):
    data = get_cifar10_data(50, 10, 10, data_dir=tmp_path, verbose=False)
    out, err = capsys.readouterr()
    assert data.source == "synthetic"
    assert "SYNTHETIC DATA - NOT CIFAR-10" in out and "cs231kit-download-cifar10" in out
    assert paths.JPEG_ENV in out and err == ""
    assert data["X_train"].shape == (50, 3, 32, 32)
    np.testing.assert_allclose(data["X_train"].mean(axis=0), 0.0, atol=1e-9)


@settings(max_examples=15, deadline=None)
@given(
    num_train=st.integers(1, 40),
    num_val=st.integers(0, 10),
    num_test=st.integers(0, 10),
    seed=st.integers(0, 100),
)
def test_mean_comes_from_the_training_split_only(num_train, num_val, num_test, seed):
    data = get_cifar10_data(
        num_train, num_val, num_test, source="synthetic", seed=seed, verbose=False
    )
    raw = get_cifar10_data(
        num_train,
        num_val,
        num_test,
        source="synthetic",
        seed=seed,
        subtract_mean=False,
        verbose=False,
    )
    np.testing.assert_allclose(data.mean_image, raw["X_train"].mean(axis=0))
    for split in ("train", "val", "test"):
        np.testing.assert_allclose(data[f"X_{split}"], raw[f"X_{split}"] - data.mean_image)
    np.testing.assert_allclose(data["X_train"].mean(axis=0), 0.0, atol=1e-9)


# --- the real JPEG copy of the CIFAR-10 training set ---------------------------------------------


@pytest.fixture(scope="module")
def real_jpeg_cache(tmp_path_factory):
    if not REAL_JPEG.is_file():
        pytest.skip(
            f"the CIFAR-10 JPEG copy is not at {REAL_JPEG} (../shared/data/ from the repository)"
        )
    return tmp_path_factory.mktemp("real-jpeg-cache")


def test_real_jpeg_copy_loads_and_caches(real_jpeg_cache, capsys):
    start = time.perf_counter()
    X, y, class_names = load_image_folder(REAL_JPEG, data_dir=real_jpeg_cache)
    decode_s = time.perf_counter() - start
    start = time.perf_counter()
    X2, y2, _ = load_image_folder(REAL_JPEG, data_dir=real_jpeg_cache)
    cached_s = time.perf_counter() - start
    with capsys.disabled():
        print(f"\nreal JPEG copy: decoded in {decode_s:.1f} s, cached read in {cached_s:.2f} s")
    assert X.shape == (50000, 32, 32, 3) and X.dtype == np.uint8
    assert class_names == list(CIFAR10_CLASSES)
    np.testing.assert_array_equal(np.bincount(y, minlength=10), np.full(10, 5000))
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)
    assert cached_s < decode_s
    assert 60 < X.mean() < 200 and X.std() > 30  # real photographs, not blank decodes


def test_real_jpeg_copy_through_get_cifar10_data(real_jpeg_cache):
    data = get_cifar10_data(
        source="cifar10-jpeg",
        jpeg_path=REAL_JPEG,
        data_dir=real_jpeg_cache,
        dtype=np.float32,
        verbose=False,
    )
    assert data.source == "cifar10-jpeg"
    assert data["X_train"].shape == (48000, 3, 32, 32)  # 50,000 minus val and test
    assert data["X_val"].shape == data["X_test"].shape == (1000, 3, 32, 32)
    assert "asked for 49,000 training images" in data.description
    for split in ("train", "val", "test"):  # each split holds every class
        assert set(np.unique(data[f"y_{split}"])) == set(range(10))
