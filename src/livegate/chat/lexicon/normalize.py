"""Text normalisation for comment moderation, with a map back to the original text.

Evasion works by writing a term so that it *looks* the same to a person but differs code
point for code point: fullwidth or mathematical letters, Cyrillic look-alikes, ``sh1t``,
traditional characters, ``法.轮.功`` with zero-width joiners in between, ``fuuuck``. Each trick
is undone by folding every character to a canonical form; the same fold is applied to the
lexicon's terms, so terms and text meet in one key space.

Two entry points serve two needs:

* :func:`fast_fold` is the hot path. Every message goes through it, so it is a few
  ``str.translate`` calls over precomputed tables and one regex, all in C. It produces the
  texts the automata scan and nothing else: no offsets, no explanation. Most messages match
  nothing and stop there.
* :func:`trace` is the slow path, run only for messages that hit something. It repeats the
  fold character by character in Python and records, for every folded character, the
  original character it came from and the steps that changed it, so a match can name the
  original span (for masking) and say why it matched.

Matcher encodings. ``pyahocorasick`` finds a node's child by a linear scan, so an automaton
over a large Chinese lexicon, whose root has thousands of children, is several times slower
than one over Latin text. The automata therefore see folded text as its UTF-8 bytes, one
code unit per byte (:func:`encode`: ``str.encode`` and a Latin-1 ``decode``, both plain C
copies): an ideograph is three units, no node has more than 256 children, ASCII stays as it
is, and since UTF-8 is self-synchronising a key can only match on whole characters. In the
pinyin *reading* each ideograph becomes its syllable's number as two private-use units
(``U+F000``/``U+F100``), so a homophone key can only match whole syllables; the input's own
private-use characters are deleted by the fold so they cannot forge syllables.
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from itertools import accumulate, compress
from operator import ne, sub
from typing import NamedTuple

__all__ = [
    "Step",
    "CharFold",
    "FoldTables",
    "FoldedText",
    "LatinRun",
    "TABLE_LIMIT",
    "fold_char",
    "fast_fold",
    "fold_term",
    "normalize_text",
    "trace",
    "encode",
    "encode_reading",
    "is_cjk",
    "is_word_char",
    "collapse_runs",
    "latin_runs",
    "run_bounds",
    "lower_latin",
    "latin_letters_fold_to_letters",
    "fold_tables",
    "warm_up",
    "READING_GAP",
    "REPEAT_RE",
    "HIGH_PLANE_RE",
    "LATIN_RUN_RE",
    "chars_before",
    "reading_of",
    "Reading",
    "steps_between",
    "ideographs_between",
    "removed_in",
]


class Step(StrEnum):
    """A normalisation step that can make a disguised term match; named in explanations."""

    NFKC = "nfkc"
    WIDTH = "width"
    CASE_FOLD = "case_fold"
    DIACRITIC = "diacritic_removed"
    HOMOGLYPH = "homoglyph"
    T2S = "t2s"
    SEPARATOR = "separator_removed"
    REPEAT = "repeat_collapsed"
    PINYIN_FULL = "pinyin_full"
    PINYIN_INITIALS = "pinyin_initials"
    HOMOPHONE = "homophone"


@dataclass(frozen=True, slots=True)
class CharFold:
    """How one original character folds: the folded text ('' = removed) and why it changed."""

    text: str
    steps: tuple[Step, ...]


_CJK_FIRST = 0x3400
_CJK_LAST = 0x9FFF
# Encoding of syllable numbers in the pinyin reading.
_SYLLABLE_HIGH = 0xF000
_SYLLABLE_LOW = 0xF100
_SYLLABLE_PER_HIGH = 16

#: Code points below this are folded by table lookup in the hot path; a message with any
#: character at or above it (CJK extension B and later, tags, plane-15/16 private use) takes
#: the slow path, which folds any code point.
TABLE_LIMIT = 0x20000

#: Characters that render as nothing or as blank and are used to split a term visually.
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e\u17b4\u17b5\u034f")

_SEPARATOR_CATEGORY_PREFIXES = ("Z", "P", "S", "C", "M")

# 'l' and 'i' (and '1', '|', '!', which look like either) are one letter in the key space.
_CANONICAL_LETTERS = {"l": "i"}

#: Stands for a letter (or kana, hangul...) in the reading, so a homophone key cannot match
#: across it: ``法x轮功`` is not read as ``fa lun gong``. Separators, and the ASCII digits and
#: symbols that elsewhere stand for letters, are dropped instead: ``法1轮|功`` is.
READING_GAP = "\x00"

#: ``REPEAT_RE.sub("", text)`` collapses runs of one character (of folded text).
REPEAT_RE = re.compile("(.)(?=\\1)", re.S)
_RUN_RE = re.compile("(.)\\1*", re.S)
#: Characters beyond :data:`TABLE_LIMIT`; a message holding one takes the slow path.
HIGH_PLANE_RE = re.compile("[\U00020000-\U0010ffff]")


_CJK_RUN_RE = re.compile("[\u3400-\u9fff\uf900-\ufaff\U00020000-\U000323af]+")


def is_cjk(ch: str) -> bool:
    """True for a CJK ideograph (unified, extensions, compatibility): the chars pinyin covers."""
    cp = ord(ch)
    return 0x3400 <= cp <= 0x9FFF or 0xF900 <= cp <= 0xFAFF or 0x20000 <= cp <= 0x323AF or cp == 0x3007


def collapse_runs(folded: str) -> tuple[str, tuple[int, ...]]:
    """Collapse runs of one character; return the collapsed text and each run's length."""
    collapsed = REPEAT_RE.sub("", folded)
    if len(collapsed) == len(folded):
        return collapsed, (1,) * len(folded)
    return collapsed, tuple(m.end() - m.start() for m in _RUN_RE.finditer(folded))


# -- tables ------------------------------------------------------------------------------


def _load_homoglyphs() -> dict[str, str]:
    table: dict[str, str] = {}
    raw = resources.files(__package__).joinpath("data/homoglyphs.tsv").read_text(encoding="utf-8")
    for line in raw.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        source, target = line.split("\t")[:2]
        if "-" in source:
            first, last = (int(part[2:], 16) for part in source.split("-"))
            t_first, t_last = (ord(part) for part in target.split("-"))
            if last - first != t_last - t_first:
                raise ValueError(f"homoglyph range length mismatch: {line!r}")
            for offset in range(last - first + 1):
                table[chr(first + offset)] = chr(t_first + offset)
        else:
            table[chr(int(source[2:], 16))] = target
    return table


def _load_t2s() -> dict[str, str]:
    """Character-level traditional -> simplified map, taken from OpenCC once per process.

    Character level (not OpenCC's phrase level) because the fold must be a per-character
    function for the offset map and the translate table; phrase-only conversions are rare in
    terms and are applied to both sides equally anyway.
    """
    import opencc

    converter = opencc.OpenCC("t2s")
    chars = [chr(cp) for cp in range(0x3400, 0xA000)]
    chars += [chr(cp) for cp in range(0xF900, 0xFB00)]
    converted = converter.convert("\n".join(chars)).split("\n")
    if len(converted) != len(chars):  # pragma: no cover - OpenCC keeps line structure
        raise RuntimeError("OpenCC changed the line structure of the t2s table input")
    return {src: dst for src, dst in zip(chars, converted, strict=True) if src != dst and dst}


def _is_separator(ch: str) -> bool:
    return ch in _INVISIBLE or unicodedata.category(ch).startswith(_SEPARATOR_CATEGORY_PREFIXES)


def _strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    kept = "".join(c for c in decomposed if not unicodedata.category(c).startswith("M"))
    return unicodedata.normalize("NFC", kept)


class FoldTables:
    """Every per-character table, built once per process (about half a second).

    The translate tables are lists indexed by code point rather than dicts: ``str.translate``
    treats a missing dict key as a raised ``KeyError``, which costs more than the lookup.
    Tables of small numbers are ``bytes``, which index the same way at an eighth of the
    memory (the slow path uses them, and it is the memory it touches that it waits for).
    """

    def __init__(self) -> None:
        from livegate.chat.lexicon import phonetic

        self.homoglyphs = _load_homoglyphs()
        self.t2s = _load_t2s()
        identity: list[int | str | None] = list(range(TABLE_LIMIT))
        # cp -> CharFold for every code point whose fold is not the identity (below the limit).
        self.folds: dict[int, CharFold] = {}
        fold_plain = identity.copy()
        for cp in range(TABLE_LIMIT):
            ch = chr(cp)
            fold = self.compute(ch)
            if fold.steps or fold.text != ch:
                self.folds[cp] = fold
                fold_plain[cp] = fold.text or None
        self.fold_plain = fold_plain
        # cp -> length of its fold, for the offset map in trace(). A bytes object serves as a
        # translate table (indexing it gives an int) and is an eighth of the size of a list.
        fold_length = bytearray(b"\x01") * TABLE_LIMIT
        for cp, fold in self.folds.items():
            fold_length[cp] = min(len(fold.text), 255)
        self.fold_length = bytes(fold_length)
        self.ascii_table = {cp: fold_plain[cp] for cp in range(128) if fold_plain[cp] != cp}
        # The same for bytes.translate (table, delete), which is several times faster; None
        # if some ASCII character folded into several (it does not, with the shipped data).
        byte_table = bytearray(range(256))
        byte_delete = bytearray()
        self.ascii_fold: tuple[bytes, bytes] | None = None
        for cp in range(128):
            plain = fold_plain[cp]
            if plain is None:
                byte_delete.append(cp)
            elif isinstance(plain, int):
                byte_table[cp] = plain
            elif len(plain) == 1 and plain.isascii():
                byte_table[cp] = ord(plain)
            else:
                break
        else:
            self.ascii_fold = (bytes(byte_table), bytes(byte_delete))
        # The reading: each ideograph (as folded) -> its default syllable's two units.
        self.syllable_units: dict[str, str] = {}
        for syllable, number in phonetic.syllable_ids().items():
            high, low = divmod(number, _SYLLABLE_PER_HIGH)
            self.syllable_units[syllable] = chr(_SYLLABLE_HIGH + high) + chr(_SYLLABLE_LOW + low)
        self.char_units: dict[str, str] = {}
        for cp in range(_CJK_FIRST, _CJK_LAST + 1):
            reading = phonetic.default_pinyin(chr(cp))
            units = self.syllable_units.get(reading) if reading else None
            if units:
                self.char_units[chr(cp)] = units
        # Original character -> its contribution to the reading (see READING_GAP).
        self.reading_table: list[int | str | None] = [READING_GAP] * TABLE_LIMIT
        reading_length = bytearray(TABLE_LIMIT)
        for cp in range(TABLE_LIMIT):
            piece = self.reading_piece(chr(cp))
            self.reading_table[cp] = piece or None
            reading_length[cp] = len(piece)
        self.reading_length = bytes(reading_length)
        # cp -> 1 for an ideograph that the fold leaves as it is (so with no steps), else 0.
        as_is = bytearray(TABLE_LIMIT)
        for first, last in ((0x3400, 0x9FFF), (0xF900, 0xFAFF)):
            for cp in range(first, last + 1):
                as_is[cp] = cp not in self.folds
        self.ideograph_as_is = bytes(as_is)

    def compute(self, ch: str) -> CharFold:
        """Fold one character: homoglyph symbols, NFKC, case, marks, homoglyphs, t2s."""
        cp = ord(ch)
        if 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF:
            # Unified ideographs: NFKC, case and marks leave them alone; only t2s applies.
            simple = self.t2s.get(ch)
            return CharFold(simple, (Step.T2S,)) if simple else CharFold(ch, ())
        steps: list[Step] = []
        if ch.isascii() and ch in self.homoglyphs:
            # ASCII digits and symbols standing in for letters ('0', '@', '!', ...).
            return CharFold(self.homoglyphs[ch], (Step.HOMOGLYPH,))
        if _is_separator(ch) and ch not in self.homoglyphs:
            # Quick exit for punctuation, spaces, emoji, format and private-use characters,
            # unless NFKC turns it into something visible (circled letters are 'So').
            compat = unicodedata.normalize("NFKC", ch)
            if compat == ch or all(_is_separator(c) for c in compat):
                return CharFold("", (Step.SEPARATOR,))
        text = unicodedata.normalize("NFKC", ch)
        if text != ch:
            steps.append(Step.WIDTH if 0xFF00 <= cp <= 0xFFEF or cp == 0x3000 else Step.NFKC)
        folded = text.casefold()
        if folded != text:
            steps.append(Step.CASE_FOLD)
            text = folded
        stripped = _strip_marks(text)
        if stripped != text and stripped:
            steps.append(Step.DIACRITIC)
            text = stripped
        mapped = "".join(self.homoglyphs.get(c, c) for c in text)
        if mapped != text:
            steps.append(Step.HOMOGLYPH)
            text = mapped
        text = "".join(_CANONICAL_LETTERS.get(c, c) for c in text)
        simplified = "".join(self.t2s.get(c, c) for c in text)
        if simplified != text:
            steps.append(Step.T2S)
            text = simplified
        visible = "".join(c for c in text if not _is_separator(c))
        if not visible:
            return CharFold("", (Step.SEPARATOR,))
        return CharFold(visible, tuple(steps))

    def reading_piece(self, ch: str) -> str:
        """What one original character contributes to the reading (see :data:`READING_GAP`)."""
        fold = self.fold(ch)
        if not fold.text or (ch.isascii() and not ch.isalpha()):
            return ""
        units = [self.char_units.get(c) for c in fold.text]
        if all(units):
            return "".join(u for u in units if u)
        return READING_GAP

    def fold(self, ch: str) -> CharFold:
        cp = ord(ch)
        if cp < TABLE_LIMIT:
            return self.folds.get(cp) or CharFold(ch, ())
        return self.compute(ch)


_tables: FoldTables | None = None
_tables_lock = threading.Lock()


def _get_tables() -> FoldTables:
    global _tables
    tables = _tables
    if tables is None:
        with _tables_lock:
            if _tables is None:
                _tables = FoldTables()
            tables = _tables
    return tables


def fold_tables() -> FoldTables:
    """The process-wide tables (built on first use); the matcher keeps references to them."""
    return _get_tables()


def warm_up() -> None:
    """Build the process-wide tables now rather than on the first message."""
    _get_tables()


def fold_char(ch: str) -> CharFold:
    """Fold a single character (any code point)."""
    return _get_tables().fold(ch)


def _syllable_units(syllable: str) -> str | None:
    return _get_tables().syllable_units.get(syllable)


# -- hot path ----------------------------------------------------------------------------


def fast_fold(text: str) -> tuple[str, str | None] | None:
    """Hot path: (collapsed text as :func:`encode` writes it, reading or None), or None.

    The reading (ideographs as syllable numbers) is returned only when the message holds an
    ideograph; it exists to match Chinese terms written with homophones. ``None`` as a whole
    means the message holds a code point beyond :data:`TABLE_LIMIT`; :func:`trace` handles it.
    """
    tables = _tables or _get_tables()
    if text.isascii():
        return REPEAT_RE.sub("", text.translate(tables.ascii_table)), None
    if HIGH_PLANE_RE.search(text) is not None:
        return None
    collapsed = REPEAT_RE.sub("", text.translate(tables.fold_plain))
    if collapsed.isascii():
        return collapsed, None
    reading = text.translate(tables.reading_table)
    return encode(collapsed), (reading if reading.strip(READING_GAP) else None)


def encode(folded: str) -> str:
    """Folded text in the automaton encoding: its UTF-8 bytes, one code unit per byte.

    Folded text holds no surrogates (the fold removes them), so this cannot fail.
    """
    return folded.encode("utf-8").decode("latin-1")


# -- slow path ---------------------------------------------------------------------------


class FoldedText(NamedTuple):
    """A message folded character by character, with the way back to the original.

    ``folded`` is the uncollapsed fold (separators removed); ``folded_origin[i]`` is the index
    of the original character that produced ``folded[i]``. ``collapsed`` is ``folded`` with
    runs collapsed; ``collapsed_start[j]``/``runs[j]`` give the run in ``folded`` behind
    ``collapsed[j]``. (A named tuple, which is quick to make: the slow path makes one for
    every message that hits something.)
    """

    original: str
    folded: str
    folded_origin: list[int]
    collapsed: str
    collapsed_start: list[int]
    runs: list[int]

    def original_span(self, folded_start: int, folded_end: int) -> tuple[int, int]:
        """Original [start, end) covering folded characters [folded_start, folded_end)."""
        return self.folded_origin[folded_start], self.folded_origin[folded_end - 1] + 1

    def collapsed_to_folded(self, start: int, end: int) -> tuple[int, int]:
        """Folded [start, end) covering collapsed characters [start, end) (whole runs)."""
        last = end - 1
        return self.collapsed_start[start], self.collapsed_start[last] + self.runs[last]

    def steps_at(self, index: int) -> tuple[Step, ...]:
        """The steps that changed original character ``index`` (() if it is unchanged)."""
        return fold_char(self.original[index]).steps

    def steps_between(self, start: int, end: int) -> set[Step]:
        """Every step that changed an original character in [start, end)."""
        return steps_between(self.original, start, end)

    def ideographs_between(self, start: int, end: int) -> str:
        """The folded ideographs of original characters [start, end), in order."""
        return ideographs_between(self.original, start, end)

    def removed_in(self, start: int, end: int) -> tuple[str, ...]:
        """The original characters in [start, end) that the fold removed."""
        return removed_in(self.original, start, end)


def steps_between(text: str, start: int, end: int) -> set[Step]:
    """Every step that changed a character of ``text`` in [start, end)."""
    folds = _get_tables().folds
    steps: set[Step] = set()
    for ch in text[start:end]:
        cp = ord(ch)
        fold = folds.get(cp) if cp < TABLE_LIMIT else fold_char(ch)
        if fold is not None:
            steps.update(fold.steps)
    return steps


def ideographs_between(text: str, start: int, end: int) -> str:
    """The folded ideographs of the characters of ``text`` in [start, end), in order."""
    segment = text[start:end]
    if HIGH_PLANE_RE.search(segment) is None:
        folded = segment.translate(_get_tables().fold_plain)  # fold_term(), in C
    else:
        folded = fold_term(segment)
    return "".join(_CJK_RUN_RE.findall(folded))


def removed_in(text: str, start: int, end: int) -> tuple[str, ...]:
    """The characters of ``text`` in [start, end) that the fold removed."""
    segment = text[start:end]
    if HIGH_PLANE_RE.search(segment) is not None:
        return tuple(c for c in segment if not fold_char(c).text)
    lengths = segment.translate(_get_tables().fold_length)
    if "\x00" not in lengths:
        return ()
    return tuple(c for c, n in zip(segment, lengths, strict=True) if n == "\x00")


def trace(text: str, folded: str | None = None, collapsed: str | None = None) -> FoldedText:
    """Slow path: fold ``text`` keeping, for each folded character, its original index.

    Built from C-level pieces (``translate``, ``compress``, ``map``) rather than a Python
    loop per character; only characters that fold into several (``ß``, ``ﬁ``) or that lie
    beyond the tables need the loop. Steps are looked up lazily, for matched spans only.

    The hot path passes the fold (and the collapsed fold) it has already made of a text
    within the tables, so they are not made twice.
    """
    tables = _get_tables()
    if folded is not None or HIGH_PLANE_RE.search(text) is None:
        if folded is None:
            folded = text.translate(tables.fold_plain)
        lengths = text.translate(tables.fold_length)
        if len(folded) == len(lengths) - lengths.count("\x00"):
            origin = list(compress(range(len(text)), lengths.encode("latin-1")))
        else:
            origin = [i for i, n in enumerate(lengths.encode("latin-1")) for _ in range(n)]
    else:
        pieces = [tables.fold(c).text for c in text]
        folded = "".join(pieces)
        origin = [i for i, piece in enumerate(pieces) for _ in piece]
    size = len(folded)
    if collapsed is None:
        collapsed = REPEAT_RE.sub("", folded)
    if len(collapsed) == size:  # no runs: the usual case
        starts = list(range(size))
        runs = [1] * size
    else:
        starts = list(compress(range(size), map(ne, folded, "\x00" + folded)))
        runs = list(map(sub, starts[1:] + [size], starts))
    return FoldedText(text, folded, origin, collapsed, starts, runs)


class Reading(NamedTuple):
    """A message's reading (slow path), with the way back to the original characters."""

    text: str
    ends: list[int]  # ends[i]: code units of the reading produced by original characters 0..i

    def original_index(self, unit: int) -> int:
        """The original character that produced code unit ``unit`` of the reading."""
        return bisect_right(self.ends, unit)


def reading_of(text: str) -> Reading:
    """The reading of an original text (the same table the hot path translates with)."""
    tables = _get_tables()
    if HIGH_PLANE_RE.search(text) is None:
        lengths = text.translate(tables.reading_length).encode("latin-1")
        return Reading(text.translate(tables.reading_table), list(accumulate(lengths)))
    pieces = [tables.reading_piece(c) for c in text]
    return Reading("".join(pieces), list(accumulate(map(len, pieces))))


def chars_before(encoded: str, unit: int) -> int:
    """How many characters the first ``unit`` code units of an encoded folded text hold.

    ``unit`` must fall between two characters (as a key's start and end do).
    """
    return len(encoded[:unit].encode("latin-1").decode("utf-8"))


# -- terms -------------------------------------------------------------------------------


def fold_term(term: str) -> str:
    """Fold a lexicon term (not collapsed): what :func:`trace` makes of the same text."""
    tables = _get_tables()
    return "".join(tables.fold(c).text for c in term)


def normalize_text(text: str) -> str:
    """Human-readable normalised form: folded, separators removed, runs collapsed."""
    return collapse_runs(fold_term(text))[0]


def encode_reading(folded: str, reading: tuple[str, ...]) -> str | None:
    """A homophone key: the syllables of ``reading`` for an all-ideograph term ``folded``.

    None if the term holds anything but ideographs, or a syllable is unknown.
    """
    out: list[str] = []
    for ch, syllable in zip(folded, reading, strict=True):
        units = _syllable_units(syllable) if is_cjk(ch) else None
        if units is None:
            return None
        out.append(units)
    return "".join(out)


# -- Latin letters: typed pinyin, word boundaries ---------------------------------------


#: Latin letters (ASCII, accented, fullwidth): the units typed pinyin is made of.
_LATIN_LETTERS = (
    ("A", "Z"),
    ("a", "z"),
    ("\u00c0", "\u00d6"),
    ("\u00d8", "\u00f6"),
    ("\u00f8", "\u024f"),
    ("\uff21", "\uff3a"),
    ("\uff41", "\uff5a"),
)
#: Runs of Latin letters.
LATIN_RUN_RE = re.compile("[" + "".join(f"{first}-{last}" for first, last in _LATIN_LETTERS) + "]+")


def lower_latin(joined: str) -> str:
    """Lower-case a joined Latin stream; fullwidth to ASCII, tone marks off (``sè`` -> ``se``).

    The result keeps one character per input character, so run offsets stay valid.
    """
    joined = joined.lower()
    if joined.isascii():
        return joined
    plain = "".join(c if c.isascii() else (_strip_marks(unicodedata.normalize("NFKC", c)) or c)[:1] for c in joined)
    return plain


@functools.cache
def latin_letters_fold_to_letters() -> bool:
    """Whether each Latin letter that types an ASCII letter also folds to one (or more).

    True for the shipped tables. It lets the hot path skip the Latin token scan for a message
    whose fold holds no ASCII letter: such a message has no letter a token key could use.
    """
    for first, last in _LATIN_LETTERS:
        for cp in range(ord(first), ord(last) + 1):
            ch = chr(cp)
            typed = lower_latin(ch)
            folded = fold_char(ch).text
            if _has_ascii_letter(typed) and not _has_ascii_letter(folded):
                return False
    return True


def _has_ascii_letter(text: str) -> bool:
    return any(c.isascii() and c.isalpha() for c in text)


def run_bounds(runs: list[str]) -> set[int]:
    """Offsets in the joined Latin stream where a run starts or ends.

    People type pinyin and initials with any spacing (``fa lun gong``, ``f.l.g``, ``fa1lun2``),
    so the runs of letters of a message are joined across whatever lies between them, and a
    key counts only if it starts and ends on a run boundary (``flags`` is not ``flg``).
    """
    bounds = set(accumulate(map(len, runs)))
    bounds.add(0)
    return bounds


@dataclass(frozen=True, slots=True)
class LatinRun:
    """One run of Latin letters: its offsets in the joined stream and in the original."""

    joined_start: int
    joined_end: int
    start: int
    end: int


def latin_runs(text: str) -> tuple[str, list[LatinRun]]:
    """Slow path: the joined, lower-cased Latin stream (see :func:`run_bounds`) with offsets."""
    parts: list[str] = []
    runs: list[LatinRun] = []
    position = 0
    for match in LATIN_RUN_RE.finditer(text):
        run = match.group()
        runs.append(LatinRun(position, position + len(run), match.start(), match.end()))
        position += len(run)
        parts.append(run)
    return lower_latin("".join(parts)), runs


def is_word_char(ch: str) -> bool:
    """Whether ``ch`` continues a Latin word (for term boundaries in the original text).

    Letters and digits of alphabetic scripts count; CJK, kana and hangul do not (Chinese
    text puts Latin words right next to ideographs), and neither do symbols that the fold
    reads as letters ('!' ending a sentence is not part of the word before it).
    """
    compat = unicodedata.normalize("NFKC", ch)
    if not compat:
        return False
    first = compat[0]
    if ord(first) >= 0x2E80:
        return False
    return unicodedata.category(first)[0] in ("L", "N")
