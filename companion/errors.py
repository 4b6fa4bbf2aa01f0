"""One error hierarchy for the whole app.

Every message is written for the person using Companion: it says what happened and, where it can, what to do
next. Messages never contain passphrases, keys or entry text. The UI shows them through one presenter; the
command line prints them as one line on stderr and exits non-zero.
"""

from __future__ import annotations


class CompanionError(Exception):
    """Base of every error Companion raises on purpose. ``str(error)`` is the message for the user."""

    exit_code = 1


# -- vault -------------------------------------------------------------------------------------------------------


class VaultError(CompanionError):
    """Something about the encrypted journal file itself."""


class NoVaultError(VaultError):
    exit_code = 3


class VaultExistsError(VaultError):
    exit_code = 3


class WrongPassphraseError(VaultError):
    """The passphrase did not open the journal. Nothing was changed."""

    exit_code = 4


class VaultCorruptError(VaultError):
    exit_code = 5


class VaultLockedError(VaultError):
    """An operation needs the journal open, but it is locked."""


class WeakParametersError(VaultError):
    """A header asks for key-derivation settings below the app's floor (possible tampering)."""

    exit_code = 5


# -- input and lookups ---------------------------------------------------------------------------------------------


class InvalidInputError(CompanionError):
    """A value given by the user is not acceptable (a malformed date, a mood outside 1–5, …)."""

    exit_code = 2


class NotFoundError(CompanionError):
    exit_code = 6


class CancelledError(CompanionError):
    """The person cancelled a long-running operation; nothing was changed."""


# -- crypto and sharing --------------------------------------------------------------------------------------------


class CryptoError(CompanionError):
    """Base of cryptographic failures."""


class InvalidEnvelope(CryptoError):  # noqa: N818  (named like pyca's InvalidToken on purpose)
    """An envelope failed to parse, verify or decrypt. Deliberately says no more than that."""

    def __init__(self, message: str = "This shared item could not be verified or opened; it was ignored.") -> None:
        super().__init__(message)


class InvalidSignature(CryptoError):  # noqa: N818  (one error for every signature or proof failure)
    """A signed message (roster operation, join request, check-in) or an invite proof did not verify."""

    def __init__(self, message: str = "A signature did not match; the message was ignored.") -> None:
        super().__init__(message)


class InvalidIdentity(CryptoError):  # noqa: N818
    """Stored or received identity keys are malformed or unsafe (for example a low-order key)."""

    def __init__(self, message: str = "These identity keys are damaged or unsafe and cannot be used.") -> None:
        super().__init__(message)


class TransportError(CompanionError):
    """A folder or relay could not be reached or used. Nothing was lost: outgoing items wait in the outbox."""


class RelayAccessError(TransportError):
    """The relay refused this circle's capability (missing, malformed or another's). Not retried."""

    def __init__(
        self,
        message: str = "The relay refused this circle's access key. The invite may be out of date or mistyped; "
        "ask the person who invited you for a new one. Nothing was lost: outgoing items wait in the outbox.",
    ) -> None:
        super().__init__(message)


# -- import, export and backup -----------------------------------------------------------------------------


class ImportFormatError(InvalidInputError):
    """A file to import is malformed. The message names the file and the place; nothing of it was imported."""

    def __init__(self, source: str, where: str, problem: str) -> None:
        self.source, self.where, self.problem = source, where, problem
        place = f" ({where})" if where else ""
        super().__init__(f"{source}{place}: {problem}. Nothing was imported from it.")


class BackupError(CompanionError):
    """A backup could not be written or restored. Nothing was changed."""

    exit_code = 5


class BackupCorruptError(BackupError):
    """A backup file failed its integrity check (damaged, truncated or altered); it was not restored."""
