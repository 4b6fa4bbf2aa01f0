"""``companion``: the command line. The same services as the GUI, as a stable contract for scripts and tests.

The passphrase comes from ``$COMPANION_PASSPHRASE`` when set, else from a prompt on the terminal. ``--json``
prints machine-readable output. Errors are one line on stderr and a non-zero exit, and change nothing.
Commands that create something print its id on the last line. This module never imports Qt: it must start fast.

Each feature registers its subcommands from its own module (``journal``, ``circles``, ``attendance``, …).
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from companion import __version__
from companion.errors import CompanionError, InvalidInputError
from companion.paths import data_dir

ENV_PASSPHRASE = "COMPANION_PASSPHRASE"
ENV_NEW_PASSPHRASE = "COMPANION_NEW_PASSPHRASE"
# Modules under companion.cli that add subcommands; each has ``register(subparsers, common)``.
COMMAND_MODULES = ["journal", "transfer", "attendance", "circles"]


class Context:
    """What a command handler gets: the parsed arguments, and the services opened on demand."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.json: bool = getattr(args, "json", False)
        self.data_dir: Path = data_dir(getattr(args, "data_dir", None))
        self._app: Any = None

    def app(self, *, unlock: bool = True) -> Any:
        """The ``Companion`` services for the data folder, unlocked with the passphrase unless told not to."""
        if self._app is None:
            from companion.services import Companion

            self._app = Companion(self.data_dir)
        if unlock and not self._app.is_unlocked:
            if not self._app.exists:
                from companion.errors import NoVaultError

                raise NoVaultError(f"There is no journal in {self.data_dir} yet. Create one with: companion init")
            self._app.unlock(read_passphrase("Passphrase: "))
        return self._app

    def close(self) -> None:
        if self._app is not None:
            self._app.lock()

    def emit(self, data: Any, text: str | Callable[[], str]) -> None:
        """Print ``data`` as JSON with ``--json``, else the human text."""
        if self.json:
            print(json.dumps(data, ensure_ascii=False, indent=2, default=str))
        else:
            print(text() if callable(text) else text)


def read_passphrase(prompt: str, *, env: str = ENV_PASSPHRASE, confirm: bool = False) -> str:
    value = os.environ.get(env)
    if value is not None:
        return value
    if not sys.stdin.isatty():
        raise InvalidInputError(f"No passphrase: set {env} or run the command in a terminal.")
    first = getpass.getpass(prompt)
    if confirm:
        second = getpass.getpass("Again, to be sure: ")
        if first != second:
            raise InvalidInputError("The two passphrases are not the same. Nothing was changed.")
    return first


def build_parser() -> argparse.ArgumentParser:
    # Common options work before or after the subcommand: `companion --json list` and `companion list --json`.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", default=argparse.SUPPRESS, help="data folder (default: $COMPANION_DATA_DIR "
                        "or the platform's data folder)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output")

    parser = argparse.ArgumentParser(
        prog="companion",
        description="A private, encrypted journal for peer support. With no command, starts the app.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"companion {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"companion.cli.{name}").register(subparsers, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    gui = _gui_only(argv)
    if gui is not None:  # `companion [--data-dir DIR]`: start the window without loading every command module
        return start_gui(gui)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        return start_gui(args)
    ctx = Context(args)
    try:
        result = args.handler(ctx)
        return int(result or 0)
    except CompanionError as exc:
        print(f"companion: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("companion: interrupted; nothing was changed.", file=sys.stderr)
        return 130
    finally:
        ctx.close()


def _gui_only(argv: list[str]) -> argparse.Namespace | None:
    """The arguments when they only start the app (no subcommand, no help or version), else None."""
    quick = argparse.ArgumentParser(add_help=False)
    quick.add_argument("--data-dir")
    try:
        args, rest = quick.parse_known_args(argv)
    except SystemExit:
        return None
    return args if not rest else None


def start_gui(args: argparse.Namespace) -> int:
    try:
        from companion.ui.app import run
    except ImportError as exc:  # the desktop app is not part of this build yet
        print(f"companion: the desktop app is not available ({exc.name}). Use `companion --help` for commands.")
        return 1
    return int(run(data_dir(getattr(args, "data_dir", None))))
