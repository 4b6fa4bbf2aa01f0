"""Meetings, people, attendance, check-ins and the release ledger: AttendanceService on real vaults."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest

from companion.attendance.ledger import ReleaseRefusedError
from companion.attendance.store import CheckIn
from companion.errors import InvalidInputError, NotFoundError
from companion.services import Changes, Companion

from .conftest import PASSPHRASE

TODAY = date(2026, 11, 27)


def add_group(service, day: str, fmt: str = "in_person", names=("Ann", "Ben"), minutes: int = 90) -> int:
    meeting = service.add_meeting(day, fmt, minutes).value
    service.attend(meeting.id, list(names))
    return meeting.id


def crowd(n: int, prefix: str = "P") -> list[str]:
    return [f"{prefix}{i:03d}" for i in range(n)]


def test_meetings_round_trip_and_survive_relock(app, tmp_path):
    svc = app.attendance
    changed = svc.add_meeting("2026-03-04T18:30", "online", 75, circle_id="circle-1", topic="Sleep")
    assert changed.changes == Changes.MEETINGS
    m = changed.value
    assert (m.format, m.minutes, m.circle_id, m.topic, m.day) == (
        "online",
        75,
        "circle-1",
        "Sleep",
        date(2026, 3, 4),
    )
    svc.add_meeting(date(2026, 3, 1), "in_person", 60)
    svc.add_meeting("2026-04-01", "one_to_one", 50)
    assert [x.day for x in svc.meetings(date(2026, 3, 1), date(2026, 3, 31))] == [
        date(2026, 3, 1),
        date(2026, 3, 4),
    ]
    assert svc.days_with_meetings(date(2026, 3, 1), date(2026, 4, 30)) == {
        date(2026, 3, 1): 1,
        date(2026, 3, 4): 1,
        date(2026, 4, 1): 1,
    }
    updated = svc.update_meeting(m.id, minutes=80, topic="Rest").value
    assert (updated.minutes, updated.topic, updated.format) == (80, "Rest", "online")
    app.lock()
    again = Companion(app.data_dir)
    again.unlock(PASSPHRASE)
    assert again.attendance.get_meeting(m.id).topic == "Rest"
    again.attendance.delete_meeting(m.id)
    with pytest.raises(NotFoundError):
        again.attendance.get_meeting(m.id)
    again.lock()


@pytest.mark.parametrize(
    ("fmt", "minutes"), [("workshop", 60), ("online", 0), ("online", 1441), ("online", True)]
)
def test_bad_meetings_are_refused(app, fmt, minutes):
    with pytest.raises(InvalidInputError):
        app.attendance.add_meeting("2026-03-04", fmt, minutes)
    assert app.attendance.meetings() == []


def test_attendance_marks_people_by_name_and_checklist(app):
    svc = app.attendance
    mid = add_group(svc, "2026-03-04", names=("Ann", "ben", "Ben "))  # same person twice, case and spaces
    assert sorted(p.name for p in svc.people()) == ["Ann", "ben"]
    assert svc.get_meeting(mid).attendee_count == 2
    ann = next(p for p in svc.people() if p.name == "Ann")
    svc.add_person("Cy")
    checklist = {p.name: present for p, present in svc.checklist(mid)}
    assert checklist == {"Ann": True, "ben": True, "Cy": False}
    assert svc.unmark(mid, [ann.id]).value == 1
    assert svc.unmark(mid, [ann.id]).changes == Changes.NONE
    assert [a.person.name for a in svc.attendees(mid)] == ["ben"]
    with pytest.raises(InvalidInputError):
        svc.add_person("ANN")
    with pytest.raises(NotFoundError):
        svc.attend(999, ["Ann"])
    svc.delete_person(ann.id)
    assert [p.name for p in svc.people()] == ["ben", "Cy"]


def test_check_in_is_pending_until_confirmed_and_idempotent(app):
    svc = app.attendance
    meeting = svc.add_meeting("2026-03-04", "online", 60).value
    msg = CheckIn(
        "msg-1", meeting.uid, "member-abc", datetime(2026, 3, 4, 18, 5).astimezone(), "circle-1", "Robin"
    )
    first = svc.record_check_in(msg)
    assert first.changes == Changes.MEETINGS and first.value.status == "pending"
    assert svc.record_check_in(msg).changes == Changes.NONE  # the same message again
    assert len(svc.pending_check_ins()) == 1
    assert svc.attendees(meeting.id) == []  # nothing counts before the facilitator confirms
    attendee = svc.confirm_check_in(first.value.id).value
    assert (attendee.person.name, attendee.person.member_id, attendee.source) == (
        "Robin",
        "member-abc",
        "check_in",
    )
    assert [a.person.member_id for a in svc.attendees(meeting.id)] == ["member-abc"]
    assert svc.pending_check_ins() == []
    with pytest.raises(InvalidInputError):
        svc.confirm_check_in(first.value.id)
    # a second meeting: the same member is matched by member id, not by name
    other = svc.add_meeting("2026-03-11", "online", 60).value
    second = svc.record_check_in(
        CheckIn("msg-2", other.uid, "member-abc", datetime(2026, 3, 11, 18).astimezone())
    )
    assert svc.confirm_check_in(second.value.id).value.person.id == attendee.person.id
    third = svc.record_check_in(
        CheckIn("msg-3", other.uid, "member-zzz", datetime(2026, 3, 11, 18).astimezone())
    )
    svc.decline_check_in(third.value.id)
    assert len(svc.attendees(other.id)) == 1


def test_preview_writes_nothing_and_export_records_the_release(app, tmp_path):
    svc = app.attendance
    add_group(svc, "2026-01-10", names=crowd(30))
    add_group(svc, "2026-02-10", names=crowd(25))
    preview = svc.preview("month", date(2026, 1, 1), date(2026, 2, 28), today=TODAY)
    assert preview.blocked is None and preview.labels == ("2026-01", "2026-02")
    assert svc.releases() == []
    assert not list(tmp_path.glob("*.csv"))
    out = tmp_path / "jan-feb.json"
    report = svc.export("month", date(2026, 1, 1), date(2026, 2, 28), "json", out, today=TODAY).value
    assert report.rows == preview.rows  # the preview showed exactly what went out
    assert [r.period_label for r in svc.releases()] == ["2026-01", "2026-02"]
    assert json.loads(out.read_text())["rows"] == [dict(r) for r in report.rows]


def test_asking_again_returns_the_released_numbers_even_after_data_changed(app, tmp_path):
    svc = app.attendance
    add_group(svc, "2026-01-10", names=crowd(30))
    first = svc.export("month", date(2026, 1, 1), date(2026, 1, 31), "csv", tmp_path / "a.csv", today=TODAY)
    add_group(svc, "2026-01-20", names=crowd(17, "Q"))  # late marks for January
    again = svc.export("month", date(2026, 1, 1), date(2026, 1, 31), "csv", tmp_path / "b.csv", today=TODAY)
    assert again.value.rows == first.value.rows
    assert again.value.released_before == ("2026-01",)
    assert again.changes == Changes.NONE
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()
    fresh = svc.preview("month", date(2026, 1, 1), date(2026, 1, 31), today=TODAY)
    assert fresh.rows == first.value.rows  # previews show the recorded numbers too


def test_overlapping_periods_are_refused_both_ways(app, tmp_path):
    svc = app.attendance
    for day in ("2026-01-10", "2026-02-10", "2026-04-10"):
        add_group(svc, day, names=crowd(20))
    svc.export("month", date(2026, 1, 1), date(2026, 1, 31), "csv", tmp_path / "jan.csv", today=TODAY)
    with pytest.raises(ReleaseRefusedError, match="overlaps 2026-01"):
        svc.export("quarter", date(2026, 1, 1), date(2026, 3, 31), "csv", tmp_path / "q1.csv", today=TODAY)
    assert not (tmp_path / "q1.csv").exists()
    svc.export("quarter", date(2026, 4, 1), date(2026, 6, 30), "csv", tmp_path / "q2.csv", today=TODAY)
    with pytest.raises(ReleaseRefusedError, match="overlaps 2026-Q2"):
        svc.export("month", date(2026, 5, 1), date(2026, 5, 31), "csv", tmp_path / "may.csv", today=TODAY)
    # a range with one released period and one overlapping period is refused as a whole: nothing recorded
    with pytest.raises(ReleaseRefusedError):
        svc.export("month", date(2026, 1, 1), date(2026, 4, 30), "csv", tmp_path / "x.csv", today=TODAY)
    assert [r.period_label for r in svc.releases()] == ["2026-01", "2026-Q2"]
    preview = svc.preview("quarter", date(2026, 1, 1), date(2026, 3, 31), today=TODAY)
    assert preview.blocked is not None and "overlaps" in preview.blocked


def test_another_profile_for_a_released_period_is_refused(app, tmp_path):
    svc = app.attendance
    add_group(svc, "2026-01-10", names=crowd(12))
    svc.export("month", date(2026, 1, 1), date(2026, 1, 31), "csv", tmp_path / "a.csv", today=TODAY)
    with pytest.raises(ReleaseRefusedError, match="--profile strict"):
        svc.export(
            "month",
            date(2026, 1, 1),
            date(2026, 1, 31),
            "csv",
            tmp_path / "b.csv",
            profile="nhs",
            today=TODAY,
        )


def test_periods_still_running_cannot_be_released(app, tmp_path):
    svc = app.attendance
    add_group(svc, "2026-11-02", names=crowd(20))
    with pytest.raises(ReleaseRefusedError, match="not over yet"):
        svc.export("month", date(2026, 11, 1), date(2026, 11, 30), "csv", tmp_path / "a.csv", today=TODAY)
    assert svc.preview("month", date(2026, 11, 1), date(2026, 11, 30), today=TODAY).blocked
    assert svc.releases() == []


def test_a_failed_write_records_nothing(app, tmp_path):
    svc = app.attendance
    add_group(svc, "2026-01-10", names=crowd(20))
    with pytest.raises(InvalidInputError):
        svc.export(
            "month", date(2026, 1, 1), date(2026, 1, 31), "csv", tmp_path / "missing" / "a.csv", today=TODAY
        )
    assert svc.releases() == []
    with pytest.raises(InvalidInputError):
        svc.export("month", date(2026, 1, 1), date(2026, 1, 31), "xlsx", tmp_path / "a.xlsx", today=TODAY)


def test_whole_periods_cover_the_range(app, tmp_path):
    svc = app.attendance
    add_group(svc, "2026-01-10", names=crowd(20))
    report = svc.preview("quarter", date(2026, 2, 15), date(2026, 4, 2), today=TODAY)
    assert report.labels == ("2026-Q1", "2026-Q2")
    with pytest.raises(InvalidInputError):
        svc.preview("month", date(2026, 3, 1), date(2026, 2, 1), today=TODAY)


def test_four_person_circle_exports_no_person_count(app, tmp_path):
    svc = app.attendance
    circle = ["Ada", "Bea", "Cal", "Dev"]
    for week in range(4):
        add_group(svc, f"2026-03-{2 + 7 * week:02d}", names=circle)
    add_group(svc, "2026-03-12", "online", names=circle[:3])
    add_group(svc, "2026-03-20", "one_to_one", names=circle[3:])
    report = svc.export(
        "month", date(2026, 3, 1), date(2026, 3, 31), "csv", tmp_path / "c.csv", today=TODAY
    ).value
    for row in report.rows:
        for m in ("attendances", "unique_attendees", "new_attendees", "returning_attendees"):
            assert isinstance(row[m], str), (row["format"], m, row[m])


def test_the_export_dialog_can_list_profiles_and_dp(app):
    names = [name for name, _ in app.attendance.profiles()]
    assert names == ["strict", "nhs"]
    assert isinstance(app.attendance.dp_available(), bool)
