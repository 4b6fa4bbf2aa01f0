from __future__ import annotations

from pathlib import Path

import pytest

from companion.services import Companion
from companion.vault.header import FLOOR

PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def app(data_dir: Path) -> Companion:
    companion = Companion(data_dir)
    companion.create(PASSPHRASE, params=FLOOR)
    yield companion
    companion.lock()
