"""The hot path and its shortcuts agree with the slow path that folds and scans afresh.

``Moderator.moderate`` confirms a flagged message from the hot path's own fold and scan
(``CompiledLexicon.scan`` + ``confirm``); ``CompiledLexicon.find`` is the independent slow
path. These tests hold the two to the same hits, in the same order, and pin down the pieces
the hot path relies on: the UTF-8 encoding of the automata, the byte-wise fold of ASCII
text, and the tables behind the slow path's shortcuts.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livegate.chat.lexicon import Lexicon, MatchPolicy, Moderator
from livegate.chat.lexicon.matcher import SCAN_ALL
from livegate.chat.lexicon.normalize import (
    LATIN_RUN_RE,
    chars_before,
    encode,
    fold_char,
    fold_tables,
    latin_letters_fold_to_letters,
    reading_of,
    trace,
)

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Pieces an evader (or an ordinary chatter) combines: ideographs, traditional forms, pinyin,
# digits and symbols read as letters, separators, emoji, repeats, fullwidth and accented
# letters, and characters beyond the fold tables.
PIECES = [
    "赌博",
    "賭博",
    "法轮功",
    "发轮功",
    "法 轮 功",
    "法1轮|功",
    "冰1毒",
    "冰冰1毒",
    "冰毒毒",
    "你吗死了",
    "可以预约吗",
    "约吗",
    "印度支那",
    "支那",
    "赌bo",
    "fa lun gong",
    "Fa-Lun-Gong",
    "FLG",
    "f.l.g",
    "dubo",
    "sè qíng",
    "ｆｕｃｋ",
    "fuuuck",
    "you idiot",
    "1d10t",
    "a s s",
    "ass",
    "class",
    "guys shiiit",
    "porn",
    "wtf",
    "主播",
    "哈哈哈",
    "666",
    "2333",
    "awsl",
    "😂",
    "🔥",
    "，",
    "！",
    " ",
    "\u200b",
    "\U00020000",
    "\U000e0101",
    "𝐟𝐮𝐜𝐤",
    "ß",
]


def _decide_both_ways(moderator: Moderator, text: str) -> None:
    compiled = moderator._compiled
    assert compiled.match(text) == compiled.find(text, SCAN_ALL)
    found = compiled.scan(text)
    if found is None:
        assert compiled.might_match(text) == 0
        assert compiled.find(text, SCAN_ALL) == []
    else:
        assert compiled.might_match(text) == found.flags != 0


@FUZZ
@given(text=st.text(max_size=60))
def test_confirming_the_hot_scan_finds_what_a_fresh_slow_path_finds(moderator: Moderator, text: str) -> None:
    _decide_both_ways(moderator, text)


@FUZZ
@given(parts=st.lists(st.sampled_from(PIECES), max_size=8))
def test_hot_and_slow_paths_agree_on_evasions_and_chat(moderator: Moderator, parts: list[str]) -> None:
    _decide_both_ways(moderator, "".join(parts))


def test_hot_and_slow_paths_agree_with_short_homophones(sample_lexicon: Lexicon) -> None:
    moderator = Moderator(sample_lexicon, policy=MatchPolicy(min_homophone_syllables=2))
    rng = random.Random(7)
    for _ in range(300):
        _decide_both_ways(moderator, "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 6))))


@pytest.mark.parametrize(
    "text", ["法\U000e0101轮功", "a\U00020000b 法轮功", "\U0001d41f\U0001d42e\U0001d41c\U0001d424"]
)
def test_code_points_beyond_the_tables_or_the_bmp_go_to_the_slow_path(moderator: Moderator, text: str) -> None:
    _decide_both_ways(moderator, text)
    if "\U00020000" in text or "\U000e0101" in text:
        found = moderator._compiled.scan(text)
        assert found is not None and found.flags == SCAN_ALL


def test_automata_see_folded_text_as_utf8_bytes() -> None:
    assert encode("ab") == "ab"
    assert encode("赌博") == "赌博".encode().decode("latin-1")
    encoded = encode("a赌b博")
    for count, unit in [(0, 0), (1, 1), (2, 4), (3, 5), (4, 8)]:
        assert chars_before(encoded, unit) == count


def test_ascii_text_folds_byte_by_byte_as_the_table_folds_it() -> None:
    tables = fold_tables()
    assert tables.ascii_fold is not None
    table, delete = tables.ascii_fold
    text = "".join(chr(cp) for cp in range(128))
    assert text.encode().translate(table, delete).decode() == text.translate(tables.fold_plain)


def test_slow_path_tables() -> None:
    tables = fold_tables()
    for ch in ["a", "中", "賭", "！", "😂", "ß", "\u200b", "①"]:
        cp = ord(ch)
        assert tables.fold_length[cp] == len(fold_char(ch).text)
        assert tables.ideograph_as_is[cp] == (ch == "中")
    assert reading_of("中a！").ends == [2, 3, 3]
    assert trace("a!!b").folded_origin == [0, 1, 2, 3]


def test_every_latin_letter_that_types_a_letter_folds_to_one() -> None:
    # The hot path skips the Latin token scan for a message whose fold has no ASCII letter.
    assert latin_letters_fold_to_letters()
    assert LATIN_RUN_RE.fullmatch("FaLunＧｏｎｇé")
