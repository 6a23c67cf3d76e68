"""The plain-data wire format: exact round trips, and nothing but plain data ever decoded.

The judge reads everything a sandbox sends through ``wire``; these tests send it what a hostile
sandbox would: pickles, object arrays, compressed or lying archives, huge headers, deep nesting.
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis.extra import numpy as hnp

from autograder.sandbox.handin import wire


def frame_parts(message: object) -> tuple[bytes, bytes]:
    frame = wire.encode(message)
    (size,) = struct.unpack(">Q", frame[:8])
    return frame[8 : 8 + size], frame[16 + size :]


def test_round_trip_keeps_values_types_dtypes_and_shapes():
    message = {
        "none": None,
        "flag": True,
        "big": 2**80,
        "nan": float("nan"),
        "text": "héllo",
        "tuple": (1, (2.5, "x")),
        "list": [np.float32(1.5), np.int64(7), np.bool_(True)],
        "int keys": {3: np.zeros((2, 0, 3), dtype=np.float32)},
        "dtype": np.float32,
        "matrix": np.arange(6.0).reshape(2, 3).T,  # non-contiguous
    }
    got = wire.roundtrip(message)
    assert got["none"] is None and got["flag"] is True and got["big"] == 2**80
    assert np.isnan(got["nan"]) and got["text"] == "héllo"
    assert got["tuple"] == (1, (2.5, "x")) and isinstance(got["tuple"][1], tuple)
    assert [type(v) for v in got["list"]] == [np.float32, np.int64, np.bool_]
    assert got["int keys"][3].shape == (2, 0, 3) and got["int keys"][3].dtype == np.float32
    assert got["dtype"] is np.float32
    np.testing.assert_array_equal(got["matrix"], message["matrix"])
    assert got["matrix"].flags.writeable  # student code may write to its inputs


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(hnp.scalar_dtypes().filter(lambda d: d.kind in "biufc"),
                  hnp.array_shapes(min_dims=0, max_dims=4, max_side=5)))
def test_any_plain_array_survives_exactly(array):
    got = wire.roundtrip({"a": array})["a"]
    assert got.dtype == array.dtype and got.shape == array.shape
    np.testing.assert_array_equal(got, array)


class Lying:
    def __array__(self, *args, **kwargs):
        return np.ones(3)


@pytest.mark.parametrize(
    "value",
    [
        object(),
        Lying(),
        np.array([object()], dtype=object),
        np.array(["text"]),
        np.zeros(2, dtype=[("a", "f8")]),
        {("tuple", "key"): 1},
        lambda: 0,
        type("D", (dict,), {})(),
    ],
    ids=["object", "array-like", "object array", "str array", "structured", "tuple key",
         "function", "dict subclass"],
)
def test_anything_but_plain_data_is_refused_when_sending(value):
    with pytest.raises(wire.WireError):
        wire.encode({"x": value})


def test_subclasses_of_numbers_and_arrays_arrive_as_plain_values():
    class Sneaky(float):
        def __eq__(self, other):
            return True

    class Matrix(np.ndarray):
        pass

    got = wire.roundtrip({"f": Sneaky(1.5), "m": np.arange(3.0).view(Matrix)})
    assert type(got["f"]) is float and got["f"] == 1.5
    assert type(got["m"]) is np.ndarray


def _npz(members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def test_a_pickled_object_array_is_never_unpickled(tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    header, _ = frame_parts({"x": np.zeros(1)})
    evil = _npz({"arr_0.npy": _npy(np.array([Exploit()], dtype=object))})
    with pytest.raises(wire.WireError, match="dtype"):
        wire.decode(header, evil)
    assert not marker.exists()
    # A raw pickle where the npz should be is not an archive at all.
    with pytest.raises(wire.WireError):
        wire.decode(header, pickle.dumps(Exploit()))
    assert not marker.exists()


@pytest.mark.parametrize(
    "npz",
    [
        _npz({"arr_0.npy": _npy(np.zeros(4))}, zipfile.ZIP_DEFLATED),
        _npz({"payload.npy": _npy(np.zeros(4))}),
        _npz({"arr_0.npy": b"\x93NUMPY\x01\x00" + struct.pack("<H", 70)
              + b"{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000,), }".ljust(70)}),
        b"not a zip at all",
    ],
    ids=["compressed (zip bomb)", "unexpected member", "header promises more than it has",
         "garbage"],
)
def test_malformed_archives_are_refused(npz):
    header, _ = frame_parts({"x": np.zeros(1)})
    with pytest.raises(wire.WireError):
        wire.decode(header, npz)


def test_headers_that_are_not_plain_json_structure_are_refused():
    _, npz = frame_parts({"x": np.zeros(1)})
    for header in [b"\xff\xfe", b"{not json", b'{"$array": 5}', b'{"$eval": "1"}',
                   b'{"$tuple": 1, "$dict": 2}', b"[" * 5000 + b"]" * 5000]:
        with pytest.raises(wire.WireError):
            wire.decode(header, npz)


def test_nesting_and_size_limits():
    deep: list = []
    for _ in range(wire.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(wire.WireError, match="nested"):
        wire.encode(deep)
    stream = io.BytesIO(struct.pack(">Q", wire.MAX_HEADER_BYTES + 1))
    with pytest.raises(wire.WireError, match="frame part"):
        wire.read_frame(stream)


def test_frames_stream_one_after_another_and_end_cleanly():
    stream = io.BytesIO(wire.encode({"a": 1}) + wire.encode([np.ones(2)]))
    assert wire.read_frame(stream) == {"a": 1}
    np.testing.assert_array_equal(wire.read_frame(stream)[0], np.ones(2))
    assert wire.read_frame(stream) is None
    with pytest.raises(wire.WireError, match="truncated"):
        wire.read_frame(io.BytesIO(wire.encode({"a": 1})[:-3]))
