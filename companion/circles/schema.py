"""The circles component's tables (identity, circles, roster, members, invites, shares, inbox, sync state).

Everything here lives inside the encrypted vault. Step *i* of ``MIGRATIONS`` upgrades to version *i + 1*.
"""

from __future__ import annotations

V1 = """
CREATE TABLE circle_identity (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    secret      BLOB NOT NULL,                    -- Identity.to_bytes(): private keys, never leave the vault
    created_at  INTEGER NOT NULL
);

CREATE TABLE circles (
    id            TEXT PRIMARY KEY,               -- random, appears in envelope headers
    name          TEXT NOT NULL DEFAULT '',       -- only ever inside sealed roster ops / welcomes
    my_name       TEXT NOT NULL DEFAULT '',       -- my display name in this circle
    transport     TEXT NOT NULL,                  -- JSON {"kind": "folder", ...} / {"kind": "relay", ...}
    writer_id     TEXT NOT NULL,                  -- this device's random subfolder / writer id
    suite         TEXT NOT NULL,
    state         TEXT NOT NULL,                  -- joining | active | removed | left | refused
    roster_seq    INTEGER NOT NULL DEFAULT 0,
    roster_head   BLOB NOT NULL DEFAULT x'',
    cursor        TEXT,                           -- the transport's cursor after the last applied batch
    invite_id     TEXT,                           -- while joining: the invite we answered
    invite_secret BLOB,                           -- while joining: its one-time secret
    inviter       TEXT,                           -- while joining: the inviter's fingerprint
    created_at    INTEGER NOT NULL,
    last_sync     INTEGER
);

CREATE TABLE roster_ops (
    circle_id  TEXT NOT NULL REFERENCES circles(id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    op         BLOB NOT NULL,                     -- canonical signed bytes
    sig        BLOB NOT NULL,
    hash       BLOB NOT NULL,
    PRIMARY KEY (circle_id, seq)
) WITHOUT ROWID;

CREATE TABLE members (
    circle_id    TEXT NOT NULL REFERENCES circles(id) ON DELETE CASCADE,
    member_id    TEXT NOT NULL,                   -- the member's fingerprint
    public       BLOB NOT NULL,
    name         TEXT NOT NULL DEFAULT '',
    role         TEXT NOT NULL,                   -- admin | member
    status       TEXT NOT NULL,                   -- active | removed | left
    verified     INTEGER NOT NULL DEFAULT 0,
    key_changed  INTEGER NOT NULL DEFAULT 0,      -- set when this person's key replaced an earlier one
    joined_seq   INTEGER NOT NULL,
    ended_seq    INTEGER,
    watermark    INTEGER,                         -- after removal/leave: highest counter still accepted
    PRIMARY KEY (circle_id, member_id)
) WITHOUT ROWID;

CREATE TABLE invites (
    id          TEXT PRIMARY KEY,                 -- invite_id(secret): public handle
    circle_id   TEXT NOT NULL REFERENCES circles(id) ON DELETE CASCADE,
    secret      BLOB NOT NULL,
    approve     INTEGER NOT NULL DEFAULT 0,
    replaces    TEXT,                             -- for a member's new key: the member id it replaces
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_by     TEXT,
    used_at     INTEGER
);

CREATE TABLE join_requests (
    circle_id    TEXT NOT NULL REFERENCES circles(id) ON DELETE CASCADE,
    invite_id    TEXT NOT NULL,
    member_id    TEXT NOT NULL,
    public       BLOB NOT NULL,
    name         TEXT NOT NULL DEFAULT '',
    state        TEXT NOT NULL,                   -- pending | admitted | declined
    received_at  INTEGER NOT NULL,
    PRIMARY KEY (circle_id, member_id)
) WITHOUT ROWID;

CREATE TABLE shares (                            -- what I shared: one row per (entry, circle) item
    item_id      TEXT PRIMARY KEY,
    circle_id    TEXT NOT NULL REFERENCES circles(id) ON DELETE CASCADE,
    entry_uid    TEXT NOT NULL,
    revision     INTEGER NOT NULL,
    audience     TEXT NOT NULL,                   -- JSON list of member ids, or null for "the whole circle"
    options      TEXT NOT NULL,                   -- JSON of the sharing choices
    digest       TEXT NOT NULL,                   -- hash of the entry fields as last sent (to offer a new revision)
    state        TEXT NOT NULL,                   -- shared | retracted
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX shares_by_entry ON shares(entry_uid);

CREATE TABLE inbox (                             -- items others shared with me (and my own replies' parents)
    item_id      TEXT NOT NULL,
    circle_id    TEXT NOT NULL REFERENCES circles(id) ON DELETE CASCADE,
    author       TEXT NOT NULL,
    revision     INTEGER NOT NULL,
    payload      TEXT NOT NULL,                   -- JSON of the opened payload
    shared_at    INTEGER NOT NULL,                -- the author's clock (display only)
    received_at  INTEGER NOT NULL,                -- my clock
    expires_at   INTEGER,                         -- my clock: received_at + the author's chosen lifetime
    read         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (circle_id, item_id)
) WITHOUT ROWID;

CREATE TABLE replies (                           -- with a rowid: the order replies arrived in
    reply_id     TEXT NOT NULL,
    circle_id    TEXT NOT NULL REFERENCES circles(id) ON DELETE CASCADE,
    item_id      TEXT NOT NULL,                   -- the shared item it answers
    author       TEXT NOT NULL,
    kind         TEXT NOT NULL,                   -- reply | reaction
    text         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    PRIMARY KEY (circle_id, reply_id)
);
CREATE INDEX replies_by_item ON replies(circle_id, item_id);

CREATE TABLE gone_items (                        -- retracted or expired: never to come back
    circle_id  TEXT NOT NULL,
    item_id    TEXT NOT NULL,
    revision   INTEGER NOT NULL,
    reason     TEXT NOT NULL,                     -- retracted | expired
    at         INTEGER NOT NULL,
    PRIMARY KEY (circle_id, item_id)
) WITHOUT ROWID;

CREATE TABLE item_authors (                     -- who wrote each item id seen (even ones not for me)
    circle_id  TEXT NOT NULL,
    item_id    TEXT NOT NULL,
    author     TEXT NOT NULL,
    PRIMARY KEY (circle_id, item_id, author)
) WITHOUT ROWID;

CREATE TABLE counters (                          -- my next counter per circle
    circle_id  TEXT PRIMARY KEY,
    next       INTEGER NOT NULL
);

CREATE TABLE seen_envelopes (                    -- every blob this vault has decided on, by content address
    blob_id    TEXT PRIMARY KEY,
    circle_id  TEXT NOT NULL,
    author     TEXT,
    counter    INTEGER,
    outcome    TEXT NOT NULL,
    at         INTEGER NOT NULL
);
CREATE UNIQUE INDEX seen_author_counter ON seen_envelopes(circle_id, author, counter)
    WHERE author IS NOT NULL AND counter IS NOT NULL;

CREATE TABLE pending_blobs (                     -- verified later: author or roster state not known yet
    blob_id    TEXT PRIMARY KEY,
    circle_id  TEXT NOT NULL,
    blob       BLOB NOT NULL,
    reason     TEXT NOT NULL,
    first_seen INTEGER NOT NULL
);

CREATE TABLE outbox (
    id         INTEGER PRIMARY KEY,
    circle_id  TEXT NOT NULL,
    blob_id    TEXT NOT NULL UNIQUE,
    blob       BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    sent_at    INTEGER
);
CREATE INDEX outbox_unsent ON outbox(circle_id, id) WHERE sent_at IS NULL;

CREATE TABLE rejections (                        -- what was refused and why; never any content
    id         INTEGER PRIMARY KEY,
    circle_id  TEXT NOT NULL,
    blob_id    TEXT NOT NULL,
    author     TEXT,
    reason     TEXT NOT NULL,
    at         INTEGER NOT NULL
);
"""

V2_MEETINGS = """
CREATE TABLE meeting_announcements (           -- facilitator side: meetings I announced to a circle
    meeting_uid   TEXT NOT NULL,                  -- att_meetings.uid (opaque; only inside sealed payloads)
    circle_id     TEXT NOT NULL,
    item_id       TEXT NOT NULL UNIQUE,           -- the announcement's random item id (in clear in headers)
    revision      INTEGER NOT NULL,
    include_topic INTEGER NOT NULL DEFAULT 0,
    digest        TEXT NOT NULL,                  -- of the payload last sent: an edit is sent only if it differs
    state         TEXT NOT NULL,                  -- announced | withdrawn
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (meeting_uid, circle_id)
) WITHOUT ROWID;

CREATE TABLE announced_meetings (              -- member side: announcements received from a circle's admins
    circle_id     TEXT NOT NULL REFERENCES circles(id) ON DELETE CASCADE,
    item_id       TEXT NOT NULL,
    author        TEXT NOT NULL,
    revision      INTEGER NOT NULL,
    meeting_uid   TEXT NOT NULL,
    starts_at     TEXT NOT NULL,                  -- ISO 8601 with offset
    format        TEXT NOT NULL,
    minutes       INTEGER NOT NULL,
    topic         TEXT NOT NULL DEFAULT '',       -- only if the facilitator chose to include it
    received_at   INTEGER NOT NULL,
    PRIMARY KEY (circle_id, item_id)
) WITHOUT ROWID;

CREATE INDEX announced_meetings_uid ON announced_meetings(meeting_uid);

CREATE TABLE my_check_ins (                    -- member side: check-ins I sent (one per meeting and circle)
    circle_id     TEXT NOT NULL,
    meeting_uid   TEXT NOT NULL,
    message_id    TEXT NOT NULL UNIQUE,
    checked_in_at TEXT NOT NULL,
    PRIMARY KEY (circle_id, meeting_uid)
) WITHOUT ROWID;
"""

V3_STATUS = """
CREATE TABLE member_status (                     -- available to support (1) or taking a break (0), as each said
    circle_id  TEXT NOT NULL,
    member_id  TEXT NOT NULL,
    available  INTEGER NOT NULL,
    counter    INTEGER NOT NULL,                  -- the status envelope's counter: only a newer one replaces it
    at         INTEGER NOT NULL,                  -- when this device learned it
    PRIMARY KEY (circle_id, member_id)
) WITHOUT ROWID;
"""

# v4: the envelope counter of what is shown. A member's removal carries a watermark (the highest counter the
# admin had accepted from them); anything of theirs above it that reached this device *before* the removal did
# is taken back when the removal arrives, which needs to know each row's counter.
V4_COUNTERS = """
ALTER TABLE inbox ADD COLUMN counter INTEGER;
ALTER TABLE replies ADD COLUMN counter INTEGER;
ALTER TABLE announced_meetings ADD COLUMN counter INTEGER;
"""

# v5: the transport seal's rotations (protocol.md §10.2). An outbox blob may be *pinned* to the seal it must go out
# under: NULL = the circle's current key when the sync plans it; '' = unsealed; else a seal key (base64). An admin
# who rotates pins what already waits to the old key (the removal must reach the removed member; the new key must
# reach the others under the key they hold), and a welcome goes out under the seal its invite code carried
# (recorded here per invite: '' for none). Invites made before v5 carried the circle's key of that time, which no
# rotation has replaced yet, so they get the current one.
V5_SEAL_ROTATION = """
ALTER TABLE outbox ADD COLUMN seal TEXT;
ALTER TABLE invites ADD COLUMN seal TEXT;
UPDATE invites SET seal = (SELECT coalesce(json_extract(c.transport, '$.seal'), '') FROM circles c
                           WHERE c.id = invites.circle_id);
"""

# v6: display names members chose for themselves (companion/circles/names.py). The roster's `name` stays what the
# admin's signed `add` said (history); this holds each member's latest signed name statement, which is what is shown.
V6_NAMES = """
CREATE TABLE member_names (
    circle_id  TEXT NOT NULL,
    member_id  TEXT NOT NULL,
    name       TEXT NOT NULL,
    counter    INTEGER NOT NULL,                  -- the statement's counter: only a greater one replaces it
    statement  TEXT NOT NULL,                     -- JSON {"statement", "sig"}: relayed verbatim in welcomes
    at         INTEGER NOT NULL,                  -- when this device learned it
    PRIMARY KEY (circle_id, member_id)
) WITHOUT ROWID;
"""

MIGRATIONS: list[str] = [V1, V2_MEETINGS, V3_STATUS, V4_COUNTERS, V5_SEAL_ROTATION, V6_NAMES]
