"""Attachments: images stored inside the encrypted vault, per entry."""

from __future__ import annotations

import pytest

from companion.errors import InvalidInputError, NotFoundError
from companion.services import Changes
from tests.transfer.conftest import JPEG, tiny_png


def test_add_list_get_remove(app, tmp_path):
    entry = app.journal.add_entry("with pictures").value
    first = app.transfer.add_attachment(entry.id, JPEG, name="/home/me/Pictures/walk.jpg")
    assert first.changes == Changes.ENTRIES
    path = tmp_path / "chart.png"
    path.write_bytes(tiny_png(1))
    second = app.transfer.add_attachment_file(entry.id, path).value
    listed = app.transfer.attachments(entry.id)
    assert [(a.name, a.media_type, a.position) for a in listed] == [
        ("walk.jpg", "image/jpeg", 0),
        ("chart.png", "image/png", 1),
    ]
    assert app.transfer.attachment_data(first.value.id) == JPEG
    assert app.transfer.attachment_data(second.id) == tiny_png(1)
    assert app.transfer.remove_attachment(first.value.id).value.name == "walk.jpg"
    assert [a.id for a in app.transfer.attachments(entry.id)] == [second.id]
    with pytest.raises(NotFoundError):
        app.transfer.attachment_data(first.value.id)


@pytest.mark.parametrize(
    "data", [b"", b"%PDF-1.7 not an image", b"<svg xmlns='http://www.w3.org/2000/svg'/>"]
)
def test_only_images_are_accepted(app, data):
    entry = app.journal.add_entry("x").value
    with pytest.raises(InvalidInputError):
        app.transfer.add_attachment(entry.id, data, name="file")
    assert app.transfer.attachments(entry.id) == []


def test_unknown_entry(app):
    with pytest.raises(NotFoundError):
        app.transfer.add_attachment(999, JPEG)


def test_purging_an_entry_removes_its_attachments(app):
    entry = app.journal.add_entry("x").value
    attachment = app.transfer.add_attachment(entry.id, JPEG).value
    app.journal.purge_entry(entry.id)
    with pytest.raises(NotFoundError):
        app.transfer.attachment_data(attachment.id)


def test_attachment_bytes_are_not_in_the_files_in_plaintext(app, data_dir):
    entry = app.journal.add_entry("x").value
    app.transfer.add_attachment(entry.id, JPEG)
    app.lock()
    needle = JPEG[200:264]
    for path in data_dir.rglob("*"):
        assert needle not in path.read_bytes(), path
