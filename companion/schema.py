"""Every component's migrations, in one place. A new component adds one line here."""

from __future__ import annotations

from companion.attendance import schema as attendance_schema
from companion.circles import schema as circles_schema
from companion.journal import schema as journal_schema
from companion.vault.store import Migrations

MIGRATIONS: Migrations = {
    "journal": journal_schema.MIGRATIONS,
    "circles": circles_schema.MIGRATIONS,
    "attendance": attendance_schema.MIGRATIONS,
}
