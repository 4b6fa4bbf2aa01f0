"""A folder of Markdown notes (Obsidian daily notes, Companion's own Markdown export, …).

Each ``.md`` file is one entry. Its date comes from the front matter (``date``, ``created`` or ``day``) or
else from a ``YYYY-MM-DD`` in the file name; a note with neither is skipped and listed in the report. Tags
come from the front matter (``tags``: a list or a comma/space separated text) and from ``#tags`` in the text
(not inside code). The title is the front matter's ``title``, else a leading ``# Heading``, else the file name
when it is not just a date. ``mood``, ``starred``, ``uid`` and ``attachments`` (image paths relative to the
note, inside the imported folder) are read when present (Companion writes them), so a Companion Markdown
export comes back as the same entries with their images. Other front matter keys are kept in the entry's
metadata.

Front matter is the YAML subset notes use in practice: ``key: value`` lines with plain, quoted or JSON values,
``[a, b]`` lists and ``- item`` lists. Anything else is reported as an error with its file and line.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from companion.errors import ImportFormatError
from companion.journal.attachments import MAX_BYTES
from companion.transfer.importers import read_text
from companion.transfer.model import ImportedAttachment, ImportedEntry, ParsedSource, Skip, stable_key

_KEY = re.compile(r"([A-Za-z_][\w -]*?)\s*:(?:\s+(.*))?$")
_ITEM = re.compile(r"\s*-\s+(.*)$")
_DAY_IN_NAME = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_ONLY_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_TAG = re.compile(r"(?<![^\s(\[,;])#([\w/-]*[^\W\d][\w/-]*)")
_FENCE = re.compile(r"^\s*(```|~~~)")
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_DATE_KEYS = ("date", "created", "day")
_KNOWN = {"title", "tags", "tag", "mood", "starred", "uid", *_DATE_KEYS}


def parse(path: Path) -> ParsedSource:
    parsed = ParsedSource("markdown", str(path))
    others: list[Path] = []
    used: set[Path] = set()
    if path.is_file():
        files, root = [path], path.parent
    else:
        root = path
        files = []
        for found in sorted(path.rglob("*")):
            relative = found.relative_to(path)
            if any(part.startswith(".") for part in relative.parts) or not found.is_file():
                continue  # .obsidian, .trash, hidden files
            if found.suffix.lower() in (".md", ".markdown"):
                files.append(found)
            else:
                others.append(found)
    for file in files:
        rel_name = file.relative_to(root).as_posix()
        try:
            raw = file.read_bytes()
        except OSError as exc:
            raise ImportFormatError(
                rel_name, "", f"the file could not be read ({exc.strerror or exc})"
            ) from None
        entry = parse_note(read_text(file, raw, name=rel_name), rel_name, file.stem)
        if isinstance(entry, Skip):
            parsed.skipped.append(entry)
            continue
        has_files = isinstance(entry.metadata.get("attachments"), list)
        parsed.entries.append(_with_files(entry, file.parent, root, used) if has_files else entry)
    for other in others:
        if other.resolve() not in used:
            parsed.skipped.append(Skip(other.relative_to(root).as_posix(), "not a Markdown note"))
    return parsed


def _with_files(entry: ImportedEntry, folder: Path, root: Path, used: set[Path]) -> ImportedEntry:
    """Read the images a note lists in its front matter ``attachments`` (Companion's Markdown export does)."""
    found: list[ImportedAttachment] = []
    notes: list[Skip] = []
    metadata = dict(entry.metadata)
    for ref in metadata.pop("attachments"):
        path = (folder / str(ref)).resolve()
        if not path.is_relative_to(root.resolve()) or not path.is_file():
            notes.append(Skip(entry.where, f"the attachment “{str(ref)[:80]}” is not in the imported folder"))
            continue
        if path.stat().st_size > MAX_BYTES:
            notes.append(Skip(entry.where, f"the attachment “{path.name}” is too large"))
            continue
        found.append(ImportedAttachment(name=path.name, load=path.read_bytes))
        used.add(path)
    return replace(entry, metadata=metadata, attachments=tuple(found), skipped=tuple(notes))


def parse_note(text: str, name: str, stem: str) -> ImportedEntry | Skip:
    front, body = _split_front_matter(text, name)
    where = {key: line for key, (_, line) in front.items()}
    values = {key: value for key, (value, _) in front.items()}

    created: datetime | None = None
    for key in _DATE_KEYS:
        if key in values:
            created = _when(values[key])
            if created is None:
                raise ImportFormatError(
                    name, f"line {where[key]}", f"“{key}” is not a date Companion understands"
                )
            break
    if created is None:
        match = _DAY_IN_NAME.search(stem)
        if match:
            try:
                created = datetime.combine(date(*map(int, match.groups())), datetime.min.time()).replace(
                    hour=12
                )
                created = created.astimezone()
            except ValueError:
                created = None
    if created is None:
        return Skip(name, "no date in the front matter or the file name (add “date: YYYY-MM-DD”)")

    title = _text(values.get("title", ""))
    lines = body.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    if lines and lines[0].startswith("# ") and (not title or lines[0][2:].strip() == title):
        title = title or lines[0][2:].strip()
        lines.pop(0)
    if not title and "title" not in values and not _ONLY_DAY.fullmatch(stem):
        title = stem
    body = "\n".join(lines).strip("\n")

    tags = [*_list(values.get("tags")), *_list(values.get("tag")), *_body_tags(body)]
    mood = values.get("mood")
    if mood is not None and (isinstance(mood, bool) or not isinstance(mood, int) or not 1 <= mood <= 5):
        raise ImportFormatError(name, f"line {where['mood']}", "“mood” must be a whole number from 1 to 5")
    uid = values.get("uid")
    extra = {k: v for k, v in values.items() if k not in _KNOWN and k != "attachments"}
    metadata: dict[str, Any] = {"source": "markdown"}
    if isinstance(values.get("attachments"), list):
        metadata["attachments"] = values["attachments"]  # resolved against the folder by parse()
    if extra:
        metadata["front_matter"] = json.loads(json.dumps(extra, default=str))
    return ImportedEntry(
        body=body,
        title=title,
        created_at=created,
        tags=tuple(t.lstrip("#") for t in tags if t.lstrip("#")),
        mood=mood,
        starred=values.get("starred") is True,
        uid=uid if isinstance(uid, str) and uid else None,
        metadata=metadata,
        source_key=stable_key("markdown", name),
        where=name,
    )


def _split_front_matter(text: str, name: str) -> tuple[dict[str, tuple[Any, int]], str]:
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != "---":
        return {}, text
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "...")), None)
    if end is None:
        raise ImportFormatError(name, "line 1", "the front matter starts with “---” but never ends")
    front: dict[str, tuple[Any, int]] = {}
    current: str | None = None
    for index in range(1, end):
        line, number = lines[index].rstrip(), index + 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        item = _ITEM.match(line)
        if (
            item
            and current is not None
            and (front[current][0] is None or isinstance(front[current][0], list))
        ):
            value = front[current][0] or []
            value.append(_scalar(item.group(1), name, number))
            front[current] = (value, front[current][1])
            continue
        match = _KEY.match(line)
        if not match or line[0].isspace():
            raise ImportFormatError(name, f"line {number}", "this front matter line is not “key: value”")
        current = match.group(1).strip().lower()
        raw = match.group(2)
        front[current] = (_scalar(raw, name, number) if raw is not None and raw.strip() else None, number)
    return front, "\n".join(lines[end + 1 :])


def _scalar(raw: str, name: str, number: int) -> Any:
    value = raw.strip()
    if value.startswith(("[", "{", '"')):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            if value.startswith("[") and value.endswith("]"):  # YAML flow list of plain words: [a, b]
                return [v.strip().strip("'\"") for v in value[1:-1].split(",") if v.strip()]
            raise ImportFormatError(
                name, f"line {number}", "this front matter value is not readable"
            ) from None
    if value.startswith("'") and value.endswith("'") and len(value) >= 2:
        return value[1:-1].replace("''", "'")
    if value in ("true", "True", "yes"):
        return True
    if value in ("false", "False", "no"):
        return False
    if value in ("null", "~"):
        return None
    if re.fullmatch(r"-?\d+", value):
        return int(value)
    return value


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.astimezone()
    if not isinstance(value, str):
        return None
    raw = value.strip()
    try:
        if len(raw) == 10:
            return (
                datetime.combine(date.fromisoformat(raw), datetime.min.time()).replace(hour=12).astimezone()
            )
        moment = datetime.fromisoformat(raw.replace(" ", "T", 1).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.astimezone()


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value if v is not None]
    return [part for part in re.split(r"[,\s]+", str(value)) if part]


def _body_tags(body: str) -> list[str]:
    found: list[str] = []
    fenced = False
    for line in body.split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            found += _TAG.findall(_INLINE_CODE.sub("", line))
    return found
