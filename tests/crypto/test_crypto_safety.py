"""Safety numbers: symmetric, stable, 60 digits in 12 groups, and different whenever either key changes."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from companion.crypto import Identity, check_safety_number, safety_number, safety_number_qr
from companion.crypto.safety import QR_PREFIX

from .crypto_support import TRIALS, FixedRng

QR_ALPHANUMERIC = re.compile(r"[0-9A-Z $%*+\-./:]+")


def test_format_and_symmetry(pool):
    a, b = pool[0].public, pool[1].public
    number = safety_number(a, b)
    assert re.fullmatch(r"\d{5}( \d{5}){11}", number)
    assert safety_number(b, a) == number
    qr = safety_number_qr(a, b)
    assert qr == safety_number_qr(b, a) and qr.startswith(QR_PREFIX)
    assert QR_ALPHANUMERIC.fullmatch(qr) and len(qr) <= 120


def test_stable_across_serialisation(pool):
    a, b = pool[2], pool[3]
    a2 = Identity.from_bytes(a.to_bytes())
    assert safety_number(a2.public, b.public) == safety_number(a.public, b.public)


@settings(max_examples=6 * TRIALS, deadline=None)
@given(seed=st.binary(min_size=1, max_size=8), which=st.sampled_from(["first", "second"]))
def test_any_key_change_changes_the_number(pool, seed, which):
    a, b = pool[4].public, pool[5].public
    new = Identity.generate(FixedRng(b"replacement" + seed)).public
    changed = (new, b) if which == "first" else (a, new)
    assert safety_number(*changed) != safety_number(a, b)
    assert safety_number_qr(*changed) != safety_number_qr(a, b)


def test_a_change_in_any_single_key_of_the_bundle_changes_the_number(pool):
    """Each of the three keys (signing, X25519, hybrid) is covered: swap one at a time."""
    from companion.crypto.identity import PublicIdentity

    a, b, c = pool[6].public.to_bytes(), pool[7].public, pool[8].public.to_bytes()
    base = safety_number(PublicIdentity(a), b)
    for start, end in ((5, 37), (37, 69), (69, 1253), (1253, 1285)):
        mixed = PublicIdentity(a[:start] + c[start:end] + a[end:])
        assert safety_number(mixed, b) != base


def test_check_accepts_digits_with_any_spacing_and_the_qr_form(pool):
    a, b = pool[0].public, pool[1].public
    number = safety_number(a, b)
    assert check_safety_number(a, b, number)
    assert check_safety_number(b, a, number.replace(" ", ""))
    assert check_safety_number(a, b, "\n" + number.replace(" ", "  ") + " ")
    assert check_safety_number(a, b, safety_number_qr(a, b))
    assert check_safety_number(a, b, safety_number_qr(a, b).lower())
    wrong = ("0" if number[0] != "0" else "1") + number[1:]
    for bad in (wrong, number[:-1], safety_number(a, pool[2].public), safety_number_qr(a, pool[2].public), "", 5):
        assert not check_safety_number(a, b, bad)  # type: ignore[arg-type]
