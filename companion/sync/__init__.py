"""Sharing with circles: protocol (encode/verify/apply), engine (outbox/inbox), transports (folder, relay)."""
