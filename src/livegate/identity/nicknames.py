"""Nicknames: "any name up front" (Art. 12), but not one that passes for the platform or an authority."""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from typing import Any, Final

from livegate.identity.errors import NicknameRefused

__all__ = ["RESERVED_WORDS", "check_nickname", "default_moderator"]

log = logging.getLogger(__name__)

MAX_NICKNAME: Final = 24

# Words that make a nickname look like the platform, its staff or a public authority.
RESERVED_WORDS: Final = (
    "官方", "管理员", "客服", "网信办", "网信", "公安", "警察", "派出所", "政府", "监管", "超管", "房管",
    "admin", "official", "livegate", "police", "moderator",
)  # fmt: skip
_DROP: Final = re.compile(r"[\s\W_]+", re.UNICODE)
# Digits and symbols commonly used in place of letters.
_LEET: Final = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})


def _folded(value: str) -> str:
    text = unicodedata.normalize("NFKC", value).casefold()
    return _DROP.sub("", text)


@functools.cache
def default_moderator() -> Any | None:
    """The comment moderator built from the shipped lexicon (immutable, built once per process),
    or None when the chat lexicon is not available."""
    try:
        from livegate.chat.lexicon import Moderator

        return Moderator.default()
    except Exception:  # the lexicon is optional here; the reserved words above still apply
        log.warning("the moderation lexicon could not be loaded; nicknames are checked without it")
        return None


def check_nickname(raw: str, *, moderator: Any | None = None) -> str:
    """The nickname to store (NFKC, spaces collapsed), or raise :class:`NicknameRefused` with the reason.

    With a ``moderator`` (:class:`livegate.chat.lexicon.Moderator`), a nickname the comment
    lexicon would block, hold or mask is refused too (reason ``lexicon``).
    """
    if not isinstance(raw, str):
        raise NicknameRefused("Enter a nickname.", reason="empty")
    nick = " ".join(unicodedata.normalize("NFKC", raw).split())
    if not nick:
        raise NicknameRefused("Enter a nickname.", reason="empty")
    if len(nick) > MAX_NICKNAME:
        raise NicknameRefused(f"A nickname has at most {MAX_NICKNAME} characters.", reason="length")
    if any(unicodedata.category(c) in {"Cc", "Cf", "Co", "Cs"} for c in nick):
        raise NicknameRefused("A nickname cannot contain control or invisible characters.", reason="characters")
    folded = _folded(nick)
    variants = {folded, folded.translate(_LEET)}
    for word in RESERVED_WORDS:
        if any(word in v for v in variants):
            raise NicknameRefused(
                "A nickname cannot suggest the platform, its staff or an authority.", reason="impersonation",
            )
    if moderator is not None:
        decision = moderator.moderate(nick)
        if str(getattr(decision.action, "value", decision.action)) in {"block", "hold", "mask"}:
            category = decision.category
            raise NicknameRefused("This nickname contains words that may not be published.", reason="lexicon",
                                  category=str(getattr(category, "value", category) or ""))
    return nick
