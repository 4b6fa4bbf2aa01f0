"""Display names a member chose for themself in one circle ("change my name"), as signed *name statements*.

A member's name in the roster is the one the admin's signed ``add`` gave them when they joined; it stays there
as history. A member may later say how they want to be known, with a statement they sign themself::

    statement = canonical JSON {v: 1, type: "name", circle, member, name, counter}
    sig       = sign_message(member, "companion:v1:display-name", statement)

It travels inside an ordinary envelope of kind ``name`` (payload ``{"statement", "sig"}``, base64), sealed to the
circle's other active members, and verbatim inside later welcomes, so that a newcomer can check each name against
the member's key from the roster (the admin relaying it cannot change it). ``counter`` orders a member's
statements: it is the counter of the envelope that first carried it, so it only grows; a device keeps, per member,
the statement with the greatest counter, and an older or replayed one never rolls a name back.

Pure: no database, no I/O. Rules for receivers are in the sync engine (``_name``) and docs/circles.md.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable
from typing import Any, Final

from companion.circles.roster import MAX_NAME, b64d, b64e, canonical
from companion.crypto import Identity, PublicIdentity, sign_message, verify_message
from companion.errors import InvalidInputError
from companion.journal.entries import clean_text

KIND_NAME: Final = "name"
PURPOSE_NAME: Final = "companion:v1:display-name"


#: Invisible format characters kept in a name: the zero-width (non-)joiner, which some scripts and emoji need.
#: Every other format character (bidirectional overrides and isolates, zero-width space, word joiner, soft
#: hyphen, ...) is dropped: it could reorder the text around a name on screen or make two names differ invisibly.
_KEEP_FORMAT: Final = frozenset("\u200c\u200d")
#: Letters that render as nothing (Hangul fillers, the blank Braille pattern): ignored when comparing names.
_BLANK: Final = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def normalize(text: str) -> str:
    """Control and invisible format characters dropped (but the zero-width joiners), composed (NFC), runs of
    white space folded to one space, trimmed (as for join names)."""
    kept = "".join(
        c for c in clean_text(text)
        if c.isspace() or c in _KEEP_FORMAT or unicodedata.category(c) not in ("Cc", "Cf", "Cs")
    )  # fmt: skip
    return " ".join(unicodedata.normalize("NFC", kept).split())


def _key(text: str) -> str:
    """What two names are compared by: compatibility forms folded (NFKC: fullwidth letters, ligatures), case
    folded, invisible characters and blank letters ignored, white space folded."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", normalize(text)).casefold())
    return " ".join("".join(c for c in folded if c not in _BLANK and unicodedata.category(c) != "Cf").split())


def clean_name(text: str) -> str:
    """A new display name as typed, normalized; ``InvalidInputError`` if empty (or nothing visible) or too long."""
    value = normalize(text)
    if not _key(value):
        raise InvalidInputError("Type the name you would like to be known by in this circle.")
    if len(value) > MAX_NAME:
        raise InvalidInputError(f"A display name can be at most {MAX_NAME} characters long.")
    return value


def same_name(a: str, b: str) -> bool:
    """Whether two names would read as the same to the others (case, spacing, invisible characters, compatibility
    forms and Unicode spelling ignored). Look-alike letters of different scripts are not caught."""
    key = _key(a)
    return bool(key) and key == _key(b)


def taken_by(name: str, others: Iterable[tuple[str, Iterable[str]]]) -> str | None:
    """The member id among ``others`` (``(member id, [names they go by])``) already known as ``name``, if any."""
    for member_id, names in others:
        if any(same_name(name, n) for n in names):
            return member_id
    return None


def distinct_name(name: str, others: Iterable[tuple[str, Iterable[str]]]) -> str:
    """``name``, or ``name (2)``, ``name (3)``, … — the first that none of ``others`` goes by (for a joiner whose
    requested name another member already has: the admitting admin signs the distinct one into the roster)."""
    known = [n for _member, names in others for n in names]
    candidate, n = name, 1
    while any(same_name(candidate, k) for k in known):
        n += 1
        suffix = f" ({n})"
        candidate = name[: MAX_NAME - len(suffix)].rstrip() + suffix
    return candidate


def make_statement(member: Identity, circle_id: str, name: str, counter: int) -> dict[str, str]:
    """Sign a name statement (``name`` already cleaned) as it travels: ``{"statement", "sig"}``."""
    body = canonical(
        {"v": 1, "type": "name", "circle": circle_id, "member": member.fingerprint, "name": name, "counter": counter}
    )
    return {"statement": b64e(body), "sig": b64e(sign_message(member, PURPOSE_NAME, body))}


def open_statement(data: Any, public: PublicIdentity, circle_id: str) -> tuple[str, int]:
    """``(name, counter)`` of a statement signed by ``public`` for ``circle_id``. ``ValueError`` if it is
    malformed, for another circle or member, or its name is not a valid display name; ``InvalidSignature`` if the
    signature does not verify."""
    if not isinstance(data, dict) or set(data) != {"statement", "sig"}:
        raise ValueError("malformed name statement")
    try:
        body, sig = b64d(str(data["statement"])), b64d(str(data["sig"]))
    except ValueError:
        raise ValueError("malformed name statement") from None
    verify_message(public, PURPOSE_NAME, body, sig)
    try:
        f = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ValueError("malformed name statement") from None
    if not isinstance(f, dict) or f.get("v") != 1 or f.get("type") != "name":
        raise ValueError("malformed name statement")
    if f.get("circle") != circle_id or f.get("member") != public.fingerprint:
        raise ValueError("a name statement for another circle or member")
    name, counter = f.get("name"), f.get("counter")
    if not isinstance(counter, int) or isinstance(counter, bool) or counter < 1:
        raise ValueError("malformed name statement")
    if not isinstance(name, str) or len(name) > MAX_NAME or normalize(name) != name or not _key(name):
        raise ValueError("not a valid display name")
    return name, counter
