"""Typed errors of the comment moderation engine, each with a stable code.

They subclass :class:`~livegate.core.errors.ValidationFailed` because every one of them is a
bad input (a lexicon file, an entry, a message) that the caller must fix, never a server
fault; the web and CLI layers map them in one place by ``code``.
"""

from __future__ import annotations

from typing import Any

from livegate.core.errors import ValidationFailed

__all__ = [
    "ModerationError",
    "LexiconEntryInvalid",
    "LexiconFormatError",
    "AllowListInvalid",
    "MessageTooLong",
]


class ModerationError(ValidationFailed):
    """The moderation engine was given something it cannot use."""

    code = "moderation_error"


class LexiconEntryInvalid(ModerationError):
    """A lexicon entry is invalid (empty term, unknown category or action, bad severity)."""

    code = "lexicon_entry_invalid"


class LexiconFormatError(ModerationError):
    """A lexicon TSV row is malformed; ``details`` name the source and the 1-based line."""

    code = "lexicon_format_invalid"

    def __init__(self, message: str, *, source: str, line: int, **details: Any) -> None:
        super().__init__(f"{source}:{line}: {message}", source=source, line=line, **details)
        self.source = source
        self.line = line


class AllowListInvalid(ModerationError):
    """An allow-list word is empty once normalised (it would allow nothing or everything)."""

    code = "allow_list_invalid"


class MessageTooLong(ModerationError):
    """The message is longer than the moderator's limit."""

    code = "moderation_message_too_long"
