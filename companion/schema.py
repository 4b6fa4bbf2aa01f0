"""Every component's migrations, in one place. A new component adds one line here."""

from __future__ import annotations

from companion.journal import schema as journal_schema
from companion.vault.store import Migrations

MIGRATIONS: Migrations = {
    "journal": journal_schema.MIGRATIONS,
}
