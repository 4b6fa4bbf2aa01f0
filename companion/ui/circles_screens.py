"""Issue 7's screenshot states (called from ``companion.ui.screenshots``): the Circles page, an invite with its
QR code, the verify dialog, the share dialog with its preview, and the Shared page (a content warning
collapsed, and an opened item with replies). Ben, Cat and Dana are made-up demo journals in the temporary
folder, syncing with the demo journal through a shared folder there."""

from __future__ import annotations

from pathlib import Path

from companion.services import Changed, Changes


def circles_states(window, tmp: Path, shot, until, wait, out: Path, written: list[Path]) -> None:
    from companion.services import Companion
    from companion.ui.sync_status import controller_for
    from companion.vault.header import FLOOR

    shared_dir = tmp / "circle-folder"
    shared_dir.mkdir()
    box: dict = {}

    def run(fn):
        box.clear()

        def op(app):
            value = fn(app)
            return value if isinstance(value, Changed) else Changed(value, Changes.CIRCLES | Changes.INBOX)

        window.ops.collection_op(op).success(lambda v: box.setdefault("v", v)).run()
        until(lambda: "v" in box and not window.ops.busy)
        return box["v"]

    sync = controller_for(window.ops)

    def ana_sync() -> None:
        until(lambda: not sync.running and not window.ops.busy)
        n = sync.rounds
        sync.sync_now()
        until(lambda: sync.rounds > n and not sync.running and not window.ops.busy)

    people = {}
    for name in ("ben", "cat", "dana"):
        app = Companion(tmp / f"demo-{name}")
        app.create("demo", params=FLOOR)
        people[name] = app
    ben, cat, dana = people["ben"], people["cat"], people["dana"]
    try:
        cid = run(lambda app: app.circles.create_circle("Tuesday group", folder=shared_dir, display_name="Sam")).id
        for person, name in ((ben, "Ben"), (cat, "Cat")):
            code = run(lambda app: app.circles.invite(cid)).code
            person.circles.join(code, display_name=name)
            person.circles.sync()
            ana_sync()
            person.circles.sync()
        ben.circles.sync()
        cat_id = cat.circles.identity().member_id
        number = run(lambda app: app.circles.safety_number(cid, cat_id)).digits
        run(lambda app: app.circles.verify_member(cid, cat_id, number))
        ben.circles.set_availability(cid, False)
        cat.circles.set_availability(cid, True)
        code = run(lambda app: app.circles.invite(cid, approve=True)).code
        dana.circles.join(code, display_name="Dana")
        dana.circles.sync()

        e1 = ben.journal.add_entry(
            "Some nights are harder than others. Last night I nearly picked up the phone to him, and then "
            "didn't. I sat on the kitchen floor and read the group's list of numbers until it passed.",
            title="A rough night", tags=["cravings"], mood=2,
        ).value.id  # fmt: skip
        ben.circles.share(e1, cid, warning="mentions a relapse urge", expires_days=7)
        ben.circles.sync()
        e2 = cat.journal.add_entry(
            "Six months today. I didn't think I'd make it past the first week. Thank you, all of you, for "
            "the Tuesday nights and the texts in between.",
            title="Six months", tags=["milestone"], mood=5,
        ).value.id  # fmt: skip
        cat.circles.share(e2, cid, include_mood_tags=True)
        cat.circles.sync()
        ana_sync()
        item_cat = next(i for i in run(lambda app: app.circles.inbox()) if i.author_name == "Cat")
        run(lambda app: app.circles.reply(item_cat.item_id, "So proud of you. Six months!"))
        ben.circles.sync()
        ben.circles.reply(item_cat.item_id, "Me too", kind="reaction")
        ben.circles.sync()
        ana_sync()

        circles = next(p for p in window.pages if p.key == "circles")
        window.show_page(window.pages.index(circles))
        until(lambda: circles.circles and circles.current is not None and not window.ops.busy)
        until(lambda: circles.member_list.count() >= 3 and circles.requests_box.isVisible())
        names = [m.name for m in circles.members]
        circles.member_list.setCurrentRow(names.index("Ben"))
        shot(window, "circles")

        invite = circles.open_invite()
        invite.make_code()
        until(lambda: invite.info is not None and not window.ops.busy)
        _grab(invite, out / "invite.png", wait, written, (600, 640))
        invite.accept()

        verify = circles.open_verify()
        until(lambda: verify.number is not None)
        _grab(verify, out / "verify.png", wait, written, (680, 380))
        verify.reject()

        page = window.journal
        window.show_page(0)
        row = next(i for i, r in enumerate(page.model.rows) if r.title == "What I'd like my circle to know")
        page.list.setCurrentIndex(page.model.index(row))
        until(lambda: page.editor.entry_id is not None and not window.ops.busy)
        dialog = page.share_bar.open_share()
        until(lambda: dialog.preview is not None and dialog.member_list.count() == 2)
        dialog.warning.setText("mentions a hard month")
        dialog.expiry.setCurrentIndex(3)
        wait(300)
        until(lambda: dialog.preview is not None and "hard month" in dialog.preview_view.toPlainText())
        _grab(dialog, out / "share.png", wait, written, (900, 560))
        dialog.reject()

        shared = next(p for p in window.pages if p.key == "shared")
        window.show_page(window.pages.index(shared))
        until(lambda: shared.list.count() == 2 and not window.ops.busy)
        ids = [i.author_name for i in shared.items]
        shared.list.setCurrentRow(ids.index("Ben"))
        shot(window, "shared")
        shared.list.setCurrentRow(ids.index("Cat"))
        until(lambda: not window.ops.busy)
        shot(window, "shared-open")
    finally:
        for app in people.values():
            app.lock()


def _grab(widget, path: Path, wait, written: list[Path], size: tuple[int, int]) -> None:
    widget.resize(*size)
    wait(250)
    widget.grab().save(str(path))
    written.append(path)
