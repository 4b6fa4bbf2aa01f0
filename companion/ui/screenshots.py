"""Render the app's main states offscreen to PNGs: ``python -m companion.ui.screenshots docs/screenshots``.

A demo vault with gentle, made-up peer-support entries is generated in a temporary folder (never your
own data).
"""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

PASSPHRASE = "demo passphrase for screenshots"
SIZE = (1100, 720)

DEMO = [
    (
        "After Tuesday's group",
        "I almost didn't go. Sat in the car for ten minutes.\n\nBut **I went in**, and when it was my turn "
        "I said "
        "the thing I'd been holding for weeks. Nobody rushed me. R. said she'd felt the same last winter.\n\n"
        "What helped today:\n\n- getting there early enough to have tea first\n- the quiet corner seat\n"
        "- remembering I can pass if I want to\n\nI'd like my circle to know: thank you for waiting.",
        ["group", "gratitude"],
        4,
        0,
    ),
    (
        "A boundary I kept",
        "Mum called during dinner again. I said I'd ring her back tomorrow, and I did not "
        "explain myself three times. It felt awkward and also fine.",
        ["boundaries", "family"],
        3,
        1,
    ),
    (
        "Slow morning",
        "Bad sleep. Walked round the park instead of scrolling. The heron was there again.",
        ["self-care", "walking"],
        2,
        2,
    ),
    (
        "What I'd like my circle to know",
        "That I'm doing better than last month, even if it doesn't look like it. Small steps still count.",
        ["circle"],
        4,
        4,
    ),
    (
        "Check-in with my sponsor",
        "We talked about the difference between rest and avoidance. I think this week was rest.",
        ["support", "reflection"],
        4,
        5,
    ),
    (
        "Hard day",
        "Everything felt loud. I used the grounding list: five things I can see, four I can hear. It "
        "took the edge off.",
        ["grounding"],
        1,
        7,
    ),
    (
        "Volunteer shift",
        "Helped set up chairs for the new meeting room. Being useful is good medicine.",
        ["volunteering", "group"],
        5,
        9,
    ),
    (
        "Letter I won't send",
        "Writing it here so it's out of my head. I don't need to post it to be done with it.",
        ["reflection"],
        2,
        12,
    ),
    (
        "Small win",
        "Made the phone call I'd been putting off for a fortnight. Four minutes. That's all it was.",
        ["wins"],
        4,
        14,
    ),
    (
        "Sunday reset",
        "Clean sheets, soup for the week, an early night. Looking after myself on purpose.",
        ["self-care"],
        4,
        16,
    ),
    (
        "Online meeting",
        "Camera off today and that was okay. Listening counts too.",
        ["group", "online"],
        3,
        19,
    ),
    (
        "A boundary with work",
        "Closed the laptop at six. Noticed the guilt, let it sit there, didn't obey it.",
        ["boundaries", "work"],
        3,
        23,
    ),
    ("Gratitude list", "- the bus driver who waited\n- J.'s text\n- finishing my book", ["gratitude"], 5, 27),
    (
        "Anniversary",
        "Two years today since my first meeting. I nearly didn't write this down. I'm glad I did.",
        ["milestone", "group"],
        5,
        31,
    ),
    ("Tired but okay", "Not every day needs to mean something.", ["reflection"], 3, 36),
]

EARLIER = [
    (
        "First week",
        "New to all this. Writing it down because someone in group said it helps. We'll see.",
        ["group"],
        2,
        365,
    ),
    ("One year on", "Reading back, I can see how far I've come.", ["milestone"], 4, 730),
]


def build_demo(folder: Path) -> None:
    from companion.services import Companion
    from companion.vault.header import FLOOR

    app = Companion(folder)
    app.create(PASSPHRASE, params=FLOOR)
    now = datetime.now().astimezone().replace(hour=20, minute=15, second=0, microsecond=0)
    for title, body, tags, mood, days in DEMO + EARLIER:
        moment = now - timedelta(days=days, hours=(days * 5) % 9)
        app.journal.add_entry(body, title=title, tags=tags, mood=mood, created_at=moment)
    trashed = app.journal.add_entry(
        "Draft I decided not to keep.", title="Old draft", created_at=now - timedelta(days=40)
    ).value
    app.journal.trash_entry(trashed.id)
    demo_meetings(app, now)
    demo_images(app)
    app.lock()


def render(out: Path) -> list[Path]:
    from PySide6.QtCore import QDate, QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from companion.ui import theme
    from companion.ui.main_window import MainWindow
    from companion.ui.settings import UiSettings

    out.mkdir(parents=True, exist_ok=True)
    qapp = QApplication.instance() or QApplication(sys.argv[:1])
    written: list[Path] = []

    def wait(ms: int = 150) -> None:
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    def until(condition, timeout_ms: int = 15000) -> None:
        waited = 0
        while not condition() and waited < timeout_ms:
            wait(30)
            waited += 30
        if not condition():
            raise RuntimeError("the app did not reach the expected state")

    def shot(window, name: str) -> None:
        wait(200)
        path = out / f"{name}.png"
        window.grab().save(str(path))
        written.append(path)

    with tempfile.TemporaryDirectory() as tmp:
        settings = UiSettings(theme="light", font_size=11)
        theme.apply(qapp, settings.theme, settings.font_size)
        first = MainWindow(Path(tmp) / "new", settings=UiSettings(), interactive_errors=False)
        first.resize(*SIZE)
        first.show()
        first.create_screen.passphrase.setText("four unrelated words here")
        first.create_screen.repeat.setText("four unrelated words here")
        shot(first, "create")
        first.close()

        data = Path(tmp) / "demo"
        build_demo(data)
        window = MainWindow(data, settings=settings, interactive_errors=False)
        window.resize(*SIZE)
        window.show()
        until(lambda: window.isVisible())
        shot(window, "unlock")

        window.unlock_screen.passphrase.setText(PASSPHRASE)
        window.unlock_screen._submit()
        until(lambda: window.state == "main" and window.journal.model.rowCount() > 0 and not window.ops.busy)
        page = window.journal
        page.list.setCurrentIndex(page.model.index(0))
        until(lambda: page.editor.entry_id is not None)
        shot(window, "journal")

        page.editor.set_reading(True)
        shot(window, "reading")
        page.editor.set_reading(False)

        page.new_entry()
        page.editor.prompt_label.setText("What helped today, even a little?")
        page.editor.body.setFocus()
        shot(window, "new-entry")

        page.search.setText("group")
        until(
            lambda: (
                page.model.query.text == "group"
                and page.model.rowCount() > 0
                and page.model.rows[0].snippet is not None
                and not window.ops.busy
            )
        )
        page.list.setCurrentIndex(page.model.index(0))
        until(lambda: page.editor.entry_id is not None)
        shot(window, "search")
        page.search.clear()
        until(lambda: not page.model.query.is_search and not window.ops.busy)

        page.show_view(1)
        today = QDate.currentDate()
        page.calendar.setSelectedDate(today)
        page.load_day()
        until(lambda: bool(page.calendar.marks) and not window.ops.busy)
        shot(window, "calendar")
        page.show_view(0)

        transfer_states(window, Path(tmp), shot, until, wait, out, written)  # issue 9: images, import report

        dialog = window.open_settings()
        dialog.resize(520, 640)
        wait(200)
        path = out / "settings.png"
        dialog.grab().save(str(path))
        written.append(path)
        dialog.reject()

        settings.theme = "dark"
        window.apply_settings()
        wait(100)
        page.list.setCurrentIndex(page.model.index(0))
        shot(window, "journal-dark")
        settings.theme = "light"
        window.apply_settings()

        meetings = next(p for p in window.pages if p.key == "meetings")
        window.show_page(window.pages.index(meetings))
        until(lambda: meetings.list.count() > 0 and not window.ops.busy)
        meetings.list.setCurrentRow(1)
        until(lambda: meetings.checklist.count() > 1 and not window.ops.busy)
        shot(window, "meetings")
        report = meetings.open_export()
        report.resize(900, 720)
        until(lambda: report.report is not None and report.is_current() and not window.ops.busy)
        wait(200)
        report.grab().save(str(out / "meetings-report.png"))
        written.append(out / "meetings-report.png")
        report.reject()

        from companion.ui.circles_screens import circles_states

        circles_states(window, Path(tmp), shot, until, wait, out, written)  # issue 7: circles, share, shared

        window.lock()
        until(lambda: not window.ops.busy)
        shot(window, "locked")
        window.close()
    return written


def demo_picture(width: int = 900, height: int = 600) -> bytes:
    """A drawn (not photographed) picture for the demo: a morning sky over a park pond, as PNG bytes."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPointF, QRectF
    from PySide6.QtGui import QColor, QImage, QLinearGradient, QPainter, QPainterPath

    image = QImage(width, height, QImage.Format.Format_RGB32)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    sky = QLinearGradient(0, 0, 0, height)
    sky.setColorAt(0, QColor("#f6c89f"))
    sky.setColorAt(0.55, QColor("#fbe3c4"))
    sky.setColorAt(1, QColor("#9cc3b8"))
    painter.fillRect(image.rect(), sky)
    painter.setPen(QColor(0, 0, 0, 0))
    painter.setBrush(QColor("#fff3d6"))
    painter.drawEllipse(QPointF(width * 0.7, height * 0.35), 55, 55)
    for shade, top in (("#7aa890", 0.58), ("#5d8f78", 0.68)):
        hill = QPainterPath(QPointF(0, height))
        hill.lineTo(0, height * top)
        hill.cubicTo(width * 0.3, height * (top - 0.12), width * 0.6, height * (top + 0.08), width, height * top)
        hill.lineTo(width, height)
        painter.setBrush(QColor(shade))
        painter.drawPath(hill)
    painter.setBrush(QColor("#b9d8e0"))
    painter.drawEllipse(QRectF(width * 0.15, height * 0.8, width * 0.45, height * 0.12))
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(data)


def demo_images(app) -> None:
    entry = next(e for e in app.journal.recent(50) if e.title == "Slow morning")
    app.transfer.add_attachment(entry.id, demo_picture(), name="park-pond.png")


def transfer_states(window, tmp: Path, shot, until, wait, out: Path, written: list[Path]) -> None:
    """Issue 9's states: an entry with an image, the image viewer, and an import's report."""
    page = window.journal
    row = next(i for i, r in enumerate(page.model.rows) if r.title == "Slow morning")
    page.list.setCurrentIndex(page.model.index(row))
    strip = page.editor.attachments
    until(lambda: page.editor.title.text() == "Slow morning" and len(strip.thumbs) == 1 and not window.ops.busy)
    shot(window, "attachment")
    strip.view_current()
    viewer = strip.viewer
    until(lambda: viewer.picture.pixmap() is not None and not viewer.picture.pixmap().isNull())
    viewer.resize(760, 560)
    wait(200)
    viewer.grab().save(str(out / "attachment-viewer.png"))
    written.append(out / "attachment-viewer.png")
    viewer.reject()

    notes = tmp / "notes"
    (notes / ".obsidian").mkdir(parents=True)
    (notes / "2024-01-05.md").write_text("# New year walk\n\nCold, bright, #walking with J.\n", encoding="utf-8")
    (notes / "2024-01-12.md").write_text("---\ntags: [group]\n---\nFirst meeting of the year.\n", "utf-8")
    (notes / "Ideas.md").write_text("Things to bring up in group, some day.\n", encoding="utf-8")
    (notes / "scan.pdf").write_bytes(b"%PDF-1.4\n")
    dialog = window.open_import()
    dialog.resize(640, 380)
    dialog.import_from("markdown", notes)
    until(lambda: dialog.report is not None and not window.ops.busy)
    wait(200)
    dialog.grab().save(str(out / "import-report.png"))
    written.append(out / "import-report.png")
    dialog.reject()


def demo_meetings(app, now: datetime) -> None:
    """A facilitator's made-up records: a weekly group, an online check-in, one-to-ones, one pending check-in."""
    import random

    from companion.attendance.store import CheckIn

    rng = random.Random(7)
    people = ["Robin", "Alex", "Sam", "Jo", "Kit", "Lee", "Ash", "Bea", "Cal", "Dee", "Eli", "Fay", "Gus", "Hal"]
    start = (now.replace(day=1) - timedelta(days=40)).replace(day=1, hour=18, minute=30)
    latest = None
    for week in range(0, 70, 7):
        moment = start + timedelta(days=week)
        if moment.date() >= now.date():
            break
        group = app.attendance.add_meeting(moment, "in_person", 90, topic="Weekly peer group").value
        app.attendance.attend(group.id, rng.sample(people, rng.randint(9, 13)))
        latest = group
        if (moment + timedelta(days=2)).date() >= now.date():
            break
        online = app.attendance.add_meeting(moment + timedelta(days=2, hours=1), "online", 60, topic="Check-in")
        app.attendance.attend(online.value.id, rng.sample(people[:6], rng.randint(3, 5)))
    for days in (12, 33):
        one = app.attendance.add_meeting(start + timedelta(days=days, hours=-4), "one_to_one", 45).value
        app.attendance.attend(one.id, [people[days % len(people)]])
    if latest is not None:
        app.attendance.record_check_in(CheckIn("5eed" * 8, latest.uid, "demo-member", latest.starts_at, None, "Mo"))


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "docs/screenshots")
    for path in render(out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
