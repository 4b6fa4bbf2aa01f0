"""The interface every transport implements. Transports move opaque bytes and nothing else.

A transport never sees plaintext: what it is given is already a sealed, signed envelope. It knows nothing
of circles, members or entries beyond the settings needed to reach its folder or mailbox.

Ordering and cursors: ``pull`` returns blobs the caller has not seen since ``cursor`` (an opaque string the
transport made, or ``None`` for "from the beginning") and a new cursor to store once the batch is applied.
Delivery is at-least-once: a blob may come again after a crash between apply and storing the cursor, and the
sync engine is idempotent for exactly that reason.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Pulled:
    blobs: list[bytes]
    cursor: str | None
    more: bool = False  # True when the transport stopped at a limit and another pull would return more


class Transport(ABC):
    """One circle's channel. Implementations: ``folder.FolderTransport``, ``relay.RelayTransport``; either may be
    seen through ``sealed.SealedTransport`` (the circle's transport seal), which keeps this same contract."""

    @abstractmethod
    def push(self, blobs: Sequence[bytes]) -> None:
        """Store this device's outgoing blobs durably. Idempotent: pushing the same blob twice stores it once.

        Raises ``TransportError`` when the destination cannot be reached or written; nothing is half-written.
        """

    def push_as_is(self, blobs: Sequence[bytes]) -> None:
        """Store blobs that are already in the form the carrier keeps (the sync plan sealed each one, see
        ``sealed.py``). The same as :meth:`push` for a transport that changes nothing; a wrapper that changes what
        it pushes (``SealedTransport``) passes these through to its inner transport untouched."""
        self.push(blobs)

    @abstractmethod
    def pull(self, cursor: str | None, limit: int = 1000) -> Pulled:
        """Blobs written by anyone (this device included) after ``cursor``, at most ``limit`` of them."""

    def wait(self, timeout: float) -> bool:
        """Block until something new may have arrived or ``timeout`` seconds pass; True if woken early.

        Transports without a push channel just sleep; the relay transport listens on its push channel.
        """
        import time

        time.sleep(timeout)
        return False

    def close(self) -> None:  # noqa: B027  (optional hook)
        """Release connections. Safe to call twice."""
