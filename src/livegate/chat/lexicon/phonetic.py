"""Pinyin readings for matching Chinese terms by sound.

Chat users write a forbidden Chinese term as typed pinyin (``falungong``, ``fa lun gong``),
as initials (``flg``) or with other characters that sound the same. All three reduce to
comparing toneless pinyin. Two sources serve two speeds:

* per character, the first reading in ``pypinyin``'s character dictionary, precomputed into a
  table that the hot path uses through ``str.translate``;
* per term, ``pypinyin``'s phrase-aware reading (it knows that 行 in 银行 is *hang*), used once
  when the lexicon is compiled.

Readings are lower case and toneless with ``ü`` written ``v``, as pinyin is typed;
:func:`canonical_latin` maps them into the normaliser's key space (``l`` merged into ``i``)
where they are compared with folded text.
"""

from __future__ import annotations

import functools
import threading
import unicodedata

__all__ = [
    "default_pinyin",
    "syllable_ids",
    "term_readings",
    "term_initials",
    "toned_readings",
    "term_toned",
    "canonical_latin",
]

_default: dict[str, str] | None = None
_lock = threading.Lock()


def canonical_latin(text: str) -> str:
    """Lower-case pinyin in key space: 'ü' as 'v', 'l' merged into 'i'."""
    return text.lower().replace("ü", "v").replace("l", "i")


def _toneless(marked: str) -> str:
    """'lǘ' -> 'lv': strip tone marks, keeping the umlaut as 'v'."""
    marked = marked.replace("ü", "v").replace("ǖ", "v").replace("ǘ", "v").replace("ǚ", "v").replace("ǜ", "v")
    decomposed = unicodedata.normalize("NFD", marked)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _build_default() -> dict[str, str]:
    from pypinyin.pinyin_dict import pinyin_dict

    table: dict[str, str] = {}
    for cp, readings in pinyin_dict.items():
        first = readings.split(",", 1)[0]
        plain = _toneless(first).lower()
        if plain.isascii() and plain.isalpha():
            table[chr(cp)] = plain
    return table


_syllables: dict[str, int] | None = None


def syllable_ids() -> dict[str, int]:
    """Every toneless syllable that any character can be read as, numbered in sorted order.

    The hot path writes a message's reading as syllable numbers (two private-use code units
    per character, see ``normalize``), so every syllable a term reading can contain needs one.
    """
    global _syllables
    table = _syllables
    if table is None:
        with _lock:
            if _syllables is None:
                from pypinyin.pinyin_dict import pinyin_dict

                found: set[str] = set()
                for readings in pinyin_dict.values():
                    for reading in readings.split(","):
                        plain = _toneless(reading).lower()
                        if plain.isascii() and plain.isalpha():
                            found.add(plain)
                _syllables = {syllable: index for index, syllable in enumerate(sorted(found))}
            table = _syllables
    return table


def default_pinyin(ch: str) -> str | None:
    """Toneless pinyin of one ideograph (its first reading), or None if unknown."""
    global _default
    table = _default
    if table is None:
        with _lock:
            if _default is None:
                _default = _build_default()
            table = _default
    return table.get(ch)


@functools.lru_cache(maxsize=65536)
def _phrase_pinyin(term: str) -> tuple[str, ...]:
    from pypinyin import Style, lazy_pinyin

    return tuple(lazy_pinyin(term, style=Style.NORMAL, errors="default"))


def term_readings(term: str) -> tuple[tuple[str, ...], ...]:
    """Distinct toneless readings of a folded term, one syllable (or character) per element.

    The phrase-aware reading comes first; the character-by-character default reading is
    added when it differs, because that is what the hot path computes for the text.
    Non-ideographs stay as themselves.
    """
    from livegate.chat.lexicon.normalize import is_cjk

    readings: list[tuple[str, ...]] = []
    phrase = tuple(_toneless(s).lower() for s in _phrase_pinyin(term))
    if len(phrase) == len(term):
        readings.append(phrase)
    default = tuple((default_pinyin(c) or c) if is_cjk(c) else c for c in term)
    if default not in readings:
        readings.append(default)
    return tuple(readings)


def term_initials(reading: tuple[str, ...]) -> str:
    """Initials of a reading: first letter of each syllable ('zhong' -> 'z', as typed)."""
    return "".join(s[0] for s in reading if s)


@functools.lru_cache(maxsize=65536)
def toned_readings(ch: str) -> frozenset[str]:
    """All toned readings of one ideograph, e.g. {'du3'}; neutral tone as 5."""
    from pypinyin import Style, pinyin

    result = pinyin(ch, style=Style.TONE3, heteronym=True, neutral_tone_with_five=True, errors="ignore")
    if not result:
        return frozenset()
    return frozenset(r.lower().replace("ü", "v") for r in result[0])


@functools.lru_cache(maxsize=65536)
def term_toned(term: str) -> tuple[str, ...]:
    """Phrase-aware toned reading of a folded term, one element per character."""
    from pypinyin import Style, lazy_pinyin

    result = lazy_pinyin(term, style=Style.TONE3, neutral_tone_with_five=True, errors="default")
    return tuple(r.lower().replace("ü", "v") for r in result)
