"""Circles in the window, with real vaults syncing through a shared folder.

Ana and Ben each get a real MainWindow (their steps are driven through widgets); Cat, and the people in the
smaller tests, use the services API directly (a journal copied from a template, like tests/circles).
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLabel, QMessageBox, QPushButton

from companion.services import Changed, Changes
from companion.ui.circle_dialogs import CreateCircleDialog, InviteDialog, JoinDialog, VerifyDialog, removal_text
from companion.ui.qr import qr_matrix
from companion.ui.share_dialog import RepliesDialog, ShareDialog, preview_text
from companion.ui.sync_status import controller_for
from tests.circles.conftest import Person
from tests.ui.conftest import create_journal, run_query, wait_idle

LEFT = Qt.MouseButton.LeftButton
BODY = "Last night was hard. I called my sponsor at 2 am and she picked up."


def page(window, key):
    return next(p for p in window.pages if p.key == key)


def click(qtbot, widget):
    assert widget.isEnabled(), widget.accessibleName()
    qtbot.waitUntil(lambda: widget.isVisible() and widget.rect().contains(widget.rect().center()))  # laid out
    qtbot.mouseClick(widget, LEFT)


def press(qtbot, widget):
    """Toggle a check box from the keyboard."""
    widget.setFocus()
    qtbot.keyClick(widget, Qt.Key.Key_Space)


def sync(qtbot, window):
    """One complete sync round of every circle, started through the Sync now button."""
    ctrl = controller_for(window.ops)
    qtbot.waitUntil(lambda: not ctrl.running, timeout=10000)
    wait_idle(qtbot, window)
    n = ctrl.rounds
    click(qtbot, page(window, "circles").indicator.button)  # the status bar's Sync now
    qtbot.waitUntil(lambda: ctrl.rounds > n and not ctrl.running, timeout=10000)
    wait_idle(qtbot, window)
    return ctrl


def run_op(qtbot, window, fn):
    """A mutation on the window's worker (for steps the test sets up rather than drives)."""
    box = {}

    def op(app):
        value = fn(app)
        return value if isinstance(value, Changed) else Changed(value, Changes.CIRCLES | Changes.INBOX)

    window.ops.collection_op(op).success(lambda v: box.setdefault("v", v)).failure(
        lambda e: box.setdefault("e", e)
    ).run()
    qtbot.waitUntil(lambda: bool(box), timeout=10000)
    wait_idle(qtbot, window)
    if "e" in box:
        raise box["e"]
    return box["v"]


def confirm_box(qtbot, parent):
    qtbot.waitUntil(lambda: parent.findChild(QMessageBox, "Confirm") is not None)
    return parent.findChild(QMessageBox, "Confirm")


def new_window(qtbot, make_window, folder):
    window = make_window(folder)
    create_journal(qtbot, window)
    return window


def write_entry(qtbot, window, title, body):
    editor = window.journal.editor
    window.show_page(0)
    window.journal.new_entry()
    qtbot.keyClicks(editor.title, title)
    editor.body.setFocus()
    qtbot.keyClicks(editor.body, body)
    qtbot.waitUntil(lambda: editor.save_state.text() == "Saved" and editor.entry_id is not None, timeout=10000)
    wait_idle(qtbot, window)
    return editor.entry_id


def create_circle(qtbot, window, shared):
    circles = page(window, "circles")
    window.show_page(window.pages.index(circles))
    click(qtbot, circles.new_button)
    dialog = circles.findChild(CreateCircleDialog)
    qtbot.keyClicks(dialog.name, "Tuesday group")
    qtbot.keyClicks(dialog.my_name, "Ana")
    qtbot.keyClicks(dialog.folder.edit, str(shared))
    click(qtbot, dialog.create_button)
    qtbot.waitUntil(lambda: len(circles.circles) == 1 and circles.current is not None, timeout=10000)
    assert circles.heading.text() == "Tuesday group"
    return circles


def make_invite(qtbot, circles, *, approve=False):
    click(qtbot, circles.invite_button)
    dialog = circles.findChild(InviteDialog)
    if approve:
        dialog.approve.setChecked(True)
    click(qtbot, dialog.make)
    qtbot.waitUntil(lambda: dialog.info is not None, timeout=10000)
    code = dialog.code.toPlainText()
    assert code.startswith("companion-invite:1:")
    assert dialog.qr.text_value == code and not dialog.qr.pixmap().isNull()
    assert len(qr_matrix(code)) >= 21
    click(qtbot, dialog.copy)
    assert QGuiApplication.clipboard().text() == code
    dialog.accept()
    return code


def test_create_invite_join_verify_share_read_reply_unshare(qtbot, make_window, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    ana = new_window(qtbot, make_window, tmp_path / "ana")
    ben = new_window(qtbot, make_window, tmp_path / "ben")
    cat = Person(tmp_path, "cat")
    try:
        _flow(qtbot, ana, ben, cat, shared)
    finally:
        cat.app.lock()


def _flow(qtbot, ana, ben, cat, shared):
    # Ana creates the circle and invites Ben; the code is text (copied) and a QR code
    a_circles = create_circle(qtbot, ana, shared)
    code = make_invite(qtbot, a_circles)

    # Ben pastes the code into the join dialog
    b_circles = page(ben, "circles")
    ben.show_page(ben.pages.index(b_circles))
    click(qtbot, b_circles.join_button)
    join = b_circles.findChild(JoinDialog)
    join.code.setFocus()
    qtbot.keyClick(join.code, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert join.code.toPlainText() == code
    qtbot.keyClicks(join.my_name, "Ben")
    click(qtbot, join.join_button)
    qtbot.waitUntil(lambda: len(b_circles.circles) == 1, timeout=10000)
    assert b_circles.circles[0].state == "joining"
    sync(qtbot, ben)
    sync(qtbot, ana)  # admits Ben (the default invite: holding the code is the proof)
    sync(qtbot, ben)
    qtbot.waitUntil(lambda: b_circles.circles and b_circles.circles[0].state == "active", timeout=10000)
    assert b_circles.heading.text() == "Tuesday group"

    # Cat's invite needs Ana's approval: the request waits on Ana's page until she approves it
    code_cat = make_invite(qtbot, a_circles, approve=True)
    cat.circles.join(code_cat, display_name="Cat")
    cat.sync()
    sync(qtbot, ana)
    qtbot.waitUntil(lambda: a_circles.requests_box.isVisible() and a_circles.request_list.count() == 1)
    assert a_circles.request_list.item(0).text().startswith("Cat — asked")
    assert cat.circles.list_circles()[0].state == "joining"
    click(qtbot, a_circles.approve_button)
    qtbot.waitUntil(lambda: not a_circles.requests_box.isVisible(), timeout=10000)
    sync(qtbot, ana)
    cat.sync()
    assert cat.circles.list_circles()[0].state == "active"
    sync(qtbot, ben)
    qtbot.waitUntil(lambda: any(m.name == "Cat" for m in b_circles.members), timeout=10000)

    # Verify: both see the same halves (mine on one side is theirs on the other); Ana marks Ben verified
    rows = [m.name for m in a_circles.members]
    a_circles.member_list.setCurrentRow(rows.index("Ben"))
    assert "not verified" in a_circles.member_list.currentItem().text()
    click(qtbot, a_circles.verify_button)
    a_verify = a_circles.findChild(VerifyDialog)
    b_circles.member_list.setCurrentRow([m.name for m in b_circles.members].index("Ana"))
    click(qtbot, b_circles.verify_button)
    b_verify = b_circles.findChild(VerifyDialog)
    qtbot.waitUntil(lambda: a_verify.mark.isEnabled() and b_verify.mark.isEnabled(), timeout=10000)
    assert a_verify.mine.text() == b_verify.theirs.text() and a_verify.theirs.text() == b_verify.mine.text()
    assert len(a_verify.mine.text().split()) == 6 and a_verify.qr.text_value == b_verify.qr.text_value
    assert a_verify.warning.isHidden()
    qtbot.keyClicks(a_verify.entered, "11111 22222")
    click(qtbot, a_verify.mark)
    qtbot.waitUntil(lambda: a_verify.error.isVisible(), timeout=10000)  # a wrong number is refused
    assert "does not match" in a_verify.error.text()
    a_verify.entered.clear()
    with qtbot.waitSignal(a_verify.verified, timeout=10000):
        click(qtbot, a_verify.mark)  # the numbers were compared aloud: mark as verified
    qtbot.waitUntil(lambda: "✓ verified" in a_circles.member_list.item(rows.index("Ben")).text(), timeout=10000)
    b_verify.reject()

    # Ana shares an entry with Ben only, with a content warning; the preview is exactly preview_share's payload
    entry_id = write_entry(qtbot, ana, "A hard night", BODY)
    bar = ana.journal.share_bar
    click(qtbot, bar.share_button)
    dialog = ana.findChild(ShareDialog)
    qtbot.waitUntil(lambda: dialog.member_list.count() == 2 and dialog.preview is not None, timeout=10000)
    assert "To: Ben, Cat" in dialog.preview_view.toPlainText()
    assert dialog.trust.text().startswith("Not verified yet: Cat.")
    qtbot.keyClicks(dialog.warning, "mentions a hard night")
    click(qtbot, dialog.chosen)
    names = [m.name for m in dialog.members]
    dialog.member_list.setCurrentRow(names.index("Ben"))
    qtbot.keyClick(dialog.member_list, Qt.Key.Key_Space)
    dialog.expiry.setCurrentIndex(2)  # 7 days after they receive it
    qtbot.waitUntil(lambda: dialog.share_button.isEnabled() and "To: Ben\n" in dialog.preview_view.toPlainText())
    opts = dialog.options()
    cid = a_circles.circles[0].id
    expected = run_query(qtbot, ana, lambda app: app.circles.preview_share(entry_id, cid, **opts))
    assert dialog.preview_view.toPlainText() == preview_text(expected)
    shown = dialog.preview_view.toPlainText()
    assert "Content warning: mentions a hard night" in shown and BODY in shown and "Cat" not in shown
    assert "Disappears: 7 days after they receive it" in shown and "Mood and tags: not included" in shown
    assert dialog.trust.isHidden() and dialog.trust.text() == ""  # Ben is verified
    click(qtbot, dialog.share_button)
    qtbot.waitUntil(lambda: len(bar.shares) == 1, timeout=10000)
    assert "Shared with Tuesday group (1 chosen)" in bar.row_widgets[0].findChild(type(dialog.error)).text()
    sync(qtbot, ana)

    # Ben reads it: only the warning shows until he opens it
    sync(qtbot, ben)
    b_shared = page(ben, "shared")
    ben.show_page(ben.pages.index(b_shared))
    qtbot.waitUntil(lambda: b_shared.list.count() == 1, timeout=10000)
    row = b_shared.list.item(0).text()
    assert row.split("\n")[0] == "● Content warning: mentions a hard night" and "A hard night" not in row
    assert row.split("\n")[1].startswith("from Ana in Tuesday group · ")
    b_shared.list.setCurrentRow(0)
    assert b_shared.collapsed and b_shared.content.isHidden() and b_shared.text.toPlainText() == ""
    assert b_shared.item_title.text() == "Content warning"
    click(qtbot, b_shared.show_button)
    assert not b_shared.collapsed and b_shared.text.toPlainText() == BODY
    assert b_shared.item_title.text() == "A hard night"
    assert b_shared.text.isReadOnly()

    # Ben replies and reacts; Ana receives both
    qtbot.keyClicks(b_shared.reply_edit, "Thank you for telling us. Glad she picked up.")
    qtbot.keyClick(b_shared.reply_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: b_shared.reply_edit.text() == "", timeout=10000)
    click(qtbot, b_shared.reaction_buttons[0])
    wait_idle(qtbot, ben)
    sync(qtbot, ben)
    qtbot.waitUntil(lambda: b_shared.replies.count() == 2, timeout=10000)
    assert b_shared.replies.item(0).text() == "You: Thank you for telling us. Glad she picked up."
    sync(qtbot, ana)
    item_id = bar.shares[0].item_id
    replies = run_query(qtbot, ana, lambda app: app.circles.replies_to(item_id))
    assert [(r.author_name, r.kind, r.text) for r in replies] == [
        ("Ben", "reply", "Thank you for telling us. Glad she picked up."),
        ("Ben", "reaction", "Thinking of you"),
    ]
    # ... and sees them under her entry
    qtbot.waitUntil(
        lambda: bar.row_widgets and "· 2 replies" in bar.row_widgets[0].findChild(QLabel, "SharedWith").text()
    )
    read = next(b for b in bar.row_widgets[0].findChildren(QPushButton) if b.text() == "Replies…")
    click(qtbot, read)
    replies_dialog = ana.findChild(RepliesDialog)
    assert [replies_dialog.list.item(i).text() for i in range(replies_dialog.list.count())] == [
        "Ben: Thank you for telling us. Glad she picked up.",
        "Ben reacted: Thinking of you",
    ]
    replies_dialog.accept()
    assert cat.inbox() == []  # shared with Ben only
    cat.sync()
    assert cat.inbox() == []

    # Ana unshares; after the next syncs it is gone from Ben's Shared page
    unshare = next(b for b in bar.row_widgets[0].findChildren(QPushButton) if b.text() == "Unshare")
    click(qtbot, unshare)
    box = confirm_box(qtbot, ana)
    assert "Anything someone already copied stays with them." in box.text()
    click(qtbot, box.yes_button)
    qtbot.waitUntil(lambda: bar.shares == [], timeout=10000)
    sync(qtbot, ana)
    sync(qtbot, ben)
    qtbot.waitUntil(lambda: b_shared.list.count() == 0, timeout=10000)
    assert b_shared.shown is None and b_shared.text.toPlainText() == ""
    assert controller_for(ben.ops).state == "up_to_date"


def _setup_with_ben(qtbot, make_window, tmp_path):
    """Ana (a window) with a circle; Ben (services) admitted and synced."""
    shared = tmp_path / "shared"
    shared.mkdir()
    ana = new_window(qtbot, make_window, tmp_path / "ana")
    circles = create_circle(qtbot, ana, shared)
    cid = circles.circles[0].id
    ben = Person(tmp_path, "ben")
    code = run_op(qtbot, ana, lambda app: app.circles.invite(cid)).code
    ben.circles.join(code, display_name="Ben")
    ben.sync()
    sync(qtbot, ana)
    ben.sync()
    assert ben.circles.list_circles()[0].state == "active"
    return ana, circles, cid, ben


def test_a_key_change_shows_the_warning(qtbot, make_window, tmp_path):
    ana, circles, cid, ben = _setup_with_ben(qtbot, make_window, tmp_path)
    ben2 = Person(tmp_path, "ben-new-laptop")
    try:
        ben_id = ben.id
        number = run_query(qtbot, ana, lambda app: app.circles.safety_number(cid, ben_id)).digits
        run_op(qtbot, ana, lambda app: app.circles.verify_member(cid, ben_id, number))
        qtbot.waitUntil(lambda: any("✓ verified" in circles.member_list.item(i).text()
                                    for i in range(circles.member_list.count())), timeout=10000)  # fmt: skip
        assert circles.key_banner.isHidden()
        code = run_op(qtbot, ana, lambda app: app.circles.invite(cid, replaces=ben_id)).code
        ben2.circles.join(code, display_name="Ben")
        ben2.sync()
        sync(qtbot, ana)
        qtbot.waitUntil(lambda: circles.key_banner.isVisible(), timeout=10000)
        assert "Keys changed for Ben" in circles.key_banner.text()
        active = [m for m in circles.members if m.status == "active" and not m.is_me]
        assert len(active) == 1 and active[0].key_changed and not active[0].verified
        row = circles.member_list.item(circles.members.index(active[0])).text()
        assert row == "Ben · ⚠ keys changed: not verified"
        circles.member_list.setCurrentRow(circles.members.index(active[0]))
        click(qtbot, circles.verify_button)
        dialog = circles.findChild(VerifyDialog)
        assert dialog.warning.isVisible() and "keys changed" in dialog.warning.text()
        qtbot.waitUntil(lambda: dialog.mark.isEnabled(), timeout=10000)
        dialog.reject()
    finally:
        ben.app.lock()
        ben2.app.lock()


def test_quiet_notifications_rejections_removal_and_lock(qtbot, make_window, tmp_path):
    ana, circles, cid, ben = _setup_with_ben(qtbot, make_window, tmp_path)
    try:
        # Quiet: a new item arrives but no notice is shown
        press(qtbot, circles.quiet)
        wait_idle(qtbot, ana)
        assert run_query(qtbot, ana, lambda app: app.journal.get_setting(f"circle.{cid}.quiet")) == "1"
        ben.circles.share(ben.entry("first", title="<b>Quiet</b> one"), cid)
        ben.sync()
        sync(qtbot, ana)
        shared = page(ana, "shared")
        qtbot.waitUntil(lambda: shared.list.count() == 1, timeout=10000)
        assert circles.last_notice == ""
        # Not quiet: a count, never the title or text
        press(qtbot, circles.quiet)
        wait_idle(qtbot, ana)
        ben.circles.share(ben.entry("second body", title="<img src=x>Second"), cid)
        ben.sync()
        sync(qtbot, ana)
        qtbot.waitUntil(lambda: circles.last_notice != "", timeout=10000)
        assert circles.last_notice == "Shared with you: 1 new in Tuesday group"
        assert shared.list.count() == 2
        assert shared.list.item(0).text().startswith("● <img src=x>Second\nfrom Ben")  # newest first
        shared.list.setCurrentRow(0)
        assert shared.item_title.text() == "<img src=x>Second"
        assert shared.item_title.textFormat() == Qt.TextFormat.PlainText

        # Boundaries: Ana says she is taking a break; Ben says he is available; each sees the other's
        circles.my_status.setFocus()
        qtbot.keyClick(circles.my_status, Qt.Key.Key_Down)
        qtbot.keyClick(circles.my_status, Qt.Key.Key_Down)
        assert circles.my_status.currentText() == "Taking a break"
        wait_idle(qtbot, ana)
        ana_id = run_query(qtbot, ana, lambda app: app.circles.identity().member_id)
        sync(qtbot, ana)
        ben.sync()
        assert ben.circles.availability(cid) == {ana_id: False}
        ben.circles.set_availability(cid, True)
        ben.sync()
        sync(qtbot, ana)
        qtbot.waitUntil(lambda: "Ben · not verified · available to support" in
                        [circles.member_list.item(i).text() for i in range(circles.member_list.count())])  # fmt: skip

        # Removal: the plain statement, then Ben is removed
        circles.member_list.setCurrentRow([m.name for m in circles.members].index("Ben"))
        click(qtbot, circles.remove_button)
        box = confirm_box(qtbot, circles)
        assert box.text() == removal_text("Ben") == (
            "Ben will not receive anything you share from now on. What they already received stays with them; "
            "Companion cannot take it back."
        )
        assert box.textFormat() == Qt.TextFormat.PlainText
        click(qtbot, box.yes_button)
        qtbot.waitUntil(lambda: any(m.name == "Ben" and m.status == "removed" for m in circles.members),
                        timeout=10000)  # fmt: skip
        assert "removed" in circles.member_list.item([m.name for m in circles.members].index("Ben")).text()

        # Ben has not synced since: his next item is refused, and reported without its content
        ben.circles.share(ben.entry("after removal"), cid)
        ben.sync()
        ctrl = sync(qtbot, ana)
        assert ctrl.state == "error"
        assert ctrl.message == "Synced, but 1 item refused: 1 from someone no longer in the circle."
        assert "after removal" not in page(ana, "circles").indicator.label.text()
        assert shared.list.count() == 2

        # A missing folder is a specific message
        run_op(qtbot, ana, lambda app: app.circles.set_transport(cid, {"kind": "folder",
                                                                      "path": str(tmp_path / "gone")}))  # fmt: skip
        ctrl = sync(qtbot, ana)
        assert ctrl.state == "error" and "gone" in ctrl.message

        # Lock: every circle widget is empty
        ana.activateWindow()
        qtbot.waitUntil(ana.isActiveWindow)
        qtbot.keyClick(ana, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
        assert ana.state == "unlock", ana.state
        assert circles.circle_list.count() == 0 and circles.member_list.count() == 0
        assert circles.heading.text() == "" and circles.details.text() == ""
        assert shared.list.count() == 0 and shared.text.toPlainText() == "" and shared.item_title.text() == ""
        assert not ctrl.timer.isActive()
    finally:
        ben.app.lock()


def test_leave_a_circle_and_circle_widgets_are_named(qtbot, make_window, tmp_path):
    from tests.ui.test_privacy_a11y import interactive_widgets

    ana, circles, cid, ben = _setup_with_ben(qtbot, make_window, tmp_path)
    try:
        for dialog in (circles.open_invite(), circles.open_join(), circles.open_create()):
            missing = [type(w).__name__ for w in interactive_widgets(dialog) if not w.accessibleName().strip()]
            assert missing == []
            dialog.reject()
        window_missing = [type(w).__name__ for w in interactive_widgets(ana) if not w.accessibleName().strip()]
        assert window_missing == []
        # Ana cannot leave while she is the only facilitator and others remain: the message says why
        click(qtbot, circles.leave_button)
        box = confirm_box(qtbot, circles)
        assert "What you received stays in your journal" in box.text()
        with qtbot.waitSignal(ana.presenter.shown, timeout=10000) as shown:
            click(qtbot, box.yes_button)
        assert "only facilitator" in shown.args[0]
        wait_idle(qtbot, ana)
        assert circles.circles[0].state == "active"
        # Ben leaves (his app, through the services): Ana's page shows it after a sync
        ben.circles.leave(cid)
        sync(qtbot, ana)
        qtbot.waitUntil(lambda: any(m.name == "Ben" and m.status == "left" for m in circles.members), timeout=10000)
        row = circles.member_list.item([m.name for m in circles.members].index("Ben"))
        assert row.text() == "Ben · left"
        assert "what they already received stays on their device" in row.toolTip()
    finally:
        ben.app.lock()


def test_an_edited_shared_entry_offers_to_send_the_edit(qtbot, make_window, tmp_path):
    ana, _circles, cid, ben = _setup_with_ben(qtbot, make_window, tmp_path)
    try:
        entry_id = write_entry(qtbot, ana, "Week one", "Tried the new meeting.")
        run_op(qtbot, ana, lambda app: app.circles.share(entry_id, cid, warning="first weeks"))
        bar = ana.journal.share_bar
        qtbot.waitUntil(lambda: len(bar.shares) == 1, timeout=10000)
        buttons = lambda: [b.text() for w in bar.row_widgets for b in w.findChildren(QPushButton)]  # noqa: E731
        assert buttons() == ["Unshare"]
        editor = ana.journal.editor
        editor.body.setFocus()
        qtbot.keyClicks(editor.body, " It went well.")
        qtbot.waitUntil(lambda: "Send the edit" in buttons(), timeout=10000)
        send = next(b for w in bar.row_widgets for b in w.findChildren(QPushButton) if b.text() == "Send the edit")
        click(qtbot, send)
        qtbot.waitUntil(lambda: buttons() == ["Unshare"] and bar.shares and bar.shares[0].revision == 2,
                        timeout=10000)  # fmt: skip
        sync(qtbot, ana)
        ben.sync()
        (item,) = ben.inbox()
        assert item.text == "Tried the new meeting. It went well." and item.revision == 2
        assert item.warning == "first weeks"  # the original choices, not widened
        # a lock closes an open share dialog (its preview held the entry's text) and empties the bar
        dialog = bar.open_share()
        qtbot.waitUntil(lambda: dialog.preview is not None, timeout=10000)
        assert "It went well." in dialog.preview_view.toPlainText()
        ana.lock()
        qtbot.waitUntil(lambda: not shiboken6.isValid(dialog) or not dialog.isVisible())
        assert bar.shares == [] and bar.row_widgets == [] and not bar.share_button.isEnabled()
    finally:
        ben.app.lock()


def test_sync_states_and_menu_shortcuts(qtbot, unlocked):
    from companion.sync.engine import Rejection, SyncReport
    from companion.ui.sync_status import describe_rejections

    ctrl = controller_for(unlocked.ops)
    qtbot.waitUntil(lambda: not ctrl.running, timeout=10000)
    assert ctrl.state == "idle" and "nothing to sync" in ctrl.message  # no circles yet
    ctrl._running = True
    error = "The relay at https://r.example could not be reached (timeout). Nothing was lost."
    ctrl._finish([SyncReport("c1", state="transport_failed", error=error)])
    assert ctrl.state == "offline" and ctrl.message.startswith("Offline: The relay at https://r.example")
    indicator = page(unlocked, "circles").indicator
    assert indicator.label.text().startswith("⚠ Offline:") and indicator.button.isEnabled()
    reports = [SyncReport("c1", rejected=[Rejection("b1", "m", "replayed_counter"), Rejection("b2", None, "odd")])]
    assert describe_rejections(reports) == "2 items refused: 1 odd, 1 replayed (already seen)"
    rows = dict(unlocked.shortcut_rows())
    assert rows["F5"] == "View → Sync circles now"
    assert rows["Ctrl+Shift+S"] == "View → Share the open entry"
    write_entry(qtbot, unlocked, "Mine", "Only mine.")
    unlocked.activateWindow()
    qtbot.waitUntil(unlocked.isActiveWindow)
    qtbot.keyClick(unlocked, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    dialog = unlocked.findChild(ShareDialog)
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: "not in any circle yet" in dialog.preview_view.toPlainText(), timeout=10000)
    assert not dialog.share_button.isEnabled()
    dialog.reject()


def test_expired_items_disappear_from_the_shared_page(qtbot, make_window, tmp_path):
    import time

    ana, _circles, cid, ben = _setup_with_ben(qtbot, make_window, tmp_path)
    try:
        ben.circles.share(ben.entry("for a day", title="Just today"), cid, expires_days=1)
        ben.circles.share(ben.entry("stays", title="Stays"), cid)
        ben.sync()
        sync(qtbot, ana)
        shared = page(ana, "shared")
        ana.show_page(ana.pages.index(shared))
        qtbot.waitUntil(lambda: shared.list.count() == 2, timeout=10000)
        shared.list.setCurrentRow([i.title for i in shared.items].index("Just today"))
        assert shared.text.toPlainText() == "for a day" and "disappears" in shared.meta.text()
        later = time.time() + 2 * 86_400
        run_op(qtbot, ana, lambda app: setattr(app.circles, "clock", lambda: later))
        shared.load()
        qtbot.waitUntil(lambda: shared.list.count() == 1, timeout=10000)
        assert [i.title for i in shared.items] == ["Stays"]
        assert shared.shown is None and shared.text.toPlainText() == ""
    finally:
        ben.app.lock()


def test_create_a_circle_that_meets_through_a_relay(qtbot, unlocked):
    circles = page(unlocked, "circles")
    unlocked.show_page(unlocked.pages.index(circles))
    click(qtbot, circles.new_button)
    dialog = circles.findChild(CreateCircleDialog)
    click(qtbot, dialog.create_button)  # no name: the service's message is shown in the dialog
    qtbot.waitUntil(lambda: dialog.error.isVisible(), timeout=10000)
    assert "Give the circle a name" in dialog.error.text()
    qtbot.keyClicks(dialog.name, "Online group")
    press(qtbot, dialog.use_relay)
    assert dialog.relay.isEnabled() and not dialog.folder.isEnabled()
    qtbot.keyClicks(dialog.relay, "http://127.0.0.1:9")
    click(qtbot, dialog.create_button)
    qtbot.waitUntil(lambda: len(circles.circles) == 1, timeout=10000)
    assert circles.circles[0].transport == "relay http://127.0.0.1:9"
    assert "meets in a relay http://127.0.0.1:9" in circles.details.text()
    # nothing listens there: the window's sync gives up quickly (one retry) and says so
    ctrl = sync(qtbot, unlocked)
    assert ctrl.state == "offline" and "could not be reached" in ctrl.message
    assert page(unlocked, "circles").indicator.label.text().startswith("⚠ Offline: The relay at http://127.0.0.1:9")


def test_signal_emits_do_not_drain_true():
    """PySide6 6.12 loses a reference to True on every emit; qt_fixes gives it back (else the app aborts after
    a few thousand emits with "bool_dealloc")."""
    import sys

    from PySide6.QtCore import QObject, Signal

    from companion.ui import qt_fixes

    qt_fixes.install()

    class Source(QObject):
        fired = Signal(str)

    source = Source()
    source.fired.connect(lambda _s: None)
    before = sys.getrefcount(True)
    for _ in range(2_000):  # without the fix: -2000 (a fail, not yet an abort)
        source.fired.emit("x")
    assert abs(sys.getrefcount(True) - before) < 50
    assert not qt_fixes.emit_leaks_true()


def test_seal_a_circle_made_before_the_seal_from_the_keyboard(qtbot, make_window, tmp_path):
    ana, circles, cid, ben = _setup_with_ben(qtbot, make_window, tmp_path)
    try:
        assert circles.circles[0].sealed and circles.seal_button.isHidden()  # new circles are sealed already

        def forget(app):  # as a version before the seal stored it, on both sides
            settings = app.circles._store.circle(cid).transport
            settings.pop("seal")
            with app.vault.transaction():
                app.circles._store.update_circle(cid, transport=settings)
            return Changed(None, Changes.CIRCLES)

        run_op(qtbot, ana, forget)
        forget(ben.app)
        qtbot.waitUntil(lambda: not circles.circles[0].sealed and circles.seal_button.isVisible(), timeout=10000)
        assert circles.seal_button.isEnabled() and circles.seal_button.accessibleName() == "Seal circle"
        assert circles.seal_button.focusPolicy() & Qt.FocusPolicy.TabFocus
        circles.seal_button.setFocus()
        qtbot.keyClick(circles.seal_button, Qt.Key.Key_Space)
        box = confirm_box(qtbot, circles)
        assert "opaque" in box.text() and box.accessibleName() == "Seal Tuesday group?"
        assert box.defaultButton() is not box.yes_button  # Cancel is the default
        box.yes_button.setFocus()
        qtbot.keyClick(box.yes_button, Qt.Key.Key_Space)
        qtbot.waitUntil(lambda: circles.circles[0].sealed and circles.seal_button.isHidden(), timeout=10000)
        sync(qtbot, ana)  # the key goes to Ben, end to end
        ben.sync()
        key = run_query(qtbot, ana, lambda app: app.circles._store.circle(cid).transport["seal"])
        assert ben.app.circles._store.circle(cid).transport["seal"] == key
        assert ben.circles.get_circle(cid).sealed
    finally:
        ben.app.lock()


def test_change_my_name_from_the_keyboard(qtbot, make_window, tmp_path):
    from companion.ui.circle_dialogs import ChangeNameDialog

    ana, circles, cid, ben = _setup_with_ben(qtbot, make_window, tmp_path)
    try:
        button = circles.rename_button
        assert button.isEnabled() and button.accessibleName() == "Change my name"
        assert button.focusPolicy() & Qt.FocusPolicy.TabFocus
        button.setFocus()
        qtbot.keyClick(button, Qt.Key.Key_Space)
        qtbot.waitUntil(lambda: circles.findChild(ChangeNameDialog) is not None)
        dialog = circles.findChild(ChangeNameDialog)
        assert dialog.accessibleName() == "Change my name"
        assert dialog.name.accessibleName() == "Your name in this circle"
        assert dialog.name.text() == "Ana" and dialog.name.hasSelectedText()
        # a name another member goes by: refused, with the reason, and the dialog stays open
        qtbot.keyClicks(dialog.name, "ben")
        qtbot.keyClick(dialog.name, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: dialog.error.isVisible(), timeout=10000)
        assert "goes by" in dialog.error.text() and dialog.error.accessibleName() == "Problem"
        dialog.grab().save(str(tmp_path / "change-name-refused.png"))
        dialog.name.selectAll()
        qtbot.keyClicks(dialog.name, "Ana R.")
        dialog.save_button.setFocus()
        qtbot.keyClick(dialog.save_button, Qt.Key.Key_Space)
        qtbot.waitUntil(lambda: not shiboken6.isValid(dialog) or not dialog.isVisible(), timeout=10000)
        qtbot.waitUntil(lambda: any(m.is_me and m.name == "Ana R." for m in circles.members), timeout=10000)
        row = circles.member_list.item(next(i for i, m in enumerate(circles.members) if m.is_me)).text()
        assert row.startswith("Ana R. (you) (joined as Ana)")
        sync(qtbot, ana)
        ben.sync()
        assert {m.name for m in ben.circles.members(cid)} == {"Ana R.", "Ben"}
        # Ben changes his: Ana's list and the safety-number screen show it, with the name he joined under
        ben.circles.set_my_name(cid, "Benji")
        ben.sync()
        sync(qtbot, ana)
        qtbot.waitUntil(lambda: any(m.name == "Benji" for m in circles.members), timeout=10000)
        index = next(i for i, m in enumerate(circles.members) if m.name == "Benji")
        assert circles.member_list.item(index).text().startswith("Benji (joined as Ben) · ")
        circles.member_list.setCurrentRow(index)
        click(qtbot, circles.verify_button)
        verify = circles.findChild(VerifyDialog)
        assert verify.accessibleName() == "Verify Benji"
        assert verify.joined_as.isVisible() and "joined this circle as “Ben”" in verify.joined_as.text()
        circles.window().grab().save(str(tmp_path / "circles-page.png"))
        verify.grab().save(str(tmp_path / "verify-renamed.png"))
        verify.reject()
    finally:
        ben.app.lock()
