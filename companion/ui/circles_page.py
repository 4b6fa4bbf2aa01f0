"""The Circles page: my circles, their members (verified or not), invitations and join requests, leaving,
the per-circle "quiet" switch, and the status-bar sync indicator.

All vault work goes through ops; names are shown as plain text; removing someone says plainly that what they
already received stays with them.
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from companion.circles.model import CircleInfo, JoinRequestInfo, MemberInfo
from companion.services import Changes
from companion.ui.circle_dialogs import (
    ChangeNameDialog,
    CreateCircleDialog,
    InviteDialog,
    JoinDialog,
    VerifyDialog,
    confirm,
    name_widget,
    plain_label,
    removal_text,
)
from companion.ui.dialogs import plain_tip
from companion.ui.pages import Page, register
from companion.ui.sync_status import SyncIndicator, controller_for, notify_text

STATES = {
    "joining": "waiting to be admitted",
    "removed": "you were removed",
    "left": "you left",
}


def wrap_rows(view: QListWidget) -> None:
    """Rows wrap (and may have two lines) instead of scrolling sideways."""
    view.setWordWrap(True)
    view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    view.setSpacing(2)


def quiet_key(circle_id: str) -> str:
    return f"circle.{circle_id}.quiet"


def circle_row_text(c: CircleInfo) -> str:
    name = c.name or "A circle you asked to join"
    extra = STATES.get(c.state, f"{c.members} member{'s' if c.members != 1 else ''}")
    if c.pending_requests:
        extra += f" · {c.pending_requests} waiting to join"
    return f"{name}\n{extra}"


def member_row_text(m: MemberInfo, available: bool | None = None) -> str:
    parts = [m.name or "(no name)" + (" (you)" if m.is_me else "")]
    if m.is_me:
        parts[0] = f"{m.name or 'You'} (you)"
    if m.joined_as:
        parts[0] += f" (joined as {m.joined_as})"
    if m.role == "admin":
        parts.append("facilitator")
    if m.status != "active":
        parts.append({"removed": "removed", "left": "left", "replaced": "earlier key"}.get(m.status, m.status))
    elif m.key_changed:
        parts.append("⚠ keys changed: not verified")
    elif not m.is_me:
        parts.append("✓ verified" if m.verified else "not verified")
    if m.status == "active" and available is not None:
        parts.append("available to support" if available else "taking a break")
    return " · ".join(parts)


def when(ms: int | None) -> str:
    if not ms:
        return "never"
    return datetime.fromtimestamp(ms / 1000).strftime("%-d %b %Y, %H:%M")


@register
class CirclesPage(Page):
    key = "circles"
    title = "Circles"
    icon = "circles"
    order = 30
    accessible_description = "Your peer circles, their members, invitations and safety numbers."

    def __init__(self, ctx, parent=None) -> None:
        super().__init__(ctx, parent)
        self.circles: list[CircleInfo] = []
        self.members: list[MemberInfo] = []
        self.requests: list[JoinRequestInfo] = []
        self.quiet_ids: set[str] = set()
        self.known_items: dict[str, set[str]] | None = None  # item ids seen, for "n new" notices
        self.last_notice = ""
        self.sync = controller_for(self.ops)
        self.sync.synced.connect(self._after_sync)
        self.indicator = SyncIndicator(self.sync)
        self.indicator.hide()

        # -- left: the list of circles
        self.circle_list = name_widget(QListWidget(), "Circles", "Your circles; choose one to see its members")
        self.circle_list.currentRowChanged.connect(self._circle_chosen)
        wrap_rows(self.circle_list)
        self.new_button = name_widget(QPushButton("New circle…"), "New circle", "Create a circle")
        self.join_button = name_widget(QPushButton("Join…"), "Join a circle", "Join with an invite code")
        self.new_button.clicked.connect(self.open_create)
        self.join_button.clicked.connect(self.open_join)
        self.empty = plain_label(
            "No circles yet. Create one for your group, or join with a code someone gave you.", muted=True
        )
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(12, 12, 6, 12)
        heading = QLabel("Circles")
        heading.setObjectName("Heading")
        lv.addWidget(heading)
        lv.addWidget(self.circle_list, 1)
        lv.addWidget(self.empty)
        buttons = QHBoxLayout()
        buttons.addWidget(self.new_button)
        buttons.addWidget(self.join_button)
        lv.addLayout(buttons)

        # -- right: the chosen circle
        self.heading = plain_label(name="Circle name")
        self.heading.setObjectName("Heading")
        self.details = plain_label(name="Circle details", muted=True)
        self.note = plain_label(name="Circle note")
        self.note.setObjectName("Banner")
        self.note.hide()
        self.quiet = name_widget(
            QCheckBox("Quiet: no notifications from this circle"), "Quiet",
            "Pause notifications about new items from this circle (they still arrive)",
        )  # fmt: skip
        self.quiet.toggled.connect(self._quiet_toggled)
        self.my_status = name_widget(
            QComboBox(), "My status",
            "Tell the circle whether you are available to support or taking a break (shared with its members)",
        )  # fmt: skip
        self.my_status.setPlaceholderText("My status: not said")
        # item data: "available" / "break" (what set_availability is told)
        self.my_status.addItem("Available to support", "available")
        self.my_status.addItem("Taking a break", "break")
        self.my_status.setCurrentIndex(-1)
        self.my_status.activated.connect(self._status_chosen)
        self.availability: dict[str, bool] = {}
        self.invite_button = name_widget(QPushButton("Invite…"), "Invite someone", "Make a one-time invite code")
        self.sync_button = name_widget(QPushButton("Sync now"), "Sync now", "Send and fetch now (F5)")
        self.leave_button = name_widget(QPushButton("Leave circle…"), "Leave circle",
                                        "Stop receiving from this circle; the others are told")  # fmt: skip
        self.seal_button = name_widget(QPushButton("Seal circle…"), "Seal circle",
                                       "Hide who posts what, and when, from the shared folder or relay "
                                       "(for circles made before this was automatic)")  # fmt: skip
        self.rename_button = name_widget(QPushButton("Change my name…"), "Change my name",
                                         "Change how you are known in this circle")  # fmt: skip
        self.rename_button.clicked.connect(self.open_rename)
        self.invite_button.clicked.connect(self.open_invite)
        self.sync_button.clicked.connect(self.sync.sync_now)
        self.leave_button.clicked.connect(self.ask_leave)
        self.seal_button.clicked.connect(self.ask_seal)
        actions = QHBoxLayout()
        for b in (self.invite_button, self.sync_button, self.rename_button, self.seal_button, self.leave_button):
            actions.addWidget(b)
        actions.addStretch(1)

        self.key_banner = plain_label(name="Key change warning")
        self.key_banner.setObjectName("Banner")
        self.key_banner.hide()
        self.member_list = name_widget(
            QListWidget(), "Members", "Who is in the circle, and whether you verified their safety number"
        )
        wrap_rows(self.member_list)
        self.member_list.currentRowChanged.connect(lambda _r: self._member_buttons())
        self.member_list.itemActivated.connect(lambda _i: self.open_verify())
        self.member_note = plain_label(name="Member note", muted=True)
        self.verify_button = name_widget(QPushButton("Verify…"), "Verify member",
                                         "Compare safety numbers with the chosen member")  # fmt: skip
        self.remove_button = name_widget(QPushButton("Remove…"), "Remove member",
                                         "Remove the chosen member from the circle")  # fmt: skip
        self.verify_button.clicked.connect(self.open_verify)
        self.remove_button.clicked.connect(self.ask_remove)
        members_box = QGroupBox("Members")
        mv = QVBoxLayout(members_box)
        mv.addWidget(self.key_banner)
        mv.addWidget(self.member_list, 1)
        mv.addWidget(self.member_note)
        mb = QHBoxLayout()
        mb.addWidget(self.verify_button)
        mb.addWidget(self.remove_button)
        mb.addStretch(1)
        mv.addLayout(mb)

        self.request_list = name_widget(QListWidget(), "Join requests", "People waiting for you to let them in")
        self.request_list.setMaximumHeight(110)
        self.request_list.currentRowChanged.connect(lambda _r: self._request_buttons())
        self.approve_button = name_widget(QPushButton("Approve"), "Approve request", "Let the chosen person in")
        self.decline_button = name_widget(QPushButton("Decline"), "Decline request", "Refuse the chosen request")
        self.approve_button.clicked.connect(self.approve)
        self.decline_button.clicked.connect(self.decline)
        self.requests_box = QGroupBox("Waiting to join")
        rv = QVBoxLayout(self.requests_box)
        rv.addWidget(self.request_list)
        rb = QHBoxLayout()
        rb.addWidget(self.approve_button)
        rb.addWidget(self.decline_button)
        rb.addStretch(1)
        rv.addLayout(rb)
        self.requests_box.hide()

        self.detail = QWidget()
        dv = QVBoxLayout(self.detail)
        dv.setContentsMargins(6, 12, 12, 12)
        dv.addWidget(self.heading)
        dv.addWidget(self.details)
        dv.addWidget(self.note)
        boundaries = QHBoxLayout()
        boundaries.addWidget(self.quiet)
        boundaries.addWidget(self.my_status)
        boundaries.addStretch(1)
        dv.addLayout(boundaries)
        dv.addLayout(actions)
        dv.addWidget(self.requests_box)
        dv.addWidget(members_box, 1)
        self.detail.setEnabled(False)

        split = QSplitter()
        split.addWidget(left)
        split.addWidget(self.detail)
        split.setStretchFactor(1, 2)
        split.setSizes([280, 620])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)
        self._sync_action = QAction("Sync circles now", self)
        self._sync_action.setShortcut(QKeySequence("F5"))
        self._sync_action.triggered.connect(lambda _c=False: self.sync.sync_now())
        self._member_buttons()
        self._request_buttons()

    # -- hooks ---------------------------------------------------------------------------------------------

    def on_unlock(self) -> None:
        window = self.window()
        if isinstance(window, QMainWindow) and self.indicator.parent() is not window.statusBar():
            window.statusBar().addPermanentWidget(self.indicator)
        self.indicator.show()
        self.known_items = None
        self.ops.collection_op(lambda app: app.circles.purge_expired()).run()
        self.load()
        self._remember_items()
        self.sync.start()
        self.sync.sync_now()

    def on_lock(self) -> None:
        self.sync.stop()
        self.circles, self.members, self.requests = [], [], []
        self.quiet_ids = set()
        self.known_items = None
        self.last_notice = ""
        self.circle_list.clear()
        self.member_list.clear()
        self.request_list.clear()
        for label in (self.heading, self.details, self.note, self.key_banner, self.member_note):
            label.clear()
        self.note.hide()
        self.key_banner.hide()
        self.requests_box.hide()
        self.quiet.blockSignals(True)
        self.quiet.setChecked(False)
        self.quiet.blockSignals(False)
        self.my_status.setCurrentIndex(-1)
        self.availability = {}
        self.detail.setEnabled(False)
        self.indicator.hide()

    def on_changes(self, changes: Changes) -> None:
        if changes & (Changes.CIRCLES | Changes.INBOX | Changes.SETTINGS):
            self.load()

    def actions_for_menu(self) -> list[QAction]:
        return [self._sync_action]

    # -- loading -------------------------------------------------------------------------------------------

    @property
    def current(self) -> CircleInfo | None:
        row = self.circle_list.currentRow()
        return self.circles[row] if 0 <= row < len(self.circles) else None

    def load(self) -> None:
        def op(app):
            circles = app.circles.list_circles()
            quiet = {c.id for c in circles if app.journal.get_setting(quiet_key(c.id)) == "1"}
            return circles, quiet

        self.ops.query_op(op).success(self._show_circles).run()

    def _show_circles(self, result: tuple[list[CircleInfo], set[str]]) -> None:
        circles, quiet = result
        previous = self.current.id if self.current else None
        self.circles, self.quiet_ids = circles, quiet
        self.circle_list.blockSignals(True)
        self.circle_list.clear()
        for c in circles:
            item = QListWidgetItem(circle_row_text(c))
            item.setData(Qt.ItemDataRole.AccessibleTextRole, circle_row_text(c))
            self.circle_list.addItem(item)
        self.circle_list.blockSignals(False)
        self.empty.setVisible(not circles)
        ids = [c.id for c in circles]
        row = ids.index(previous) if previous in ids else (0 if circles else -1)
        self.circle_list.setCurrentRow(row)
        self._circle_chosen(row)

    def select_circle(self, circle_id: str) -> None:
        ids = [c.id for c in self.circles]
        if circle_id in ids:
            self.circle_list.setCurrentRow(ids.index(circle_id))

    def _circle_chosen(self, row: int) -> None:
        c = self.current
        self.detail.setEnabled(c is not None)
        if c is None:
            for label in (self.heading, self.details, self.note, self.member_note):
                label.clear()
            self.member_list.clear()
            self.request_list.clear()
            self.requests_box.hide()
            self.key_banner.hide()
            self.note.hide()
            return
        self.heading.setText(c.name or "Waiting to be admitted")
        role = {"admin": "You are a facilitator", "member": "You are a member"}.get(c.role, "You are not a member")
        pending = f" · {c.outbox} waiting to send" if c.outbox else ""
        self.details.setText(f"{role} · meets in a {c.transport} · last synced {when(c.last_sync)}{pending}")
        self.note.setText(c.note)
        self.note.setVisible(bool(c.note))
        self.quiet.blockSignals(True)
        self.quiet.setChecked(c.id in self.quiet_ids)
        self.quiet.blockSignals(False)
        active = c.state == "active"
        self.invite_button.setEnabled(active and c.role == "admin")
        self.seal_button.setVisible(not c.sealed)  # new circles are sealed from the start
        self.seal_button.setEnabled(active and c.role == "admin" and not c.sealed)
        self.leave_button.setEnabled(active)
        self.rename_button.setEnabled(active)
        cid = c.id

        def op(app):
            return app.circles.members(cid), app.circles.requests(cid), app.circles.availability(cid)

        self.ops.query_op(op).success(lambda r, cid=cid: self._show_members(cid, *r)).run()

    def _show_members(
        self, cid: str, members: list[MemberInfo], requests: list[JoinRequestInfo], available: dict[str, bool]
    ) -> None:
        if self.current is None or self.current.id != cid:
            return
        self.availability = available
        mine = next((available.get(m.member_id) for m in members if m.is_me), None)
        said = -1 if mine is None else self.my_status.findData("available" if mine else "break")
        self.my_status.setCurrentIndex(said)
        self.my_status.setEnabled(self.current.state == "active")
        previous = self.current_member.member_id if self.current_member else None
        order = {"active": 0, "left": 1, "removed": 1, "replaced": 2}
        self.members = sorted(members, key=lambda m: (order.get(m.status, 3), not m.is_me, m.name.casefold()))
        self.member_list.clear()
        for m in self.members:
            text = member_row_text(m, available.get(m.member_id))
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.AccessibleTextRole, text)
            if m.note:
                item.setData(Qt.ItemDataRole.AccessibleDescriptionRole, m.note)
                item.setToolTip(plain_tip(m.note))  # names in notes are peers' own text
            self.member_list.addItem(item)
        changed = [m.name or "someone" for m in self.members if m.key_changed and m.status == "active"]
        if changed:
            self.key_banner.setText(
                f"⚠ Keys changed for {', '.join(changed)}: a new device or lost keys, or someone else. They are "
                "unverified again; compare safety numbers (Verify…) before sharing anything sensitive."
            )
        self.key_banner.setVisible(bool(changed))
        ids = [m.member_id for m in self.members]
        self.member_list.setCurrentRow(ids.index(previous) if previous in ids else -1)
        self.requests = [r for r in requests if r.state == "pending"]
        self.request_list.clear()
        for r in self.requests:
            self.request_list.addItem(f"{r.name or '(no name given)'} — asked {when(r.received_at)}")
        self.requests_box.setVisible(bool(self.requests))
        if self.requests:
            self.request_list.setCurrentRow(0)
        self._member_buttons()
        self._request_buttons()

    @property
    def current_member(self) -> MemberInfo | None:
        row = self.member_list.currentRow()
        return self.members[row] if 0 <= row < len(self.members) else None

    def _member_buttons(self) -> None:
        m, c = self.current_member, self.current
        self.member_note.setText(m.note if m else "")
        usable = m is not None and not m.is_me and m.status == "active"
        self.verify_button.setEnabled(usable)
        self.remove_button.setEnabled(usable and c is not None and c.role == "admin" and c.state == "active")

    def _request_buttons(self) -> None:
        on = 0 <= self.request_list.currentRow() < len(self.requests)
        self.approve_button.setEnabled(on)
        self.decline_button.setEnabled(on)

    # -- actions -------------------------------------------------------------------------------------------

    def open_create(self) -> CreateCircleDialog:
        dialog = CreateCircleDialog(self.ops, self)
        dialog.created.connect(lambda info: (self._select_later(info.id), self.sync.sync_now()))
        dialog.open()
        return dialog

    def open_join(self) -> JoinDialog:
        dialog = JoinDialog(self.ops, self)
        dialog.joined.connect(lambda info: (self._select_later(info.id), self.sync.sync_now()))
        dialog.open()
        return dialog

    def _select_later(self, circle_id: str) -> None:
        self.ops.query_op(lambda app: None).success(lambda _v: self.select_circle(circle_id)).run()

    def open_invite(self) -> InviteDialog | None:
        if self.current is None:
            return None
        dialog = InviteDialog(self.ops, self.current, self)
        dialog.open()
        return dialog

    def open_rename(self) -> ChangeNameDialog | None:
        c = self.current
        if c is None or c.state != "active":
            return None
        dialog = ChangeNameDialog(self.ops, c, self)
        dialog.changed.connect(
            lambda _m: (self.ctx.status("Your new name goes to the circle on the next sync."), self.sync.sync_now())
        )
        dialog.open()
        return dialog

    def open_verify(self) -> VerifyDialog | None:
        m, c = self.current_member, self.current
        if m is None or c is None or m.is_me:
            return None
        dialog = VerifyDialog(self.ops, c, m, self)
        dialog.open()
        return dialog

    def ask_remove(self):
        m, c = self.current_member, self.current
        if m is None or c is None:
            return None
        cid, mid = c.id, m.member_id

        def remove() -> None:
            self.ops.collection_op(lambda app: app.circles.remove_member(cid, mid)).success(
                lambda info: self.ctx.status(f"{info.name or 'They'} removed from the circle.")
            ).run()

        return confirm(self, f"Remove {m.name or 'this member'}?", removal_text(m.name), "Remove", remove)

    def ask_seal(self):
        c = self.current
        if c is None or c.sealed:
            return None
        cid = c.id
        text = (
            f"From now on, {c.name}'s shared folder or relay sees only opaque blobs: not who posts, replies or checks "
            "in, nor when. A new key goes to every member, end to end, when you sync. Members whose app is older "
            "than this version cannot read sealed messages: seal the circle once everyone has updated."
        )

        def seal() -> None:
            self.ops.collection_op(lambda app: app.circles.seal_circle(cid)).success(
                lambda _info: (self.ctx.status(f"{c.name} is sealed; the others get the key when you sync."),
                               self.sync.sync_now())
            ).run()  # fmt: skip

        return confirm(self, f"Seal {c.name}?", text, "Seal circle", seal)

    def ask_leave(self):
        c = self.current
        if c is None:
            return None
        cid = c.id
        text = (
            f"You will not receive anything new from {c.name}, and nothing you share reaches it. The others are "
            "told you left. What you received stays in your journal until it expires or you delete it; what you "
            "shared stays with those who received it."
        )

        def leave() -> None:
            # the notice waits in the outbox and the sync sends it from the network pool (not the vault
            # worker); that round also stops the circle's push-channel listener
            self.ops.collection_op(lambda app: app.circles.leave(cid, deliver=False)).success(
                lambda _info: self.sync.sync_now()
            ).run()

        return confirm(self, f"Leave {c.name}?", text, "Leave circle", leave)

    def approve(self) -> None:
        row, c = self.request_list.currentRow(), self.current
        if c is None or not 0 <= row < len(self.requests):
            return
        cid, mid = c.id, self.requests[row].member_id
        self.ops.collection_op(lambda app: app.circles.approve(cid, mid)).success(
            lambda info: (self.ctx.status(f"{info.name or 'They'} will be welcomed on the next sync."),
                          self.sync.sync_now())
        ).run()  # fmt: skip

    def decline(self) -> None:
        row, c = self.request_list.currentRow(), self.current
        if c is None or not 0 <= row < len(self.requests):
            return
        cid, mid = c.id, self.requests[row].member_id
        self.ops.collection_op(lambda app: app.circles.decline(cid, mid)).run()

    def _quiet_toggled(self, on: bool) -> None:
        c = self.current
        if c is None:
            return
        cid = c.id
        if on:
            self.quiet_ids.add(cid)
        else:
            self.quiet_ids.discard(cid)
        self.ops.collection_op(lambda app: app.journal.set_setting(quiet_key(cid), "1" if on else "0")).run()

    def _status_chosen(self, index: int) -> None:
        c = self.current
        value = self.my_status.itemData(index)
        if c is None or value is None:
            return
        cid = c.id
        available = value == "available"
        self.ops.collection_op(lambda app: app.circles.set_availability(cid, available)).success(
            lambda _v: (self.ctx.status("Your status goes to the circle on the next sync."), self.sync.sync_now())
        ).run()

    # -- notifications (counts only, never text) ----------------------------------------------------------

    def _remember_items(self) -> None:
        self.ops.query_op(_item_ids).success(self._set_known).run()

    def _set_known(self, ids: dict[str, set[str]]) -> None:
        self.known_items = ids

    def _after_sync(self, reports) -> None:
        if not any("inbox" in r.changed for r in reports):
            return

        def done(now: dict[str, set[str]]) -> None:
            known = self.known_items
            self.known_items = now
            if known is None:
                return
            new = {cid: len(ids - known.get(cid, set())) for cid, ids in now.items()}
            names = {c.id: c.name for c in self.circles}
            text = notify_text(new, names, lambda cid: cid in self.quiet_ids)
            if text:
                self.last_notice = text
                self.ctx.status(text)

        self.ops.query_op(_item_ids).success(done).run()


def _item_ids(app) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for item in app.circles.inbox(limit=10_000):
        out.setdefault(item.circle_id, set()).add(item.item_id)
    return out
