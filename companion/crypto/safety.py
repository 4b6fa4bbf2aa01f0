"""Safety numbers: what two people compare (in person or on a call) to know they hold each other's real keys.

Signal's construction, adapted to Companion's key bundle (``docs/protocol.md`` § "Safety numbers"):

* per person: ``h0 = SHA-512(lp("companion:v1:safety-number") || digest)``, then 5200 times
  ``h = SHA-512(h || digest)``, where ``digest`` is the person's :attr:`PublicIdentity.digest` (it covers every
  public key, so any key change changes the number);
* that person's 30 digits: the first 30 bytes of ``h`` as six 5-byte big-endian integers, each ``mod 100000``,
  zero-padded to 5 digits;
* the number: both people's 30 digits, the smaller string first (so both sides see the same 60 digits), shown
  as 12 groups of 5;
* the QR form: ``"COMPANION-SN1:"`` + base32 (upper case, unpadded) of both full 32-byte chain outputs in the same
  order — 117 characters, all in QR's alphanumeric set.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Final

from companion.crypto.derive import LABEL_SAFETY_NUMBER
from companion.crypto.encoding import lp
from companion.crypto.identity import PublicIdentity

__all__ = ["QR_PREFIX", "check_safety_number", "safety_number", "safety_number_qr"]

ITERATIONS: Final = 5200
QR_PREFIX: Final = "COMPANION-SN1:"


def _chain(public: PublicIdentity) -> bytes:
    digest = public.digest
    h = hashlib.sha512(lp(LABEL_SAFETY_NUMBER.encode("ascii")) + digest).digest()
    for _ in range(ITERATIONS):
        h = hashlib.sha512(h + digest).digest()
    return h


def _digits(chain: bytes) -> str:
    return "".join(f"{int.from_bytes(chain[i : i + 5], 'big') % 100000:05d}" for i in range(0, 30, 5))


def _ordered(a: PublicIdentity, b: PublicIdentity) -> list[tuple[str, bytes]]:
    if not isinstance(a, PublicIdentity) or not isinstance(b, PublicIdentity):
        raise TypeError("safety numbers are computed from two PublicIdentity objects")
    parts = []
    for p in (a, b):
        chain = _chain(p)
        parts.append((_digits(chain), chain[:32]))
    return sorted(parts)


def safety_number(a: PublicIdentity, b: PublicIdentity) -> str:
    """The 60-digit safety number of ``a`` and ``b`` in 12 groups of 5 (the same whichever order they come in)."""
    digits = "".join(d for d, _ in _ordered(a, b))
    return " ".join(digits[i : i + 5] for i in range(0, 60, 5))


def safety_number_qr(a: PublicIdentity, b: PublicIdentity) -> str:
    """The compact QR form: both sides produce the same string, so scanning the other's code is an equality test."""
    raw = b"".join(c for _, c in _ordered(a, b))
    return QR_PREFIX + base64.b32encode(raw).decode("ascii").rstrip("=")


def check_safety_number(a: PublicIdentity, b: PublicIdentity, text: str) -> bool:
    """True if ``text`` is the safety number of ``a`` and ``b``: the 60 digits (any spacing) or the QR form."""
    if not isinstance(text, str):
        return False
    candidate = text.strip()
    if candidate.upper().startswith(QR_PREFIX):
        return hmac.compare_digest(candidate.upper().encode(), safety_number_qr(a, b).encode())
    digits = "".join(candidate.split())
    return len(digits) == 60 and hmac.compare_digest(digits.encode(), safety_number(a, b).replace(" ", "").encode())
