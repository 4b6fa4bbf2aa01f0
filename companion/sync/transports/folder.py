"""The folder transport: a plain folder kept in step between members by Syncthing, Nextcloud or any file sync.

Layout::

    <folder>/<writer id>/<seq:010d>-<sha256 hex>.env

* Each device writes only into its own subfolder, named by a random, non-identifying id (never a display name).
* Files are immutable and content-addressed: the name carries the SHA-256 of the bytes. A blob already present
  (by hash) is not written again, so ``push`` is idempotent.
* A file is written to a temporary name (starting with ``.`` and ending in ``.tmp``), flushed to disk, then
  renamed into place atomically; file sync never sees a half-written file.
* Readers ignore temporary files, file-sync conflict copies (``.sync-conflict-``, `` (conflicted copy``) and
  anything whose name does not match the pattern or whose hash does not match its name.

Cursor: JSON ``{subfolder: last contiguous seq read}``. Files beyond a gap (file sync may deliver ``5`` before
``4``) are returned but the cursor stays before the gap, so the missing file is still read when it arrives;
files returned twice are harmless because receiving is idempotent.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from companion.errors import TransportError

from .base import Pulled, Transport

FILE_RE: Final = re.compile(r"(\d{10})-([0-9a-f]{64})\.env")
WRITER_RE: Final = re.compile(r"[a-z2-7]{16,64}")
MAX_BLOB: Final = 8 * 1024 * 1024


class FolderTransport(Transport):
    """One circle's shared folder, as seen by one device (``writer_id`` names its subfolder)."""

    def __init__(self, root: Path | str, writer_id: str) -> None:
        if not WRITER_RE.fullmatch(writer_id):
            raise ValueError("writer_id must be lowercase base32")
        self.root = Path(root).expanduser()
        self.writer_id = writer_id
        self._mine = self.root / writer_id

    # -- checks ----------------------------------------------------------------------------------------------

    def _check_root(self) -> None:
        if not self.root.is_dir():
            raise TransportError(
                f"The shared folder {self.root} is missing. Check that the drive is connected and that your file "
                "sync (Syncthing, Nextcloud …) has created it. Nothing was lost: outgoing items wait in the outbox."
            )

    def _read_only(self, exc: OSError) -> TransportError:
        return TransportError(
            f"Companion cannot write to the shared folder {self.root} ({os.strerror(exc.errno or errno.EACCES)}). "
            "Check that it is not read-only. Nothing was lost: outgoing items wait in the outbox."
        )

    # -- Transport -------------------------------------------------------------------------------------------

    def push(self, blobs: Sequence[bytes]) -> None:
        if not blobs:
            return
        self._check_root()
        try:
            self._mine.mkdir(exist_ok=True)
            have = {}
            for name in os.listdir(self._mine):
                m = FILE_RE.fullmatch(name)
                if m:
                    have[m.group(2)] = int(m.group(1))
            seq = max(have.values(), default=0)
            for blob in blobs:
                digest = hashlib.sha256(blob).hexdigest()
                if digest in have:
                    continue
                seq += 1
                final = self._mine / f"{seq:010d}-{digest}.env"
                tmp = self._mine / f".{seq:010d}-{digest}.env.tmp"
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                try:
                    with os.fdopen(fd, "wb") as fh:
                        fh.write(blob)
                        fh.flush()
                        os.fsync(fh.fileno())
                    os.replace(tmp, final)
                except BaseException:
                    with contextlib.suppress(OSError):
                        tmp.unlink()
                    raise
                have[digest] = seq
            _fsync_dir(self._mine)
        except PermissionError as exc:
            raise self._read_only(exc) from None
        except OSError as exc:
            if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise self._read_only(exc) from None
            raise TransportError(
                f"Companion could not write to the shared folder {self.root} ({exc.strerror}). "
                "Nothing was lost: outgoing items wait in the outbox."
            ) from None

    def pull(self, cursor: str | None, limit: int = 1000) -> Pulled:
        self._check_root()
        seen = _parse_cursor(cursor)
        new_cursor = dict(seen)
        blobs: list[bytes] = []
        more = False
        try:
            writers = sorted(n for n in os.listdir(self.root) if WRITER_RE.fullmatch(n) and (self.root / n).is_dir())
        except OSError as exc:
            raise TransportError(f"Companion could not read the shared folder {self.root} ({exc.strerror}).") from None
        for writer in writers:
            start = seen.get(writer, 0)
            files: list[tuple[int, str, str]] = []
            try:
                names = os.listdir(self.root / writer)
            except OSError:
                continue
            for name in names:
                m = FILE_RE.fullmatch(name)
                if m and int(m.group(1)) > start:
                    files.append((int(m.group(1)), m.group(2), name))
            files.sort()
            contiguous = start
            for seq, digest, name in files:
                if len(blobs) >= limit:
                    more = True
                    break
                try:
                    path = self.root / writer / name
                    if path.stat().st_size > MAX_BLOB:
                        data = None
                    else:
                        data = path.read_bytes()
                except OSError:
                    data = None  # vanished or unreadable: treat as not there yet
                if data is None or hashlib.sha256(data).hexdigest() != digest:
                    continue  # a damaged or partial file: not delivered, and the cursor stays before it
                blobs.append(data)
                if seq == contiguous + 1:
                    contiguous = seq
            new_cursor[writer] = contiguous
            if more:
                break
        return Pulled(blobs, json.dumps(new_cursor, sort_keys=True), more)


def _parse_cursor(cursor: str | None) -> dict[str, int]:
    if not cursor:
        return {}
    try:
        data = json.loads(cursor)
        return {str(k): int(v) for k, v in data.items() if WRITER_RE.fullmatch(str(k))}
    except (ValueError, AttributeError, TypeError):
        return {}  # an unreadable cursor means "from the beginning": receiving is idempotent


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
