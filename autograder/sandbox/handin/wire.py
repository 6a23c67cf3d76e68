"""Plain data across the trust boundary: the only thing the judge ever reads from a sandbox.

A message is a JSON document plus the NumPy arrays it refers to, packed in an ``.npz`` archive::

    frame := len(header) (8 bytes, big-endian) header (UTF-8 JSON)
             len(npz) (8 bytes, big-endian) npz

What a message may hold (anything else is refused with a :class:`WireError` that names it):

* ``None``, ``bool``, ``int``, ``float``, ``str``; lists, tuples, dicts with ``str`` or ``int``
  keys;
* NumPy arrays and scalars of a plain numeric or boolean dtype (kinds b, i, u, f, c), sent as
  arrays in the npz: exact dtype and shape survive the trip; subclasses arrive as plain arrays;
* NumPy scalar *types* such as ``np.float32`` (a layer's ``dtype`` argument).

Decoding never unpickles: the npz is opened with ``allow_pickle=False`` after its members are
checked (stored, not compressed; a ``.npy`` header whose dtype is plain and whose size fits the
limit). JSON is parsed by :mod:`json`. So a sandbox can send wrong numbers, but never an object
that runs code on the judge's side.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
from typing import Any

import numpy as np

MAX_HEADER_BYTES = 16 * 2**20
MAX_ARRAY_BYTES = 256 * 2**20  # all arrays of one message together
MAX_DEPTH = 32
MAX_ARRAYS = 20_000
_PLAIN_KINDS = frozenset("biufc")
_SCALAR_TYPES = {
    np.dtype(name).name: np.dtype(name).type
    for name in (
        "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
        "float16", "float32", "float64", "complex64", "complex128",
    )
}


class WireError(ValueError):
    """A message that is not plain data, is malformed, or is too large."""


# ---------------------------------------------------------------------------------------------
# Structure <-> JSON + arrays
# ---------------------------------------------------------------------------------------------


def _encode(value: Any, arrays: list[np.ndarray], depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise WireError(f"data nested deeper than {MAX_DEPTH} levels")
    if value is None or type(value) in (bool, int, float, str):
        return value  # JSON floats round-trip exactly in Python, nan and inf included
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.array(value, copy=True, subok=False)
        if array.dtype.kind not in _PLAIN_KINDS:
            raise WireError(f"an array of dtype {array.dtype} (only numbers and booleans)")
        if len(arrays) >= MAX_ARRAYS:
            raise WireError(f"more than {MAX_ARRAYS} arrays in one message")
        arrays.append(array)
        kind = "$scalar" if isinstance(value, np.generic) else "$array"
        return {kind: len(arrays) - 1}
    if isinstance(value, type) and issubclass(value, np.generic):
        name = np.dtype(value).name
        if name not in _SCALAR_TYPES:
            raise WireError(f"the NumPy type {name}")
        return {"$dtype": name}
    if isinstance(value, (list, tuple)) and type(value) in (list, tuple):
        items = [_encode(item, arrays, depth + 1) for item in value]
        return items if type(value) is list else {"$tuple": items}
    if isinstance(value, dict) and type(value) is dict:
        items = []
        for key, item in value.items():
            if not (type(key) is str or type(key) is int):
                raise WireError(f"a dict key of type {type(key).__name__} (only str and int)")
            items.append([key, _encode(item, arrays, depth + 1)])
        return {"$dict": items}
    if isinstance(value, (int, float)):  # a subclass of int or float: send the plain number
        return _encode(int(value) if isinstance(value, int) else float(value), arrays, depth)
    raise WireError(
        f"an object of type {type(value).__name__}: only arrays, numbers, strings, None and "
        "lists, tuples and dicts of them can be handed in"
    )


def _decode(value: Any, arrays: list[np.ndarray], depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise WireError(f"data nested deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_decode(item, arrays, depth + 1) for item in value]
    if not isinstance(value, dict) or len(value) != 1:
        raise WireError(f"malformed value {str(value)[:80]!r}")
    ((tag, body),) = value.items()
    if tag in ("$array", "$scalar") and type(body) is int and 0 <= body < len(arrays):
        return arrays[body] if tag == "$array" else arrays[body][()]
    if tag == "$dtype" and body in _SCALAR_TYPES:
        return _SCALAR_TYPES[body]
    if tag == "$tuple" and isinstance(body, list):
        return tuple(_decode(item, arrays, depth + 1) for item in body)
    if tag == "$dict" and isinstance(body, list):
        result = {}
        for pair in body:
            if not (isinstance(pair, list) and len(pair) == 2 and type(pair[0]) in (str, int)):
                raise WireError("malformed dict entry")
            result[pair[0]] = _decode(pair[1], arrays, depth + 1)
        return result
    raise WireError(f"unknown tag {tag!r}")


# ---------------------------------------------------------------------------------------------
# Arrays <-> npz
# ---------------------------------------------------------------------------------------------


def _to_npz(arrays: list[np.ndarray]) -> bytes:
    if not arrays:
        return b""
    buffer = io.BytesIO()
    np.savez(buffer, *arrays)  # stored (uncompressed) members arr_0, arr_1, ...
    return buffer.getvalue()


def _from_npz(data: bytes) -> list[np.ndarray]:
    """Read the arrays of an npz that the other side made, trusting nothing in it."""
    if not data:
        return []
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise WireError(f"not an npz archive ({error})") from error
    if len(infos) > MAX_ARRAYS:
        raise WireError(f"more than {MAX_ARRAYS} arrays in one message")
    total = 0
    for info in infos:
        if info.compress_type != zipfile.ZIP_STORED:
            raise WireError("compressed npz members are not accepted")
        total += info.file_size
    if total > MAX_ARRAY_BYTES:
        raise WireError(f"arrays larger than {MAX_ARRAY_BYTES // 2**20} MiB in one message")
    expected = {f"arr_{k}.npy" for k in range(len(infos))}
    if {info.filename for info in infos} != expected:
        raise WireError("unexpected member names in the npz")
    for info in infos:
        with archive.open(info) as member:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(member)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(member)
            else:
                raise WireError(f"unsupported .npy version {version}")
            if dtype.kind not in _PLAIN_KINDS or dtype.fields is not None:
                raise WireError(f"an array of dtype {dtype} (only numbers and booleans)")
            if int(np.prod(shape, dtype=np.int64)) * dtype.itemsize > info.file_size:
                raise WireError("an array header that does not match its data")
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        # Copies: arrays read from a buffer are read-only, and student code may write to inputs.
        return [np.array(npz[f"arr_{k}"]) for k in range(len(infos))]


# ---------------------------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------------------------


def encode(message: Any) -> bytes:
    """One framed message (see the module docstring) holding ``message``."""
    arrays: list[np.ndarray] = []
    header = json.dumps(_encode(message, arrays, 0), separators=(",", ":")).encode()
    if sum(array.nbytes for array in arrays) > MAX_ARRAY_BYTES:
        raise WireError(f"arrays larger than {MAX_ARRAY_BYTES // 2**20} MiB in one message")
    npz = _to_npz(arrays)
    return struct.pack(">Q", len(header)) + header + struct.pack(">Q", len(npz)) + npz


def decode(header: bytes, npz: bytes) -> Any:
    """The message of one frame's two parts; raise WireError if it is not plain data."""
    if len(header) > MAX_HEADER_BYTES:
        raise WireError(f"a message header larger than {MAX_HEADER_BYTES // 2**20} MiB")
    try:
        skeleton = json.loads(header.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise WireError(f"a header that is not JSON ({error})") from error
    return _decode(skeleton, _from_npz(npz), 0)


def roundtrip(message: Any) -> Any:
    """``message`` after encoding and decoding: what the other side of the boundary would see."""
    frame = encode(message)
    (size,) = struct.unpack(">Q", frame[:8])
    return decode(frame[8 : 8 + size], frame[16 + size :])


def read_frame(stream: Any) -> Any:
    """Read one message from a binary stream (``socket.makefile('rb')``); None at end of stream."""
    parts = []
    for limit in (MAX_HEADER_BYTES, MAX_ARRAY_BYTES + 2**20):
        prefix = stream.read(8)
        if not prefix:
            return None
        if len(prefix) != 8:
            raise WireError("truncated frame")
        (size,) = struct.unpack(">Q", prefix)
        if size > limit:
            raise WireError(f"a frame part of {size} bytes (limit {limit})")
        body = stream.read(size)
        if len(body) != size:
            raise WireError("truncated frame")
        parts.append(body)
    return decode(parts[0], parts[1])
