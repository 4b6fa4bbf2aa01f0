"""Import, backup and restore commands: ``import``, ``backup``, ``restore``, ``verify-backup``.

(An entry in the trash comes back with ``companion undelete ID``, a journal command.)

(``export`` stays with the journal commands; its ``pdf`` format and date range go through the transfer
service.)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from companion.cli import Context, read_passphrase
from companion.services.transfer import IMPORT_FORMATS

ENV_BACKUP_PASSPHRASE = "COMPANION_BACKUP_PASSPHRASE"


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    def command(name: str, handler: Any, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    p = command(
        "import",
        cmd_import,
        "bring entries in: jrnl (plain text or JSON export), Day One (.zip or folder), a folder of Markdown "
        "notes, or a Companion JSON export. Importing the same source again adds nothing.",
    )
    p.add_argument("--format", choices=IMPORT_FORMATS, required=True)
    p.add_argument("path", type=Path, metavar="PATH")

    p = command(
        "backup",
        cmd_backup,
        "write one encrypted, integrity-checked backup file of the whole journal (protected by the journal's "
        "passphrase, or with --separate-passphrase by another one from "
        f"${ENV_BACKUP_PASSPHRASE} or a prompt)",
    )
    p.add_argument("--output", type=Path, required=True, metavar="FILE")
    p.add_argument("--separate-passphrase", action="store_true")

    p = command(
        "restore",
        cmd_restore,
        "restore a backup into an empty or new data folder; asks for the backup's passphrase "
        f"(${ENV_BACKUP_PASSPHRASE}, else $COMPANION_PASSPHRASE, else a prompt)",
    )
    p.add_argument("file", type=Path, metavar="FILE")

    p = command("verify-backup", cmd_verify_backup, "check a backup file completely without restoring it")
    p.add_argument("file", type=Path, metavar="FILE")


def _backup_passphrase(prompt: str = "Backup passphrase: ") -> str:
    value = os.environ.get(ENV_BACKUP_PASSPHRASE)
    return value if value is not None else read_passphrase(prompt)


def cmd_import(ctx: Context) -> None:
    app = ctx.app()
    show = sys.stderr.isatty() and not ctx.json

    def progress(done: int, total: int) -> None:
        if show:
            print(f"\rImporting… {done}/{total}", end="", file=sys.stderr, flush=True)

    report = app.transfer.import_file(ctx.args.format, ctx.args.path, progress=progress).value
    if show:
        print(file=sys.stderr)
    ctx.emit(report.to_json(), report.summary)


def cmd_backup(ctx: Context) -> None:
    journal_passphrase = read_passphrase("Passphrase: ")
    app = ctx.app(unlock=False)
    if not app.exists:
        ctx.app()  # raises the no-journal error
    app.unlock(journal_passphrase)
    if ctx.args.separate_passphrase:
        value = os.environ.get(ENV_BACKUP_PASSPHRASE)
        passphrase = (
            value
            if value is not None
            else read_passphrase("Passphrase for the backup: ", env=ENV_BACKUP_PASSPHRASE, confirm=True)
        )
    else:
        passphrase = journal_passphrase  # the backup opens with the journal's passphrase
    info = app.transfer.backup(ctx.args.output, passphrase=passphrase, separate=ctx.args.separate_passphrase)
    ctx.emit(
        {"output": str(info.path), "bytes": info.size},
        f"Wrote an encrypted backup to {info.path} ({info.size // 1024} KiB).\n{info.path}",
    )


def cmd_restore(ctx: Context) -> None:
    from companion.services.transfer import restore

    passphrase = _backup_passphrase()
    info = restore(ctx.args.file, ctx.data_dir, passphrase)
    ctx.emit(
        {"restored": str(info.path), "data_dir": str(ctx.data_dir)},
        f"Restored {info.path.name} into {ctx.data_dir}. It opens with the backup's passphrase.",
    )


def cmd_verify_backup(ctx: Context) -> None:
    from companion.services.transfer import verify

    info = verify(ctx.args.file, _backup_passphrase())
    when = info.created_at.isoformat() if info.created_at else "unknown"
    ctx.emit(
        {"file": str(info.path), "ok": True, "created_at": when},
        f"{info.path.name} is intact and opens with that passphrase (made {when}).",
    )
