"""Transports move opaque bytes. A circle's transport settings are a small tagged dict, resolved here.

* ``{"kind": "folder", "path": "/path/to/shared/folder"}``
* ``{"kind": "relay", "url": "https://relay.example.org", "mailbox": "...", "capability": "..."}``

:func:`check_settings` validates settings (from the user or an invite code); :func:`make_transport` builds the
transport for one device (``writer_id`` names its subfolder in a shared folder).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from companion.errors import InvalidInputError

from .base import Pulled, Transport

__all__ = ["Pulled", "Transport", "check_settings", "describe", "make_transport"]


def check_settings(settings: Any) -> dict[str, Any]:
    """A clean copy of transport settings; raises :class:`InvalidInputError` for anything unusable."""
    if not isinstance(settings, dict):
        raise InvalidInputError("The circle's connection settings are damaged.")
    kind = settings.get("kind")
    if kind == "folder":
        path = settings.get("path")
        if not isinstance(path, str) or not path:
            raise InvalidInputError("A shared folder needs a path.")
        return {"kind": "folder", "path": path}
    if kind == "relay":
        out = {k: settings.get(k) for k in ("url", "mailbox", "capability")}
        if not all(isinstance(v, str) and v for v in out.values()):
            raise InvalidInputError("The relay settings are incomplete (url, mailbox and capability are needed).")
        return {"kind": "relay", **out}
    raise InvalidInputError(f"Unknown kind of connection {kind!r}; this version knows 'folder' and 'relay'.")


def make_transport(settings: dict[str, Any], *, writer_id: str) -> Transport:
    """The one place a circle's settings become a :class:`Transport`."""
    settings = check_settings(settings)
    if settings["kind"] == "folder":
        from .folder import FolderTransport

        return FolderTransport(Path(settings["path"]), writer_id)
    from .relay import RelayTransport

    return RelayTransport(settings["url"], settings["mailbox"], settings["capability"])


def describe(settings: dict[str, Any]) -> str:
    """A human description without secrets."""
    if settings.get("kind") == "folder":
        return f"shared folder {settings.get('path')}"
    return f"relay {settings.get('url')}"
