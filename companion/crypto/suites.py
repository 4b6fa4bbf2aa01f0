"""The HPKE suites an envelope can name. A circle picks one; every envelope carries its suite id.

========  ===================  ==========================================================  ==========
id        name                 HPKE (RFC 9180, base mode)                                  stanza
========  ===================  ==========================================================  ==========
``0x01``  ``x25519``           DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305   80 bytes
``0x02``  ``mlkem768-x25519``  ML-KEM-768+X25519 hybrid KEM, HKDF-SHA256, ChaCha20-Poly1305  1168 bytes
========  ===================  ==========================================================  ==========

A stanza is HPKE's ``enc || ciphertext`` of the 32-byte content key: ``Nenc`` + 32 + 16 (Poly1305 tag) bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Final

from cryptography.hazmat.primitives import hpke

__all__ = ["DEFAULT_SUITE", "SUITES", "SUITES_BY_ID", "Suite", "suite_by_name"]

CONTENT_KEY_LEN: Final = 32
_TAG_LEN: Final = 16


@dataclass(frozen=True)
class Suite:
    """One HPKE configuration: a stable wire id, a name for humans and config files, and the HPKE suite."""

    id: int
    name: str
    kem: hpke.KEM

    @cached_property
    def hpke(self) -> hpke.Suite:
        return hpke.Suite(self.kem, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)

    @property
    def stanza_len(self) -> int:
        return int(self.kem.enc_length()) + CONTENT_KEY_LEN + _TAG_LEN


X25519: Final = Suite(0x01, "x25519", hpke.KEM.X25519)
MLKEM768_X25519: Final = Suite(0x02, "mlkem768-x25519", hpke.KEM.MLKEM768_X25519)

SUITES: Final = (X25519, MLKEM768_X25519)
SUITES_BY_ID: Final = {s.id: s for s in SUITES}
_BY_NAME: Final = {s.name: s for s in SUITES}
DEFAULT_SUITE: Final = X25519.name


def suite_by_name(name: str) -> Suite:
    """The suite called ``name`` (``"x25519"`` or ``"mlkem768-x25519"``); ``ValueError`` for anything else."""
    try:
        return _BY_NAME[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown suite {name!r}; known: {sorted(_BY_NAME)}") from None
