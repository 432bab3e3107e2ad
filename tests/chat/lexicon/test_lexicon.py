"""Lexicon entries, TSV parsing (and its typed errors), versions, allow-lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from livegate.chat.lexicon import (
    Action,
    AllowList,
    AllowListInvalid,
    Category,
    Lexicon,
    LexiconEntry,
    LexiconEntryInvalid,
    LexiconFormatError,
)
from livegate.core.errors import LivegateError, ValidationFailed

GOOD = "赌博\tillegal.gambling\t3\thold\nfuck*\tharmful.vulgar\t2\tmask\n"


def test_parses_rows_comments_blank_lines_header_bom_and_crlf() -> None:
    text = "\ufeff# a comment\r\nterm\tcategory\tseverity\taction\r\n\r\n  # indented comment\r\n" + GOOD
    lexicon = Lexicon.from_tsv(text)
    assert [e.term for e in lexicon] == ["赌博", "fuck*"]
    entry = lexicon.entries[0]
    assert entry.category is Category.GAMBLING
    assert entry.severity == 3
    assert entry.action is Action.HOLD
    assert lexicon.entries[1].bare_term == "fuck"


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("赌博\tillegal.gambling\t3", "expected 4 tab-separated columns"),
        ("赌博\tillegal.gambling\t3\thold\textra", "expected 4 tab-separated columns"),
        ("赌博 illegal.gambling 3 hold", "expected 4 tab-separated columns"),
        ("赌博\tillegal.gambling\tthree\thold", "severity must be an integer"),
        ("赌博\tillegal.gambling\t9\thold", "severity must be 1..5"),
        ("赌博\tillegal.gambling\t0\thold", "severity must be 1..5"),
        ("赌博\tillegal.casino\t3\thold", "unknown category 'illegal.casino'"),
        ("赌博\tillegal.gambling\t3\tdelete", "unknown action 'delete'"),
        ("赌博\tillegal.gambling\t3\tpass", "unknown action 'pass'"),
        ("\tillegal.gambling\t3\thold", "term is empty"),
        ("...\tillegal.gambling\t3\thold", "term is empty after normalisation"),
        ("fu*ck\tharmful.vulgar\t2\tmask", "'*' is allowed only once at the start or end"),
    ],
)
def test_malformed_row_raises_typed_error_naming_the_line(row: str, reason: str) -> None:
    text = "# header comment\n" + GOOD + row + "\n"
    with pytest.raises(LexiconFormatError) as caught:
        Lexicon.from_tsv(text, source="words.tsv")
    error = caught.value
    assert isinstance(error, ValidationFailed) and isinstance(error, LivegateError)
    assert error.code == "lexicon_format_invalid"
    assert error.http_status == 422
    assert error.line == 4
    assert error.source == "words.tsv"
    assert error.message.startswith("words.tsv:4: ")
    assert reason in error.message
    assert error.to_dict()["details"]["line"] == 4


def test_load_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text("ok\tspam.fraud\t1\tflag\nbroken row\n", encoding="utf-8")
    with pytest.raises(LexiconFormatError) as caught:
        Lexicon.load(path)
    assert caught.value.details["source"] == str(path)
    assert caught.value.line == 2


def test_entry_validation() -> None:
    entry = LexiconEntry("  赌博 ", Category.GAMBLING, 3, Action.HOLD)
    assert entry.term == "赌博"
    coerced = LexiconEntry("x", "spam.fraud", 1, "flag")  # type: ignore[arg-type]
    assert coerced.category is Category.FRAUD and coerced.action is Action.FLAG
    with pytest.raises(LexiconEntryInvalid):
        LexiconEntry("x", Category.FRAUD, True, Action.FLAG)  # bool is not a severity
    with pytest.raises(LexiconEntryInvalid):
        LexiconEntry("a\tb", Category.FRAUD, 1, Action.FLAG)
    with pytest.raises(LexiconEntryInvalid) as caught:
        LexiconEntry("x", Category.FRAUD, 1, Action.PASS)
    assert caught.value.code == "lexicon_entry_invalid"
    with pytest.raises(LexiconEntryInvalid):
        Lexicon(["not an entry"])  # type: ignore[list-item]


def test_version_is_a_content_hash() -> None:
    a = Lexicon.from_tsv(GOOD)
    b = Lexicon.from_tsv("# other comment\n" + "\n".join(reversed(GOOD.strip().split("\n"))))
    c = Lexicon.from_tsv(GOOD.replace("\t3\t", "\t4\t"))
    assert a.version == b.version
    assert a.version != c.version
    assert len(a.version) == 16
    assert Lexicon.from_tsv(a.to_tsv()).version == a.version


def test_exact_duplicates_collapse_but_conflicting_rows_are_kept() -> None:
    lexicon = Lexicon.from_tsv(GOOD + GOOD + "赌博\tillegal.gambling\t5\tblock\n")
    assert len(lexicon) == 3


def test_categories_carry_their_group_and_provision() -> None:
    assert Category.GAMBLING.group == "illegal"
    assert Category.GAMBLING.provision.endswith("第六条第九项")
    assert Category.DISASTER_COMMENT.group == "harmful"
    assert "第七条" in Category.DISASTER_COMMENT.provision
    assert Category.FRAUD.group == "spam"
    assert all(category.label_zh and category.provision for category in Category)


def test_action_ranks() -> None:
    ranked = sorted(Action, key=lambda a: a.rank, reverse=True)
    assert ranked == [Action.BLOCK, Action.HOLD, Action.MASK, Action.FLAG, Action.PASS]


def test_packaged_default_lexicon_and_allow_list_load() -> None:
    lexicon = Lexicon.default()
    assert len(lexicon) > 50
    assert {e.category.group for e in lexicon} == {"illegal", "harmful", "spam"}
    assert "印度支那" in AllowList.default().words


def test_allow_list_parsing_and_errors() -> None:
    allow = AllowList.from_text("# comment\n印度支那\n\n class \n印度支那\n")
    assert allow.words == ("印度支那", "class")
    assert AllowList(["b", "a"]).version == AllowList(["a", "b"]).version
    with pytest.raises(AllowListInvalid) as caught:
        AllowList(["?。…"])
    assert caught.value.code == "allow_list_invalid"
