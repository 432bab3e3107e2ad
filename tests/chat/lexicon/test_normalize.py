"""Each normalisation step on its own, the offset map, and hot/slow path agreement."""

from __future__ import annotations

import pytest

from livegate.chat.lexicon.normalize import (
    Step,
    encode,
    fast_fold,
    fold_char,
    fold_term,
    is_word_char,
    latin_runs,
    lower_latin,
    normalize_text,
    run_bounds,
    trace,
)


@pytest.mark.parametrize(
    ("text", "expected", "step"),
    [
        ("𝐟𝐮𝐜𝐤", "fuck", Step.NFKC),  # mathematical bold
        ("ⓕⓤⓒⓚ", "fuck", Step.NFKC),  # circled letters (category So, still letters)
        ("ﬁx", "fix", Step.NFKC),  # ligature
        ("Ｆｕｃｋ", "fuck", Step.WIDTH),
        ("ＦＵＣＫ", "fuck", Step.CASE_FOLD),
        ("fück", "fuck", Step.DIACRITIC),
        ("fu\u0308ck", "fuck", Step.SEPARATOR),  # a combining mark on its own is removed
        ("саsinо", "casino", Step.HOMOGLYPH),  # Cyrillic а, о
        ("ροrn", "porn", Step.HOMOGLYPH),  # Greek rho, omicron
        ("5h1t", "shit", Step.HOMOGLYPH),  # digits as letters; 'l' and 'i' are one letter
        ("@$$", "as", Step.HOMOGLYPH),
        ("🅰🆂🆂", "as", Step.HOMOGLYPH),  # negative squared letters
        ("賭博", "赌博", Step.T2S),
        ("法 轮.功", "法轮功", Step.SEPARATOR),
        ("法\u200b轮\u200d功\ufe0f", "法轮功", Step.SEPARATOR),  # zero-width, variation selector
        ("法😂轮🔥功", "法轮功", Step.SEPARATOR),
        ("法\u3164轮功", "法轮功", Step.SEPARATOR),  # hangul filler renders blank
    ],
)
def test_each_step_folds_and_is_named(text: str, expected: str, step: Step) -> None:
    assert normalize_text(text) == expected
    steps = {s for ch in text for s in fold_char(ch).steps}
    assert step in steps


def test_repeated_characters_collapse() -> None:
    assert normalize_text("fuuuuuck") == "fuck"
    assert normalize_text("哈哈哈哈") == "哈"
    folded = trace("fuuuck")
    assert folded.collapsed == "fuck"
    assert folded.runs == [1, 3, 1, 1]


def test_l_and_i_are_one_letter_and_unreported() -> None:
    assert normalize_text("hole") == normalize_text("ho1e") == normalize_text("hoIe")
    assert fold_char("l").steps == ()
    assert fold_char("1").steps == (Step.HOMOGLYPH,)


def test_private_use_characters_are_removed_so_they_cannot_forge_tokens() -> None:
    assert fold_char("\ue000").text == ""
    assert fold_char("\uf100").text == ""
    assert fold_char("\U000f0000").text == ""


def test_fullwidth_exclamation_is_punctuation_not_a_letter() -> None:
    assert fold_char("！").text == ""
    assert fold_char("!").text == "i"


def test_offset_map_points_back_to_the_original() -> None:
    text = "ſh1t!!! 賭 博 ﬁx"
    folded = trace(text)
    assert folded.folded == "shitiii赌博fix"
    for index, ch in enumerate(folded.folded):
        original = text[folded.folded_origin[index]]
        assert ch in fold_char(original).text
    # collapsed 'i' (from '!!!') covers original 4..7
    j = folded.collapsed.index("i", 3)
    assert folded.original_span(*folded.collapsed_to_folded(j, j + 1)) == (4, 7)
    assert folded.removed_in(0, len(text)) == (" ", " ", " ")
    assert folded.steps_at(8) == (Step.T2S,)


def test_trace_handles_characters_beyond_the_tables() -> None:
    text = "a\U00020000b\U000e0101c"  # CJK extension B, variation selector supplement
    folded = trace(text)
    assert folded.folded == "a\U00020000bc"
    assert folded.folded_origin == [0, 1, 2, 4]
    assert fast_fold(text) is None  # the hot path defers to the slow path


@pytest.mark.parametrize(
    "text",
    ["hello world", "Ｆｕｃｋ you!!", "主播好厉害哈哈哈😂", "法 轮 功", "賭博", "fü\u0308ck", "ſ ß ﬁ", "a\tb\nc", ""],
)
def test_hot_path_agrees_with_slow_path(text: str) -> None:
    folded = fast_fold(text)
    assert folded is not None
    collapsed, _reading = folded
    assert collapsed == encode(trace(text).collapsed)


def test_fold_term_is_uncollapsed() -> None:
    assert fold_term("Aass") == "aass"


def test_word_chars_for_latin_boundaries() -> None:
    assert is_word_char("a")
    assert is_word_char("Ж")
    assert is_word_char("5")
    assert is_word_char("ｂ")  # fullwidth letter
    assert not is_word_char("中")  # Chinese puts Latin words right next to ideographs
    assert not is_word_char("!")
    assert not is_word_char(" ")


def test_latin_runs_join_across_separators_and_keep_offsets() -> None:
    joined, runs = latin_runs("Fa-Lun 功 GONG")
    assert joined == "falungong"
    assert [(r.start, r.end) for r in runs] == [(0, 2), (3, 6), (9, 13)]
    assert run_bounds(["Fa", "Lun", "GONG"]) == {0, 2, 5, 9}


def test_lower_latin_strips_tone_marks_and_width() -> None:
    assert lower_latin("Sè Qíng ｗǍng") == "se qing wang"
