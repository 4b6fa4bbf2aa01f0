"""Rotating the transport seal (protocol.md §10.2): keyrings, rotation when an admin removes a member, members
who were offline, two admins at once, sealing a circle made without a seal, and invites made before a rotation."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion.errors import InvalidInputError
from companion.sync.transports import check_settings, make_transport
from companion.sync.transports.folder import FolderTransport
from companion.sync.transports.sealed import (
    SealedTransport,
    SealRing,
    TransportSeal,
    install_key,
    invite_settings,
    key_id,
    new_seal_key,
    parse_seal_key,
    ring_keys,
)

# -- keyrings ----------------------------------------------------------------------------------------------------


def test_a_later_epoch_wins_and_a_tie_is_broken_the_same_way_everywhere() -> None:
    k0, a, b, c = (new_seal_key() for _ in range(4))
    base = {"kind": "folder", "path": "/x", "seal": k0}
    lo, hi = sorted((a, b), key=lambda k: key_id(parse_seal_key(k)))
    # two admins rotate from epoch 0 at once: whatever order the rotations arrive in, the higher key id wins
    one = install_key(install_key(base, lo, 1), hi, 1)
    two = install_key(install_key(base, hi, 1), lo, 1)
    assert one["seal"] == two["seal"] == hi and one["seal_epoch"] == two["seal_epoch"] == 1
    assert set(one["seal_previous"]) == set(two["seal_previous"]) == {lo, k0}  # nothing forgotten
    # a later rotation (epoch 2) wins over both, and an older one arriving late does not take over
    later = install_key(one, c, 2)
    assert later["seal"] == c and install_key(later, lo, 1)["seal"] == c
    assert ring_keys(later)[0] == parse_seal_key(c) and len(ring_keys(later)) == 4
    assert install_key(later, c, 2) == later  # the same rotation twice changes nothing
    assert check_settings(later) == later
    # a key learned for reading only (from a welcome) never becomes current
    assert install_key(base, a, None)["seal"] == k0


def test_invite_codes_carry_the_current_key_only() -> None:
    k0, k1 = new_seal_key(), new_seal_key()
    settings = install_key({"kind": "folder", "path": "/x", "seal": k0}, k1, 1)
    assert invite_settings(settings) == {"kind": "folder", "path": "/x", "seal": k1}


def test_damaged_keyrings_are_refused(tmp_path: Path) -> None:
    k0, k1 = new_seal_key(), new_seal_key()
    base = {"kind": "folder", "path": str(tmp_path), "seal": k0}
    for bad in ({"seal_previous": [k0]}, {"seal_previous": [k1, k1]}, {"seal_previous": ["nope"]},
                {"seal_previous": k1}, {"seal_epoch": -1}, {"seal_epoch": True}, {"seal_epoch": "2"}):  # fmt: skip
        with pytest.raises(InvalidInputError, match="seal key"):
            check_settings({**base, **bad})
    with pytest.raises(InvalidInputError, match="seal key"):
        check_settings({"kind": "folder", "path": str(tmp_path), "seal_previous": [k1]})


def test_a_keyring_opens_blobs_sealed_under_any_of_its_keys(tmp_path: Path) -> None:
    old, new = parse_seal_key(new_seal_key()), parse_seal_key(new_seal_key())
    FolderTransport(tmp_path, "writeraaaaaaaaaaaaaa").push(
        [TransportSeal(old).wrap(b"CPNE before"), TransportSeal(new).wrap(b"CPNE after"), b"CPNE unsealed"]
    )
    ring = SealedTransport(FolderTransport(tmp_path, "readeraaaaaaaaaaaaaa"), [new, old])
    assert ring.pull(None).blobs == [b"CPNE before", b"CPNE after", b"CPNE unsealed"]
    only_old = SealedTransport(FolderTransport(tmp_path, "readeraaaaaaaaaaaaaa"), old).pull(None).blobs
    assert only_old[0] == b"CPNE before" and only_old[1][:4] == b"CPNT" and only_old[2] == b"CPNE unsealed"
    assert SealRing([new, old]).wrap(b"x") == TransportSeal(new).wrap(b"x")  # sealing uses the current key
    settings = {"kind": "folder", "path": str(tmp_path), "seal": new_seal_key()}
    t = make_transport(install_key(settings, new_seal_key(), 1), writer_id="writeraaaaaaaaaaaaaa")
    assert isinstance(t, SealedTransport)
