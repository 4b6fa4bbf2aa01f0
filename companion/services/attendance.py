"""Meetings, attendance and anonymised attendance reports, for the Meetings page and the command line.

Reads return plain values; changes return :class:`Changed` with ``Changes.MEETINGS``. ``preview`` builds a
report without writing anything (no ledger entry, no noise drawn); ``export`` records the release in the
vault's ledger and writes the file in one step: if the file cannot be written, nothing is recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from companion.attendance import engine
from companion.attendance.disclosure import PROFILES
from companion.attendance.ledger import Ledger, Release
from companion.attendance.output import OUTPUT_FORMATS, Report, render_bytes, write_atomically
from companion.attendance.periods import Period, PeriodKind, parse_period_label
from companion.attendance.store import AttendanceBook, Attendee, CheckIn, Meeting, PendingCheckIn, Person
from companion.errors import InvalidInputError, NotFoundError
from companion.journal.dates import now
from companion.services import Changed, Changes

if TYPE_CHECKING:
    from companion.services import Companion


class AttendanceService:
    def __init__(self, app: Companion) -> None:
        self._app = app
        self._vault = app.vault
        self._book = AttendanceBook(self._vault)
        self._ledger = Ledger(self._vault)

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
    ) -> Changed[Meeting]:
        """``fmt`` is ``in_person``, ``online`` or ``one_to_one``; a bare date means noon that day."""
        meeting = self._book.add_meeting(
            starts_at, fmt, minutes, circle_id=circle_id, topic=topic, notes=notes
        )
        return Changed(meeting, Changes.MEETINGS)

    def update_meeting(self, meeting_id: int, **fields: Any) -> Changed[Meeting]:
        """Fields: ``starts_at``, ``format``, ``minutes``, ``circle_id``, ``topic``, ``notes``. If the meeting
        was announced to a circle and what its members were told changed, the edit is sent to them too."""
        with self._vault.transaction():
            meeting = self._book.update_meeting(meeting_id, **fields)
            changes = self._app.circles.meeting_changed(meeting_id)
        return Changed(meeting, Changes.MEETINGS | changes)

    def delete_meeting(self, meeting_id: int) -> Changed[None]:
        """Delete a meeting (and its marks); an announcement of it to a circle is withdrawn."""
        with self._vault.transaction():
            uid = self._book.get_meeting(meeting_id).uid
            self._book.delete_meeting(meeting_id)
            changes = self._app.circles.meeting_deleted(uid)
        return Changed(None, Changes.MEETINGS | changes)

    def get_meeting(self, meeting_id: int) -> Meeting:
        return self._book.get_meeting(meeting_id)

    def meetings(self, first: date | None = None, last: date | None = None) -> list[Meeting]:
        """Meetings with their day in ``first`` … ``last`` (inclusive, either end open), oldest first."""
        return self._book.meetings(first, last)

    def days_with_meetings(self, first: date, last: date) -> dict[date, int]:
        """For the calendar: how many meetings each day holds."""
        return self._book.days_with_meetings(first, last)

    # -- people ----------------------------------------------------------------------------------------------

    def people(self) -> list[Person]:
        return self._book.people()

    def add_person(self, name: str, *, member_id: str | None = None) -> Changed[Person]:
        return Changed(self._book.add_person(name, member_id=member_id), Changes.MEETINGS)

    def person_named(self, name: str) -> Changed[Person]:
        """The person with this name or pseudonym, created if new."""
        existing = self._book.find_person(name)
        if existing is not None:
            return Changed(existing, Changes.NONE)
        return Changed(self._book.add_person(name), Changes.MEETINGS)

    def update_person(
        self, person_id: int, *, name: str | None = None, member_id: Any = ...
    ) -> Changed[Person]:
        return Changed(self._book.update_person(person_id, name=name, member_id=member_id), Changes.MEETINGS)

    def delete_person(self, person_id: int) -> Changed[None]:
        """Forget someone and their attendance marks. Reports already released keep their numbers."""
        self._book.delete_person(person_id)
        return Changed(None, Changes.MEETINGS)

    # -- attendance ------------------------------------------------------------------------------------------

    def attendees(self, meeting_id: int) -> list[Attendee]:
        return self._book.attendees(meeting_id)

    def checklist(self, meeting_id: int) -> list[tuple[Person, bool]]:
        """Everyone the facilitator knows, each with whether they are marked present at this meeting."""
        present = {a.person.id for a in self._book.attendees(meeting_id)}
        return [(p, p.id in present) for p in self._book.people()]

    def mark(self, meeting_id: int, person_ids: Iterable[int]) -> Changed[int]:
        """Mark people present; the value is how many marks are new."""
        added = self._book.mark(meeting_id, person_ids)
        return Changed(added, Changes.MEETINGS if added else Changes.NONE)

    def unmark(self, meeting_id: int, person_ids: Iterable[int]) -> Changed[int]:
        removed = self._book.unmark(meeting_id, person_ids)
        return Changed(removed, Changes.MEETINGS if removed else Changes.NONE)

    def attend(self, meeting_id: int, names: Iterable[str]) -> Changed[list[Person]]:
        """Mark people present by name or pseudonym, adding anyone new (for ``companion meeting attend``)."""
        names = list(names)
        if not names:
            raise InvalidInputError("Name at least one person who came.")
        with self._vault.transaction():
            self._book.get_meeting(meeting_id)
            people = list({p.id: p for p in (self._book.person_named(name) for name in names)}.values())
            self._book.mark(meeting_id, [p.id for p in people])
        return Changed(people, Changes.MEETINGS)

    # -- members' check-ins ----------------------------------------------------------------------------------

    def record_check_in(self, check_in: CheckIn) -> Changed[PendingCheckIn]:
        """Keep a verified check-in until the facilitator confirms it (idempotent per message)."""
        check_in_id, new = self._book.record_check_in(check_in)
        return Changed(self._book.get_check_in(check_in_id), Changes.MEETINGS if new else Changes.NONE)

    def pending_check_ins(self) -> list[PendingCheckIn]:
        return self._book.check_ins(status="pending")

    def confirm_check_in(self, check_in_id: int, *, name: str | None = None) -> Changed[Attendee]:
        """Mark the member present at the meeting. They are matched by member id; someone new is added under
        ``name`` (else the name they gave, else a neutral placeholder the facilitator can change)."""
        item = self._book.get_check_in(check_in_id)
        if item.status != "pending":
            raise InvalidInputError(f"This check-in was already {item.status}.")
        if item.meeting_id is None:
            raise NotFoundError(
                "The meeting this check-in is for is not in your records (it may have been "
                "deleted). Decline it instead."
            )
        with self._vault.transaction():
            person = self._book.find_member(item.check_in.member_id)
            if person is None:
                label = name or item.check_in.display_name or f"Member {len(self._book.people()) + 1}"
                while self._book.find_person(label) is not None:
                    label += "′"
                person = self._book.add_person(label, member_id=item.check_in.member_id)
            self._book.mark(item.meeting_id, [person.id], source="check_in")
            self._book.decide_check_in(check_in_id, "confirmed")
        return Changed(Attendee(person, "check_in"), Changes.MEETINGS)

    def decline_check_in(self, check_in_id: int) -> Changed[None]:
        item = self._book.get_check_in(check_in_id)
        if item.status != "pending":
            raise InvalidInputError(f"This check-in was already {item.status}.")
        self._book.decide_check_in(check_in_id, "declined")
        return Changed(None, Changes.MEETINGS)

    # -- reports ---------------------------------------------------------------------------------------------

    def preview(
        self,
        kind: PeriodKind,
        first: date,
        last: date,
        *,
        profile: str = "strict",
        epsilon: float | None = None,
        today: date | None = None,
    ) -> Report:
        """The report as it would be exported, with hidden cells as markers (``Report.hidden()`` lists them).
        Writes nothing. If an export would be refused, ``Report.blocked`` says why; under differential privacy
        the cells of periods not yet released are None (noise is drawn once, at export)."""
        request = engine.Request(kind, first, last, profile, epsilon)
        report, _ = engine.build(
            self._book.dataset(), self._ledger, request, today=today or now().date(), export=False
        )
        return report

    def export(
        self,
        kind: PeriodKind,
        first: date,
        last: date,
        fmt: str,
        output: Path,
        *,
        profile: str = "strict",
        epsilon: float | None = None,
        today: date | None = None,
    ) -> Changed[Report]:
        """Release the report: record it in the ledger (and spend privacy budget) and write ``output`` as
        ``csv``, ``json`` or ``pdf``. Raises ``ReleaseRefusedError`` / ``BudgetSpentError`` with nothing
        written."""
        if fmt not in OUTPUT_FORMATS:
            raise InvalidInputError(f"“{fmt[:10]}” is not a report format. Use csv, json or pdf.")
        day = today or now().date()
        request = engine.Request(kind, first, last, profile, epsilon)
        report, new = engine.build(self._book.dataset(), self._ledger, request, today=day, export=True)
        data = render_bytes(report, fmt)
        with self._vault.transaction() as conn:
            for release in new:
                self._ledger.record(
                    conn, release.period, request.method, report.meta["epsilon"], release.rows, day
                )
                if report.meta["epsilon"] is not None:
                    self._ledger.spend(conn, release.period, report.meta["epsilon"], request.budget)
            write_atomically(Path(output), data)
        return Changed(report, Changes.MEETINGS if new else Changes.NONE)

    def profiles(self) -> list[tuple[str, str]]:
        """The disclosure profiles, as (name, description), default first."""
        return [(p.name, p.description) for p in PROFILES.values()]

    def dp_available(self) -> bool:
        """Whether differential privacy can be offered (the optional OpenDP extra is installed)."""
        from companion.attendance import dp

        return dp.available()

    def releases(self) -> list[Release]:
        """Everything released so far, oldest period first."""
        return self._ledger.releases()

    def privacy_budget(self, period: str | Period) -> tuple[float, float]:
        """(budget, spent) epsilon for a period such as ``2026-03`` or ``2026-Q1``."""
        return self._ledger.budget(parse_period_label(period) if isinstance(period, str) else period)
