"""Where Companion keeps its data: ``--data-dir``, else ``$COMPANION_DATA_DIR``, else the platform's data folder."""

from __future__ import annotations

import os
from pathlib import Path

ENV_DATA_DIR = "COMPANION_DATA_DIR"


def data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    from_env = os.environ.get(ENV_DATA_DIR)
    if from_env:
        return Path(from_env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("Companion", appauthor=False, roaming=True))
