"""The folder transport on its own: immutable content-addressed files, cursors, and clear errors."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from companion.errors import TransportError
from companion.sync.transports import check_settings, make_transport
from companion.sync.transports.folder import FolderTransport


def test_push_is_idempotent_and_content_addressed(tmp_path: Path) -> None:
    t = FolderTransport(tmp_path, "writeraaaaaaaaaaaaaa")
    t.push([b"one", b"two"])
    t.push([b"two", b"three"])
    names = sorted(p.name for p in (tmp_path / "writeraaaaaaaaaaaaaa").iterdir())
    assert len(names) == 3
    for n in names:
        seq, digest = n[:-4].split("-")
        assert (
            len(seq) == 10
            and digest == hashlib.sha256((tmp_path / "writeraaaaaaaaaaaaaa" / n).read_bytes()).hexdigest()
        )
    assert not any(n.endswith(".tmp") for n in names)


def test_pull_cursor_and_limit(tmp_path: Path) -> None:
    a = FolderTransport(tmp_path, "writeraaaaaaaaaaaaaa")
    b = FolderTransport(tmp_path, "writerbbbbbbbbbbbbbb")
    a.push([b"a1", b"a2", b"a3"])
    b.push([b"b1"])
    first = a.pull(None, limit=2)
    assert first.blobs == [b"a1", b"a2"] and first.more
    rest = a.pull(first.cursor, limit=10)
    assert rest.blobs == [b"a3", b"b1"] and not rest.more
    assert a.pull(rest.cursor).blobs == []
    a.push([b"a4"])
    assert a.pull(rest.cursor).blobs == [b"a4"]
    assert a.pull("not json at all").blobs == [b"a1", b"a2", b"a3", b"a4", b"b1"]  # a bad cursor starts over


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    t = FolderTransport(tmp_path / "gone", "writeraaaaaaaaaaaaaa")
    with pytest.raises(TransportError, match="is missing"):
        t.pull(None)
    with pytest.raises(TransportError, match="Nothing was lost"):
        t.push([b"x"])


def _make_read_only(path: Path) -> Callable[[], None]:
    """Make ``path`` unwritable; returns the undo. Root ignores permissions, so use the immutable flag there."""
    if os.geteuid() != 0:
        path.chmod(0o555)
        return lambda: path.chmod(0o755)
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("cannot make a folder read-only here (root, and no chattr support)")
    return lambda: subprocess.run(["chattr", "-i", str(path)], check=True)


def test_read_only_folder_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    undo = _make_read_only(folder)
    try:
        with pytest.raises(TransportError, match="read-only"):
            FolderTransport(folder, "writeraaaaaaaaaaaaaa").push([b"x"])
        assert FolderTransport(folder, "writeraaaaaaaaaaaaaa").pull(None).blobs == []  # reading still works
    finally:
        undo()


def test_unwritable_subfolder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "writeraaaaaaaaaaaaaa").write_bytes(b"a file where the subfolder should be")
    with pytest.raises(TransportError, match="Nothing was lost"):
        FolderTransport(tmp_path, "writeraaaaaaaaaaaaaa").push([b"x"])


def test_settings_factory(tmp_path: Path) -> None:
    t = make_transport({"kind": "folder", "path": str(tmp_path)}, writer_id="writeraaaaaaaaaaaaaa")
    assert isinstance(t, FolderTransport)
    from companion.errors import InvalidInputError

    with pytest.raises(InvalidInputError):
        check_settings({"kind": "carrier-pigeon"})
    with pytest.raises(InvalidInputError):
        check_settings({"kind": "relay", "url": "https://r.example"})


def test_sync_with_missing_folder_keeps_the_outbox(circle, shared) -> None:
    cid, p = circle
    ana, ben = p["ana"], p["ben"]
    ana.circles.share(ana.entry("wait", title="Waiting"), cid)
    shared.rename(shared.with_name("elsewhere"))
    report = ana.sync()[0]
    assert report.state == "transport_failed" and "missing" in (report.error or "")
    assert ana.circles.get_circle(cid).outbox == 1
    shared.with_name("elsewhere").rename(shared)
    assert ana.sync()[0].state == "done"
    assert ana.circles.get_circle(cid).outbox == 0
    ben.sync()
    assert [i.title for i in ben.inbox()] == ["Waiting"]


def test_read_only_folder_still_receives(circle, shared) -> None:
    cid, p = circle
    ana, ben = p["ana"], p["ben"]
    ana.circles.share(ana.entry("to read", title="In"), cid)
    ana.sync()
    ben.circles.share(ben.entry("to send", title="Out"), cid)
    sub = shared / ben.circles._store.circle(cid).writer_id
    undo = _make_read_only(sub)
    try:
        report = ben.sync()[0]
    finally:
        undo()
    assert report.state == "transport_failed" and "read-only" in (report.error or "")
    assert [i.title for i in ben.inbox()] == ["In"]  # receiving still worked
    assert ben.circles.get_circle(cid).outbox == 1  # and nothing was lost
    assert ben.sync()[0].state == "done" and ben.circles.get_circle(cid).outbox == 0
