"""A folder of Markdown notes: Obsidian-style daily notes, front matter, #tags; and Companion's own export."""

from __future__ import annotations

from datetime import datetime

import pytest

from companion.errors import ImportFormatError
from tests.transfer.conftest import JPEG, entry_state, tiny_png


def _write(folder, name, text):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def notes(tmp_path):
    folder = tmp_path / "vault"
    _write(
        folder,
        "Daily/2024-03-01.md",
        "Slept badly. #sleep #health/mind\n\nCalled my sponsor. Not a tag: a#b, #123\n"
        "```\n#not-a-tag in code\n```\n",
    )
    _write(
        folder,
        "Daily/2024-03-02.md",
        "---\ntags: [gratitude, walks]\nmood: 4\nweather: rain\n---\n# A better day\n\n"
        "Walked to the meeting.\n",
    )
    _write(
        folder,
        "Reflections/On patience.md",
        "---\ndate: 2024-02-10T21:30:00+01:00\ntitle: On patience\ntags:\n"
        '  - step-work\n  - "long read"\nstarred: true\n---\n\nSlow is fine.\n',
    )
    _write(folder, "Ideas/no date here.md", "Just an idea.\n")
    _write(folder, "Daily/photo.png", "not a note")
    _write(folder, ".obsidian/workspace.md", "---\ndate: 2024-01-01\n---\nsettings\n")
    return folder


def test_folder_of_notes(app, notes):
    report = app.transfer.import_file("markdown", notes).value
    assert report.entries == 3
    skipped = {s.where: s.reason for s in report.skipped}
    assert "no date" in skipped["Ideas/no date here.md"]
    assert skipped["Daily/photo.png"] == "not a Markdown note"
    assert not any(".obsidian" in where for where in skipped)

    entries = {e.day.isoformat(): app.journal.get_entry(e.id) for e in app.journal.recent()}
    daily = entries["2024-03-01"]
    assert daily.title == "" and daily.tags == ("sleep", "health/mind")
    assert daily.created_at.replace(tzinfo=None) == datetime(2024, 3, 1, 12, 0)
    second = entries["2024-03-02"]
    assert (second.title, second.body, second.mood) == ("A better day", "Walked to the meeting.", 4)
    assert second.tags == ("gratitude", "walks")
    assert second.metadata == {"source": "markdown", "front_matter": {"weather": "rain"}}
    patience = entries["2024-02-10"]
    assert patience.title == "On patience" and patience.starred
    assert patience.tags == ("step-work", "long-read")
    assert patience.created_at.isoformat() == "2024-02-10T21:30:00+01:00"
    assert app.transfer.import_file("markdown", notes).value.entries == 0


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("---\ntitle: never closed\n\nbody\n", "line 1"),
        ("---\ntitle: ok\nthis is not yaml\n---\nbody\n", "line 3"),
        ("---\ndate: last tuesday\n---\nbody\n", "line 2"),
        ("---\ndate: 2024-01-01\nmood: 9\n---\nbody\n", "line 3"),
    ],
)
def test_malformed_note_names_file_and_line_and_imports_nothing(app, notes, text, where):
    _write(notes, "Daily/2024-03-03.md", text)
    with pytest.raises(ImportFormatError) as caught:
        app.transfer.import_file("markdown", notes)
    assert f"Daily/2024-03-03.md ({where})" in str(caught.value)
    assert app.journal.count() == 0


def test_companion_markdown_export_comes_back(app, new_app, tmp_path):
    app.journal.add_entry(
        "Body one\n\nwith #inline",
        title="First",
        tags=["a", "b c"],
        mood=2,
        created_at="2024-05-01T08:00:00+02:00",
    )
    app.journal.add_entry("No title here", created_at="2024-05-02T09:30:00+00:00", tags=["x"])
    app.transfer.export("markdown", tmp_path / "md")
    report = new_app.transfer.import_file("markdown", tmp_path / "md").value
    assert report.entries == 2

    def core(a):
        return sorted((u, t, b, c, m) for (u, t, b, _tags, m, c, *_rest) in entry_state(a))

    assert core(app) == core(new_app)
    assert {tuple(sorted(e.tags)) for e in new_app.journal.recent()} == {("a", "b-c", "inline"), ("x",)}


def test_markdown_export_with_images_comes_back_with_them(app, new_app, tmp_path):
    entry = app.journal.add_entry("with a photo", title="Photo", created_at="2024-05-03T10:00:00+00:00").value
    app.transfer.add_attachment(entry.id, JPEG, name="walk.jpg")
    app.transfer.add_attachment(entry.id, tiny_png(5), name="chart.png")
    app.transfer.export("markdown", tmp_path / "md")
    note = next((tmp_path / "md").glob("*.md")).read_text(encoding="utf-8")
    assert "attachments: [" in note
    report = new_app.transfer.import_file("markdown", tmp_path / "md").value
    assert (report.entries, report.attachments, report.skipped) == (1, 2, [])
    (imported,) = new_app.journal.recent()
    data = [new_app.transfer.attachment_data(a.id) for a in new_app.transfer.attachments(imported.id)]
    assert data == [JPEG, tiny_png(5)]
    assert "attachments" not in new_app.journal.get_entry(imported.id).metadata


def test_attachment_paths_outside_the_folder_are_not_read(app, tmp_path):
    secret = tmp_path / "secret.png"
    secret.write_bytes(tiny_png(9))
    folder = tmp_path / "notes"
    _write(folder, "2024-01-01.md", '---\nattachments: ["../secret.png", "missing.png"]\n---\nbody\n')
    report = app.transfer.import_file("markdown", folder).value
    assert (report.entries, report.attachments) == (1, 0)
    assert sum("not in the imported folder" in s.reason for s in report.skipped) == 2
