"""Resources ship inside the package, so an installed wheel finds the stylesheet and prompts too."""

from __future__ import annotations

from pathlib import Path

import companion
from companion.ui import resources


def test_resources_live_in_the_package_and_are_found(monkeypatch) -> None:
    monkeypatch.delenv("COMPANION_RESOURCES", raising=False)
    folder = resources.folder()
    assert folder == Path(companion.__file__).resolve().parent / "resources"
    assert "QWidget" in resources.text("style.qss") or "{" in resources.text("style.qss")
    assert resources.text("prompts.txt").strip()
    assert resources.path("no-such-file.txt") is None
    assert resources.text("no-such-file.txt", default="fallback") == "fallback"


def test_another_folder_can_be_named(tmp_path, monkeypatch) -> None:
    (tmp_path / "prompts.txt").write_text("What helped today?\n", encoding="utf-8")
    monkeypatch.setenv("COMPANION_RESOURCES", str(tmp_path))
    assert resources.text("prompts.txt") == "What helped today?\n"
