"""Find files in the package's ``companion/resources/`` folder (prompts, stylesheet, icons).

The folder ships inside the package (package data), so a source checkout and an installed wheel find the same
files; ``$COMPANION_RESOURCES`` names another folder instead. A missing file falls back to the default the caller
gives."""

from __future__ import annotations

import os
from pathlib import Path

_HERE = Path(__file__).resolve()


def folder() -> Path | None:
    candidates = []
    if os.environ.get("COMPANION_RESOURCES"):
        candidates.append(Path(os.environ["COMPANION_RESOURCES"]))
    candidates.append(_HERE.parents[1] / "resources")
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return None


def path(name: str) -> Path | None:
    base = folder()
    if base is None or not (base / name).is_file():
        return None
    return base / name


def text(name: str, default: str = "") -> str:
    found = path(name)
    if found is None:
        return default
    try:
        return found.read_text(encoding="utf-8")
    except OSError:
        return default
