"""The attendance component's tables. Step *i* of ``MIGRATIONS`` upgrades them to version *i + 1*.

Everything here lives inside the encrypted vault. People's names or pseudonyms, topics and notes never leave
it: reports are built from counts only (see :mod:`companion.attendance.report`).
"""

from __future__ import annotations

V1 = """
CREATE TABLE att_meetings (
    id          INTEGER PRIMARY KEY,
    uid         TEXT NOT NULL UNIQUE,             -- stable id, carried by members' check-ins
    starts_at   TEXT NOT NULL,                    -- ISO 8601 with UTC offset
    day         TEXT NOT NULL,                    -- local calendar day (YYYY-MM-DD): the report period
    format      TEXT NOT NULL CHECK (format IN ('in_person', 'online', 'one_to_one')),
    minutes     INTEGER NOT NULL CHECK (minutes BETWEEN 1 AND 1440),
    circle_id   TEXT,                             -- opaque circle id, when the meeting belongs to a circle
    topic       TEXT NOT NULL DEFAULT '',
    notes       TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX att_meetings_day ON att_meetings(day, starts_at);

CREATE TABLE att_people (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE COLLATE NOCASE,  -- the facilitator's name or pseudonym; never exported
    member_id   TEXT UNIQUE,                      -- opaque circle member id, when the person uses the app
    created_at  TEXT NOT NULL
);

CREATE TABLE att_marks (
    meeting_id  INTEGER NOT NULL REFERENCES att_meetings(id) ON DELETE CASCADE,
    person_id   INTEGER NOT NULL REFERENCES att_people(id) ON DELETE CASCADE,
    source      TEXT NOT NULL DEFAULT 'facilitator' CHECK (source IN ('facilitator', 'check_in')),
    marked_at   TEXT NOT NULL,
    PRIMARY KEY (meeting_id, person_id)
) WITHOUT ROWID;
CREATE INDEX att_marks_person ON att_marks(person_id, meeting_id);

-- Members' check-ins arrive through the circle and wait here until the facilitator confirms or declines them.
CREATE TABLE att_check_ins (
    id            INTEGER PRIMARY KEY,
    message_id    TEXT NOT NULL UNIQUE,           -- the check-in's own random id (a repeat is ignored)
    meeting_uid   TEXT NOT NULL,
    member_id     TEXT NOT NULL,
    circle_id     TEXT,
    display_name  TEXT NOT NULL DEFAULT '',
    checked_in_at TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'confirmed', 'declined')),
    decided_at    TEXT
);
CREATE INDEX att_check_ins_pending ON att_check_ins(status, received_at);

-- What was released, per period and method: asking again returns exactly these numbers.
CREATE TABLE att_releases (
    id           INTEGER PRIMARY KEY,
    period_kind  TEXT NOT NULL CHECK (period_kind IN ('month', 'quarter')),
    period_label TEXT NOT NULL,                   -- 2026-03 or 2026-Q1
    first_day    TEXT NOT NULL,
    last_day     TEXT NOT NULL,
    method       TEXT NOT NULL,                   -- strict, nhs or dp
    epsilon      TEXT NOT NULL DEFAULT '',        -- '' unless method = dp
    rows_json    TEXT NOT NULL,                   -- the released rows, exactly as published
    released_on  TEXT NOT NULL,                   -- the day of the first release (no time)
    UNIQUE (period_label, method, epsilon)
);
CREATE INDEX att_releases_days ON att_releases(first_day, last_day);

-- Differential privacy: epsilon spent per period; an export that would go over the budget is refused.
CREATE TABLE att_dp_budget (
    period_label TEXT PRIMARY KEY,
    budget       TEXT NOT NULL,
    spent        TEXT NOT NULL
);
"""

MIGRATIONS: list = [V1]
