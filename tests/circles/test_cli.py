"""The command line, in-process: two journals and one shared folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from companion.cli import main


def run(capsys, data: Path, *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["--data-dir", str(data), *args])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_cli_round_trip(tmp_path: Path, shared: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPANION_PASSPHRASE", "pw")
    from companion.services import Companion
    from companion.vault.header import FLOOR

    ana, ben = tmp_path / "ana", tmp_path / "ben"
    for d in (ana, ben):
        Companion(d).create("pw", params=FLOOR).value  # noqa: B018
    code, out = run(capsys, ana, "circle", "create", "Tuesday", "--folder", str(shared), "--name", "Ana")
    assert code == 0
    cid = out.strip().splitlines()[-1]
    code, out = run(capsys, ana, "circle", "invite", cid)
    invite = out.strip().splitlines()[-1]
    assert invite.startswith("companion-invite:1:")
    code, out = run(capsys, ben, "circle", "join", invite, "--name", "Ben")
    assert code == 0 and "on its way" in out
    assert run(capsys, ana, "sync")[0] == 0
    assert run(capsys, ben, "sync")[0] == 0
    code, out = run(capsys, ana, "add", "a text to share", "--title", "Mine", "--tag", "t")
    entry = out.strip().splitlines()[-1]
    code, out = run(capsys, ana, "--json", "share", entry, "--circle", "Tuesday", "--to", "Ben", "--dry-run")
    preview = json.loads(out)
    assert preview["payload"]["text"] == "a text to share" and preview["payload"]["tags"] == []
    assert run(capsys, ana, "share", entry, "--circle", "Tuesday", "--warning", "sad")[0] == 0
    run(capsys, ana, "sync")
    run(capsys, ben, "sync")
    code, out = run(capsys, ben, "--json", "inbox")
    items = json.loads(out)
    assert [(i["title"], i["warning"]) for i in items] == [("Mine", "sad")]
    code, out = run(capsys, ben, "circle", "verify", cid, "Ana")
    number = out.strip().splitlines()[-1]
    code, out = run(capsys, ben, "circle", "verify", cid, "Ana", number)
    assert code == 0 and "Verified" in out
    code, out = run(capsys, ben, "circle", "verify", cid, "Ana", "12345")
    assert code != 0 and "does not match" in out
    assert run(capsys, ana, "edit", entry, "--text", "edited text")[0] == 0
    code, out = run(capsys, ana, "share", entry, "--update")
    assert code == 0 and "Revision 2" in out
    run(capsys, ana, "sync")
    run(capsys, ben, "sync")
    code, out = run(capsys, ben, "--json", "inbox")
    assert [(i["text"], i["revision"], i["warning"]) for i in json.loads(out)] == [("edited text", 2, "sad")]
    assert run(capsys, ana, "unshare", entry)[0] == 0
    run(capsys, ana, "sync")
    run(capsys, ben, "sync")
    code, out = run(capsys, ben, "--json", "inbox")
    assert json.loads(out) == []
    code, out = run(capsys, ana, "circle", "remove", cid, "Ben")
    assert code == 0 and "stays" in out
    code, out = run(capsys, ben, "--json", "circle", "members", cid)
    assert {m["name"]: m["verified"] for m in json.loads(out)} == {"Ana": True, "Ben": False}


def test_cli_seal_turns_the_seal_on_or_rotates_it(tmp_path: Path, shared: Path, capsys,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("COMPANION_PASSPHRASE", "pw")
    from companion.services import Companion
    from companion.vault.header import FLOOR

    ana, ben = tmp_path / "ana", tmp_path / "ben"
    for d in (ana, ben):
        Companion(d).create("pw", params=FLOOR).value  # noqa: B018
    cid = run(capsys, ana, "circle", "create", "Tuesday", "--folder", str(shared))[1].strip().splitlines()[-1]
    code, out = run(capsys, ana, "--json", "circle", "list")
    assert [c["sealed"] for c in json.loads(out)] == [True]
    invite = run(capsys, ana, "circle", "invite", cid)[1].strip().splitlines()[-1]
    run(capsys, ben, "circle", "join", invite, "--name", "Ben")
    run(capsys, ben, "sync")
    run(capsys, ana, "sync")
    run(capsys, ben, "sync")
    code, out = run(capsys, ana, "circle", "seal", "Tuesday")
    assert code == 0 and "has a new seal key" in out
    code, out = run(capsys, ben, "circle", "seal", cid)
    assert code != 0 and "facilitator" in out
    run(capsys, ana, "sync")
    run(capsys, ben, "sync")
    keys = []
    for d in (ana, ben):
        app = Companion(d)
        app.unlock("pw")
        keys.append(app.circles._store.circle(cid).transport)
        app.lock()
    assert keys[0]["seal"] == keys[1]["seal"] and keys[0]["seal_epoch"] == keys[1]["seal_epoch"] > 0


def test_cli_rename_me(tmp_path: Path, shared: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPANION_PASSPHRASE", "pw")
    from companion.services import Companion
    from companion.vault.header import FLOOR

    ana, ben = tmp_path / "ana", tmp_path / "ben"
    for d in (ana, ben):
        Companion(d).create("pw", params=FLOOR).value  # noqa: B018
    cid = run(capsys, ana, "circle", "create", "Tuesday", "--folder", str(shared), "--name", "Ana")[1]
    cid = cid.strip().splitlines()[-1]
    invite = run(capsys, ana, "circle", "invite", cid)[1].strip().splitlines()[-1]
    run(capsys, ben, "circle", "join", invite, "--name", "Ben")
    run(capsys, ana, "sync")
    run(capsys, ben, "sync")
    code, out = run(capsys, ben, "circle", "rename-me", "Tuesday", "Benji")
    assert code == 0 and "Benji" in out and "Ben" in out
    code, out = run(capsys, ben, "circle", "rename-me", cid, "ana")
    assert code != 0 and "goes by" in out
    code, out = run(capsys, ben, "circle", "rename-me", cid, "  ")
    assert code != 0 and "Type the name" in out
    run(capsys, ben, "sync")
    run(capsys, ana, "sync")
    code, out = run(capsys, ana, "circle", "members", cid)
    assert code == 0 and "Benji (joined as Ben)" in out
    code, out = run(capsys, ana, "--json", "circle", "members", cid)
    assert {(m["name"], m["joined_as"]) for m in json.loads(out)} == {("Ana", ""), ("Benji", "Ben")}
