"""Drive the real window: create, write and autosave, lock and unlock, search, filters, trash."""

from datetime import date

from PySide6.QtCore import QDate, Qt

from companion.ui.unlock import strength
from tests.ui.conftest import PASSPHRASE, create_journal, day, run_query, seed, wait_idle


def rows(window):
    return window.journal.model.rows


def test_fresh_folder_shows_create_screen_and_creates_a_journal(qtbot, make_window, tmp_path):
    window = make_window()
    assert window.state == "create"
    assert window.stack.currentWidget() is window.create_screen
    screen = window.create_screen
    assert "cannot be opened" in screen.warning.text()
    qtbot.keyClicks(screen.passphrase, "short")
    assert "Too short" in screen.hint.text()
    qtbot.keyClicks(screen.repeat, "short")
    assert not screen.create.isEnabled()
    screen.passphrase.clear()
    screen.repeat.clear()
    create_journal(qtbot, window)
    assert window.state == "main"
    assert (tmp_path / "data" / "vault.db").exists()
    assert window.windowTitle() == "Companion"


def test_write_autosave_lock_unlock_and_find_by_search(qtbot, unlocked):
    window = unlocked
    editor = window.journal.editor
    qtbot.keyClicks(editor.title, "After group")
    editor.body.setFocus()
    qtbot.keyClicks(editor.body, "Talking about the boundary with my sister helped")
    qtbot.waitUntil(lambda: editor.save_state.text() == "Saved", timeout=10000)
    assert editor.entry_id is not None
    assert editor.word_count.text() == "8 words"
    qtbot.waitUntil(lambda: len(rows(window)) == 1)
    assert rows(window)[0].title == "After group"
    stored = run_query(qtbot, window, lambda app: app.journal.get_entry(editor.entry_id))
    assert stored.body == "Talking about the boundary with my sister helped"

    qtbot.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert window.state == "unlock"
    assert editor.body.toPlainText() == "" and rows(window) == []
    wait_idle(qtbot, window)
    assert not window.companion.is_unlocked

    unlock = window.unlock_screen
    qtbot.keyClicks(unlock.passphrase, "not my passphrase")
    qtbot.keyClick(unlock.passphrase, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: unlock.error.isVisible(), timeout=10000)
    assert "did not open" in unlock.error.text()
    assert window.state == "unlock"

    unlock.passphrase.clear()
    qtbot.keyClicks(unlock.passphrase, PASSPHRASE)
    with qtbot.waitSignal(window.unlocked, timeout=10000):
        qtbot.keyClick(unlock.passphrase, Qt.Key.Key_Return)
    qtbot.keyClicks(window.journal.search, "bound")
    qtbot.waitUntil(lambda: len(rows(window)) == 1 and rows(window)[0].snippet is not None, timeout=5000)
    assert "\x02boundary\x03" in rows(window)[0].snippet
    qtbot.waitUntil(lambda: window.journal.result_label.text() == "1 result")
    qtbot.keyClick(window.journal.search, Qt.Key.Key_Escape)
    assert window.journal.search.text() == ""
    qtbot.keyClicks(window.journal.search, "nothingmatches")
    qtbot.waitUntil(lambda: window.journal.result_label.text() == "0 results", timeout=5000)
    assert rows(window) == []


def test_filter_by_tag_mood_and_date(qtbot, unlocked):
    window = unlocked
    seed(
        qtbot,
        window,
        [
            ("Went to the Tuesday group.", "Group", ["group"], 4, day("2026-03-03T19:00")),
            ("Slept badly, walked instead.", "Walk", ["self-care"], 2, day("2026-03-10T08:00")),
            ("Group again, felt heard.", "Heard", ["group", "gratitude"], 5, day("2026-04-01T20:00")),
        ],
    )
    page = window.journal
    qtbot.waitUntil(lambda: len(rows(window)) == 3 and page.tag_filter.count() == 4)
    page.tag_filter.setCurrentIndex(page.tag_filter.findData("group"))
    qtbot.waitUntil(lambda: {r.title for r in rows(window)} == {"Group", "Heard"})
    page.date_from.setDate(QDate(2026, 3, 1))
    page.date_to.setDate(QDate(2026, 3, 31))
    page.date_filter.setChecked(True)
    qtbot.waitUntil(lambda: [r.title for r in rows(window)] == ["Group"])
    page.tag_filter.setCurrentIndex(0)
    qtbot.waitUntil(lambda: [r.title for r in rows(window)] == ["Walk", "Group"])
    page.mood_filter.setCurrentIndex(page.mood_filter.findData(2))
    qtbot.waitUntil(lambda: [r.title for r in rows(window)] == ["Walk"])


def test_trash_and_restore(qtbot, unlocked):
    window = unlocked
    seed(qtbot, window, [("A hard day, written down.", "Hard day", [], None, None)])
    page = window.journal
    qtbot.waitUntil(lambda: len(rows(window)) == 1)
    page.list.setCurrentIndex(page.model.index(0))
    qtbot.waitUntil(lambda: page.editor.title.text() == "Hard day")
    qtbot.keyClick(window, Qt.Key.Key_Delete, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(
        lambda: (
            rows(window) == []
            and page.trash_list.count() == 1
            and page.trash_list.item(0).data(Qt.ItemDataRole.UserRole) is not None
        )
    )
    qtbot.keyClick(
        window, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert page.tabs.currentIndex() == 2
    page.trash_list.setCurrentRow(0)
    qtbot.mouseClick(page.restore_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: len(rows(window)) == 1 and page.trash_list.item(0).data(Qt.ItemDataRole.UserRole) is None
    )
    assert rows(window)[0].title == "Hard day"


def test_calendar_marks_days_and_on_this_day(qtbot, unlocked):
    window = unlocked
    today = date.today()
    last_year = today.replace(year=today.year - (4 if (today.month, today.day) == (2, 29) else 1))
    seed(
        qtbot,
        window,
        [
            ("Today's note.", "Today", [], 3, None),
            ("A year ago.", "Last year", [], 3, day(f"{last_year.isoformat()}T12:00")),
        ],
    )
    page = window.journal
    qtbot.waitUntil(lambda: page.memories.isVisible())
    assert page.memories.text() == f"On this day: 1 entry from {last_year.year}"
    qtbot.keyClick(
        window, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    qtbot.waitUntil(lambda: today in page.calendar.marks)
    page.calendar.setSelectedDate(QDate(today.year, today.month, today.day))
    page.load_day()
    qtbot.waitUntil(lambda: page.on_this_day.count() == 1 and "Last year" in page.on_this_day.item(0).text())
    assert "Today" in page.day_list.item(0).text()
    page.on_this_day.setCurrentRow(0)
    page._open_item(page.on_this_day.item(0))
    qtbot.waitUntil(lambda: page.editor.title.text() == "Last year")


def test_list_pages_lazily(qtbot, unlocked):
    window = unlocked
    seed(qtbot, window, [(f"entry {i}", f"Entry {i}", [], None, None) for i in range(120)])
    model = window.journal.model
    qtbot.waitUntil(lambda: len(model.rows) == 50 and not model.loading)
    assert model.canFetchMore()
    model.fetchMore()
    qtbot.waitUntil(lambda: len(model.rows) == 100 and not model.loading)
    window.journal.list.scrollToBottom()
    qtbot.waitUntil(lambda: len(model.rows) == 120 and model.exhausted, timeout=5000)
    assert len({r.id for r in model.rows}) == 120


def test_undo_redo_and_markdown_shortcuts(qtbot, unlocked):
    editor = unlocked.journal.editor
    editor.body.setFocus()
    qtbot.keyClicks(editor.body, "hope")
    editor.body.selectAll()
    qtbot.keyClick(editor.body, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    assert editor.body.toPlainText() == "**hope**"
    qtbot.keyClick(editor.body, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert editor.body.toPlainText() == "hope"
    qtbot.keyClick(
        editor.body, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert editor.body.toPlainText() == "**hope**"
    qtbot.keyClick(editor.body, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert editor.views.currentWidget() is editor.reading
    assert editor.reading.toPlainText() == "hope"


def test_prompt_is_offered_not_forced(qtbot, unlocked):
    editor = unlocked.journal.editor
    assert editor.prompt_card.isVisible() and editor.prompt_label.text()
    first = editor.prompt_label.text()
    qtbot.mouseClick(editor.use_prompt, Qt.MouseButton.LeftButton)
    assert editor.title.text() == first and not editor.prompt_card.isVisible()
    qtbot.waitUntil(lambda: editor.save_state.text() == "Saved", timeout=5000)
    unlocked.journal.new_entry()
    assert editor.prompt_card.isVisible()
    qtbot.mouseClick(editor.hide_prompt, Qt.MouseButton.LeftButton)
    assert not editor.prompt_card.isVisible() and editor.title.text() == ""


def test_busy_indicator_caps_lock_and_wrong_passphrase_flag(qtbot, make_window):
    window = make_window()
    screen = window.create_screen
    qtbot.keyClick(screen.passphrase, Qt.Key.Key_A)  # capital without Shift: Caps Lock is on
    qtbot.keyClicks(screen.passphrase, "B")
    assert not screen.caps.isHidden()
    screen.passphrase.clear()
    qtbot.keyClicks(screen.passphrase, "a")  # lower case without Shift: off again
    assert screen.caps.isHidden()
    screen.passphrase.clear()
    qtbot.keyClicks(screen.passphrase, PASSPHRASE)
    qtbot.keyClicks(screen.repeat, PASSPHRASE)
    assert screen.hint.text().startswith("Fair")  # four words ≈ 44 bits
    assert strength("plain")[0] == 0 and strength("password")[0] == 1
    assert strength("tide lantern oboe frost quilt meadow")[0] == 3
    assert strength("tide lantern oboe frost quilt meadow cinder walrus")[0] == 4
    with qtbot.waitSignal(window.unlocked, timeout=15000):
        qtbot.mouseClick(screen.create, Qt.MouseButton.LeftButton)
        assert screen.busy.isVisible() and not screen.passphrase.isEnabled()  # key derivation is off-thread
    wait_idle(qtbot, window)
    window.lock()
    unlock = window.unlock_screen
    qtbot.keyClicks(unlock.passphrase, "nope nope nope")
    qtbot.keyClick(unlock.passphrase, Qt.Key.Key_Return)
    assert unlock.busy.isVisible()
    qtbot.waitUntil(lambda: unlock.error.isVisible(), timeout=10000)
    assert unlock.passphrase.property("invalid") is True
    assert unlock.passphrase.accessibleDescription() == unlock.error.text()
    assert unlock.passphrase.hasFocus() and unlock.passphrase.selectedText() == "nope nope nope"


def test_tags_complete_and_mood_and_date_are_saved(qtbot, unlocked):
    window = unlocked
    seed(qtbot, window, [("x", "Earlier", ["gratitude", "group"], None, None)])
    editor = window.journal.editor
    qtbot.waitUntil(lambda: "gratitude" in editor.tags.tag_model.stringList())
    window.journal.new_entry()
    qtbot.keyClicks(editor.title, "Tagged")
    editor.tags.setFocus()
    qtbot.keyClicks(editor.tags, "grat")
    popup = editor.tags.completer_.popup()
    qtbot.waitUntil(popup.isVisible)
    qtbot.keyClick(popup, Qt.Key.Key_Down)
    qtbot.keyClick(popup, Qt.Key.Key_Return)
    assert editor.tags.text() == "gratitude, "
    editor.mood.setCurrentIndex(editor.mood.findData(5))
    editor.mood.activated.emit(editor.mood.currentIndex())
    editor.date.setDateTime(editor.date.dateTime().addDays(-400))
    qtbot.waitUntil(lambda: editor.save_state.text() == "Saved", timeout=5000)
    stored = run_query(qtbot, window, lambda app: app.journal.get_entry(editor.entry_id))
    assert stored.tags == ("gratitude",) and stored.mood == 5
    assert (date.today() - stored.created_at.date()).days in (399, 400, 401)


def test_saves_queued_back_to_back_then_a_lock_make_one_entry_with_the_last_words(qtbot, unlocked):
    window = unlocked
    editor = window.journal.editor
    editor.body.setFocus()
    qtbot.keyClicks(editor.body, "first")
    editor.save_now()  # adds the entry (on the worker)
    qtbot.keyClicks(editor.body, " second")
    editor.save_now()  # queued before the add's result is back: must update, not add again
    qtbot.keyClicks(editor.body, " third")
    window.lock()  # the lock saves what was typed last, then closes the vault
    unlock = window.unlock_screen
    qtbot.keyClicks(unlock.passphrase, PASSPHRASE)
    with qtbot.waitSignal(window.unlocked, timeout=10000):
        qtbot.keyClick(unlock.passphrase, Qt.Key.Key_Return)
    wait_idle(qtbot, window)
    bodies = run_query(
        qtbot, window, lambda app: [app.journal.get_entry(r.id).body for r in app.journal.recent()]
    )
    assert bodies == ["first second third"]


def test_switching_entries_while_loading_keeps_edits_with_their_entry(qtbot, unlocked):
    window = unlocked
    seed(
        qtbot,
        window,
        [("alpha", "A", [], None, day("2026-01-01T10:00")), ("beta", "B", [], None, day("2026-01-02T10:00"))],
    )
    page = window.journal
    qtbot.waitUntil(lambda: page.model.rowCount() == 2)
    page.list.setCurrentIndex(page.model.index(1))  # A
    qtbot.waitUntil(lambda: page.editor.title.text() == "A")
    page.list.setCurrentIndex(page.model.index(0))  # B is loading …
    page.editor.body.moveCursor(page.editor.body.textCursor().MoveOperation.End)
    qtbot.keyClicks(page.editor.body, " edited")  # … while this still shows A
    qtbot.waitUntil(lambda: page.editor.title.text() == "B")
    wait_idle(qtbot, window)
    bodies = run_query(
        qtbot,
        window,
        lambda app: {
            app.journal.get_entry(r.id).title: app.journal.get_entry(r.id).body for r in app.journal.recent()
        },
    )
    assert bodies == {"A": "alpha edited", "B": "beta"}
