"""Day One: a JSON export (folder and .zip) with a photo, written by the documented format
(tests/fixtures/dayone)."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from companion.errors import ImportFormatError, InvalidInputError
from tests.transfer.conftest import FIXTURES, zip_folder

PHOTO = next((FIXTURES / "dayone" / "photos").glob("*.jpeg"))


def _entries(app):
    entries = [app.journal.get_entry(e.id) for e in app.journal.recent()]
    return {e.title or e.body[:20]: e for e in entries}


def test_folder_export_text_dates_tags_metadata_and_photo(app):
    report = app.transfer.import_file("dayone", FIXTURES / "dayone").value
    assert (report.entries, report.attachments) == (3, 1)
    reasons = sorted(s.reason for s in report.skipped)
    assert len(reasons) == 2
    assert "a video is not imported (only photos are)" in reasons
    assert any("photos/ffeeddccbbaa99887766554433221100.jpeg is missing" in r for r in reasons)

    entries = _entries(app)
    sunrise = entries["Sunrise on the common..."]  # title from the "# " line, Markdown escapes undone
    assert sunrise.body == (
        "The DAYONEMARKER blackbird was back (third day)! Felt steady.\n\n- slept 7h\n- no coffee yet"
    )
    assert "dayone-moment" not in sunrise.body
    # 07:42:10Z shown in the entry's own time zone (BST)
    assert sunrise.created_at == datetime(2023, 5, 14, 8, 42, 10, tzinfo=ZoneInfo("Europe/London"))
    assert sunrise.created_at.utcoffset().total_seconds() == 3600
    assert sunrise.starred
    assert sunrise.tags == ("Morning-pages", "walks")
    assert sunrise.metadata["source"] == "dayone"
    assert sunrise.metadata["location"]["placeName"] == "Clapham Common"
    assert sunrise.metadata["weather"]["conditionsDescription"] == "Partly Cloudy"
    assert sunrise.metadata["time_zone"] == "Europe/London"
    assert sunrise.updated_at == datetime(2023, 5, 14, 8, 1, 33, tzinfo=ZoneInfo("UTC"))

    (photo,) = app.transfer.attachments(sunrise.id)
    data = app.transfer.attachment_data(photo.id)
    assert data == PHOTO.read_bytes()
    assert hashlib.md5(data).hexdigest() == PHOTO.stem  # Day One names photos by their MD5
    assert (photo.name, photo.media_type, photo.size) == ("IMG_0412.JPG", "image/jpeg", len(data))

    untitled = next(e for e in entries.values() if e.title == "")
    assert untitled.body.startswith("Couldn't sleep.") and untitled.body.endswith("went to the meeting.")
    assert (
        untitled.created_at.tzinfo is not None and untitled.day.isoformat() == "2023-11-02"
    )  # New York evening


@pytest.mark.parametrize("layout", ["root", "nested"])
def test_zip_export_gives_the_same_and_reimport_adds_nothing(app, new_app, fixtures, tmp_path, layout):
    source = fixtures / "dayone"
    if layout == "nested":  # everything inside one top folder, as some zip tools write it
        source = tmp_path / "wrap"
        shutil.copytree(fixtures / "dayone", source / "Day One Export")
    archive = zip_folder(source, tmp_path / "export.zip")
    report = app.transfer.import_file("dayone", archive).value
    assert (report.entries, report.attachments) == (3, 1)
    new_app.transfer.import_file("dayone", FIXTURES / "dayone")
    assert sorted(e.title for e in app.journal.recent()) == sorted(e.title for e in new_app.journal.recent())
    again = app.transfer.import_file("dayone", archive).value
    assert (again.entries, again.attachments, again.duplicates) == (0, 0, 3)
    # a duplicate's parts are not reported again as skipped
    assert all(s.reason.startswith("already") for s in again.skipped)


def test_photo_that_is_not_an_image_is_skipped_with_reason(app, fixtures):
    photo = next((fixtures / "dayone" / "photos").glob("*.jpeg"))
    photo.write_bytes(b"this is not a jpeg")
    report = app.transfer.import_file("dayone", fixtures / "dayone").value
    assert report.entries == 3 and report.attachments == 0
    assert any("not a JPEG" in s.reason for s in report.skipped)


def test_malformed_journal_json_in_zip_names_file_and_line(app, fixtures, tmp_path):
    journal = fixtures / "dayone" / "Journal.json"
    text = journal.read_text(encoding="utf-8")
    journal.write_text(text.replace('"starred": true', '"starred": tru'), encoding="utf-8")
    archive = zip_folder(fixtures / "dayone", tmp_path / "broken.zip")
    with pytest.raises(ImportFormatError) as caught:
        app.transfer.import_file("dayone", archive)
    assert "broken.zip/Journal.json" in str(caught.value) and "line " in str(caught.value)
    assert app.journal.count() == 0


def test_entry_without_date_names_the_entry(app, fixtures):
    journal = fixtures / "dayone" / "Journal.json"
    doc = json.loads(journal.read_text(encoding="utf-8"))
    doc["entries"][2]["creationDate"] = "yesterday"
    journal.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ImportFormatError) as caught:
        app.transfer.import_file("dayone", fixtures / "dayone")
    assert "entry 3 (F0E1D2C3B4A5968778695A4B3C2D1E0F)" in str(caught.value)
    assert app.journal.count() == 0


def test_not_an_export(app, tmp_path):
    other = tmp_path / "notes.txt"
    other.write_text("hello", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="neither a Day One export"):
        app.transfer.import_file("dayone", other)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImportFormatError, match="no journal JSON file"):
        app.transfer.import_file("dayone", tmp_path / "empty")


def test_damaged_photo_in_zip_is_an_error_naming_the_entry(app, fixtures, tmp_path):
    archive = zip_folder(fixtures / "dayone", tmp_path / "export.zip")
    data = bytearray(archive.read_bytes())
    # the photo's local header name is followed by its compressed bytes: damage one of them
    index = data.find(b"photos/") + 60
    assert index > 60
    data[index] ^= 0xFF
    archive.write_bytes(bytes(data))
    with pytest.raises(ImportFormatError) as caught:
        app.transfer.import_file("dayone", archive)
    assert "entry 1 (8C1F2A4B6D0E4F7A9B3C5D7E9F1A2B3C)" in str(caught.value)
    assert app.journal.count() == 0
