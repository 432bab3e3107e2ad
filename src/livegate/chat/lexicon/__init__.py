"""Comment and danmaku moderation: a normalising, explainable multi-pattern lexicon matcher.

Pure (no I/O beyond reading the packaged data files): build a :class:`Moderator` from a
:class:`Lexicon` and an :class:`AllowList` once, then call :meth:`Moderator.moderate` for every
message; swap lexicons with :class:`ModeratorSlot`.
"""

from livegate.chat.lexicon.errors import (
    AllowListInvalid,
    LexiconEntryInvalid,
    LexiconFormatError,
    MessageTooLong,
    ModerationError,
)
from livegate.chat.lexicon.lexicon import Action, AllowList, Category, Lexicon, LexiconEntry
from livegate.chat.lexicon.matcher import KeyKind, MatchPolicy
from livegate.chat.lexicon.moderator import (
    Hit,
    ModerationDecision,
    Moderator,
    ModeratorSlot,
    moderate_lines,
)
from livegate.chat.lexicon.normalize import Step, normalize_text

__all__ = [
    "Action",
    "AllowList",
    "AllowListInvalid",
    "Category",
    "Hit",
    "KeyKind",
    "Lexicon",
    "LexiconEntry",
    "LexiconEntryInvalid",
    "LexiconFormatError",
    "MatchPolicy",
    "MessageTooLong",
    "ModerationDecision",
    "ModerationError",
    "Moderator",
    "ModeratorSlot",
    "Step",
    "moderate_lines",
    "normalize_text",
]
