"""Settings that reveal nothing about the journal: theme, font size, auto-lock, window geometry, and where
automatic (encrypted) backups go.

They live in ``ui-settings.json`` in the data folder, readable before unlocking (the unlock screen needs the
theme). Never put entry text, titles, tags or search history here: those go in the vault
(``app.journal.get_setting`` / ``set_setting``).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

FILE_NAME = "ui-settings.json"
THEMES = ("system", "light", "dark")
FONT_SIZES = (9, 20)  # points, inclusive
AUTOLOCK_MINUTES = (1, 240)
BACKUP_KEEP = (1, 100)  # automatic backups kept in the folder


@dataclass
class UiSettings:
    theme: str = "system"
    font_size: int = 11
    autolock_minutes: int = 5
    lock_on_screen_lock: bool = True
    window_geometry: str = ""  # base64 of QWidget.saveGeometry(): position and size only
    backup_enabled: bool = False  # automatic encrypted backups (companion.ui.backup_ui)
    backup_folder: str = ""  # where they go: a place the person chose, not content
    backup_keep: int = 10

    @classmethod
    def load(cls, data_dir: Path) -> UiSettings:
        path = Path(data_dir) / FILE_NAME
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        known = {f.name for f in fields(cls)}
        settings = cls(**{k: v for k, v in raw.items() if k in known}) if isinstance(raw, dict) else cls()
        return settings.checked()

    def checked(self) -> UiSettings:
        if self.theme not in THEMES:
            self.theme = "system"
        try:
            self.font_size = min(max(int(self.font_size), FONT_SIZES[0]), FONT_SIZES[1])
        except (TypeError, ValueError):
            self.font_size = 11
        try:
            self.autolock_minutes = min(
                max(int(self.autolock_minutes), AUTOLOCK_MINUTES[0]), AUTOLOCK_MINUTES[1]
            )
        except (TypeError, ValueError):
            self.autolock_minutes = 5
        self.lock_on_screen_lock = bool(self.lock_on_screen_lock)
        if not isinstance(self.window_geometry, str):
            self.window_geometry = ""
        self.backup_enabled = bool(self.backup_enabled)
        if not isinstance(self.backup_folder, str):
            self.backup_folder = ""
        try:
            self.backup_keep = min(max(int(self.backup_keep), BACKUP_KEEP[0]), BACKUP_KEEP[1])
        except (TypeError, ValueError):
            self.backup_keep = 10
        return self

    def save(self, data_dir: Path) -> None:
        folder = Path(data_dir)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = folder / (FILE_NAME + ".tmp")
        tmp.write_text(json.dumps(asdict(self.checked()), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, folder / FILE_NAME)
