"""The moderation lexicon: terms with a category, a severity and an action.

Categories follow the Provisions on Ecological Governance of Network Information Content
(网络信息内容生态治理规定): Art. 6 lists *illegal* information (违法信息), Art. 7 *harmful*
information (不良信息); a third group covers spam, advertising and fraud, which the live
streaming Measures also require operators to manage. Each category's code is stable (it is
written to audit logs and review queues) and carries the article it comes from, so a
reviewer can cite the rule behind a decision.

A :class:`Lexicon` is immutable and versioned by a hash of its content, so a moderator built
from it can say exactly which list made a decision, and a reload that changes nothing keeps
the version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path

from livegate.chat.lexicon.errors import AllowListInvalid, LexiconEntryInvalid, LexiconFormatError

__all__ = [
    "Action",
    "Category",
    "LexiconEntry",
    "Lexicon",
    "AllowList",
    "MIN_SEVERITY",
    "MAX_SEVERITY",
]

MIN_SEVERITY = 1
MAX_SEVERITY = 5
_TSV_HEADER = ("term", "category", "severity", "action")


class Action(StrEnum):
    """What happens to a message. The most severe action among its matches wins."""

    BLOCK = "block"  # not shown; sender told it was rejected
    HOLD = "hold"  # not shown until a reviewer approves it
    MASK = "mask"  # shown with the matched spans masked
    FLAG = "flag"  # shown unchanged, and flagged for review statistics
    PASS = "pass"  # nothing matched  # noqa: S105 - an action, not a password

    @property
    def rank(self) -> int:
        """Severity order: block > hold > mask > flag > pass."""
        return _ACTION_RANK[self]


_ACTION_RANK = {Action.BLOCK: 4, Action.HOLD: 3, Action.MASK: 2, Action.FLAG: 1, Action.PASS: 0}


class Category(StrEnum):
    """Why a term is listed; the value is the stable code used everywhere."""

    # Art. 6 - illegal information (违法信息).
    CONSTITUTION = "illegal.constitution"
    NATIONAL_SECURITY = "illegal.national_security"
    SUBVERSION = "illegal.subversion"
    NATIONAL_HONOR = "illegal.national_honor"
    HEROES_MARTYRS = "illegal.heroes_martyrs"
    TERRORISM_EXTREMISM = "illegal.terrorism_extremism"
    ETHNIC_HATRED = "illegal.ethnic_hatred"
    CULT_SUPERSTITION = "illegal.cult_superstition"
    RUMOUR = "illegal.rumour"
    OBSCENITY = "illegal.obscenity"
    GAMBLING = "illegal.gambling"
    VIOLENCE = "illegal.violence"
    INSULT_DEFAMATION = "illegal.insult_defamation"
    ILLEGAL_OTHER = "illegal.other"
    # Art. 7 - harmful information (不良信息).
    SENSATIONAL_HEADLINE = "harmful.sensational_headline"
    GOSSIP_SCANDAL = "harmful.gossip_scandal"
    DISASTER_COMMENT = "harmful.disaster_comment"
    SEXUAL_SUGGESTION = "harmful.sexual_suggestion"
    GORE = "harmful.gore"
    DISCRIMINATION = "harmful.discrimination"
    VULGAR = "harmful.vulgar"
    MINORS = "harmful.minors"
    HARMFUL_OTHER = "harmful.other"
    # Spam, advertising, fraud.
    ADVERTISING = "spam.advertising"
    FRAUD = "spam.fraud"
    SPAM_OTHER = "spam.other"

    @property
    def group(self) -> str:
        """'illegal', 'harmful' or 'spam'."""
        return self.value.split(".", 1)[0]

    @property
    def label_zh(self) -> str:
        return _CATEGORY_INFO[self][0]

    @property
    def provision(self) -> str:
        """The article the category comes from, for reviewers and audit records."""
        return _CATEGORY_INFO[self][1]


_P = "网络信息内容生态治理规定"
_CATEGORY_INFO: dict[Category, tuple[str, str]] = {
    Category.CONSTITUTION: ("反对宪法所确定的基本原则", f"{_P} 第六条第一项"),
    Category.NATIONAL_SECURITY: ("危害国家安全、泄露国家秘密", f"{_P} 第六条第二项"),
    Category.SUBVERSION: ("颠覆国家政权、破坏国家统一", f"{_P} 第六条第二项"),
    Category.NATIONAL_HONOR: ("损害国家荣誉和利益", f"{_P} 第六条第三项"),
    Category.HEROES_MARTYRS: ("歪曲、丑化、亵渎、否定英雄烈士", f"{_P} 第六条第四项"),
    Category.TERRORISM_EXTREMISM: ("宣扬恐怖主义、极端主义", f"{_P} 第六条第五项"),
    Category.ETHNIC_HATRED: ("煽动民族仇恨、民族歧视", f"{_P} 第六条第六项"),
    Category.CULT_SUPERSTITION: ("宣扬邪教和封建迷信", f"{_P} 第六条第七项"),
    Category.RUMOUR: ("散布谣言", f"{_P} 第六条第八项"),
    Category.OBSCENITY: ("淫秽色情", f"{_P} 第六条第九项"),
    Category.GAMBLING: ("赌博", f"{_P} 第六条第九项"),
    Category.VIOLENCE: ("暴力、凶杀、恐怖或教唆犯罪", f"{_P} 第六条第九项"),
    Category.INSULT_DEFAMATION: ("侮辱、诽谤他人", f"{_P} 第六条第十项"),
    Category.ILLEGAL_OTHER: ("法律、行政法规禁止的其他内容", f"{_P} 第六条第十一项"),
    Category.SENSATIONAL_HEADLINE: ("标题夸张、与内容严重不符", f"{_P} 第七条第一项"),
    Category.GOSSIP_SCANDAL: ("炒作绯闻、丑闻、劣迹", f"{_P} 第七条第二项"),
    Category.DISASTER_COMMENT: ("不当评述自然灾害、重大事故", f"{_P} 第七条第三项"),
    Category.SEXUAL_SUGGESTION: ("性暗示、性挑逗", f"{_P} 第七条第四项"),
    Category.GORE: ("血腥、惊悚、残忍", f"{_P} 第七条第五项"),
    Category.DISCRIMINATION: ("煽动人群歧视、地域歧视", f"{_P} 第七条第六项"),
    Category.VULGAR: ("低俗、庸俗、媚俗", f"{_P} 第七条第七项"),
    Category.MINORS: ("诱导未成年人不良行为", f"{_P} 第七条第八项"),
    Category.HARMFUL_OTHER: ("其他对网络生态造成不良影响的内容", f"{_P} 第七条第九项"),
    Category.ADVERTISING: ("垃圾广告、引流", "网络直播营销管理办法（试行）"),
    Category.FRAUD: ("诈骗", "中华人民共和国反电信网络诈骗法"),
    Category.SPAM_OTHER: ("其他垃圾信息", "网络直播服务管理规定 第九条"),
}


@dataclass(frozen=True, slots=True)
class LexiconEntry:
    """One listed term.

    A Latin term matches only as a whole word; a ``*`` at its start or end lifts that side's
    word boundary (``scam*`` also matches ``scammer``). Chinese terms have no word boundaries;
    an allow-listed longer word stops them matching inside it.
    """

    term: str
    category: Category
    severity: int
    action: Action

    def __post_init__(self) -> None:
        term = self.term.strip() if isinstance(self.term, str) else self.term
        if not isinstance(term, str) or not term.strip("*").strip():
            raise LexiconEntryInvalid("term is empty", term=self.term)
        if any(c in term for c in "\t\r\n"):
            raise LexiconEntryInvalid("term contains a tab or line break", term=term)
        if "*" in term.strip("*") or term.startswith("**") or term.endswith("**"):
            raise LexiconEntryInvalid("'*' is allowed only once at the start or end", term=term)
        object.__setattr__(self, "term", term)
        try:
            object.__setattr__(self, "category", Category(self.category))
        except ValueError:
            raise LexiconEntryInvalid(
                f"unknown category {self.category!r}", term=term, allowed=[c.value for c in Category]
            ) from None
        try:
            action = Action(self.action)
        except ValueError:
            action = Action.PASS
        if action is Action.PASS:
            raise LexiconEntryInvalid(
                f"unknown action {self.action!r}",
                term=term,
                allowed=[a.value for a in Action if a is not Action.PASS],
            )
        object.__setattr__(self, "action", action)
        severity = self.severity
        if isinstance(severity, bool) or not isinstance(severity, int):
            raise LexiconEntryInvalid(f"severity must be an integer, got {severity!r}", term=term)
        if not MIN_SEVERITY <= severity <= MAX_SEVERITY:
            raise LexiconEntryInvalid(f"severity must be {MIN_SEVERITY}..{MAX_SEVERITY}, got {severity}", term=term)

    @property
    def bare_term(self) -> str:
        """The term without its boundary wildcards."""
        return self.term.strip("*")

    def to_tsv_row(self) -> str:
        return f"{self.term}\t{self.category.value}\t{self.severity}\t{self.action.value}"


class Lexicon:
    """An immutable, versioned list of :class:`LexiconEntry`.

    Exact duplicate rows collapse into one; the same term listed twice with different
    categories or actions keeps both (the moderator reports the more severe). The version is
    a hash of the sorted rows, so it does not depend on row order or comments.
    """

    __slots__ = ("_entries", "_version")

    def __init__(self, entries: Iterable[LexiconEntry]) -> None:
        unique: dict[LexiconEntry, None] = {}
        for entry in entries:
            if not isinstance(entry, LexiconEntry):
                raise LexiconEntryInvalid(f"not a LexiconEntry: {entry!r}")
            unique.setdefault(entry, None)
        self._entries: tuple[LexiconEntry, ...] = tuple(unique)
        digest = hashlib.sha256()
        for row in sorted(entry.to_tsv_row() for entry in self._entries):
            digest.update(row.encode("utf-8"))
            digest.update(b"\n")
        self._version = digest.hexdigest()[:16]

    @classmethod
    def from_entries(cls, entries: Iterable[LexiconEntry]) -> Lexicon:
        return cls(entries)

    @classmethod
    def from_tsv(cls, text: str, *, source: str = "<tsv>") -> Lexicon:
        """Parse ``term<TAB>category<TAB>severity<TAB>action`` rows.

        Blank lines and lines starting with ``#`` are skipped, as is a header row naming the
        four columns. Any other malformed row raises :class:`LexiconFormatError` naming the
        1-based line, so an operator can fix the file rather than guess.
        """
        entries: list[LexiconEntry] = []
        seen_data = False
        for number, raw_line in enumerate(text.removeprefix("\ufeff").split("\n"), start=1):
            line = raw_line.rstrip("\r")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            columns = [column.strip() for column in line.split("\t")]
            if not seen_data and tuple(c.lower() for c in columns) == _TSV_HEADER:
                seen_data = True
                continue
            seen_data = True
            if len(columns) != 4:
                raise LexiconFormatError(
                    f"expected 4 tab-separated columns (term, category, severity, action), got {len(columns)}",
                    source=source,
                    line=number,
                )
            term, category, severity_text, action = columns
            try:
                severity = int(severity_text)
            except ValueError:
                raise LexiconFormatError(
                    f"severity must be an integer {MIN_SEVERITY}..{MAX_SEVERITY}, got {severity_text!r}",
                    source=source,
                    line=number,
                ) from None
            if category not in _CATEGORIES:
                raise LexiconFormatError(
                    f"unknown category {category!r}", source=source, line=number, allowed=sorted(_CATEGORIES)
                )
            if action not in _ENTRY_ACTIONS:
                raise LexiconFormatError(
                    f"unknown action {action!r}", source=source, line=number, allowed=sorted(_ENTRY_ACTIONS)
                )
            try:
                entries.append(LexiconEntry(term, Category(category), severity, Action(action)))
            except LexiconEntryInvalid as exc:
                raise LexiconFormatError(exc.message, source=source, line=number, **exc.details) from None
            _check_normalisable(entries[-1].bare_term, source=source, line=number)
        return cls(entries)

    @classmethod
    def load(cls, path: str | Path) -> Lexicon:
        path = Path(path)
        return cls.from_tsv(path.read_text(encoding="utf-8"), source=str(path))

    @classmethod
    def default(cls) -> Lexicon:
        """The small lexicon shipped with the package (a starting point, not a full list)."""
        data = resources.files(__package__).joinpath("data/default_lexicon.tsv")
        return cls.from_tsv(data.read_text(encoding="utf-8"), source="livegate:default_lexicon.tsv")

    @property
    def entries(self) -> tuple[LexiconEntry, ...]:
        return self._entries

    @property
    def version(self) -> str:
        """First 16 hex digits of the SHA-256 of the sorted rows."""
        return self._version

    def to_tsv(self) -> str:
        return "".join(entry.to_tsv_row() + "\n" for entry in self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[LexiconEntry]:
        return iter(self._entries)

    def __repr__(self) -> str:
        return f"Lexicon({len(self._entries)} entries, version={self._version})"


_CATEGORIES = frozenset(c.value for c in Category)
_ENTRY_ACTIONS = frozenset(a.value for a in Action if a is not Action.PASS)


def _check_normalisable(term: str, *, source: str, line: int) -> None:
    from livegate.chat.lexicon.normalize import normalize_text

    if not normalize_text(term):
        raise LexiconFormatError(
            "term is empty after normalisation (only punctuation, spaces or symbols)",
            source=source,
            line=line,
            term=term,
        )


class AllowList:
    """Longer harmless words whose inside a term must not match (``class``, ``特色情况``).

    A term hit that lies wholly inside an allow-listed word found in the same message is
    dropped. Latin terms mostly need no entry (word boundaries handle ``class``); Chinese
    has no word boundaries, so the allow-list is how ``色情`` stops matching ``特色情况``.
    """

    __slots__ = ("_words", "_version")

    def __init__(self, words: Iterable[str] = ()) -> None:
        from livegate.chat.lexicon.normalize import normalize_text

        cleaned: dict[str, None] = {}
        for word in words:
            word = word.strip()
            if not word:
                continue
            if not normalize_text(word):
                raise AllowListInvalid("allow-list word is empty after normalisation", word=word)
            cleaned.setdefault(word, None)
        self._words = tuple(cleaned)
        digest = hashlib.sha256("\n".join(sorted(self._words)).encode("utf-8"))
        self._version = digest.hexdigest()[:16]

    @classmethod
    def from_text(cls, text: str) -> AllowList:
        """One word per line; blank lines and ``#`` comments are skipped."""
        words = [line.strip() for line in text.removeprefix("\ufeff").splitlines()]
        return cls(w for w in words if w and not w.startswith("#"))

    @classmethod
    def load(cls, path: str | Path) -> AllowList:
        return cls.from_text(Path(path).read_text(encoding="utf-8"))

    @classmethod
    def default(cls) -> AllowList:
        """The allow-list shipped with the package, matching the default lexicon."""
        data = resources.files(__package__).joinpath("data/allow_list.txt")
        return cls.from_text(data.read_text(encoding="utf-8"))

    @property
    def words(self) -> tuple[str, ...]:
        return self._words

    @property
    def version(self) -> str:
        return self._version

    def __len__(self) -> int:
        return len(self._words)

    def __iter__(self) -> Iterator[str]:
        return iter(self._words)

    def __repr__(self) -> str:
        return f"AllowList({len(self._words)} words, version={self._version})"
