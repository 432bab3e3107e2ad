"""Property tests: arbitrary text never breaks the moderator; separators never hide a term."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livegate.chat.lexicon import Action, Lexicon, Moderator
from livegate.chat.lexicon.matcher import SCAN_ALL

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# What an evader slips between the characters of a term: spaces, punctuation (ASCII, CJK,
# fullwidth), zero-width and format characters, variation selectors, combining marks, emoji,
# and blank-looking letters. Not digits or '!|@$+', which the normaliser reads as letters.
SEPARATORS = st.sampled_from(
    [
        " ",
        "\t",
        "\u3000",
        "\u00a0",
        ".",
        ",",
        "-",
        "_",
        "*",
        "~",
        "/",
        "\\",
        "'",
        '"',
        "#",
        "%",
        "&",
        "(",
        ")",
        "[",
        "]",
        "^",
        "`",
        "=",
        "<",
        ">",
        "?",
        ";",
        ":",
        "·",
        "、",
        "，",
        "。",
        "！",
        "？",
        "…",
        "\u200b",
        "\u200c",
        "\u200d",
        "\u2060",
        "\ufeff",
        "\u00ad",
        "\u180e",
        "\ufe0f",
        "\ufe0e",
        "\U000e0101",
        "\U000e0020",
        "\u0301",
        "\u20e3",
        "😂",
        "🔥",
        "❤",
        "⭐",
        "👍🏻",
        "\u3164",
        "\u2800",
        "\ue000",
    ]
)
SEPARATOR_RUNS = st.lists(SEPARATORS, max_size=3).map("".join)


@FUZZ
@given(text=st.text(max_size=80))
def test_arbitrary_unicode_never_raises(moderator: Moderator, text: str) -> None:
    decision = moderator.moderate(text)
    body = decision.to_json_dict()
    assert body["action"] in {a.value for a in Action}
    for hit in decision.hits:
        assert 0 <= hit.start < hit.end <= len(text)
        assert text[hit.start : hit.end] == hit.original
    if decision.masked_text is not None:
        assert len(decision.masked_text) == len(text)


@FUZZ
@given(text=st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
def test_hot_path_never_misses_what_the_slow_path_finds(moderator: Moderator, text: str) -> None:
    compiled = moderator._compiled
    if compiled.find(text, SCAN_ALL):
        assert compiled.might_match(text) != 0


@FUZZ
@given(data=st.data())
def test_separators_between_a_terms_characters_still_match(
    moderator: Moderator, sample_lexicon: Lexicon, data: st.DataObject
) -> None:
    entry = data.draw(st.sampled_from(sample_lexicon.entries))
    term = entry.bare_term
    gaps = data.draw(st.lists(SEPARATOR_RUNS, min_size=len(term) - 1, max_size=len(term) - 1))
    disguised = term[0] + "".join(gap + ch for gap, ch in zip(gaps, term[1:], strict=True))
    prefix = data.draw(st.sampled_from(["", "主播 ", "hey ", "哈哈"]))
    decision = moderator.moderate(prefix + disguised + data.draw(st.sampled_from(["", " lol", "吧", "!"])))
    hit = next((h for h in decision.hits if h.term == entry.term), None)
    assert hit is not None, (entry.term, disguised)
    # The span covers the disguised term; it may also take in a neighbour that repeats the
    # term's first or last character ('逃课去网吧' + '吧' is a stretched term).
    assert hit.start <= len(prefix) and hit.end >= len(prefix) + len(disguised)
    assert (len(prefix) - hit.start) + (hit.end - len(prefix) - len(disguised)) <= 1
