"""The lexicon on text: titles, descriptions, nicknames, comments, posts and transcripts."""

from __future__ import annotations

from collections.abc import Sequence

from livegate.chat.lexicon import Action, Moderator
from livegate.review.signals.base import Example, Finding, TextSignal

#: Lexicon severity (1-5 in the shipped data) to a case score.
_SEVERITY_SCORE = {1: 20.0, 2: 40.0, 3: 60.0, 4: 80.0, 5: 95.0}


class LexiconSignal(TextSignal):
    name = "lexicon"

    def __init__(self, moderator: Moderator | None = None) -> None:
        self._moderator = moderator

    @property
    def moderator(self) -> Moderator:
        if self._moderator is None:
            self._moderator = Moderator.default()
        return self._moderator

    def analyse_text(self, text: str) -> Finding | None:
        if not text.strip():
            return None
        decision = self.moderator.moderate(text[:5000])
        if decision.action == Action.PASS or not decision.hits:
            return None
        score = _SEVERITY_SCORE.get(decision.severity, min(100.0, 20.0 * decision.severity))
        if decision.action == Action.BLOCK:
            score = max(score, 60.0)
        return Finding(self.name, score, str(decision.category.value if decision.category else "lexicon"),
                       {"decision": decision.to_json_dict()})

    def examples(self) -> Sequence[Example]:
        return [Example("hello everyone, welcome to the stream", False),
                Example(self._flagged_example(), True, "a term from the shipped lexicon")]

    def _flagged_example(self) -> str:
        from livegate.chat.lexicon import Lexicon

        for entry in Lexicon.default().entries:
            if entry.action in (Action.BLOCK, Action.HOLD):
                return f"look: {entry.term}"
        return "look"
