"""Decisions and their explanations: actions, spans, steps, pinyin, allow-list, reloads."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from livegate.chat.lexicon import (
    Action,
    AllowList,
    Category,
    Lexicon,
    LexiconEntry,
    MatchPolicy,
    MessageTooLong,
    Moderator,
    ModeratorSlot,
    moderate_lines,
)


def test_clean_message_passes(moderator: Moderator) -> None:
    decision = moderator.moderate("主播今天状态不错啊，666")
    assert decision.action is Action.PASS
    assert decision.hits == ()
    assert decision.matched is None and decision.category is None and decision.span is None
    assert decision.to_json_dict()["action"] == "pass"


def test_decision_explains_itself(moderator: Moderator) -> None:
    text = "大家看 賭 博 网站"
    decision = moderator.moderate(text)
    assert decision.action is Action.HOLD
    assert decision.category is Category.GAMBLING
    assert decision.severity == 3
    assert decision.matched == "赌博"
    assert decision.span == (4, 7)
    assert text[4:7] == "賭 博"
    assert decision.steps == ("separator_removed", "t2s")
    assert decision.lexicon_version == moderator.lexicon.version
    body = decision.to_json_dict()
    assert json.loads(json.dumps(body, ensure_ascii=False)) == body
    assert body["action"] == "hold"
    assert body["category"] == "illegal.gambling"
    assert body["matched"] == "赌博"
    assert body["span"] == [4, 7]
    assert body["original"] == "賭 博"
    assert body["steps"] == ["separator_removed", "t2s"]
    assert body["hits"][0]["via"] == "term"


def test_most_severe_action_wins(moderator: Moderator) -> None:
    assert moderator.moderate("wtf").action is Action.FLAG
    assert moderator.moderate("you idiot").action is Action.MASK
    assert moderator.moderate("you idiot, 加微信").action is Action.HOLD
    decision = moderator.moderate("you idiot, 加微信, 法轮功")
    assert decision.action is Action.BLOCK
    assert decision.matched == "法轮功"
    assert [h.action for h in decision.hits] == [Action.BLOCK, Action.HOLD, Action.MASK]


def test_mask_replaces_the_original_span(moderator: Moderator) -> None:
    decision = moderator.moderate("you 1d10t and a s s")
    assert decision.action is Action.MASK
    assert decision.masked_text == "you ***** and *****"
    assert moderator.moderate("加微信 idiot").masked_text is None  # not a mask decision


@pytest.mark.parametrize(
    ("text", "term", "via", "step"),
    [
        ("fa lun gong", "法轮功", "pinyin_full", "pinyin_full"),
        ("Fa-Lun-Gong好", "法轮功", "pinyin_full", "pinyin_full"),
        ("sè qíng wǎng zhàn", "色情网站", "pinyin_full", "pinyin_full"),
        ("dubo", "赌博", "pinyin_full", "pinyin_full"),
        ("FLG", "法轮功", "pinyin_initials", "pinyin_initials"),
        ("f.l.g", "法轮功", "pinyin_initials", "pinyin_initials"),
        ("法lun功", "法轮功", "pinyin_mixed", "pinyin_full"),
        ("赌bo", "赌博", "pinyin_mixed", "pinyin_full"),
        ("发轮功", "法轮功", "homophone", "homophone"),
        ("发 轮 宫", "法轮功", "homophone", "homophone"),
        ("你吗死了", "你妈死了", "homophone", "homophone"),
    ],
)
def test_chinese_terms_match_by_pinyin(moderator: Moderator, text: str, term: str, via: str, step: str) -> None:
    decision = moderator.moderate(text)
    hit = next(h for h in decision.hits if h.term == term)
    assert hit.via == via
    assert step in hit.steps


def test_pinyin_keys_need_whole_letter_runs(moderator: Moderator) -> None:
    assert moderator.moderate("flags").action is Action.PASS  # 'flg' is not inside 'flags'
    assert moderator.moderate("dubois").action is Action.PASS


def test_initials_only_for_serious_terms(moderator: Moderator) -> None:
    assert moderator.moderate("jwx").action is Action.PASS  # 加微信 is severity 2
    assert moderator.moderate("nmsl").matched == "你妈死了"  # severity 4


def test_two_syllable_homophones_are_off_by_default_and_tone_checked_when_on(
    sample_lexicon: Lexicon,
) -> None:
    default = Moderator(sample_lexicon)
    assert default.moderate("堵博").action is Action.PASS
    short = Moderator(sample_lexicon, policy=MatchPolicy(min_homophone_syllables=2))
    assert short.moderate("堵博").matched == "赌博"  # du3 bo2, same tones
    assert short.moderate("独播好看").action is Action.PASS  # du2 bo1: "exclusive stream"


def test_digit_or_symbol_between_two_characters(moderator: Moderator) -> None:
    decision = moderator.moderate("冰1毒")
    assert decision.matched == "冰毒"
    assert "separator_removed" in decision.steps
    assert moderator.moderate("冰a毒").action is Action.PASS  # a real letter is not noise
    assert moderator.moderate("法1轮|功").matched == "法轮功"  # longer terms: through the reading


def test_latin_terms_need_word_boundaries(moderator: Moderator) -> None:
    for harmless in ["class", "assistant", "passion", "the bass", "sass", "was so", "shiitake", "closer"]:
        assert moderator.moderate(harmless).action is Action.PASS, harmless
    assert moderator.moderate("you ass").span == (4, 7)
    assert moderator.moderate("主播是ass吧").matched == "ass"  # ideographs are boundaries


def test_runs_that_reach_into_the_previous_word_are_trimmed(moderator: Moderator) -> None:
    decision = moderator.moderate("guys shiiit for real")
    assert decision.matched == "shit"
    assert decision.span == (5, 11)
    assert "repeat_collapsed" in decision.steps


def test_wildcard_lifts_a_boundary(moderator: Moderator) -> None:
    assert moderator.moderate("fucking hell").masked_text == "****ing hell"
    assert moderator.moderate("ｐｏｒｎｈｕｂ").matched == "porn*"


def test_allow_list_stops_matches_inside_longer_words(moderator: Moderator) -> None:
    assert moderator.moderate("可以预约吗").action is Action.PASS
    assert moderator.moderate("约吗").action is Action.HOLD
    assert moderator.moderate("印度支那的历史").action is Action.PASS
    decision = moderator.moderate("印度支那 支那")
    assert decision.matched == "支那" and decision.span == (5, 7)


def test_allow_list_is_optional_and_accepts_plain_words(sample_lexicon: Lexicon) -> None:
    assert Moderator(sample_lexicon).moderate("可以预约吗").action is Action.HOLD
    assert Moderator(sample_lexicon, ["预约吗"]).moderate("可以预约吗").action is Action.PASS


def test_messages_beyond_the_tables_take_the_slow_path(moderator: Moderator) -> None:
    decision = moderator.moderate("法\U000e0101轮\U000e0100功 𠀀")
    assert decision.matched == "法轮功"
    assert decision.span == (0, 5)


def test_message_length_limit(sample_lexicon: Lexicon) -> None:
    small = Moderator(sample_lexicon, policy=MatchPolicy(max_message_chars=10))
    with pytest.raises(MessageTooLong) as caught:
        small.moderate("x" * 11)
    assert caught.value.code == "moderation_message_too_long"


def test_moderate_lines_for_the_cli(sample_lexicon: Lexicon) -> None:
    small = Moderator(sample_lexicon, policy=MatchPolicy(max_message_chars=20))
    rows = list(moderate_lines(small, ["hello\n", "法 轮 功\r\n", "x" * 30]))
    assert [row["line"] for row in rows] == [1, 2, 3]
    assert rows[0]["action"] == "pass" and rows[0]["text"] == "hello"
    assert rows[1]["action"] == "block" and rows[1]["matched"] == "法轮功"
    assert rows[1]["category"] == "illegal.cult_superstition"
    assert rows[2]["action"] == "error"
    assert rows[2]["error"]["code"] == "moderation_message_too_long"
    for row in rows:
        json.dumps(row, ensure_ascii=False)


def test_moderate_many(moderator: Moderator) -> None:
    actions = [d.action for d in moderator.moderate_many(["hi", "wtf"])]
    assert actions == [Action.PASS, Action.FLAG]


def test_concurrent_moderation_matches_sequential(moderator: Moderator) -> None:
    texts = ["法 轮 功", "hello", "you idiot", "发轮功", "FLG", "可以预约吗", "wtf", "賭博"] * 50
    expected = [moderator.moderate(t).to_json_dict() for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda t: moderator.moderate(t).to_json_dict(), texts))
    assert results == expected


def test_slot_swaps_lexicons_atomically(sample_lexicon: Lexicon, sample_allow_list: AllowList) -> None:
    slot = ModeratorSlot(Moderator(sample_lexicon, sample_allow_list))
    old_version = slot.current.lexicon.version
    new_lexicon = Lexicon([*sample_lexicon, LexiconEntry("主播好", Category.SPAM_OTHER, 1, Action.FLAG)])
    seen: set[tuple[str, str]] = set()
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            decision = slot.moderate("主播好 法轮功")
            seen.add((decision.lexicon_version, decision.action.value))

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    replaced = slot.reload(new_lexicon)
    stop.set()
    for thread in threads:
        thread.join()
    assert slot.current is replaced
    assert replaced.allow_list is sample_allow_list  # kept across the reload
    assert slot.moderate("主播好").matched == "主播好"
    assert {version for version, _ in seen} <= {old_version, new_lexicon.version}
    previous = slot.install(Moderator(sample_lexicon))
    assert previous is replaced
    assert "+" in slot.current.version
