"""``companion-relay``: a mailbox server that stores and forwards opaque, already-sealed envelopes.

It can read nothing: a mailbox holds ciphertext, and the relay keeps only a hash of the mailbox's capability.
See ``docs/relay-api.md`` for the HTTP API and ``server.py`` for the command line.
"""
