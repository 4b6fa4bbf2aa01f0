"""Day One: its JSON export, as a ``.zip`` or an unpacked folder.

The export holds one ``<Journal name>.json`` per journal (``Journal.json`` for a single one) with
``{"metadata": {"version": "1.0"}, "entries": [...]}``, and the photos as ``photos/<md5>.<type>``. An entry
has ``uuid``, ``creationDate`` (UTC, ``2021-03-03T11:48:50Z``), ``timeZone`` (an IANA name), ``text``
(Markdown with punctuation backslash-escaped, the title as a leading ``# `` line, each photo placed as
``![](dayone-moment://<identifier>)``), ``tags``, ``starred``, ``location``, ``weather`` and ``photos`` (each
with ``identifier``, ``md5``, ``type``). See ``docs/import-export.md`` for where this description comes from.

Text, dates (shown in the entry's own time zone), tags and the star become the entry; location, weather and
the journal's name are kept in its metadata; photos become encrypted attachments. Videos, audio and PDFs are
skipped and listed in the report. The zip is read in memory, member by member: nothing is extracted to disk.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from companion.errors import ImportFormatError, InvalidInputError
from companion.journal.attachments import MAX_BYTES
from companion.transfer.importers import load_json, read_text
from companion.transfer.model import ImportedAttachment, ImportedEntry, ParsedSource, Skip

_ESCAPED = re.compile(r"\\([\\`*_{}\[\]()#+\-.!>|~])")
_MOMENT = re.compile(r"!\[[^\]]*\]\(dayone-moment:/*(?:(\w+)/)?([0-9A-Za-z-]+)\)")
_OTHER_MEDIA = {"videos": "a video", "audios": "an audio recording", "pdfAttachments": "a PDF"}


def parse(path: Path) -> ParsedSource:
    files: _Folder | _Zip
    if path.is_dir():
        files = _Folder(path)
    elif zipfile.is_zipfile(path):
        files = _Zip(path)
    else:
        raise InvalidInputError(
            f"{path} is neither a Day One export .zip nor its unpacked folder; nothing was imported."
        )
    parsed = ParsedSource("dayone", str(path))
    journals = files.journals()
    if not journals:
        raise ImportFormatError(
            str(path), "", "there is no journal JSON file (such as Journal.json) in this export"
        )
    for member in journals:
        name = f"{path.name}/{member}"
        try:
            raw = files.read(member)
        except OSError as exc:
            raise ImportFormatError(name, "", f"the file could not be read ({exc})") from None
        _parse_journal(read_text(path, raw, name=name), name, member, files, parsed)
    return parsed


class _Files:
    names: list[str]

    def read(self, name: str) -> bytes:
        raise NotImplementedError

    def size(self, name: str) -> int:
        raise NotImplementedError

    def journals(self) -> list[str]:
        """JSON files at the top of the export (or of its one top folder), sorted."""
        found = [n for n in self.names if n.lower().endswith(".json") and "/" not in n.strip("/")]
        if not found:
            found = [n for n in self.names if n.lower().endswith(".json") and n.count("/") == 1]
        return sorted(found)


class _Zip(_Files):
    def __init__(self, path: Path) -> None:
        self.zf = zipfile.ZipFile(path)
        self.infos = {i.filename: i for i in self.zf.infolist() if not i.is_dir()}
        self.names = list(self.infos)

    def read(self, name: str) -> bytes:
        try:
            return self.zf.read(self.infos[name])
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:  # a damaged member (bad CRC, truncated)
            raise OSError(f"{name} is damaged in the zip file: {exc}") from None

    def size(self, name: str) -> int:
        return self.infos[name].file_size


class _Folder(_Files):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.names = [p.relative_to(root).as_posix() for p in sorted(root.rglob("*")) if p.is_file()]

    def read(self, name: str) -> bytes:
        return (self.root / name).read_bytes()

    def size(self, name: str) -> int:
        return (self.root / name).stat().st_size


def _parse_journal(text: str, name: str, member: str, files: _Files, parsed: ParsedSource) -> None:
    doc = load_json(text, name)
    if not isinstance(doc, dict) or not isinstance(doc.get("entries"), list):
        raise ImportFormatError(name, "", "this JSON is not a Day One export (it has no “entries” list)")
    journal_name = PurePosixPath(member).stem
    folder = PurePosixPath(member).parent
    by_name = {n.lower(): n for n in files.names}
    for number, item in enumerate(doc["entries"], start=1):
        where = f"entry {number}"
        if not isinstance(item, dict):
            raise ImportFormatError(name, where, "an entry is not a JSON object")
        uid = item.get("uuid")
        if not isinstance(uid, str) or not uid:
            raise ImportFormatError(name, where, "the entry has no “uuid”")
        where = f"entry {number} ({uid})"
        created = _when(item.get("creationDate"), item.get("timeZone"))
        if created is None:
            raise ImportFormatError(
                name, where, f"“creationDate” {str(item.get('creationDate'))[:40]!r} is not a date"
            )
        raw_text = item.get("text", "")
        tags = item.get("tags", [])
        if not isinstance(raw_text, str):
            raise ImportFormatError(name, where, "“text” must be text")
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise ImportFormatError(name, where, "“tags” must be a list of text")
        title, body = _title_and_body(raw_text)

        attachments: list[ImportedAttachment] = []
        notes: list[Skip] = []
        photos = item.get("photos", [])
        if not isinstance(photos, list):
            raise ImportFormatError(name, where, "“photos” must be a list")
        for photo in sorted((p for p in photos if isinstance(p, dict)), key=_photo_order):
            found = _photo(photo, folder, by_name, files, f"{name} {where}", notes)
            if found is not None:
                attachments.append(found)
        for key, what in _OTHER_MEDIA.items():
            for _ in item.get(key, []) or []:
                notes.append(Skip(f"{name} {where}", f"{what} is not imported (only photos are)"))

        metadata: dict[str, Any] = {"source": "dayone", "journal": journal_name}
        for key in ("location", "weather"):
            if isinstance(item.get(key), dict):
                metadata[key] = item[key]
        if isinstance(item.get("timeZone"), str):
            metadata["time_zone"] = item["timeZone"]
        if not body.strip() and not title and not attachments:
            parsed.skipped.append(Skip(f"{name} {where}", "the entry is empty"))
            continue
        parsed.entries.append(
            ImportedEntry(
                body=body,
                title=title,
                created_at=created,
                updated_at=_when(item.get("modifiedDate"), item.get("timeZone")),
                tags=tuple(tags),
                starred=bool(item.get("starred", False)),
                metadata=metadata,
                source_key=f"dayone:{uid}",
                where=f"{name} {where}",
                attachments=tuple(attachments),
                skipped=tuple(notes),
            )
        )


def _when(raw: object, zone: object) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if isinstance(zone, str):
        try:
            return moment.astimezone(ZoneInfo(zone))
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return moment.astimezone()


def _title_and_body(text: str) -> tuple[str, str]:
    """Unescape Day One's Markdown, take a leading ``# `` line as the title, drop the photo placeholders."""
    lines = [_MOMENT.sub("", line) for line in text.splitlines()]
    cleaned: list[str] = []
    for line in lines:
        unescaped = _ESCAPED.sub(r"\1", line)
        if not unescaped.strip() and cleaned and not cleaned[-1].strip():
            continue  # a removed photo leaves a double blank line
        cleaned.append(unescaped.rstrip())
    while cleaned and not cleaned[0].strip():
        cleaned.pop(0)
    title = ""
    if cleaned and cleaned[0].startswith("# "):
        title = cleaned.pop(0)[2:].strip()
    return title, "\n".join(cleaned).strip("\n")


def _photo_order(photo: dict[str, Any]) -> int:
    order = photo.get("orderInEntry", 0)
    return order if isinstance(order, int) else 0


def _photo(
    photo: dict[str, Any],
    folder: PurePosixPath,
    by_name: dict[str, str],
    files: _Files,
    where: str,
    notes: list[Skip],
) -> ImportedAttachment | None:
    def skip(reason: str) -> None:
        notes.append(Skip(where, reason))

    md5, kind = photo.get("md5"), photo.get("type", "jpeg")
    if not isinstance(md5, str) or not re.fullmatch(r"[0-9a-fA-F]{32}", md5) or not isinstance(kind, str):
        skip("a photo without a valid “md5” was not imported")
        return None
    wanted = [str(folder / "photos" / f"{md5}.{kind}"), str(folder / "photos" / f"{md5}.jpeg")]
    member = next(
        (by_name[w.lower().lstrip("./")] for w in wanted if w.lower().lstrip("./") in by_name), None
    )
    if member is None:
        skip(f"the photo file photos/{md5}.{kind} is missing from the export")
        return None
    if files.size(member) > MAX_BYTES:
        skip(f"the photo {member} is larger than {MAX_BYTES // (1024 * 1024)} MB")
        return None
    created = _when(photo.get("date"), None)
    given = photo.get("filename")
    filename = given if isinstance(given, str) else f"{md5}.{kind}"
    return ImportedAttachment(name=filename, load=lambda: files.read(member), created_at=created)
