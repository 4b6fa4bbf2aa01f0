"""The transport seal over a shared folder: what the folder's host can still read (nothing of the headers),
joining with it, refusing a tampered blob, circles made before it, and idempotent pushes."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from companion.circles.invites import InviteCode
from companion.errors import InvalidInputError
from companion.sync.transports import check_settings, describe, make_transport, new_seal_key
from companion.sync.transports.folder import FolderTransport
from companion.sync.transports.sealed import OVERHEAD, SealedTransport, TransportSeal, parse_seal_key
from tests.circles.conftest import HEADER_KINDS, age_pending, forget_seal, three_member_flow

MAGICS = (b"CPNE", b"CPNI")


def folder_bytes(shared: Path) -> bytes:
    return b"\x00".join(f.read_bytes() + f.name.encode() for f in sorted(shared.rglob("*")) if f.is_file())


def visible(data: bytes, needles: list[str] | tuple[str, ...]) -> list[str]:
    return [n for n in needles if n.encode() in data]


# -- the format --------------------------------------------------------------------------------------------------


def test_wrapping_matches_the_documented_construction() -> None:
    """An independent computation of protocol.md §10 from HKDF, HMAC and ChaCha20-Poly1305."""
    key, blob = bytes(range(32)), b"CPNE\x01 an inner envelope"

    def hkdf(label: bytes) -> bytes:
        return HKDF(hashes.SHA256(), 32, salt=None, info=label).derive(key)

    aead = ChaCha20Poly1305(hkdf(b"companion:v1:transport-seal-enc"))
    nonce = hmac.new(hkdf(b"companion:v1:transport-seal-nonce"), blob, hashlib.sha256).digest()[:12]
    expected = b"CPNT" + nonce + aead.encrypt(nonce, blob, b"CPNT")
    seal = TransportSeal(key)
    assert seal.wrap(blob) == expected and len(expected) == len(blob) + OVERHEAD == len(blob) + 32
    assert seal.wrap(blob) == seal.wrap(blob)  # deterministic: the carriers' deduplication still works
    assert seal.unwrap(expected) == blob
    assert seal.wrap(blob + b"!")[4:16] != expected[4:16]  # another blob, another nonce
    # the one canonical wrapping only: an authentic ciphertext under another nonce is refused
    other = bytes(12)
    assert seal.unwrap(b"CPNT" + other + aead.encrypt(other, blob, b"CPNT")) is None
    assert TransportSeal(bytes(32)).unwrap(expected) is None  # another circle's key


def test_settings_keep_a_valid_seal_and_never_show_it(tmp_path: Path) -> None:
    key = new_seal_key()
    assert len(parse_seal_key(key)) == 32
    folder = {"kind": "folder", "path": str(tmp_path), "seal": key}
    relay = {"kind": "relay", "url": "https://r.example", "mailbox": "m", "capability": "c", "seal": key}
    assert check_settings(folder) == folder and check_settings(relay) == relay
    assert "seal" not in check_settings({**folder, "seal": None})
    assert key not in describe(folder) and key not in describe(relay)
    wrong = (bytes(31), bytes(33))
    urlsafe = base64.urlsafe_b64encode(b"\xff" * 32).decode()
    for bad in (*(base64.b64encode(w).decode() for w in wrong), key[:-1], key + "\n", "not base64!", 12345, urlsafe):
        with pytest.raises(InvalidInputError, match="seal key"):
            check_settings({**folder, "seal": bad})
    t = make_transport(folder, writer_id="writeraaaaaaaaaaaaaa")
    assert isinstance(t, SealedTransport) and isinstance(t.inner, FolderTransport) and key not in repr(t)
    assert isinstance(make_transport({"kind": "folder", "path": str(tmp_path)}, writer_id="writeraaaaaaaaaaaaaa"),
                      FolderTransport)  # fmt: skip


def test_pushing_the_same_blob_twice_stores_it_once(tmp_path: Path) -> None:
    key = parse_seal_key(new_seal_key())
    t = SealedTransport(FolderTransport(tmp_path, "writeraaaaaaaaaaaaaa"), key)
    t.push([b"CPNE one"])
    t.push([b"CPNE one", b"CPNE two", b"CPNE two"])
    files = sorted((tmp_path / "writeraaaaaaaaaaaaaa").iterdir())
    assert len(files) == 2 and all(f.read_bytes()[:4] == b"CPNT" for f in files)
    assert b"CPNE" not in folder_bytes(tmp_path)
    assert t.pull(None).blobs == [b"CPNE one", b"CPNE two"]


# -- circles ---------------------------------------------------------------------------------------------------


def test_three_members_sealed_leave_no_header_field_in_the_folder(people, tmp_path: Path) -> None:
    sealed_dir, plain_dir = tmp_path / "sealed", tmp_path / "plain"
    sealed_dir.mkdir()
    plain_dir.mkdir()
    secrets = three_member_flow(people, ("ana", "ben", "cat"), folder=sealed_dir)
    data = folder_bytes(sealed_dir)
    assert len(list(sealed_dir.rglob("*.env"))) >= 10
    assert visible(data, secrets) == [] and visible(data, HEADER_KINDS) == []
    assert [m for m in MAGICS if m in data] == []
    # The same flow in a circle made before the seal: the scan does see every one of them there.
    control = three_member_flow(people, ("dan", "eve", "fay"), sealed=False, folder=plain_dir)
    plain = folder_bytes(plain_dir)
    assert visible(plain, control) == control and visible(plain, HEADER_KINDS) == list(HEADER_KINDS)
    assert b"CPNT" not in plain


def test_the_invite_carries_the_seal_and_joiners_keep_it(circle, shared: Path, people, tmp_path: Path) -> None:
    cid, p = circle
    ana, ben = p["ana"], p["ben"]
    mine = ana.app.circles._store.circle(cid).transport["seal"]
    code = ana.circles.invite(cid).value.code
    assert InviteCode.decode(code).transport["seal"] == mine
    assert ben.app.circles._store.circle(cid).transport["seal"] == mine  # joined through the fixture's invite
    assert mine not in ana.circles.get_circle(cid).transport
    # a joiner whose copy of the folder sits elsewhere keeps the circle's key, and so does re-pointing a folder
    dan = people["dan"]
    dan.circles.join(code, display_name="Dan", folder=shared)
    assert dan.app.circles._store.circle(cid).transport == {"kind": "folder", "path": str(shared), "seal": mine}
    ben.circles.set_transport(cid, {"kind": "folder", "path": str(tmp_path / "elsewhere")})
    assert ben.app.circles._store.circle(cid).transport["seal"] == mine
    ben.circles.set_transport(cid, {"kind": "folder", "path": str(shared)})
    dan.sync()
    ana.sync()
    dan.sync()
    assert dan.circles.get_circle(cid).state == "active"


def test_a_tampered_sealed_blob_is_refused_and_the_rest_applies(circle, shared: Path) -> None:
    cid, p = circle
    ana, ben = p["ana"], p["ben"]
    before = set(shared.rglob("*.env"))
    ana.circles.share(ana.entry("first", title="A"), cid)
    ana.sync()
    [first] = set(shared.rglob("*.env")) - before
    ana.circles.share(ana.entry("second", title="B"), cid)
    ana.sync()
    sealed = bytearray(first.read_bytes())
    sealed[-1] ^= 1  # the tag no longer matches
    foreign = TransportSeal(bytes(32)).wrap(ben.unseal(cid, first.read_bytes()))  # sealed under another key
    FolderTransport(shared, "carrieraaaaaaaaaaaaa").push([bytes(sealed), foreign])  # the carrier adds them
    [report] = ben.sync()
    # neither opens under any key Ben holds: kept in case a rotation brings the key, and the rest applies
    assert report.rejected == [] and report.deferred == 2
    assert report.applied == 2 and sorted(i.title for i in ben.inbox()) == ["A", "B"]
    age_pending(ben)  # given up on after the engine's waiting time: refused as unreadable
    [report] = ben.sync()
    assert sorted(r.reason for r in report.rejected) == ["unreadable", "unreadable"] and report.deferred == 0
    assert sorted(i.title for i in ben.inbox()) == ["A", "B"]


def test_a_circle_from_before_the_seal_still_syncs(people, shared: Path) -> None:
    ana, ben = people["ana"], people["ben"]
    cid = ana.circles.create_circle("Old group", folder=shared, display_name="Ana").value.id
    forget_seal(ana, cid)
    code = ana.circles.invite(cid).value.code
    assert "seal" not in InviteCode.decode(code).transport
    ben.circles.join(code, display_name="Ben")
    ben.sync()
    ana.sync()
    ben.sync()
    ana.circles.share(ana.entry("as before", title="Old"), cid)
    ana.sync()
    ben.sync()
    assert [i.text for i in ben.inbox()] == ["as before"]
    assert all(f.read_bytes()[:4] in MAGICS for f in shared.rglob("*.env"))


def test_an_unsealed_blob_in_a_sealed_circle_passes_through(circle, shared: Path) -> None:
    """A member whose app predates the seal (it dropped the key from the invite) still reaches the others."""
    cid, p = circle
    ana, ben = p["ana"], p["ben"]
    forget_seal(ana, cid)
    ana.circles.share(ana.entry("from an older app", title="Older"), cid)
    ana.sync()
    ben.sync()
    assert [i.text for i in ben.inbox()] == ["from an older app"]


def test_the_seal_key_is_only_inside_the_encrypted_vault(circle, shared: Path, tmp_path: Path) -> None:
    cid, p = circle
    ana = p["ana"]
    key = ana.app.circles._store.circle(cid).transport["seal"]
    ana.app.lock()
    for needle in (key.encode(), parse_seal_key(key)):
        assert not [f for f in (tmp_path / "vaults").rglob("*") if f.is_file() and needle in f.read_bytes()]
        assert needle not in folder_bytes(shared)
