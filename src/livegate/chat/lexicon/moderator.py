"""Moderating one chat message (弹幕/评论) against the lexicon, with an explanation.

The live-streaming Measures (Art. 9, 11) require real-time management of comments; a
decision must be fast enough for every danmaku and explainable enough for a reviewer and
an audit: each :class:`ModerationDecision` names the action, the term, its category and
severity, the span of the *original* message, and the normalisation steps that exposed a
disguised spelling.

A :class:`Moderator` is compiled once and never changes, so any number of threads can call
:meth:`Moderator.moderate` at once; a reload builds a new one and swaps the reference held by a
:class:`ModeratorSlot`, so a message is judged entirely by the old list or entirely by the new.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from livegate.chat.lexicon.errors import MessageTooLong
from livegate.chat.lexicon.lexicon import Action, AllowList, Category, Lexicon
from livegate.chat.lexicon.matcher import CandidateHit, CompiledLexicon, MatchPolicy
from livegate.chat.lexicon.normalize import Step

__all__ = ["Hit", "ModerationDecision", "Moderator", "ModeratorSlot", "moderate_lines"]

MASK_CHAR = "*"


@dataclass(frozen=True, slots=True)
class Hit:
    """One lexicon term found in the message."""

    term: str
    category: Category
    severity: int
    action: Action
    start: int  # original span [start, end), in code points of the message as given
    end: int
    original: str  # the message's text in that span, disguise and all
    steps: tuple[str, ...]  # normalisation steps that made it match; () for a verbatim hit
    via: str  # which key matched: term, pinyin_full, pinyin_initials, pinyin_mixed, homophone

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "term": self.term,
            "category": self.category.value,
            "severity": self.severity,
            "action": self.action.value,
            "span": [self.start, self.end],
            "original": self.original,
            "steps": list(self.steps),
            "via": self.via,
        }


@dataclass(frozen=True, slots=True)
class ModerationDecision:
    """The outcome for one message; ``hits[0]`` is the hit that decided it.

    ``masked_text`` is set only when the action is ``mask``: the message with every masked
    hit's original span replaced by ``*``.
    """

    action: Action
    hits: tuple[Hit, ...] = ()
    masked_text: str | None = None
    lexicon_version: str = ""

    @property
    def decisive(self) -> Hit | None:
        return self.hits[0] if self.hits else None

    @property
    def category(self) -> Category | None:
        return self.hits[0].category if self.hits else None

    @property
    def severity(self) -> int:
        return self.hits[0].severity if self.hits else 0

    @property
    def matched(self) -> str | None:
        """The lexicon term that decided the action."""
        return self.hits[0].term if self.hits else None

    @property
    def span(self) -> tuple[int, int] | None:
        return (self.hits[0].start, self.hits[0].end) if self.hits else None

    @property
    def steps(self) -> tuple[str, ...]:
        return self.hits[0].steps if self.hits else ()

    def to_json_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: action, category, matched, severity, span, steps, hits..."""
        decisive = self.decisive
        return {
            "action": self.action.value,
            "category": decisive.category.value if decisive else None,
            "matched": decisive.term if decisive else None,
            "severity": decisive.severity if decisive else 0,
            "span": [decisive.start, decisive.end] if decisive else None,
            "original": decisive.original if decisive else None,
            "steps": list(decisive.steps) if decisive else [],
            "masked_text": self.masked_text,
            "lexicon_version": self.lexicon_version,
            "hits": [hit.to_json_dict() for hit in self.hits],
        }


@functools.lru_cache(maxsize=1024)
def _step_values(steps: tuple[Step, ...]) -> tuple[str, ...]:
    """The steps as plain strings (few distinct combinations occur)."""
    return tuple(step.value for step in steps)


def _hit_order(hit: Hit) -> tuple[int, int, int, int]:
    return (-hit.action.rank, -hit.severity, hit.start, hit.start - hit.end)


class Moderator:
    """A lexicon and allow-list compiled for moderation; immutable and thread-safe."""

    __slots__ = ("_compiled", "_pass", "_version", "_max_chars")

    def __init__(
        self,
        lexicon: Lexicon,
        allow_list: AllowList | Iterable[str] | None = None,
        *,
        policy: MatchPolicy | None = None,
    ) -> None:
        if allow_list is None:
            allow_list = AllowList()
        elif not isinstance(allow_list, AllowList):
            allow_list = AllowList(allow_list)
        policy = policy or MatchPolicy()
        self._compiled = CompiledLexicon(lexicon, allow_list, policy)
        self._version = lexicon.version
        self._max_chars = policy.max_message_chars
        self._pass = ModerationDecision(Action.PASS, (), None, lexicon.version)

    @classmethod
    def default(cls) -> Moderator:
        """The moderator for the lexicon and allow-list shipped with the package."""
        return cls(Lexicon.default(), AllowList.default())

    @property
    def lexicon(self) -> Lexicon:
        return self._compiled.lexicon

    @property
    def allow_list(self) -> AllowList:
        return self._compiled.allow_list

    @property
    def policy(self) -> MatchPolicy:
        return self._compiled.policy

    @property
    def version(self) -> str:
        """Lexicon and allow-list versions; changes whenever either list changes."""
        return f"{self._version}+{self._compiled.allow_list.version}"

    def moderate(self, text: str) -> ModerationDecision:
        """Decide one message. The most severe action wins: block > hold > mask > flag > pass."""
        if len(text) > self._max_chars:
            raise MessageTooLong(
                f"message has {len(text)} characters, the limit is {self._max_chars}",
                length=len(text),
                limit=self._max_chars,
            )
        compiled = self._compiled
        found = compiled.scan(text)  # the hot path; compiled.match(), unrolled
        if found is None:
            return self._pass
        candidates = compiled.confirm(text, found)
        if not candidates:
            return self._pass
        if len(candidates) == 1:
            hits = [self._to_hit(text, candidates[0])]
        else:
            hits = sorted((self._to_hit(text, c) for c in candidates), key=_hit_order)
        action = hits[0].action
        masked = _mask(text, hits) if action is Action.MASK else None
        return ModerationDecision(action, tuple(hits), masked, self._version)

    def moderate_many(self, texts: Iterable[str]) -> Iterator[ModerationDecision]:
        for text in texts:
            yield self.moderate(text)

    @staticmethod
    def _to_hit(text: str, candidate: CandidateHit) -> Hit:
        entry, kind, start, end, steps = candidate
        return Hit(
            entry.term,
            entry.category,
            entry.severity,
            entry.action,
            start,
            end,
            text[start:end],
            _step_values(steps),
            kind._value_,  # .value, without the enum property's call
        )

    def __repr__(self) -> str:
        return f"Moderator(lexicon={self.lexicon!r}, allow_list={self.allow_list!r})"


def _mask(text: str, hits: Iterable[Hit]) -> str:
    chars = list(text)
    for hit in hits:
        if hit.action is Action.MASK:
            for i in range(hit.start, hit.end):
                chars[i] = MASK_CHAR
    return "".join(chars)


class ModeratorSlot:
    """The moderator in service; :meth:`reload` swaps in a new one atomically.

    Readers take one reference per message and never lock (rebinding an attribute is atomic
    in CPython); the lock only serialises concurrent reloads, so two reloads cannot interleave
    and the later call always wins.
    """

    def __init__(self, moderator: Moderator) -> None:
        self._moderator = moderator
        self._reload_lock = threading.Lock()

    @property
    def current(self) -> Moderator:
        return self._moderator

    def install(self, moderator: Moderator) -> Moderator:
        """Put ``moderator`` in service; returns the one it replaced."""
        with self._reload_lock:
            previous, self._moderator = self._moderator, moderator
        return previous

    def reload(
        self,
        lexicon: Lexicon,
        allow_list: AllowList | Iterable[str] | None = None,
        *,
        policy: MatchPolicy | None = None,
    ) -> Moderator:
        """Compile a new moderator (outside the lock; it takes a while) and install it.

        Without ``allow_list`` or ``policy`` the current ones are kept. Returns the new one.
        """
        current = self._moderator
        moderator = Moderator(
            lexicon,
            current.allow_list if allow_list is None else allow_list,
            policy=policy or current.policy,
        )
        self.install(moderator)
        return moderator

    def moderate(self, text: str) -> ModerationDecision:
        return self._moderator.moderate(text)


def moderate_lines(moderator: Moderator | ModeratorSlot, lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """For ``livegate moderate``: one JSON-ready dict per input line (newline stripped).

    Each dict is the decision's :meth:`ModerationDecision.to_json_dict` plus ``line`` (1-based)
    and ``text``. A line over the length limit yields ``action: "error"`` with the error's
    code instead of stopping the run.
    """
    for number, raw in enumerate(lines, start=1):
        text = raw.rstrip("\r\n")
        try:
            body = moderator.moderate(text).to_json_dict()
        except MessageTooLong as exc:
            body = {"action": "error", "category": None, "matched": None, "error": exc.to_dict()}
        yield {"line": number, "text": text, **body}
