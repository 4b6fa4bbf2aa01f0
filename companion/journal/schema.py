"""The journal's tables. Step *i* of ``MIGRATIONS`` upgrades the journal schema to version *i + 1*."""

from __future__ import annotations

V1 = """
CREATE TABLE entries (
    id          INTEGER PRIMARY KEY,
    uid         TEXT NOT NULL UNIQUE,             -- stable id across export/import and sharing
    title       TEXT NOT NULL DEFAULT '',
    body        TEXT NOT NULL DEFAULT '',
    tag_text    TEXT NOT NULL DEFAULT '',         -- the entry's tags, space separated, for the search index
    mood        INTEGER CHECK (mood IS NULL OR mood BETWEEN 1 AND 5),
    created_at  TEXT NOT NULL,                    -- ISO 8601 with UTC offset, as the person dated it
    created_ts  INTEGER NOT NULL,                 -- the same instant in Unix seconds, for ordering
    day         TEXT NOT NULL,                    -- the entry's calendar day where it was written (YYYY-MM-DD)
    updated_at  TEXT NOT NULL,
    deleted_at  TEXT                              -- set while in the trash
);
CREATE INDEX entries_live ON entries(created_ts DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX entries_day ON entries(day) WHERE deleted_at IS NULL;
CREATE INDEX entries_trash ON entries(deleted_at) WHERE deleted_at IS NOT NULL;

CREATE TABLE tags (
    id    INTEGER PRIMARY KEY,
    name  TEXT NOT NULL UNIQUE COLLATE NOCASE
);
CREATE TABLE entry_tags (
    entry_id  INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
    tag_id    INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    PRIMARY KEY (entry_id, tag_id)
) WITHOUT ROWID;
CREATE INDEX entry_tags_by_tag ON entry_tags(tag_id, entry_id);

CREATE VIRTUAL TABLE entries_fts USING fts5(
    title, body, tag_text,
    content = 'entries', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER entries_fts_insert AFTER INSERT ON entries BEGIN
    INSERT INTO entries_fts(rowid, title, body, tag_text) VALUES (new.id, new.title, new.body, new.tag_text);
END;
CREATE TRIGGER entries_fts_delete AFTER DELETE ON entries BEGIN
    INSERT INTO entries_fts(entries_fts, rowid, title, body, tag_text)
        VALUES ('delete', old.id, old.title, old.body, old.tag_text);
END;
CREATE TRIGGER entries_fts_update AFTER UPDATE OF title, body, tag_text ON entries BEGIN
    INSERT INTO entries_fts(entries_fts, rowid, title, body, tag_text)
        VALUES ('delete', old.id, old.title, old.body, old.tag_text);
    INSERT INTO entries_fts(rowid, title, body, tag_text) VALUES (new.id, new.title, new.body, new.tag_text);
END;
"""

# v2: starred entries and free-form metadata (location, weather, where an imported entry came from), and a
# small settings table kept inside the encryption (preferences that could say something about the person).
V2 = """
ALTER TABLE entries ADD COLUMN starred INTEGER NOT NULL DEFAULT 0;
ALTER TABLE entries ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';
CREATE TABLE settings (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
"""

# v3: attachments (images kept inside the encrypted database, never as files) and, for imported entries, a
# stable key naming the source entry (e.g. ``dayone:<uuid>``): importing the same source again adds nothing.
V3 = """
ALTER TABLE entries ADD COLUMN source_key TEXT;
CREATE UNIQUE INDEX entries_source_key ON entries(source_key) WHERE source_key IS NOT NULL;
CREATE TABLE attachments (
    id          INTEGER PRIMARY KEY,
    uid         TEXT NOT NULL UNIQUE,
    entry_id    INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
    position    INTEGER NOT NULL DEFAULT 0,
    name        TEXT NOT NULL DEFAULT '',
    media_type  TEXT NOT NULL,
    size        INTEGER NOT NULL,
    sha256      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    data        BLOB NOT NULL
);
CREATE INDEX attachments_by_entry ON attachments(entry_id, position, id);
"""

# v4: a narrow index to look entries up by id. Search finds its matches in the FTS index and must then learn each
# match's date (to sort) and whether it is in the trash; reading that from the entry's own row means a page of
# entry text per match, which the encrypted database must decrypt (most of the cost of a search). This index
# answers from a few pages, and only the page of results reads the rows themselves.
V4 = """
CREATE INDEX entries_lookup ON entries(id, created_ts, mood, day) WHERE deleted_at IS NULL;
"""

MIGRATIONS: list[str] = [V1, V2, V3, V4]
