"""Circle commands: identity, circle create|invite|join|members|rename-me|remove|requests|approve|leave|verify|list,
share, unshare, sync, inbox, reply, rejections."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from companion.cli import Context
from companion.errors import InvalidInputError


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    def command(parent: Any, name: str, handler: Any, help_text: str) -> argparse.ArgumentParser:
        p = parent.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    command(sub, "identity", cmd_identity, "your member id and fingerprint (made on first use)")

    circle = sub.add_parser("circle", parents=[common], help="peer circles: create, invite, join, members …")
    circle.set_defaults(handler=lambda ctx: _need_sub(circle))
    csub = circle.add_subparsers(dest="circle_command", metavar="ACTION")

    p = command(csub, "create", cmd_create, "create a circle; you are its first facilitator (admin)")
    p.add_argument("name", metavar="NAME")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--folder", metavar="PATH", help="a folder kept in step by Syncthing, Nextcloud …")
    where.add_argument("--relay", metavar="URL", help="a companion-relay server")
    p.add_argument("--token", default=None, metavar="T", help="(relay) not needed: a fresh mailbox is made")
    p.add_argument("--name", dest="display", default="", metavar="DISPLAY", help="your name in this circle")
    p.add_argument("--suite", default=None, choices=["x25519", "mlkem768-x25519"])

    command(csub, "list", cmd_list, "your circles")

    p = command(csub, "invite", cmd_invite, "make a one-time invite code (printed on the last line)")
    p.add_argument("circle", metavar="CIRCLE")
    p.add_argument("--approve", action="store_true", help="joiners wait until you approve them")
    p.add_argument("--days", type=float, default=7, metavar="N", help="valid for N days (default 7)")
    p.add_argument("--replaces", default=None, metavar="MEMBER", help="for this member's new key (new device)")

    p = command(csub, "join", cmd_join, "answer an invite; you are admitted on the facilitator's next sync")
    p.add_argument("code", metavar="CODE")
    p.add_argument("--name", dest="display", default="", metavar="NAME", help="your name in this circle")
    p.add_argument("--folder", default=None, metavar="PATH", help="where the shared folder is on this machine")

    p = command(csub, "members", cmd_members, "who is in the circle, and who is verified")
    p.add_argument("circle", metavar="CIRCLE")

    p = command(csub, "rename-me", cmd_rename_me, "change how you are known in this circle (the others see it)")
    p.add_argument("circle", metavar="CIRCLE")
    p.add_argument("name", metavar="NAME")

    p = command(csub, "remove", cmd_remove, "remove a member (they keep what they already received)")
    p.add_argument("circle", metavar="CIRCLE")
    p.add_argument("member", metavar="MEMBER")

    p = command(csub, "seal", cmd_seal, "seal a circle made before the transport seal, or give it a new seal key")
    p.add_argument("circle", metavar="CIRCLE")

    p = command(csub, "promote", cmd_promote, "make a member a facilitator (admin)")
    p.add_argument("circle", metavar="CIRCLE")
    p.add_argument("member", metavar="MEMBER")

    p = command(csub, "requests", cmd_requests, "join requests waiting for approval")
    p.add_argument("circle", metavar="CIRCLE")

    p = command(csub, "approve", cmd_approve, "admit a waiting join request")
    p.add_argument("circle", metavar="CIRCLE")
    p.add_argument("member", metavar="MEMBER")

    p = command(csub, "decline", cmd_decline, "turn down a waiting join request")
    p.add_argument("circle", metavar="CIRCLE")
    p.add_argument("member", metavar="MEMBER")

    p = command(csub, "leave", cmd_leave, "leave the circle")
    p.add_argument("circle", metavar="CIRCLE")

    p = command(csub, "verify", cmd_verify, "compare safety numbers; without NUMBER, show it")
    p.add_argument("circle", metavar="CIRCLE")
    p.add_argument("member", metavar="MEMBER")
    p.add_argument("number", nargs="*", metavar="SAFETY_NUMBER")

    p = command(sub, "share", cmd_share, "share an entry (or an excerpt) with a circle or chosen members")
    p.add_argument("entry", type=int, metavar="ENTRY")
    p.add_argument("--circle", default=None, metavar="CIRCLE", help="required unless --update")
    p.add_argument("--to", action="append", default=[], metavar="MEMBER")
    p.add_argument(
        "--update",
        action="store_true",
        help="send the edited entry as a new revision, with the choices made when it was shared",
    )
    p.add_argument("--warning", default="", metavar="TEXT", help="a content warning shown before the text")
    p.add_argument("--no-replies", action="store_true")
    p.add_argument("--expires", type=float, default=None, metavar="DAYS")
    p.add_argument("--excerpt", default=None, metavar="TEXT", help="share only this text instead of the entry")
    p.add_argument("--include-mood-tags", action="store_true")
    p.add_argument("--dry-run", action="store_true", help="show exactly what would be sent, send nothing")

    p = command(sub, "unshare", cmd_unshare, "withdraw a shared entry; recipients' apps delete it")
    p.add_argument("entry", type=int, metavar="ENTRY")
    p.add_argument("--circle", default=None, metavar="CIRCLE")

    p = command(sub, "sync", cmd_sync, "send what waits and receive what arrived")
    p.add_argument("--circle", default=None, metavar="CIRCLE")

    p = command(sub, "inbox", cmd_inbox, "items shared with you")
    p.add_argument("--circle", default=None, metavar="CIRCLE")

    p = command(sub, "reply", cmd_reply, "reply to a shared item (only its audience sees it)")
    p.add_argument("item", metavar="ITEM")
    p.add_argument("text", metavar="TEXT")
    p.add_argument("--reaction", action="store_true", help="send as a reaction")

    p = command(sub, "rejections", cmd_rejections, "what sync refused, and why (no content)")
    p.add_argument("--circle", default=None, metavar="CIRCLE")


def _need_sub(parser: argparse.ArgumentParser) -> None:
    raise InvalidInputError("Say what to do with circles, e.g. `companion circle create NAME --folder PATH`.")


def _when(ms: int | None) -> str:
    return datetime.fromtimestamp(ms / 1000).astimezone().strftime("%Y-%m-%d %H:%M") if ms else "never"


# -- handlers -----------------------------------------------------------------------------------------------------


def cmd_identity(ctx: Context) -> None:
    info = ctx.app().circles.identity()
    ctx.emit(info.to_json(), f"Your member id (fingerprint): {info.fingerprint}")


def cmd_create(ctx: Context) -> None:
    a = ctx.args
    kwargs: dict[str, Any] = {"display_name": a.display}
    if a.suite:
        kwargs["suite"] = a.suite
    if a.relay:
        from companion.sync.transports.relay import new_mailbox

        kwargs["relay"] = new_mailbox(a.relay).to_dict()
    else:
        kwargs["folder"] = a.folder
    info = ctx.app().circles.create_circle(a.name, **kwargs).value
    ctx.emit(
        info.to_json(),
        f"Created the circle “{info.name}” ({info.transport}). Invite people with: "
        f"companion circle invite {info.id}\n{info.id}",
    )


def cmd_list(ctx: Context) -> None:
    rows = ctx.app().circles.list_circles()
    ctx.emit([r.to_json() for r in rows], lambda: "\n".join(
        f"{r.id}  {r.name or '(waiting to be admitted)'}  {r.state}  {r.members} members  "
        f"last sync {_when(r.last_sync)}"
        for r in rows) or "No circles yet.")  # fmt: skip


def cmd_invite(ctx: Context) -> None:
    inv = (
        ctx.app()
        .circles.invite(ctx.args.circle, approve=ctx.args.approve, valid_days=ctx.args.days, replaces=ctx.args.replaces)
        .value
    )
    note = " You approve each joiner with `companion circle approve`." if inv.approve else ""
    ctx.emit(
        inv.to_json(),
        f"Give this one-time code to one person, privately. It is valid until "
        f"{_when(inv.expires_at)}.{note}\n{inv.code}",
    )


def cmd_join(ctx: Context) -> None:
    app = ctx.app()
    info = app.circles.join(ctx.args.code, display_name=ctx.args.display, folder=ctx.args.folder).value
    report = app.circles.sync(info.id).value[0]
    info = app.circles.get_circle(info.id)
    text = ("Joined." if info.state == "active" else
            "Your request is on its way. You are admitted when the facilitator's app next syncs; then run "
            "`companion sync`.")  # fmt: skip
    if report.error:
        text += f" ({report.error})"
    ctx.emit({**info.to_json(), "sync": report.to_json()}, f"{text}\n{info.id}")


def cmd_members(ctx: Context) -> None:
    rows = ctx.app().circles.members(ctx.args.circle)

    def text() -> str:
        out = []
        for m in rows:
            flags = [m.role, m.status, "verified" if m.verified else "unverified"]
            if m.is_me:
                flags.append("you")
            was = f" (joined as {m.joined_as})" if m.joined_as else ""
            line = f"{m.member_id}  {m.name or '(no name)'}{was}  {' · '.join(flags)}"
            if m.note:
                line += f"\n    {m.note}"
            out.append(line)
        return "\n".join(out)

    ctx.emit([m.to_json() for m in rows], text)


def cmd_rename_me(ctx: Context) -> None:
    changed = ctx.app().circles.set_my_name(ctx.args.circle, ctx.args.name)
    m = changed.value
    text = (f"You are “{m.name}” in this circle; the others see it after your next sync. They also see the name "
            f"you joined under ({m.joined_as or 'none'})." if changed.changes else f"You are already “{m.name}”.")
    ctx.emit(m.to_json(), text)


def cmd_remove(ctx: Context) -> None:
    m = ctx.app().circles.remove_member(ctx.args.circle, ctx.args.member).value
    ctx.emit(m.to_json(), f"Removed {m.name or m.member_id}. {m.note} It takes effect for others on sync.")


def cmd_seal(ctx: Context) -> None:
    before = ctx.app().circles.get_circle(ctx.args.circle)
    info = ctx.app().circles.seal_circle(ctx.args.circle).value
    what = "has a new seal key" if before.sealed else "is now sealed"
    ctx.emit(info.to_json(), f"{info.name} {what}: the key reaches the other members, end to end, when you sync. "
             "From then on the folder or relay sees only opaque blobs.")  # fmt: skip


def cmd_promote(ctx: Context) -> None:
    m = ctx.app().circles.promote(ctx.args.circle, ctx.args.member).value
    ctx.emit(m.to_json(), f"{m.name or m.member_id} is now a facilitator.")


def cmd_requests(ctx: Context) -> None:
    rows = ctx.app().circles.requests(ctx.args.circle)
    ctx.emit([r.to_json() for r in rows], lambda: "\n".join(
        f"{r.member_id}  {r.name or '(no name)'}  {r.state}  {_when(r.received_at)}" for r in rows
    ) or "No join requests.")  # fmt: skip


def cmd_approve(ctx: Context) -> None:
    m = ctx.app().circles.approve(ctx.args.circle, ctx.args.member).value
    ctx.emit(m.to_json(), f"Admitted {m.name or m.member_id}; they are welcomed on your next sync.\n{m.member_id}")


def cmd_decline(ctx: Context) -> None:
    ctx.app().circles.decline(ctx.args.circle, ctx.args.member)
    ctx.emit({"declined": ctx.args.member}, "Declined; their invite can no longer be used.")


def cmd_leave(ctx: Context) -> None:
    info = ctx.app().circles.leave(ctx.args.circle).value
    ctx.emit(
        info.to_json(),
        "You left the circle. What you already received stays in your journal until it expires or you delete it.",
    )


def cmd_verify(ctx: Context) -> None:
    svc = ctx.app().circles
    number = " ".join(ctx.args.number)
    if not number:
        sn = svc.safety_number(ctx.args.circle, ctx.args.member)
        ctx.emit(sn.to_json(), f"Compare this with them in person or on a call:\n{sn.digits}")
        return
    m = svc.verify_member(ctx.args.circle, ctx.args.member, number).value
    ctx.emit(m.to_json(), f"Verified {m.name or m.member_id}: the safety numbers match.")


def _share_kwargs(a: argparse.Namespace) -> dict[str, Any]:
    return {"to": a.to, "warning": a.warning, "replies": not a.no_replies, "expires_days": a.expires,
            "excerpt": a.excerpt, "include_mood_tags": a.include_mood_tags}  # fmt: skip


def cmd_share(ctx: Context) -> None:
    svc = ctx.app().circles
    a = ctx.args
    if a.update:
        rows = svc.send_update(a.entry, circle=a.circle).value
        ctx.emit(
            [r.to_json() for r in rows],
            "\n".join(
                f"Revision {r.revision} queued for {len(r.audience)} people; it is sent on the next sync." for r in rows
            ),
        )
        return
    if not a.circle:
        raise InvalidInputError("Say which circle to share with: --circle CIRCLE.")
    if a.dry_run:
        pv = svc.preview_share(a.entry, a.circle, **_share_kwargs(a))

        def text() -> str:
            import json

            who = ", ".join(r["name"] or r["member_id"] for r in pv.recipients)
            return (f"Would send revision {pv.revision} to: {who}\nExactly this, end-to-end encrypted:\n"
                    + json.dumps(pv.payload, ensure_ascii=False, indent=2))  # fmt: skip

        ctx.emit(pv.to_json(), text)
        return
    info = svc.share(a.entry, a.circle, **_share_kwargs(a)).value
    ctx.emit(
        info.to_json(),
        f"Shared (revision {info.revision}) with {len(info.audience)} "
        f"{'person' if len(info.audience) == 1 else 'people'}; it is sent on the next sync.\n"
        f"{info.item_id}",
    )


def cmd_unshare(ctx: Context) -> None:
    rows = ctx.app().circles.unshare(ctx.args.entry, circle=ctx.args.circle).value
    ctx.emit(
        [r.to_json() for r in rows],
        "Withdrawn. Recipients' apps delete it when they next sync (anything they "
        "copied by hand, Companion cannot reach).",
    )


def cmd_sync(ctx: Context) -> int:
    reports = ctx.app().circles.sync(ctx.args.circle).value

    def text() -> str:
        out = []
        for r in reports:
            line = (f"{r.circle_id}: sent {r.pushed}, received {r.received}, applied {r.applied}"
                    + (f", refused {len(r.rejected)}" if r.rejected else "")
                    + (f", waiting {r.deferred}" if r.deferred else "")
                    + (f", expired {r.expired}" if r.expired else ""))  # fmt: skip
            if r.joined:
                line += " — you have been admitted"
            if r.removed:
                line += " — you were removed from this circle; what you received before stays with you"
            if r.requests:
                line += f" — {len(r.requests)} join request(s) wait for approval"
            if r.error:
                line += f"\n    {r.error}"
            out.append(line)
        return "\n".join(out) or "No circles to sync."

    ctx.emit([r.to_json() for r in reports], text)
    return 1 if any(r.state == "transport_failed" for r in reports) else 0


def cmd_inbox(ctx: Context) -> None:
    items = ctx.app().circles.inbox(ctx.args.circle)

    def text() -> str:
        out = []
        for i in items:
            head = f"{i.item_id}  {_when(i.shared_at)}  {i.author_name or i.author[:8]} in {i.circle_name}"
            if i.warning:
                head += f"\n    Content warning: {i.warning}"
            out.append(f"{head}\n    {i.title}\n    " + i.text.replace("\n", "\n    ")
                       + "".join(f"\n      ↳ {r.author_name}: {r.text}" for r in i.replies))  # fmt: skip
        return "\n\n".join(out) or "Nothing shared with you yet."

    ctx.emit([i.to_json() for i in items], text)


def cmd_reply(ctx: Context) -> None:
    r = ctx.app().circles.reply(ctx.args.item, ctx.args.text, kind="reaction" if ctx.args.reaction else "reply").value
    ctx.emit(r.to_json(), f"Reply queued; it is sent on the next sync.\n{r.reply_id}")


def cmd_rejections(ctx: Context) -> None:
    rows = ctx.app().circles.rejections(ctx.args.circle)
    ctx.emit(
        [r.to_json() for r in rows],
        lambda: (
            "\n".join(f"{_when(r.at)}  {r.reason}  from {r.author or 'unknown'}" for r in rows)
            or "Nothing was refused."
        ),
    )
