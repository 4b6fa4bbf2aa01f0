"""The vault header: key-derivation settings and salt, in a small JSON file beside ``vault.db``.

The header holds no secrets. It names the Argon2id parameters and the salt used to turn the passphrase into the
raw SQLCipher key. A header that asks for less work than ``FLOOR`` is refused (a tampered header must not be able
to make a stolen vault cheap to attack).

The header also names how the database's pages are authenticated (``hmac``): SQLCipher 4's default is
HMAC-SHA512; vaults created since header version 2 use HMAC-SHA256, which this machine's SHA extensions compute
in about half the time (see docs/decisions.md). A version 1 header means SHA-512. The setting is not a secret and
cannot weaken anything: a header naming the wrong one simply fails to open the database.

During a passphrase change the header briefly lists two key slots (the current one and the pending one) so that
at every instant exactly one of the two passphrases opens the vault, whatever moment the process dies at.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from companion.errors import VaultCorruptError, WeakParametersError

HEADER_FORMAT = "companion-vault"
HEADER_VERSION = 2
READABLE_VERSIONS = (1, 2)
SALT_BYTES = 16
KEY_BYTES = 32


@dataclass(frozen=True)
class KdfParams:
    """Argon2id settings. ``memory_kib`` in KiB, as RFC 9106 and ``cryptography`` count it."""

    memory_kib: int
    iterations: int
    lanes: int

    def is_below(self, floor: KdfParams) -> bool:
        return (
            self.memory_kib < floor.memory_kib
            or self.iterations < floor.iterations
            or self.lanes < floor.lanes
        )


# About 0.3 s on the reference machine (2 cores): 128 MiB, 3 passes, 4 lanes.
DEFAULT = KdfParams(memory_kib=128 * 1024, iterations=3, lanes=4)
# Never accepted below this, whatever a header says (OWASP's Argon2id minimum is 19 MiB / 2 passes).
FLOOR = KdfParams(memory_kib=64 * 1024, iterations=2, lanes=1)
MAX_MEMORY_KIB = 4 * 1024 * 1024  # refuse absurd headers too: they would exhaust memory, not protect anything

# How SQLCipher authenticates each page. New vaults: SHA-256; SQLCipher 4's own default (and header v1): SHA-512.
HMACS = {"sha256": "HMAC_SHA256", "sha512": "HMAC_SHA512"}
NEW_VAULT_HMAC = "sha256"
SQLCIPHER_DEFAULT_HMAC = "sha512"


@dataclass(frozen=True)
class KeySlot:
    salt: bytes
    params: KdfParams

    @classmethod
    def new(cls, params: KdfParams) -> KeySlot:
        return cls(salt=secrets.token_bytes(SALT_BYTES), params=params)

    def derive(self, passphrase: str) -> bytearray:
        """Argon2id(passphrase, salt) → 32-byte key, as a bytearray so callers can wipe it."""
        kdf = Argon2id(
            salt=self.salt,
            length=KEY_BYTES,
            iterations=self.params.iterations,
            lanes=self.params.lanes,
            memory_cost=self.params.memory_kib,
        )
        return bytearray(kdf.derive(passphrase.encode("utf-8", "surrogatepass")))

    def to_json(self) -> dict[str, object]:
        return {
            "kdf": "argon2id",
            "memory_kib": self.params.memory_kib,
            "iterations": self.params.iterations,
            "lanes": self.params.lanes,
            "salt": base64.b64encode(self.salt).decode("ascii"),
        }

    @classmethod
    def from_json(cls, data: object) -> KeySlot:
        if not isinstance(data, dict) or data.get("kdf") != "argon2id":
            raise VaultCorruptError("The journal's header names an unknown key derivation.")
        try:
            params = KdfParams(int(data["memory_kib"]), int(data["iterations"]), int(data["lanes"]))
            salt = base64.b64decode(str(data["salt"]), validate=True)
        except (KeyError, TypeError, ValueError) as exc:
            raise VaultCorruptError("The journal's header file is damaged (key settings unreadable).") from exc
        if len(salt) < SALT_BYTES:
            raise VaultCorruptError("The journal's header file is damaged (salt too short).")
        if params.is_below(FLOOR):
            raise WeakParametersError(
                "The journal's header asks for weaker key protection than Companion allows. It may have been "
                "tampered with; the journal was not opened."
            )
        if params.memory_kib > MAX_MEMORY_KIB or params.iterations > 64 or params.lanes > 64:
            raise VaultCorruptError("The journal's header asks for impossible key settings; it may be damaged.")
        return cls(salt=salt, params=params)


@dataclass(frozen=True)
class Header:
    slot: KeySlot
    check: str  # key check of the slot's key (see companion.vault.store.key_check)
    pending: KeySlot | None = None  # set only while a passphrase change is under way
    pending_check: str | None = None
    hmac: str = SQLCIPHER_DEFAULT_HMAC  # a key of HMACS: how the database's pages are authenticated

    def candidates(self) -> list[tuple[KeySlot, str]]:
        found = [(self.slot, self.check)]
        if self.pending is not None and self.pending_check is not None:
            found.append((self.pending, self.pending_check))
        return found

    def to_bytes(self) -> bytes:
        doc: dict[str, object] = {
            "format": HEADER_FORMAT,
            "version": HEADER_VERSION,
            "key": self.slot.to_json() | {"check": self.check},
            "database": {"hmac": self.hmac},
        }
        if self.pending is not None:
            doc["pending_key"] = self.pending.to_json() | {"check": self.pending_check}
        return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("ascii")

    @classmethod
    def from_bytes(cls, raw: bytes) -> Header:
        try:
            doc = json.loads(raw.decode("ascii"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise VaultCorruptError("The journal's header file is damaged (not readable).") from exc
        if not isinstance(doc, dict) or doc.get("format") != HEADER_FORMAT:
            raise VaultCorruptError("The journal's header file is not a Companion header.")
        if doc.get("version") not in READABLE_VERSIONS:
            raise VaultCorruptError(
                "The journal was written by a newer version of Companion; update the app to open it."
            )
        key, pending = doc.get("key"), doc.get("pending_key")
        return cls(
            slot=KeySlot.from_json(key),
            check=_check_of(key),
            pending=KeySlot.from_json(pending) if pending is not None else None,
            pending_check=_check_of(pending) if pending is not None else None,
            hmac=_hmac_of(doc),
        )

    @classmethod
    def read(cls, path: Path) -> Header:
        try:
            raw = path.read_bytes()
        except FileNotFoundError as exc:
            raise VaultCorruptError(
                f"The journal's header file ({path.name}) is missing; the journal cannot be opened without it."
            ) from exc
        return cls.from_bytes(raw)

    def write(self, path: Path) -> None:
        atomic_write(path, self.to_bytes())


def _hmac_of(doc: dict[str, object]) -> str:
    if doc.get("version") == 1:
        return SQLCIPHER_DEFAULT_HMAC
    database = doc.get("database")
    name = database.get("hmac") if isinstance(database, dict) else None
    if name not in HMACS:
        raise VaultCorruptError("The journal's header file is damaged (database settings unreadable).")
    return str(name)


def _check_of(slot: object) -> str:
    check = slot.get("check") if isinstance(slot, dict) else None
    if not isinstance(check, str) or len(check) != 32:
        raise VaultCorruptError("The journal's header file is damaged (key check missing).")
    return check


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` so that a reader (or a crash) sees either the old or the new file, never half."""
    tmp = path.with_name(f".{path.name}.tmp-{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
