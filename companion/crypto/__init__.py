"""Companion's cryptographic core: identities, safety numbers and end-to-end encrypted envelopes (no Qt).

Recipes, not primitives: :func:`seal` / :func:`open_envelope` / :func:`verify_envelope` for envelopes,
:func:`sign_message` / :func:`verify_message` for signed protocol messages, :func:`derive_key` for every derived
key (labels ``companion:v1:...``). Envelope failures raise :class:`~companion.errors.InvalidEnvelope`, signature
failures :class:`~companion.errors.InvalidSignature`, bad key material :class:`~companion.errors.InvalidIdentity`.
The wire formats are specified in ``docs/protocol.md``.
"""

from companion.crypto.derive import derive_key, invite_id, invite_proof, new_secret, verify_invite_proof
from companion.crypto.envelope import (
    BUCKETS,
    KINDS,
    MAX_PAYLOAD,
    MAX_RECIPIENTS,
    Header,
    Opened,
    envelope_id,
    new_content_key,
    open_envelope,
    peek_header,
    seal,
    verify_envelope,
)
from companion.crypto.identity import Identity, PublicIdentity, sign_message, verify_message
from companion.crypto.safety import check_safety_number, safety_number, safety_number_qr
from companion.crypto.suites import DEFAULT_SUITE, SUITES

SUITE_NAMES = tuple(s.name for s in SUITES)

__all__ = [
    "BUCKETS",
    "DEFAULT_SUITE",
    "KINDS",
    "MAX_PAYLOAD",
    "MAX_RECIPIENTS",
    "SUITE_NAMES",
    "Header",
    "Identity",
    "Opened",
    "PublicIdentity",
    "check_safety_number",
    "derive_key",
    "envelope_id",
    "invite_id",
    "invite_proof",
    "new_content_key",
    "new_secret",
    "open_envelope",
    "peek_header",
    "safety_number",
    "safety_number_qr",
    "seal",
    "sign_message",
    "verify_envelope",
    "verify_invite_proof",
    "verify_message",
]
