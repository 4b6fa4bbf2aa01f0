"""Meeting announcements (facilitator → circle) and check-ins (member → the circle's admins): the payloads,
their checks, the check-in window and the values the service returns. No SQL, no I/O.

Two envelope kinds (see ``docs/circles.md``, "Meetings and check-ins"):

* ``attendance.meeting``: an admin tells the circle's current members about a meeting so they can check in.
  Payload ``{meeting_uid, starts_at, format, minutes, topic?}``; the topic only when the facilitator chose to
  include it. Announcing again sends the next revision of the same item; withdrawing sends a ``retract``.
* ``attendance.check_in``: a member tells the circle's admins (only them) that they are at a meeting. Payload
  ``{message_id, meeting_uid, member_id, circle_id, checked_in_at, display_name?}``; ``message_id`` is the
  envelope's item id, ``member_id`` must be the envelope's verified author and ``circle_id`` its circle.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from companion.attendance.report import FORMATS
from companion.attendance.store import MAX_NAME, MAX_TOPIC, CheckIn

KIND_MEETING: Final = "attendance.meeting"
KIND_CHECK_IN: Final = "attendance.check_in"
#: A member can check in from this long before a meeting starts …
OPENS_BEFORE: Final = timedelta(hours=1)
#: … until this long after it ends (start + its length).
CLOSES_AFTER: Final = timedelta(hours=24)
_UID_MAX = 200


def new_message_id() -> str:
    """A random 128-bit id, 32 hex digits (the check-in's ``message_id`` and its envelope's item id)."""
    return os.urandom(16).hex()


def window(starts_at: datetime, minutes: int) -> tuple[datetime, datetime]:
    """When check-ins for a meeting are accepted by the member's app: ``(opens, closes)``."""
    return starts_at - OPENS_BEFORE, starts_at + timedelta(minutes=minutes) + CLOSES_AFTER


def _aware(value: Any, what: str) -> datetime:
    if not isinstance(value, str) or len(value) > 64:
        raise ValueError(what)
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(what)
    return moment


def _text(data: dict[str, Any], key: str, limit: int, *, required: bool = True) -> str:
    value = data.get(key, None if required else "")
    if not isinstance(value, str) or len(value) > limit or (required and not value):
        raise ValueError(key)
    return value


# -- announcements ---------------------------------------------------------------------------------------------


def meeting_payload(uid: str, starts_at: datetime, fmt: str, minutes: int, topic: str | None) -> dict[str, Any]:
    """What an announcement carries. ``topic`` is None unless the facilitator chose to include it."""
    payload: dict[str, Any] = {
        "meeting_uid": uid, "starts_at": starts_at.isoformat(), "format": fmt, "minutes": int(minutes),
    }  # fmt: skip
    if topic:
        payload["topic"] = topic
    return payload


def payload_digest(payload: dict[str, Any]) -> str:
    """Of an announcement's payload: an edit is sent again only when what members were told changed."""
    data = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def parse_meeting(data: dict[str, Any]) -> dict[str, Any]:
    """The announcement's fields, checked; raises ValueError for anything malformed."""
    fmt = data.get("format")
    minutes = data.get("minutes")
    if fmt not in FORMATS:
        raise ValueError("format")
    if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= 1440:
        raise ValueError("minutes")
    return {
        "meeting_uid": _text(data, "meeting_uid", _UID_MAX),
        "starts_at": _aware(data.get("starts_at"), "starts_at").isoformat(),
        "format": fmt,
        "minutes": minutes,
        "topic": _text(data, "topic", MAX_TOPIC, required=False),
    }


# -- check-ins -------------------------------------------------------------------------------------------------


def check_in_payload(
    message_id: str, meeting_uid: str, member_id: str, circle_id: str, checked_in_at: datetime, display_name: str
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "message_id": message_id, "meeting_uid": meeting_uid, "member_id": member_id, "circle_id": circle_id,
        "checked_in_at": checked_in_at.isoformat(),
    }  # fmt: skip
    if display_name:
        payload["display_name"] = display_name
    return payload


def parse_check_in(data: dict[str, Any]) -> CheckIn:
    """The check-in's fields, checked (not yet against the envelope); raises ValueError if malformed."""
    return CheckIn(
        message_id=_text(data, "message_id", _UID_MAX),
        meeting_uid=_text(data, "meeting_uid", _UID_MAX),
        member_id=_text(data, "member_id", _UID_MAX),
        checked_in_at=_aware(data.get("checked_in_at"), "checked_in_at"),
        circle_id=_text(data, "circle_id", _UID_MAX),
        display_name=_text(data, "display_name", MAX_NAME, required=False),
    )


# -- what the service returns ----------------------------------------------------------------------------------


class _Json:
    def to_json(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        for k, v in out.items():
            if isinstance(v, datetime):
                out[k] = v.isoformat()
        return out


@dataclass(frozen=True)
class Announcement(_Json):
    """Facilitator side: a meeting I announced to a circle. ``changed``: the meeting was edited since the last
    revision sent (the service sends edits itself; this shows when it could not, e.g. after leaving)."""

    meeting_uid: str
    meeting_id: int | None  # None once the meeting is deleted from my records
    circle_id: str
    item_id: str
    revision: int
    include_topic: bool
    state: str  # announced | withdrawn
    changed: bool = False


@dataclass(frozen=True)
class AnnouncedMeeting(_Json):
    """Member side: a meeting a facilitator announced to a circle I am in."""

    circle_id: str
    circle_name: str
    meeting_uid: str
    starts_at: datetime
    format: str
    minutes: int
    topic: str  # "" unless the facilitator chose to include it
    announced_by: str  # the admin's member id
    announced_by_name: str
    revision: int
    opens: datetime  # check-ins accepted from …
    closes: datetime  # … until
    checked_in_at: datetime | None  # when I checked in, if I did


@dataclass(frozen=True)
class SentCheckIn(_Json):
    """Member side: a check-in I sent (queued for the next sync)."""

    message_id: str
    meeting_uid: str
    circle_id: str
    checked_in_at: datetime
    display_name: str
    recipients: int  # how many admins it is sealed to
