"""Recall on the adversarial evasion set and precision on ordinary chat (committed data)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from livegate.chat.lexicon import Action, Moderator

DATA = Path(__file__).resolve().parents[2] / "data" / "moderation"


def _rows(name: str) -> list[list[str]]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines if line and not line.startswith("#")]


def test_evasion_sets_are_well_formed_and_use_listed_terms(moderator: Moderator) -> None:
    terms = {entry.term for entry in moderator.lexicon}
    generated = _rows("evasion_generated.tsv")
    handwritten = _rows("evasion_handwritten.tsv")
    assert len(generated) >= 300 and len(handwritten) >= 50
    for row in generated + handwritten:
        assert len(row) == 3, row
        assert row[1] in terms, row


def test_recall_on_evasions_and_precision_on_ordinary_chat(moderator: Moderator) -> None:
    rows = _rows("evasion_generated.tsv") + _rows("evasion_handwritten.tsv")
    found = sum(1 for message, term, _ in rows if any(h.term == term for h in moderator.moderate(message).hits))
    chat = [row[0] for row in _rows("ordinary_chat.txt")]
    assert len(chat) >= 250
    false_positives = [line for line in chat if moderator.moderate(line).action is not Action.PASS]
    recall = found / len(rows)
    precision = found / (found + len(false_positives))
    assert recall >= 0.95, recall
    assert precision >= 0.99, (precision, false_positives)


def test_known_gaps_stay_documented(moderator: Moderator) -> None:
    """Hand-written rows marked as a known gap must still miss; fix the note if one is fixed."""
    for message, term, note in _rows("evasion_handwritten.tsv"):
        hit = any(h.term == term for h in moderator.moderate(message).hits)
        assert hit != note.startswith("known gap"), (message, term, note)


def test_generated_set_is_reproducible() -> None:
    spec = importlib.util.spec_from_file_location("make_evasion_set", DATA / "make_evasion_set.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.render() == (DATA / "evasion_generated.tsv").read_text(encoding="utf-8")
