"""A small canonical binary encoding, used by every Companion crypto format.

Rules (see ``docs/protocol.md`` § "Encoding"):

* Integers are unsigned, big-endian and fixed-width (``u8``, ``u16``, ``u32``, ``u64``). There is exactly one
  encoding of every value, so there are no non-minimal forms to reject.
* Variable-length fields carry a fixed-width length prefix (``u8``, ``u16`` or ``u32``) followed by that many bytes.
  Each field declares its bounds; a length outside them is rejected.
* Text fields are ASCII drawn from a declared alphabet (no Unicode normalisation questions can arise).
* A reader must consume its input exactly: bytes left over are an error.

The reader raises :class:`DecodeError` (internal; callers turn it into their one public error type).
"""

from __future__ import annotations

import re
import struct
from typing import Final

__all__ = ["ID_PATTERN", "KIND_PATTERN", "DecodeError", "Reader", "Writer", "check_text", "lp"]


_U8, _U16, _U32, _U64 = (struct.Struct(f) for f in (">B", ">H", ">I", ">Q"))


class DecodeError(ValueError):
    """Input is not a canonical encoding. Internal: public APIs convert it into their own error type."""


#: Identifiers (circle ids, item ids, member ids): URL- and file-name-safe ASCII.
ID_PATTERN: Final = re.compile(r"[A-Za-z0-9._~:=+-]{1,128}")
#: Envelope kinds: lowercase words, e.g. ``item``, ``retract``, ``roster``; new kinds need no crypto change.
KIND_PATTERN: Final = re.compile(r"[a-z][a-z0-9_.-]{0,31}")


def check_text(value: object, pattern: re.Pattern[str], what: str) -> str:
    """Return ``value`` if it is a ``str`` fully matching ``pattern``; raise ``ValueError`` otherwise."""
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise ValueError(f"{what} must be a str matching {pattern.pattern!r}")
    return value


def lp(data: bytes) -> bytes:
    """Length-prefixed (``u16``) bytes: the building block of every labelled hash input."""
    if len(data) > 0xFFFF:
        raise ValueError("field too long for a u16 length prefix")
    return struct.pack(">H", len(data)) + data


class Writer:
    """Append-only builder for canonical encodings."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def raw(self, data: bytes) -> Writer:
        self._parts.append(bytes(data))
        return self

    def u8(self, value: int) -> Writer:
        return self.raw(struct.pack(">B", value))

    def u16(self, value: int) -> Writer:
        return self.raw(struct.pack(">H", value))

    def u32(self, value: int) -> Writer:
        return self.raw(struct.pack(">I", value))

    def u64(self, value: int) -> Writer:
        return self.raw(struct.pack(">Q", value))

    def bytes8(self, data: bytes) -> Writer:
        """Bytes with a ``u8`` length prefix."""
        if len(data) > 0xFF:
            raise ValueError("field too long for a u8 length prefix")
        return self.u8(len(data)).raw(data)

    def text8(self, value: str) -> Writer:
        """ASCII text with a ``u8`` length prefix (the caller has validated the alphabet)."""
        return self.bytes8(value.encode("ascii"))

    def getvalue(self) -> bytes:
        return b"".join(self._parts)


class Reader:
    """Strict cursor over canonical encodings: every read is bounds-checked, :meth:`end` rejects leftovers."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes) -> None:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise DecodeError("expected bytes")
        self._data = bytes(data)
        self._pos = 0

    @property
    def position(self) -> int:
        return self._pos

    def remaining(self) -> int:
        return len(self._data) - self._pos

    def raw(self, n: int) -> bytes:
        pos = self._pos
        if n < 0 or pos + n > len(self._data):
            raise DecodeError("truncated")
        self._pos = pos + n
        return self._data[pos : pos + n]

    def _unpack(self, fmt: struct.Struct) -> int:
        pos = self._pos
        if pos + fmt.size > len(self._data):
            raise DecodeError("truncated")
        self._pos = pos + fmt.size
        return int(fmt.unpack_from(self._data, pos)[0])

    def u8(self) -> int:
        return self._unpack(_U8)

    def u16(self) -> int:
        return self._unpack(_U16)

    def u32(self) -> int:
        return self._unpack(_U32)

    def u64(self) -> int:
        return self._unpack(_U64)

    def bytes8(self, *, min_len: int = 0, max_len: int = 0xFF) -> bytes:
        n = self.u8()
        if not min_len <= n <= max_len:
            raise DecodeError("length out of range")
        return self.raw(n)

    def text8(self, pattern: re.Pattern[str]) -> str:
        data = self.bytes8()
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError as exc:
            raise DecodeError("not ascii") from exc
        if pattern.fullmatch(text) is None:
            raise DecodeError("text outside its alphabet")
        return text

    def end(self) -> None:
        if self._pos != len(self._data):
            raise DecodeError("trailing bytes")
