"""The one surface the GUI and the command line call. No SQL, no Qt: just verbs on an unlocked journal.

Every method that changes something returns :class:`Changed`, carrying the value and a :class:`Changes` flag
set saying what changed; the UI fans that out through one signal and each view refreshes only on its own
flags (the shape of Anki's ``OpChanges``). Reads return plain values.

A :class:`Companion` is used from one thread at a time: the GUI runs every call on its one vault worker.
"""

from __future__ import annotations

import enum
import hmac
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from companion.errors import VaultLockedError, WrongPassphraseError
from companion.schema import MIGRATIONS
from companion.vault import header as header_module
from companion.vault.header import Header, KdfParams
from companion.vault.store import HEADER_NAME, Vault, key_check

T = TypeVar("T")


class Changes(enum.Flag):
    NONE = 0
    ENTRIES = enum.auto()
    TAGS = enum.auto()
    TRASH = enum.auto()
    SETTINGS = enum.auto()
    LOCK = enum.auto()  # locked or unlocked: everything shown must be refreshed or cleared
    CIRCLES = enum.auto()
    INBOX = enum.auto()
    MEETINGS = enum.auto()


@dataclass(frozen=True)
class Changed(Generic[T]):
    value: T
    changes: Changes


class Companion:
    """One person's data folder: the vault's lifecycle, and the services that need it unlocked."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self._vault: Vault | None = None
        self._services: dict[str, Any] = {}

    # -- lifecycle -------------------------------------------------------------------------------------------------

    @property
    def exists(self) -> bool:
        return Vault.exists(self.data_dir)

    @property
    def is_unlocked(self) -> bool:
        return self._vault is not None and self._vault.is_open

    def create(self, passphrase: str, *, params: KdfParams | None = None) -> Changed[None]:
        """Create a new, empty journal. Takes as long as one key derivation (about 0.3 s with the defaults)."""
        params = params or header_module.DEFAULT
        self._attach(Vault.create(self.data_dir, passphrase, migrations=MIGRATIONS, params=params))
        return Changed(None, Changes.LOCK)

    def unlock(self, passphrase: str) -> Changed[None]:
        """Open the journal. Raises ``WrongPassphraseError`` (nothing changed on disk) or ``NoVaultError``."""
        if self.is_unlocked:
            return Changed(None, Changes.NONE)
        self._attach(Vault.open(self.data_dir, passphrase, migrations=MIGRATIONS))
        return Changed(None, Changes.LOCK)

    def lock(self) -> Changed[None]:
        """Close the vault; the key and the page cache go with the connection."""
        vault, self._vault = self._vault, None
        for service in self._services.values():
            close = getattr(service, "close", None)  # services holding secrets of their own drop them here
            if close is not None:
                close()
        self._services.clear()
        if vault is not None:
            vault.close()
        return Changed(None, Changes.LOCK)

    def change_passphrase(self, current: str, new: str) -> Changed[None]:
        """Check ``current`` against the header, then re-key crash-safely (see ``Vault.change_passphrase``)."""
        vault = self.vault
        header = Header.read(self.data_dir / HEADER_NAME)
        key = header.slot.derive(current)
        try:
            if not hmac.compare_digest(key_check(key), header.check):
                raise WrongPassphraseError("The current passphrase is not right. The passphrase was not changed.")
        finally:
            key[:] = bytes(len(key))
        vault.change_passphrase(new)
        transfer = self._services.get("transfer")
        if transfer is not None:
            # Backups protected by the journal's passphrase follow it; they never go on under the old one.
            transfer.passphrase_changed(old_slot=header.slot, new=new)
        return Changed(None, Changes.NONE)

    @property
    def vault(self) -> Vault:
        if self._vault is None or not self._vault.is_open:
            raise VaultLockedError("The journal is locked. Unlock it to continue.")
        return self._vault

    # -- the services (each in its own module; built on first use, dropped on lock) ---------------------------------

    @property
    def journal(self) -> JournalService:
        return self._service("journal", "JournalService")

    @property
    def circles(self) -> CirclesService:
        return self._service("circles", "CirclesService")

    @property
    def attendance(self) -> AttendanceService:
        return self._service("attendance", "AttendanceService")

    @property
    def transfer(self) -> TransferService:
        """Import, attachments, backup and restore."""
        return self._service("transfer", "TransferService")

    def _service(self, module: str, name: str) -> Any:
        self.vault  # noqa: B018  (raises VaultLockedError when locked)
        found = self._services.get(module)
        if found is None:
            cls = getattr(importlib.import_module(f"companion.services.{module}"), name)
            found = self._services[module] = cls(self)
        return found

    def _attach(self, vault: Vault) -> None:
        self._vault = vault
        self._services.clear()


if TYPE_CHECKING:
    from companion.services.attendance import AttendanceService
    from companion.services.circles import CirclesService
    from companion.services.journal import JournalService
    from companion.services.transfer import TransferService

__all__ = ["Changed", "Changes", "Companion"]
