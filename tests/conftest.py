"""Shared test setup: no display in CI, and a fast key derivation for throwaway vaults."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
