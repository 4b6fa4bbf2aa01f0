"""Parsing the dates people type, and the one way Companion writes them down."""

from __future__ import annotations

from datetime import UTC, date, datetime

from companion.errors import InvalidInputError


def now() -> datetime:
    """The current local time, with its UTC offset."""
    return datetime.now(UTC).astimezone()


def parse_datetime(text: str) -> datetime:
    """``2026-11-27``, ``2026-11-27 09:30``, ``2026-11-27T09:30:00+01:00`` … → an aware datetime.

    A date or time without an offset is taken as local time; a bare date means noon that day, so that the
    entry's day does not shift when the offset changes (travel, daylight saving).
    """
    raw = text.strip()
    try:
        if len(raw) == 10:
            parsed = datetime.combine(date.fromisoformat(raw), datetime.min.time()).replace(hour=12)
        else:
            parsed = datetime.fromisoformat(raw.replace(" ", "T", 1))
    except ValueError:
        raise InvalidInputError(
            f"“{_clip(raw)}” is not a date Companion understands. Use YYYY-MM-DD or YYYY-MM-DDTHH:MM."
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.astimezone()  # interpret as local time
    return parsed


def parse_day(text: str) -> date:
    raw = text.strip()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInputError(f"“{_clip(raw)}” is not a day. Use YYYY-MM-DD.") from None


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
