"""Parsers for the formats Companion imports. Each turns a path into a :class:`ParsedSource` in memory.

A parser never writes anything and never extracts to disk (a Day One ``.zip`` is read member by member in
memory). A malformed source raises :class:`~companion.errors.ImportFormatError` naming the file and the place;
anything merely not importable (a video, a missing photo, a note with no date) becomes a :class:`Skip`.
"""

from __future__ import annotations

from pathlib import Path

from companion.errors import ImportFormatError, InvalidInputError
from companion.transfer.model import ParsedSource

FORMATS = ("companion", "jrnl", "dayone", "markdown")


def parse(fmt: str, path: Path) -> ParsedSource:
    if fmt not in FORMATS:
        raise InvalidInputError(f"Unknown import format “{fmt}”. Choose one of: {', '.join(FORMATS)}.")
    path = Path(path)
    if not path.exists():
        raise InvalidInputError(f"{path} does not exist; nothing was imported.")
    if fmt == "jrnl":
        from companion.transfer.importers import jrnl

        return jrnl.parse(path)
    if fmt == "dayone":
        from companion.transfer.importers import dayone

        return dayone.parse(path)
    if fmt == "markdown":
        from companion.transfer.importers import markdown

        return markdown.parse(path)
    from companion.transfer.importers import companion_json

    return companion_json.parse(path)


def read_text(path: Path, data: bytes | None = None, *, name: str | None = None) -> str:
    """Decode UTF-8 (a BOM is dropped), or raise ImportFormatError naming the line of the first bad byte."""
    raw = path.read_bytes() if data is None else data
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ImportFormatError(name or str(path), f"line {line}", "this is not UTF-8 text") from None
    return text.removeprefix("\ufeff").replace("\r\n", "\n")


def load_json(text: str, name: str) -> object:
    import json

    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFormatError(
            name, f"line {exc.lineno}, column {exc.colno}", f"not valid JSON ({exc.msg})"
        ) from None


__all__ = ["FORMATS", "ImportFormatError", "parse"]
