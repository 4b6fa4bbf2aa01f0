"""Plain values the circles service returns (no SQL, no Qt): what the UI and the command line show."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


class _Json:
    def to_json(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]


@dataclass(frozen=True)
class IdentityInfo(_Json):
    member_id: str  # the fingerprint: a stable id derived from the public keys
    fingerprint: str


@dataclass(frozen=True)
class CircleInfo(_Json):
    id: str
    name: str  # "" while joining (it arrives with the welcome)
    my_name: str
    state: str  # joining | active | removed | left
    role: str  # admin | member | "" (not a member)
    transport: str  # a description without secrets
    members: int
    pending_requests: int
    outbox: int
    last_sync: int | None
    roster_seq: int
    note: str = ""  # e.g. for a circle you were removed from: what that means, plainly
    sealed: bool = False  # the folder or relay sees only opaque blobs (a transport seal, protocol.md §10)


@dataclass(frozen=True)
class MemberInfo(_Json):
    member_id: str
    name: str
    role: str
    status: str  # active | removed | left
    verified: bool
    key_changed: bool
    is_me: bool
    note: str = ""  # e.g. what a removed member keeps
    joined_as: str = ""  # the name the roster's signed `add` gave them, when they have chosen another since


@dataclass(frozen=True)
class InviteInfo(_Json):
    circle_id: str
    invite_id: str
    code: str  # text to pass on; also the QR code's content
    qr: str
    expires_at: int
    approve: bool


@dataclass(frozen=True)
class JoinRequestInfo(_Json):
    circle_id: str
    member_id: str
    name: str
    state: str
    received_at: int


@dataclass(frozen=True)
class SafetyNumber(_Json):
    member_id: str
    digits: str  # 12 groups of 5
    qr: str


@dataclass(frozen=True)
class SharePreview(_Json):
    """Exactly what a share will send: the payload as it will be sealed, and who can open it."""

    circle_id: str
    item_id: str
    revision: int
    recipients: list[dict[str, str]]  # [{"member_id", "name"}]
    payload: dict[str, Any]


@dataclass(frozen=True)
class ShareInfo(_Json):
    entry_id: int
    circle_id: str
    item_id: str
    revision: int
    state: str  # shared | retracted
    audience: list[str]
    changed_since: bool = False  # the entry was edited after this revision was sent
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReplyInfo(_Json):
    reply_id: str
    item_id: str
    author: str
    author_name: str
    kind: str
    text: str
    created_at: int
    mine: bool


@dataclass(frozen=True)
class InboxItem(_Json):
    circle_id: str
    circle_name: str
    item_id: str
    author: str
    author_name: str
    revision: int
    title: str
    text: str
    excerpt: bool
    warning: str
    replies_welcome: bool
    mood: int | None
    tags: list[str]
    shared_at: int
    received_at: int
    expires_at: int | None
    read: bool
    replies: list[ReplyInfo] = field(default_factory=list)


@dataclass(frozen=True)
class RejectionInfo(_Json):
    circle_id: str
    blob_id: str
    author: str | None
    reason: str
    at: int
