"""Bringing a journal in, taking it out, and backing it up.

* :mod:`.attachments` — images kept inside the encrypted vault (never as files);
* :mod:`.importers` — jrnl (plain text and JSON), Day One (JSON export, zip or folder), a folder of Markdown
  notes, and Companion's own JSON export, each parsed into :class:`.model.ImportedEntry` records;
* :mod:`.importing` — applies parsed records in one transaction, skipping what was imported before;
* :mod:`.backup` — the single-file encrypted, integrity-checked backup and its restore;
* :mod:`.pdf` — drives the Qt PDF writer in ``companion/ui/pdf_journal.py`` (imported lazily).

No module here imports Qt, and nothing decrypted is written anywhere but to a path the person chose for an
export.
"""
