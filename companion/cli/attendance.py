"""Facilitator commands: meeting add / attend / list, and attendance export.

``meeting add`` prints the new meeting's id on its last line. ``attendance export`` writes aggregates only; it
imports Qt (lazily, through ``companion.ui.pdf_report``) only for ``--format pdf``.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Any

from companion.cli import Context
from companion.errors import InvalidInputError
from companion.journal.dates import parse_day

FORMAT_CHOICES = ("in_person", "online", "one_to_one")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    meeting = sub.add_parser(
        "meeting",
        parents=[common],
        help="meetings you facilitate and who came",
        description="Meetings you facilitate and who came. Names stay in your journal.",
    )
    msub = meeting.add_subparsers(dest="meeting_command", metavar="ACTION", required=True)

    p = msub.add_parser("add", parents=[common], help="record a meeting; prints its id")
    p.add_argument("--date", required=True, metavar="D", help="YYYY-MM-DD or YYYY-MM-DDTHH:MM")
    p.add_argument("--format", required=True, choices=FORMAT_CHOICES, dest="fmt")
    p.add_argument("--minutes", required=True, type=_minutes, metavar="M")
    p.add_argument(
        "--circle", default=None, metavar="C", help="the circle it belongs to (kept, never reported)"
    )
    p.add_argument("--topic", default="", metavar="T", help="kept in your journal, never in reports")
    p.set_defaults(handler=cmd_meeting_add)

    p = msub.add_parser("attend", parents=[common], help="mark people present (new names are added)")
    p.add_argument("meeting", type=_meeting_id, metavar="MEETING")
    p.add_argument("people", nargs="+", metavar="PERSON", help="a name or pseudonym of your choosing")
    p.set_defaults(handler=cmd_meeting_attend)

    p = msub.add_parser("list", parents=[common], help="list meetings, oldest first")
    p.add_argument("--from", dest="date_from", type=_day, default=None, metavar="D")
    p.add_argument("--to", dest="date_to", type=_day, default=None, metavar="D")
    p.set_defaults(handler=cmd_meeting_list)

    # announcements and check-ins through a circle (docs/circles.md "Meetings and check-ins")
    p = msub.add_parser(
        "announce", parents=[common], help="tell the meeting's circle about it, so members can check in"
    )
    p.add_argument("meeting", type=_meeting_id, metavar="MEETING")
    p.add_argument("--circle", default=None, metavar="C", help="for a meeting not linked to a circle")
    p.add_argument("--include-topic", action="store_true", help="members see the topic too (default: not)")
    p.set_defaults(handler=cmd_meeting_announce)

    p = msub.add_parser("withdraw", parents=[common], help="withdraw a meeting's announcement")
    p.add_argument("meeting", metavar="MEETING", help="its id, or its uid once deleted")
    p.set_defaults(handler=cmd_meeting_withdraw)

    p = msub.add_parser("announced", parents=[common], help="meetings announced to your circles (to check in)")
    p.add_argument("--circle", default=None, metavar="C")
    p.set_defaults(handler=cmd_meeting_announced)

    p = msub.add_parser("checkin", parents=[common], help="tell the facilitator you are at an announced meeting")
    p.add_argument("meeting_uid", metavar="MEETING_UID", help="as `meeting announced` shows (a prefix will do)")
    p.add_argument("--circle", default=None, metavar="C")
    p.add_argument("--name", default=None, metavar="NAME", help="the name to be listed under (default: yours)")
    p.set_defaults(handler=cmd_meeting_checkin)

    p = msub.add_parser("checkins", parents=[common], help="members' check-ins waiting for you to confirm")
    p.set_defaults(handler=cmd_meeting_checkins)

    p = msub.add_parser("confirm", parents=[common], help="confirm a check-in: the member is marked present")
    p.add_argument("check_in", type=_check_in_id, metavar="CHECKIN")
    p.add_argument("--name", default=None, metavar="NAME", help="for someone new: the name to list them under")
    p.set_defaults(handler=cmd_meeting_confirm)

    p = msub.add_parser("decline", parents=[common], help="decline a check-in")
    p.add_argument("check_in", type=_check_in_id, metavar="CHECKIN")
    p.set_defaults(handler=cmd_meeting_decline)

    attendance = sub.add_parser(
        "attendance",
        parents=[common],
        help="anonymised attendance reports",
        description="Anonymised attendance reports: counts only, never names.",
    )
    asub = attendance.add_subparsers(dest="attendance_command", metavar="ACTION", required=True)
    p = asub.add_parser(
        "export",
        parents=[common],
        help="write a report of whole months or quarters",
        description="Write an aggregate report for every whole period from --from to --to. "
        "Small numbers are hidden (profile strict or nhs), or noise is added (--epsilon). "
        "A period released before gives the same numbers again; overlapping periods are refused.",
    )
    p.add_argument("--period", required=True, choices=("month", "quarter"))
    p.add_argument("--from", dest="date_from", required=True, type=_day, metavar="D")
    p.add_argument("--to", dest="date_to", required=True, type=_day, metavar="D")
    p.add_argument("--format", required=True, choices=("csv", "json", "pdf"), dest="fmt")
    p.add_argument("--output", required=True, type=Path, metavar="PATH")
    p.add_argument(
        "--profile", choices=("strict", "nhs"), default=None, help="disclosure rules (default strict)"
    )
    p.add_argument(
        "--epsilon",
        type=float,
        default=None,
        metavar="E",
        help="differential privacy instead of suppression (needs companion[dp])",
    )
    p.set_defaults(handler=cmd_attendance_export)


def _minutes(text: str) -> int:
    if text.isdigit() and 1 <= int(text) <= 1440:
        return int(text)
    raise argparse.ArgumentTypeError("minutes is a whole number from 1 to 1440")


def _meeting_id(text: str) -> int:
    if text.isdigit():
        return int(text)
    raise argparse.ArgumentTypeError(f"“{text[:20]}” is not a meeting id (a number, as `meeting list` shows)")


def _day(text: str) -> date:
    try:
        return parse_day(text)
    except InvalidInputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def meeting_json(m: Any) -> dict[str, Any]:
    return {
        "id": m.id,
        "starts_at": m.starts_at.isoformat(timespec="minutes"),
        "format": m.format,
        "minutes": m.minutes,
        "circle": m.circle_id,
        "topic": m.topic,
        "attendees": m.attendee_count,
    }


def cmd_meeting_add(ctx: Context) -> None:
    a = ctx.args
    meeting = (
        ctx.app().attendance.add_meeting(a.date, a.fmt, a.minutes, circle_id=a.circle, topic=a.topic).value
    )
    ctx.emit(meeting_json(meeting), str(meeting.id))


def cmd_meeting_attend(ctx: Context) -> None:
    people = ctx.app().attendance.attend(ctx.args.meeting, ctx.args.people).value
    ctx.emit(
        {"meeting": ctx.args.meeting, "marked": len(people)},
        f"Marked {len(people)} present at meeting {ctx.args.meeting}.",
    )


def cmd_meeting_list(ctx: Context) -> None:
    meetings = ctx.app().attendance.meetings(ctx.args.date_from, ctx.args.date_to)

    def text() -> str:
        lines = [
            f"{m.id:>5}  {m.starts_at:%Y-%m-%d %H:%M}  {m.format:<10}  {m.minutes:>4} min  "
            f"{m.attendee_count:>3} came  {m.topic}".rstrip()
            for m in meetings
        ]
        return "\n".join(lines) or "No meetings yet."

    ctx.emit([meeting_json(m) for m in meetings], text)


def _check_in_id(text: str) -> int:
    if text.isdigit():
        return int(text)
    raise argparse.ArgumentTypeError(f"“{text[:20]}” is not a check-in id (a number, as `meeting checkins` shows)")


def cmd_meeting_announce(ctx: Context) -> None:
    a = ctx.args
    info = ctx.app().circles.announce_meeting(a.meeting, include_topic=a.include_topic or None, circle=a.circle).value
    ctx.emit(info.to_json(), f"Meeting {a.meeting} announced (revision {info.revision}); it goes out on the next "
             f"sync.\n{info.item_id}")  # fmt: skip


def cmd_meeting_withdraw(ctx: Context) -> None:
    ref = ctx.args.meeting
    done = ctx.app().circles.withdraw_meeting(int(ref) if ref.isdigit() else ref).value
    ctx.emit([d.to_json() for d in done], f"Withdrawn from {len(done)} circle(s); sent on the next sync.")


def cmd_meeting_announced(ctx: Context) -> None:
    meetings = ctx.app().circles.meetings_announced(ctx.args.circle)

    def text() -> str:
        lines = [
            f"{m.meeting_uid}  {m.starts_at:%Y-%m-%d %H:%M}  {m.format:<10}  {m.minutes:>4} min  {m.circle_name}"
            + ("  (checked in)" if m.checked_in_at else "") + (f"  {m.topic}" if m.topic else "")
            for m in meetings
        ]  # fmt: skip
        return "\n".join(lines) or "No meetings announced to you yet (sync first)."

    ctx.emit([m.to_json() for m in meetings], text)


def cmd_meeting_checkin(ctx: Context) -> None:
    a = ctx.args
    changed = ctx.app().circles.check_in(a.meeting_uid, circle=a.circle, display_name=a.name)
    sent = changed.value
    what = "Checked in; the facilitator sees it after the next sync." if changed.changes else "Already checked in."
    ctx.emit(sent.to_json(), f"{what}\n{sent.message_id}")


def check_in_json(c: Any) -> dict[str, Any]:
    return {
        "id": c.id,
        "meeting": c.meeting_id,
        "meeting_uid": c.check_in.meeting_uid,
        "member_id": c.check_in.member_id,
        "name": c.check_in.display_name,
        "circle": c.check_in.circle_id,
        "checked_in_at": c.check_in.checked_in_at.isoformat(),
        "status": c.status,
    }


def cmd_meeting_checkins(ctx: Context) -> None:
    items = ctx.app().attendance.pending_check_ins()

    def text() -> str:
        lines = [
            f"{c.id:>5}  meeting {c.meeting_id if c.meeting_id is not None else '(gone)'}  "
            f"{c.check_in.checked_in_at:%Y-%m-%d %H:%M}  {c.check_in.display_name or c.check_in.member_id[:12]}"
            for c in items
        ]
        return "\n".join(lines) or "No check-ins waiting."

    ctx.emit([check_in_json(c) for c in items], text)


def cmd_meeting_confirm(ctx: Context) -> None:
    attendee = ctx.app().attendance.confirm_check_in(ctx.args.check_in, name=ctx.args.name).value
    ctx.emit(
        {"check_in": ctx.args.check_in, "person": attendee.person.id, "name": attendee.person.name},
        f"Confirmed: {attendee.person.name} is marked present.",
    )


def cmd_meeting_decline(ctx: Context) -> None:
    ctx.app().attendance.decline_check_in(ctx.args.check_in)
    ctx.emit({"check_in": ctx.args.check_in, "status": "declined"}, "Declined.")


def cmd_attendance_export(ctx: Context) -> None:
    a = ctx.args
    if a.epsilon is not None and a.profile is not None:
        raise InvalidInputError(
            "Choose either --profile (suppression) or --epsilon (differential privacy), not both."
        )
    report = (
        ctx.app()
        .attendance.export(
            a.period,
            a.date_from,
            a.date_to,
            a.fmt,
            a.output,
            profile=a.profile or "strict",
            epsilon=a.epsilon,
        )
        .value
    )
    hidden = len(report.hidden())
    again = f"; {', '.join(report.released_before)} as released before" if report.released_before else ""
    ctx.emit(
        {
            "output": str(a.output),
            "periods": list(report.labels),
            "hidden_cells": hidden,
            "released_before": list(report.released_before),
        },
        f"Wrote {len(report.labels)} {a.period}(s) ({report.labels[0]} to {report.labels[-1]}) "
        f"to {a.output}: {hidden} cells hidden{again}.",
    )
