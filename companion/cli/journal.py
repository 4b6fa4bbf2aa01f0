"""Journal commands: init, add, list, show, search, edit, delete, trash, undelete, passwd, export."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from companion.cli import ENV_NEW_PASSPHRASE, Context, read_passphrase
from companion.errors import InvalidInputError
from companion.journal.dates import parse_day
from companion.journal.entries import Entry, EntrySummary
from companion.journal.export import entry_to_json
from companion.journal.search import HIGHLIGHT_END, HIGHLIGHT_START, Filters


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    def command(name: str, handler: Any, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    command("init", cmd_init, "create a new encrypted journal")

    p = command("add", cmd_add, "write a new entry (TEXT, or - / nothing to read standard input)")
    p.add_argument("text", nargs="?", default=None, metavar="TEXT")
    p.add_argument("--title", default="")
    p.add_argument("--tag", action="append", default=[], dest="tags", metavar="TAG")
    p.add_argument("--mood", type=_mood, default=None, metavar="1-5")
    p.add_argument("--date", default=None, metavar="ISO", help="YYYY-MM-DD or YYYY-MM-DDTHH:MM (default: now)")

    p = command("list", cmd_list, "list entries, newest first")
    p.add_argument("--limit", type=_positive, default=20, metavar="N")
    p.add_argument("--tag", action="append", default=[], dest="tags", metavar="TAG")

    p = command("show", cmd_show, "show one entry")
    p.add_argument("id", type=_entry_id, metavar="ID")

    p = command("search", cmd_search, "find entries by words; -word excludes, \"a phrase\", word* for prefixes")
    p.add_argument("query", metavar="QUERY")
    p.add_argument("--limit", type=_positive, default=20, metavar="N")
    p.add_argument("--tag", action="append", default=[], dest="tags", metavar="TAG")
    p.add_argument("--mood", type=_mood, action="append", default=[], dest="moods", metavar="1-5")
    p.add_argument("--from", dest="date_from", type=parse_day_arg, default=None, metavar="YYYY-MM-DD")
    p.add_argument("--to", dest="date_to", type=parse_day_arg, default=None, metavar="YYYY-MM-DD")
    p.add_argument("--rank", action="store_true", help="best matches first instead of newest first")

    p = command("edit", cmd_edit, "change an entry's text, title, tags, mood or date")
    p.add_argument("id", type=_entry_id, metavar="ID")
    p.add_argument("--text", default=None, metavar="TEXT", help="new text (- reads standard input)")
    p.add_argument("--title", default=None)
    p.add_argument("--tag", action="append", default=None, dest="tags", metavar="TAG", help="replaces all tags")
    p.add_argument("--no-tags", action="store_true", help="remove all tags")
    p.add_argument("--mood", type=_mood, default=None, metavar="1-5")
    p.add_argument("--no-mood", action="store_true", help="clear the mood")
    p.add_argument("--date", default=None, metavar="ISO")

    p = command("delete", cmd_delete, "move an entry to the trash (--permanent deletes it for good)")
    p.add_argument("id", type=_entry_id, metavar="ID")
    p.add_argument("--permanent", action="store_true")

    command("trash", cmd_trash, "list entries in the trash")

    p = command("undelete", cmd_undelete, "bring an entry back from the trash")
    p.add_argument("id", type=_entry_id, metavar="ID")

    command("passwd", cmd_passwd, f"change the passphrase (${ENV_NEW_PASSPHRASE} for scripts)")

    p = command("export", cmd_export, "write the journal out as JSON (a file), Markdown (a folder) or PDF")
    p.add_argument("--format", choices=["json", "markdown", "pdf"], required=True)
    p.add_argument("--output", type=Path, required=True, metavar="PATH")
    p.add_argument("--from", dest="date_from", type=parse_day_arg, default=None, metavar="YYYY-MM-DD")
    p.add_argument("--to", dest="date_to", type=parse_day_arg, default=None, metavar="YYYY-MM-DD")
    p.add_argument("--yes", action="store_true", help="do not ask before writing an unencrypted copy")


# -- argument types --------------------------------------------------------------------------------------------------


def _mood(text: str) -> int:
    if text.isdigit() and 1 <= int(text) <= 5:
        return int(text)
    raise argparse.ArgumentTypeError("mood is a number from 1 to 5")


def _positive(text: str) -> int:
    if text.isdigit() and int(text) > 0:
        return int(text)
    raise argparse.ArgumentTypeError("expected a whole number above 0")


def _entry_id(text: str) -> int:
    if text.isdigit():
        return int(text)
    raise argparse.ArgumentTypeError(f"“{text[:20]}” is not an entry id (a number, as `companion list` shows)")


def parse_day_arg(text: str) -> Any:
    try:
        return parse_day(text)
    except InvalidInputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# -- output ----------------------------------------------------------------------------------------------------------


def entry_json(entry: Entry) -> dict[str, Any]:
    """The export's form of an entry, with the local id and whether it is in the trash."""
    return {"id": entry.id, **entry_to_json(entry), "in_trash": entry.deleted_at is not None}


def summary_json(summary: EntrySummary) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": summary.id,
        "title": summary.title,
        "preview": summary.preview,
        "tags": list(summary.tags),
        "mood": summary.mood,
        "created_at": summary.created_at.isoformat(timespec="seconds"),
    }
    if summary.snippet is not None:
        data["snippet"] = summary.snippet.replace(HIGHLIGHT_START, "[").replace(HIGHLIGHT_END, "]")
    return data


def summary_line(summary: EntrySummary) -> str:
    when = summary.created_at.strftime("%Y-%m-%d %H:%M")
    head = summary.title or summary.preview.split("\n", 1)[0][:60]
    tags = "".join(f" #{tag}" for tag in summary.tags)
    line = f"{summary.id:>6}  {when}  {head}{tags}"
    if summary.snippet is not None:
        bold_on, bold_off = ("\x1b[1m", "\x1b[0m") if sys.stdout.isatty() else ("[", "]")
        snippet = summary.snippet.replace("\n", " ")
        line += "\n        " + snippet.replace(HIGHLIGHT_START, bold_on).replace(HIGHLIGHT_END, bold_off)
    return line


def entry_text(entry: Entry) -> str:
    lines = [f"# {entry.title}" if entry.title else f"Entry {entry.id}"]
    meta = [entry.created_at.strftime("%A %d %B %Y, %H:%M")]
    if entry.mood:
        meta.append(f"mood {entry.mood}/5")
    if entry.tags:
        meta.append(" ".join(f"#{tag}" for tag in entry.tags))
    if entry.deleted_at:
        meta.append("in the trash")
    lines += [" · ".join(meta), "", entry.body]
    return "\n".join(lines)


def _read_body(text: str | None) -> str:
    if text is not None and text != "-":
        return text
    if sys.stdin.isatty():
        print("Write your entry; finish with Ctrl-D on a new line.", file=sys.stderr)
    return sys.stdin.read()


# -- handlers --------------------------------------------------------------------------------------------------------


def cmd_init(ctx: Context) -> None:
    app = ctx.app(unlock=False)
    if app.exists:
        from companion.errors import VaultExistsError

        raise VaultExistsError(f"There is already a journal in {ctx.data_dir}. Nothing was changed.")
    passphrase = read_passphrase("New passphrase: ", confirm=True)
    app.create(passphrase)
    ctx.emit(
        {"data_dir": str(ctx.data_dir)},
        f"Created an encrypted journal in {ctx.data_dir}.\n"
        "Keep your passphrase safe: if it is forgotten, the journal cannot be recovered.",
    )


def cmd_add(ctx: Context) -> None:
    body = _read_body(ctx.args.text)
    if not body.strip() and not ctx.args.title.strip():
        raise InvalidInputError("The entry is empty; nothing was saved.")
    entry = ctx.app().journal.add_entry(
        body, title=ctx.args.title, tags=ctx.args.tags, mood=ctx.args.mood, created_at=ctx.args.date
    ).value
    ctx.emit(entry_json(entry), str(entry.id))


def cmd_list(ctx: Context) -> None:
    journal = ctx.app().journal
    if ctx.args.tags:
        rows = journal.search("", Filters(tags=tuple(ctx.args.tags)), limit=ctx.args.limit)
    else:
        rows = journal.recent(ctx.args.limit)
    ctx.emit([summary_json(r) for r in rows], lambda: "\n".join(map(summary_line, rows)) or "No entries yet.")


def cmd_show(ctx: Context) -> None:
    entry = ctx.app().journal.get_entry(ctx.args.id)
    ctx.emit(entry_json(entry), lambda: entry_text(entry))


def cmd_search(ctx: Context) -> None:
    filters = Filters(
        tags=tuple(ctx.args.tags),
        moods=tuple(ctx.args.moods),
        date_from=ctx.args.date_from,
        date_to=ctx.args.date_to,
    )
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise InvalidInputError("--from is after --to; no day can be in that range.")
    rows = ctx.app().journal.search(
        ctx.args.query, filters, order="relevance" if ctx.args.rank else "newest", limit=ctx.args.limit
    )
    ctx.emit([summary_json(r) for r in rows], lambda: "\n".join(map(summary_line, rows)) or "Nothing found.")


def cmd_edit(ctx: Context) -> None:
    a = ctx.args
    fields: dict[str, Any] = {}
    if a.text is not None:
        fields["body"] = _read_body(a.text)
    if a.title is not None:
        fields["title"] = a.title
    if a.no_tags:
        fields["tags"] = []
    elif a.tags is not None:
        fields["tags"] = a.tags
    if a.no_mood:
        fields["mood"] = None
    elif a.mood is not None:
        fields["mood"] = a.mood
    if a.date is not None:
        from companion.journal.dates import parse_datetime

        fields["created_at"] = parse_datetime(a.date)
    if not fields:
        raise InvalidInputError("Nothing to change: give --text, --title, --tag, --mood or --date.")
    entry = ctx.app().journal.update_entry(a.id, **fields).value
    ctx.emit(entry_json(entry), str(entry.id))


def cmd_delete(ctx: Context) -> None:
    journal = ctx.app().journal
    if ctx.args.permanent:
        journal.purge_entry(ctx.args.id)
        ctx.emit({"id": ctx.args.id, "deleted": True}, f"Entry {ctx.args.id} was deleted for good.")
    else:
        journal.trash_entry(ctx.args.id)
        ctx.emit(
            {"id": ctx.args.id, "in_trash": True},
            f"Entry {ctx.args.id} is in the trash. Bring it back with: companion undelete {ctx.args.id}",
        )


def cmd_trash(ctx: Context) -> None:
    rows = ctx.app().journal.trash()
    ctx.emit([summary_json(r) for r in rows], lambda: "\n".join(map(summary_line, rows)) or "The trash is empty.")


def cmd_undelete(ctx: Context) -> None:
    entry = ctx.app().journal.restore_entry(ctx.args.id).value
    ctx.emit(entry_json(entry), str(entry.id))


def cmd_passwd(ctx: Context) -> None:
    current = read_passphrase("Current passphrase: ")
    new = read_passphrase("New passphrase: ", env=ENV_NEW_PASSPHRASE, confirm=True)
    app = ctx.app(unlock=False)
    if not app.exists:
        ctx.app()  # raises the no-journal error
    app.unlock(current)
    app.change_passphrase(current, new)
    ctx.emit({"changed": True}, "The passphrase was changed.")


def cmd_export(ctx: Context) -> None:
    output: Path = ctx.args.output
    app = ctx.app()
    print(
        f"Warning: this writes your journal to {output} WITHOUT encryption. Anyone who can read that "
        "file can read what you wrote.",
        file=sys.stderr,
    )
    if not ctx.args.yes and sys.stdin.isatty():
        if input("Continue? [y/N] ").strip().lower() not in ("y", "yes"):
            raise InvalidInputError("Export cancelled; nothing was written.")
    a = ctx.args
    count = app.transfer.export(a.format, output, date_from=a.date_from, date_to=a.date_to)
    ctx.emit(
        {"format": ctx.args.format, "output": str(output), "entries": count},
        f"Wrote {count} entries to {output}. This copy is not encrypted: keep it somewhere safe.",
    )
