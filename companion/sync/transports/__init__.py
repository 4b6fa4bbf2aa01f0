"""Transports move opaque bytes. A circle's transport settings are a small tagged dict, resolved here.

* ``{"kind": "folder", "path": "/path/to/shared/folder"}``
* ``{"kind": "relay", "url": "https://relay.example.org", "mailbox": "...", "capability": "..."}``

Either may also hold ``"seal": base64(32 bytes)``, the circle's transport seal key (``sealed.py``): every blob is
then wrapped before it reaches the folder or relay, which see only opaque ciphertext. With it may come the rest
of the circle's keyring: ``"seal_epoch"`` (the current key's epoch) and ``"seal_previous"`` (earlier keys, newest
first, kept to open older blobs after a rotation). Circles created by this version have a seal; circles made
before it have none and keep working unsealed until an admin turns it on. Like the capability, the seal keys are
secrets: they live in the vault; invite codes carry the current key only; :func:`describe` never shows them.

:func:`check_settings` validates settings (from the user or an invite code); :func:`make_transport` builds the
transport for one device (``writer_id`` names its subfolder in a shared folder).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from companion.errors import InvalidInputError

from .base import Pulled, Transport
from .sealed import SealedTransport, check_keyring, new_seal_key, ring_keys

__all__ = ["Pulled", "Transport", "check_settings", "describe", "make_transport", "new_seal_key"]


def check_settings(settings: Any) -> dict[str, Any]:
    """A clean copy of transport settings; raises :class:`InvalidInputError` for anything unusable."""
    if not isinstance(settings, dict):
        raise InvalidInputError("The circle's connection settings are damaged.")
    kind = settings.get("kind")
    out: dict[str, Any]
    if kind == "folder":
        path = settings.get("path")
        if not isinstance(path, str) or not path:
            raise InvalidInputError("A shared folder needs a path.")
        out = {"kind": "folder", "path": path}
    elif kind == "relay":
        relay = {k: settings.get(k) for k in ("url", "mailbox", "capability")}
        if not all(isinstance(v, str) and v for v in relay.values()):
            raise InvalidInputError("The relay settings are incomplete (url, mailbox and capability are needed).")
        out = {"kind": "relay", **relay}
    else:
        raise InvalidInputError(f"Unknown kind of connection {kind!r}; this version knows 'folder' and 'relay'.")
    try:
        out.update(check_keyring(settings))
    except ValueError:
        raise InvalidInputError(
            "The circle's connection settings are damaged (its seal key is not valid). If they came from an "
            "invite code, ask for the code again and paste all of it."
        ) from None
    return out


def make_transport(
    settings: dict[str, Any], *, writer_id: str, relay_options: Mapping[str, Any] | None = None
) -> Transport:
    """The one place a circle's settings become a :class:`Transport` (sealed when the settings hold a seal key).
    ``relay_options`` are extra keyword arguments for a relay's transport (e.g. the window's ``sleep``)."""
    settings = check_settings(settings)
    transport: Transport
    if settings["kind"] == "folder":
        from .folder import FolderTransport

        transport = FolderTransport(Path(settings["path"]), writer_id)
    else:
        from .relay import RelayTransport

        transport = RelayTransport(
            settings["url"], settings["mailbox"], settings["capability"], **dict(relay_options or {})
        )
    if "seal" in settings:
        transport = SealedTransport(transport, ring_keys(settings))
    return transport


def describe(settings: dict[str, Any]) -> str:
    """A human description without secrets."""
    if settings.get("kind") == "folder":
        return f"shared folder {settings.get('path')}"
    return f"relay {settings.get('url')}"
