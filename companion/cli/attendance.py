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
