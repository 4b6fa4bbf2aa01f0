"""Meetings, people, attendance marks and members' check-ins, kept in the encrypted vault. SQL lives here.

People are whoever the facilitator says they are: a name or pseudonym of their choosing, and, for someone who
uses the app, the opaque member id the circles layer knows them by. None of it is ever exported; reports read
only :meth:`AttendanceBook.dataset`, which carries meeting days, formats and lengths and an internal number
per person.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from companion.attendance.report import FORMATS, Dataset, MeetingFact
from companion.errors import InvalidInputError, NotFoundError
from companion.journal.dates import now, parse_datetime
from companion.journal.entries import clean_text
from companion.vault.store import Vault

MAX_NAME = 80
MAX_TOPIC = 200
MAX_NOTES = 10_000
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Meeting:
    id: int
    uid: str
    starts_at: datetime
    format: str
    minutes: int
    circle_id: str | None
    topic: str
    notes: str
    attendee_count: int = 0

    @property
    def day(self) -> date:
        return self.starts_at.date()


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    member_id: str | None


@dataclass(frozen=True)
class Attendee:
    person: Person
    source: str  # "facilitator" or "check_in"


@dataclass(frozen=True)
class CheckIn:
    """A member's check-in as the circles layer delivers it, after it has verified the signature."""

    message_id: str
    meeting_uid: str
    member_id: str
    checked_in_at: datetime
    circle_id: str | None = None
    display_name: str = ""


@dataclass(frozen=True)
class PendingCheckIn:
    id: int
    check_in: CheckIn
    status: str  # pending, confirmed, declined
    meeting_id: int | None  # None when the meeting is not (or no longer) in this vault


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise InvalidInputError(
            f"“{str(fmt)[:20]}” is not a meeting format. Use in_person, online or one_to_one."
        )
    return fmt


def check_minutes(minutes: int) -> int:
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 1440:
        raise InvalidInputError("A meeting lasts from 1 minute to 24 hours (1440 minutes).")
    return minutes


def clean_name(name: str) -> str:
    text = _SPACE.sub(" ", clean_text(name)).strip()
    if not text:
        raise InvalidInputError(
            "A person needs a name or pseudonym (it stays in your journal, never in reports)."
        )
    if len(text) > MAX_NAME:
        raise InvalidInputError(f"A name or pseudonym is at most {MAX_NAME} characters.")
    return text


def _clean_text(text: str, limit: int, what: str) -> str:
    cleaned = clean_text(text).strip()
    if len(cleaned) > limit:
        raise InvalidInputError(f"The {what} is too long (at most {limit} characters).")
    return cleaned


def _moment(value: datetime | date | str) -> datetime:
    if isinstance(value, str):
        return parse_datetime(value)
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.astimezone()
    return datetime.combine(value, datetime.min.time()).replace(hour=12).astimezone()


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


MEETING_COLUMNS = (
    "m.id, m.uid, m.starts_at, m.format, m.minutes, m.circle_id, m.topic, m.notes, "
    "(SELECT count(*) FROM att_marks k WHERE k.meeting_id = m.id)"
)


def _meeting(row: Sequence[Any]) -> Meeting:
    return Meeting(
        row[0], row[1], datetime.fromisoformat(row[2]), row[3], row[4], row[5], row[6], row[7], row[8]
    )


class AttendanceBook:
    """A facilitator's records in one vault: meetings, people, who came, check-ins awaiting confirmation."""

    def __init__(self, vault: Vault) -> None:
        self._vault = vault

    # -- meetings --------------------------------------------------------------------------------------------

    def add_meeting(
        self,
        starts_at: datetime | date | str,
        fmt: str,
        minutes: int,
        *,
        circle_id: str | None = None,
        topic: str = "",
        notes: str = "",
    ) -> Meeting:
        moment = _moment(starts_at)
        stamp = _iso(now())
        with self._vault.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO att_meetings (uid, starts_at, day, format, minutes, circle_id, topic, notes, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    str(uuid.uuid4()),
                    _iso(moment),
                    moment.date().isoformat(),
                    check_format(fmt),
                    check_minutes(minutes),
                    circle_id or None,
                    _clean_text(topic, MAX_TOPIC, "topic"),
                    _clean_text(notes, MAX_NOTES, "note"),
                    stamp,
                    stamp,
                ),
            )
            return self.get_meeting(cur.lastrowid)

    def update_meeting(self, meeting_id: int, **fields: Any) -> Meeting:
        """Fields: ``starts_at``, ``format``, ``minutes``, ``circle_id``, ``topic``, ``notes``."""
        current = self.get_meeting(meeting_id)
        unknown = set(fields) - {"starts_at", "format", "minutes", "circle_id", "topic", "notes"}
        if unknown:
            raise InvalidInputError(f"A meeting has no field {sorted(unknown)[0]!r}.")
        moment = _moment(fields["starts_at"]) if "starts_at" in fields else current.starts_at
        with self._vault.transaction() as conn:
            conn.execute(
                "UPDATE att_meetings SET starts_at = ?, day = ?, format = ?, minutes = ?, circle_id = ?, "
                "topic = ?, notes = ?, updated_at = ? WHERE id = ?",
                (
                    _iso(moment),
                    moment.date().isoformat(),
                    check_format(fields.get("format", current.format)),
                    check_minutes(fields.get("minutes", current.minutes)),
                    fields.get("circle_id", current.circle_id) or None,
                    _clean_text(fields.get("topic", current.topic), MAX_TOPIC, "topic"),
                    _clean_text(fields.get("notes", current.notes), MAX_NOTES, "note"),
                    _iso(now()),
                    meeting_id,
                ),
            )
        return self.get_meeting(meeting_id)

    def delete_meeting(self, meeting_id: int) -> None:
        self.get_meeting(meeting_id)
        with self._vault.transaction() as conn:
            conn.execute("DELETE FROM att_meetings WHERE id = ?", (meeting_id,))

    def get_meeting(self, meeting_id: int) -> Meeting:
        row = self._vault.conn.execute(
            f"SELECT {MEETING_COLUMNS} FROM att_meetings m WHERE m.id = ?", (meeting_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"There is no meeting {meeting_id}. `companion meeting list` shows them.")
        return _meeting(row)

    def find_meeting_uid(self, uid: str) -> int | None:
        row = self._vault.conn.execute("SELECT id FROM att_meetings WHERE uid = ?", (uid,)).fetchone()
        return None if row is None else row[0]

    def meetings(self, first: date | None = None, last: date | None = None) -> list[Meeting]:
        """Meetings whose day is within ``first`` … ``last`` (either end open), in time order."""
        rows = self._vault.conn.execute(
            f"SELECT {MEETING_COLUMNS} FROM att_meetings m WHERE m.day >= ? AND m.day <= ? "
            "ORDER BY m.starts_at, m.id",
            ((first or date.min).isoformat(), (last or date.max).isoformat()),
        )
        return [_meeting(r) for r in rows]

    def days_with_meetings(self, first: date, last: date) -> dict[date, int]:
        rows = self._vault.conn.execute(
            "SELECT day, count(*) FROM att_meetings WHERE day >= ? AND day <= ? GROUP BY day",
            (first.isoformat(), last.isoformat()),
        )
        return {date.fromisoformat(day): n for day, n in rows}

    # -- people ----------------------------------------------------------------------------------------------

    def add_person(self, name: str, *, member_id: str | None = None) -> Person:
        name = clean_name(name)
        if self.find_person(name) is not None:
            raise InvalidInputError(
                f"There is already someone called “{name}”. Choose another name or pseudonym."
            )
        with self._vault.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO att_people (name, member_id, created_at) VALUES (?, ?, ?)",
                (name, member_id or None, _iso(now())),
            )
        return self.get_person(cur.lastrowid)

    def person_named(self, name: str) -> Person:
        """The person with this name or pseudonym, created if new."""
        found = self.find_person(clean_name(name))
        return found if found is not None else self.add_person(name)

    def find_person(self, name: str) -> Person | None:
        row = self._vault.conn.execute(
            "SELECT id, name, member_id FROM att_people WHERE name = ?", (clean_name(name),)
        ).fetchone()
        return None if row is None else Person(*row)

    def find_member(self, member_id: str) -> Person | None:
        row = self._vault.conn.execute(
            "SELECT id, name, member_id FROM att_people WHERE member_id = ?", (member_id,)
        ).fetchone()
        return None if row is None else Person(*row)

    def get_person(self, person_id: int) -> Person:
        row = self._vault.conn.execute(
            "SELECT id, name, member_id FROM att_people WHERE id = ?", (person_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"There is no person {person_id} in your attendance records.")
        return Person(*row)

    def update_person(self, person_id: int, *, name: str | None = None, member_id: Any = ...) -> Person:
        person = self.get_person(person_id)
        new_name = clean_name(name) if name is not None else person.name
        other = self.find_person(new_name)
        if other is not None and other.id != person_id:
            raise InvalidInputError(f"There is already someone called “{new_name}”.")
        new_member = person.member_id if member_id is ... else (member_id or None)
        with self._vault.transaction() as conn:
            conn.execute(
                "UPDATE att_people SET name = ?, member_id = ? WHERE id = ?",
                (new_name, new_member, person_id),
            )
        return self.get_person(person_id)

    def delete_person(self, person_id: int) -> None:
        """Forget a person and every mark of their attendance (released reports keep their numbers)."""
        self.get_person(person_id)
        with self._vault.transaction() as conn:
            conn.execute("DELETE FROM att_people WHERE id = ?", (person_id,))

    def people(self) -> list[Person]:
        rows = self._vault.conn.execute(
            "SELECT id, name, member_id FROM att_people ORDER BY name COLLATE NOCASE"
        )
        return [Person(*r) for r in rows]

    # -- attendance ------------------------------------------------------------------------------------------

    def mark(self, meeting_id: int, person_ids: Iterable[int], *, source: str = "facilitator") -> int:
        """Mark people as present; returns how many marks were new."""
        self.get_meeting(meeting_id)
        ids = list(dict.fromkeys(person_ids))
        for pid in ids:
            self.get_person(pid)
        added = 0
        with self._vault.transaction() as conn:
            for pid in ids:
                cur = conn.execute(
                    "INSERT OR IGNORE INTO att_marks (meeting_id, person_id, source, marked_at) "
                    "VALUES (?, ?, ?, ?)",
                    (meeting_id, pid, source, _iso(now())),
                )
                added += cur.rowcount
        return added

    def unmark(self, meeting_id: int, person_ids: Iterable[int]) -> int:
        self.get_meeting(meeting_id)
        removed = 0
        with self._vault.transaction() as conn:
            for pid in dict.fromkeys(person_ids):
                removed += conn.execute(
                    "DELETE FROM att_marks WHERE meeting_id = ? AND person_id = ?", (meeting_id, pid)
                ).rowcount
        return removed

    def attendees(self, meeting_id: int) -> list[Attendee]:
        self.get_meeting(meeting_id)
        rows = self._vault.conn.execute(
            "SELECT p.id, p.name, p.member_id, k.source FROM att_marks k "
            "JOIN att_people p ON p.id = k.person_id WHERE k.meeting_id = ? ORDER BY p.name COLLATE NOCASE",
            (meeting_id,),
        )
        return [Attendee(Person(r[0], r[1], r[2]), r[3]) for r in rows]

    # -- check-ins -------------------------------------------------------------------------------------------

    def record_check_in(self, check_in: CheckIn, *, received_at: datetime | None = None) -> tuple[int, bool]:
        """Store a verified check-in as pending; returns (id, whether it was new). The same message twice is
        stored once."""
        for value, what in (
            (check_in.message_id, "message id"),
            (check_in.meeting_uid, "meeting"),
            (check_in.member_id, "member"),
        ):
            if not value or len(value) > 200:
                raise InvalidInputError(f"A check-in arrived with an unusable {what}; it was ignored.")
        with self._vault.transaction() as conn:
            row = conn.execute(
                "SELECT id FROM att_check_ins WHERE message_id = ?", (check_in.message_id,)
            ).fetchone()
            if row is not None:
                return row[0], False
            cur = conn.execute(
                "INSERT INTO att_check_ins (message_id, meeting_uid, member_id, circle_id, display_name, "
                "checked_in_at, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    check_in.message_id,
                    check_in.meeting_uid,
                    check_in.member_id,
                    check_in.circle_id,
                    _clean_text(check_in.display_name, MAX_NAME, "name")[:MAX_NAME],
                    _iso(_moment(check_in.checked_in_at)),
                    _iso(received_at or now()),
                ),
            )
            return cur.lastrowid, True

    def check_ins(self, *, status: str | None = "pending") -> list[PendingCheckIn]:
        rows = self._vault.conn.execute(
            "SELECT c.id, c.message_id, c.meeting_uid, c.member_id, c.checked_in_at, c.circle_id, "
            "c.display_name, "
            "c.status, m.id FROM att_check_ins c LEFT JOIN att_meetings m ON m.uid = c.meeting_uid "
            "WHERE ? IS NULL OR c.status = ? ORDER BY c.received_at, c.id",
            (status, status),
        )
        return [
            PendingCheckIn(
                r[0], CheckIn(r[1], r[2], r[3], datetime.fromisoformat(r[4]), r[5], r[6]), r[7], r[8]
            )
            for r in rows
        ]

    def get_check_in(self, check_in_id: int) -> PendingCheckIn:
        for item in self.check_ins(status=None):
            if item.id == check_in_id:
                return item
        raise NotFoundError(f"There is no check-in {check_in_id}.")

    def decide_check_in(self, check_in_id: int, status: str) -> None:
        with self._vault.transaction() as conn:
            conn.execute(
                "UPDATE att_check_ins SET status = ?, decided_at = ? WHERE id = ?",
                (status, _iso(now()), check_in_id),
            )

    # -- what reports read -----------------------------------------------------------------------------------

    def dataset(self) -> Dataset:
        """Every meeting's day, format and length, and every mark as (meeting, internal person number)."""
        conn = self._vault.conn
        meetings = [
            MeetingFact(r[0], date.fromisoformat(r[1]), r[2], r[3])
            for r in conn.execute("SELECT id, day, format, minutes FROM att_meetings")
        ]
        marks = [(r[0], r[1]) for r in conn.execute("SELECT meeting_id, person_id FROM att_marks")]
        return Dataset(meetings, marks)
