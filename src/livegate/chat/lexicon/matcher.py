"""Aho-Corasick automata over every way a lexicon term can be written.

Each entry contributes several *keys*:

``term``             the folded, run-collapsed term (``赌博``, ``fuck``), found in the folded text
``pinyin_mixed``     a Chinese term with one character typed as pinyin (``赌bo``, ``法lun功``),
                     found in the folded text
``pinyin_full``      its typed full pinyin (``falungong``), found in the Latin token stream
``pinyin_initials``  its initials (``flg``), found in the Latin token stream
``homophone``        its syllables, found in the message's reading (ideographs as syllable
                     numbers), so other characters with the same sound match (``发轮功``)
``allow``            an allow-listed word; never a hit, it suppresses hits inside it

The folded text and the reading are scanned by one automaton in one pass (their alphabets
are disjoint, see ``normalize``); the Latin token stream by a second, because its keys are
short and dense and only count where they line up with whole runs of letters. With the token
keys in the main automaton the scan cost about twice as much: ``pyahocorasick`` yields every
key that ends at a position, and short Latin keys end almost everywhere.

The hot path (:meth:`CompiledLexicon.scan`, run for every message) is a handful of C calls:
``str.translate`` for the fold and the reading, one regex for runs, UTF-8 encoding for the
automaton's alphabet (see ``normalize``), and the two scans. What it finds is confirmed by
:meth:`CompiledLexicon.confirm` from the hot path's own results; :meth:`CompiledLexicon.find`
does the same from scratch. Both are built so that the rare message that hits something
costs little more than the others: the time goes to memory (the automata are large, and
the slow path's code is cold by the time it runs), so :func:`_build` lays the automata out
for locality and the common cases (a term written as listed, a homophone of ideographs)
take short paths.

Finding a key is only a candidate; :meth:`CompiledLexicon.find` confirms it on the traced
text: repeated letters must cover the term's (``as`` in ``was`` is not ``ass``), Latin keys
need word boundaries in the *original* text, token keys must span whole letter runs, and,
if enabled, short homophones must agree in tone.
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from enum import StrEnum
from itertools import accumulate
from operator import ge
from typing import NamedTuple

import ahocorasick

from livegate.chat.lexicon import phonetic
from livegate.chat.lexicon.errors import LexiconEntryInvalid
from livegate.chat.lexicon.lexicon import AllowList, Lexicon, LexiconEntry
from livegate.chat.lexicon.normalize import (
    LATIN_RUN_RE,
    REPEAT_RE,
    TABLE_LIMIT,
    FoldedText,
    Step,
    chars_before,
    collapse_runs,
    encode,
    encode_reading,
    fold_char,
    fold_tables,
    fold_term,
    ideographs_between,
    is_cjk,
    is_word_char,
    latin_letters_fold_to_letters,
    latin_runs,
    lower_latin,
    reading_of,
    removed_in,
    run_bounds,
    steps_between,
    trace,
)

__all__ = ["KeyKind", "MatchPolicy", "CandidateHit", "CompiledLexicon", "Scanned"]


class KeyKind(StrEnum):
    """How a key was derived from its term (see module docstring)."""

    TERM = "term"
    PINYIN_FULL = "pinyin_full"
    PINYIN_INITIALS = "pinyin_initials"
    PINYIN_MIXED = "pinyin_mixed"
    HOMOPHONE = "homophone"
    ALLOW = "allow"


_KIND_STEP: dict[KeyKind, Step | None] = {
    KeyKind.TERM: None,
    KeyKind.PINYIN_FULL: Step.PINYIN_FULL,
    KeyKind.PINYIN_INITIALS: Step.PINYIN_INITIALS,
    KeyKind.PINYIN_MIXED: Step.PINYIN_FULL,
    KeyKind.HOMOPHONE: Step.HOMOPHONE,
    KeyKind.ALLOW: None,
}


@dataclass(frozen=True, slots=True)
class MatchPolicy:
    """Which phonetic variants are generated, and the message size limit.

    The defaults trade recall for precision where Chinese is ambiguous: two-syllable terms
    get no automatic homophone or initials keys (``独播`` "exclusive stream" sounds like
    ``赌博`` "gambling"; ``db`` is a database), only typed and mixed pinyin; list common short
    homophones and abbreviations (``sb``) as terms of their own. ``min_homophone_syllables=2``
    turns short homophones on; those must then also agree in tone (``tone_check_max_syllables``).

    Initials are the weakest evidence: in a lexicon of tens of thousands of terms most
    three-letter tokens (``omg``, ``bgm``, ``hhh``) are some term's initials. They are therefore
    generated only for serious terms (``min_initials_severity``), where an abbreviation such
    as ``flg`` is a known evasion worth a reviewer's look.
    """

    pinyin: bool = True
    min_pinyin_syllables: int = 2
    min_pinyin_key_length: int = 4
    min_initials_syllables: int = 3
    min_initials_severity: int = 4
    min_homophone_syllables: int = 3
    tone_check_max_syllables: int = 2
    max_message_chars: int = 10_000


@dataclass(frozen=True, slots=True)
class _KeyRef:
    """One key's link back to its entry, with what is needed to confirm a candidate."""

    entry: int  # index into the lexicon's entries; -1 for an allow word
    kind: KeyKind
    runs: tuple[int, ...]  # folded keys: minimum run length per collapsed character
    left_boundary: bool
    right_boundary: bool
    reading: tuple[str, ...]  # homophone keys: the term's syllables
    term_folded: str  # the folded (uncollapsed) term
    noise_at: int = -1  # noise keys: collapsed index of the stray digit or symbol


# Makes a folded-text key of a kind from a text (a closure over the entry being compiled).
_FoldedKeyMaker = Callable[[KeyKind, str], tuple[str, str, _KeyRef]]


@dataclass(frozen=True, slots=True)
class _KeyNode:
    units: int  # length of the key string as stored in the automaton
    flag: int  # SCAN_FOLDED, SCAN_ALLOW (allow words only) or SCAN_PHONETIC
    refs: tuple[_KeyRef, ...]


class CandidateHit(NamedTuple):
    """A confirmed match of one entry: where it is in the original text and why it matched.

    A named tuple rather than a dataclass: one is made for every hit, and a tuple is made
    in C.
    """

    entry: LexiconEntry
    kind: KeyKind
    start: int
    end: int
    steps: tuple[Step, ...]


#: :meth:`CompiledLexicon.might_match` flags: which scans found something.
SCAN_FOLDED = 1
SCAN_PHONETIC = 2
SCAN_TOKENS = 4
SCAN_ALLOW = 8
SCAN_ALL = SCAN_FOLDED | SCAN_PHONETIC | SCAN_TOKENS | SCAN_ALLOW


class Scanned(NamedTuple):
    """What the hot path found in a message, and what it computed on the way."""

    flags: int
    folded: str  # the fold (uncollapsed)
    collapsed: str
    scan: str  # the collapsed fold as encode() writes it
    hits: list[tuple[int, _KeyNode]] | None  # in scan + reading; None: left to find()


#: A message the hot path cannot fold (a code point beyond the tables): all of find().
_SCANNED_ALL = Scanned(SCAN_ALL, "", "", "", None)


def _distinct(hits: list[CandidateHit], allowed: list[tuple[int, int]]) -> list[CandidateHit]:
    """The hits outside allow-listed spans, one per entry and span."""
    if len(hits) < 2 and not allowed:
        return hits
    if allowed:
        hits = [h for h in hits if not any(a0 <= h.start and h.end <= a1 for a0, a1 in allowed)]
    unique: dict[tuple[int, int, int], CandidateHit] = {}
    for hit in hits:
        unique.setdefault((id(hit.entry), hit.start, hit.end), hit)
    return list(unique.values())


_collapse = REPEAT_RE.sub
_latin_runs = LATIN_RUN_RE.findall


#: What ASCII digits and symbols fold to: letters ('1' -> 'i', '@' -> 'a', '$' -> 's', ...)
#: or themselves (the digits with no look-alike letter). Other ASCII symbols are removed.
_NOISE_FOLDS = "oieast2689"


def _is_noise(ft: FoldedText, collapsed_index: int) -> bool:
    """Whether a collapsed character came only from ASCII digits or symbols (not letters)."""
    f_start = ft.collapsed_start[collapsed_index]
    originals = {ft.original[ft.folded_origin[f]] for f in range(f_start, f_start + ft.runs[collapsed_index])}
    return all(c.isascii() and not c.isalpha() for c in originals)


def _is_latin(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


@functools.lru_cache(maxsize=16384)
def _term_sources(term: str) -> tuple[frozenset[str], ...]:
    """Original characters of ``term`` behind each of its collapsed characters."""
    folded = trace(term)
    return tuple(
        frozenset(term[folded.folded_origin[f]] for f in range(start, start + run))
        for start, run in zip(folded.collapsed_start, folded.runs, strict=True)
    )


@functools.lru_cache(maxsize=16384)
def _term_removed(term: str) -> tuple[str, ...]:
    """The characters the fold removes from ``term`` (its own spaces and punctuation)."""
    return trace(term).removed_in(0, len(term))


def _build(key_sets: list[tuple[dict[str, list[_KeyRef]], int]], shallow_units: int) -> ahocorasick.Automaton | None:
    """An automaton over the keys of ``key_sets``, its first ``shallow_units`` levels together.

    ``pyahocorasick`` allocates a trie node when the first key that needs it is added, so the
    nodes lie in memory in the order of insertion, and it keeps a node's children in the
    order they were added and searches them one by one. A scan spends nearly all its time in
    the first few levels (most positions of a message begin no key, or only a short prefix
    of one), so these levels are created first, level by level, through placeholder words
    that are removed again before the automaton is made: the hot nodes then share cache
    lines instead of being strewn among the deep ones. Within a level the highest code units
    come first, so that syllables and the lead bytes of ideographs are found before the ASCII
    letters that begin the pinyin in mixed keys; and prefixes that mix ASCII with other units
    (``赌b`` of the mixed key ``赌bo``, ``冰i`` of the noise key for ``冰1毒``), which Chinese
    chat rarely walks into, come after the others of their level rather than among them.
    Together this makes a scan over a 50,000-term lexicon about a fifth faster.

    Every key's node gets the flag of its set, except a key of allow words only, which gets
    ``SCAN_ALLOW`` (allow words are added after the terms, so its first ref is one).
    """
    nodes = {
        key: _KeyNode(len(key), SCAN_ALLOW if refs[0].kind is KeyKind.ALLOW else flag, tuple(refs))
        for keys, flag in key_sets
        for key, refs in keys.items()
    }
    if not nodes:
        return None
    placeholders = {key[:n] for key in nodes for n in range(1, min(len(key), shallow_units + 1))}
    placeholders.difference_update(nodes)
    shallow = placeholders.union(key for key in nodes if len(key) <= shallow_units)
    automaton = ahocorasick.Automaton()
    add = automaton.add_word
    # Level by level; in a level, prefixes that mix ASCII with other units last, and in each
    # part the highest code units first.
    for key in sorted(sorted(shallow, reverse=True), key=lambda k: (len(k), _MIXED_UNITS.search(k) is not None)):
        add(key, nodes.get(key))
    for key, node in nodes.items():
        if len(key) > shallow_units:
            add(key, node)
    for key in placeholders:
        automaton.remove_word(key)
    automaton.make_automaton()
    return automaton


def _no_hits(*_args: object) -> Iterator[tuple[int, _KeyNode]]:
    return iter(())


def _iter_of(automaton: ahocorasick.Automaton | None) -> Callable[..., Iterator[tuple[int, _KeyNode]]]:
    """``automaton.iter``: (end offset, node) of every key in a text (text, start, end, skip spaces)."""
    return automaton.iter if automaton is not None else _no_hits


#: An ASCII unit next to a non-ASCII one.
_MIXED_UNITS = re.compile("[\x00-\x7f][^\x00-\x7f]|[^\x00-\x7f][\x00-\x7f]")
#: Deleting these from UTF-8 bytes leaves the ASCII letters and the lead bytes of 4-byte sequences.
_NOT_LETTERS_OR_4_BYTE_LEADS = bytes(b for b in range(256) if not (b < 128 and chr(b).isalpha() or b >= 0xF0))
#: ASCII text as its Latin token stream: letters lower-cased, everything else a space.
_TOKEN_STREAM = bytes(b + 32 if 65 <= b <= 90 else b if 97 <= b <= 122 else 32 for b in range(256))


class CompiledLexicon:
    """A lexicon and allow-list compiled into automata; immutable and thread-safe.

    ``pyahocorasick`` automata may be searched from many threads once built, and nothing
    here is mutated after ``__init__``.
    """

    def __init__(self, lexicon: Lexicon, allow_list: AllowList, policy: MatchPolicy) -> None:
        self.lexicon = lexicon
        self.allow_list = allow_list
        self.policy = policy
        self._entries = lexicon.entries
        folded_keys: dict[str, list[_KeyRef]] = {}
        phonetic_keys: dict[str, list[_KeyRef]] = {}
        token_keys: dict[str, list[_KeyRef]] = {}
        key_sets = {"folded": folded_keys, "phonetic": phonetic_keys, "token": token_keys}
        for index, entry in enumerate(self._entries):
            for key_set, key, ref in self._keys_for(index, entry):
                refs = key_sets[key_set].setdefault(key, [])
                if ref not in refs:
                    refs.append(ref)
        for word in allow_list:
            folded = fold_term(word)
            collapsed, runs = collapse_runs(folded)
            ref = _KeyRef(-1, KeyKind.ALLOW, runs, False, False, (), folded)
            folded_keys.setdefault(encode(collapsed), []).append(ref)
        # Shallow levels: two ideographs (three UTF-8 units each) or three syllables; three letters.
        # Folded and phonetic keys never share a string (disjoint alphabets), so the hot path
        # scans the folded text and the reading in one pass, one after the other.
        self._main_iter = _iter_of(_build([(folded_keys, SCAN_FOLDED), (phonetic_keys, SCAN_PHONETIC)], 6))
        self._token_iter = _iter_of(_build([(token_keys, SCAN_TOKENS)], 3))
        self._has_tokens = bool(token_keys)
        self._token_precheck = latin_letters_fold_to_letters()
        tables = fold_tables()
        self._ascii_fold = tables.ascii_fold
        self._fold_table = tables.fold_plain
        self._reading_table = tables.reading_table
        self._folds = tables.folds
        self._ideograph_as_is = tables.ideograph_as_is
        self._reading_length = tables.reading_length
        self.key_count = len(folded_keys) + len(phonetic_keys) + len(token_keys)

    # -- compiling -------------------------------------------------------------------------

    def _keys_for(self, index: int, entry: LexiconEntry) -> Iterator[tuple[str, str, _KeyRef]]:
        folded = fold_term(entry.bare_term)
        if not folded:
            raise LexiconEntryInvalid("term is empty after normalisation", term=entry.term)
        open_left = entry.term.startswith("*")
        open_right = entry.term.endswith("*")

        def folded_key(kind: KeyKind, text: str) -> tuple[str, str, _KeyRef]:
            collapsed, runs = collapse_runs(text)
            left = not open_left and _is_latin(collapsed[0])
            right = not open_right and _is_latin(collapsed[-1])
            return "folded", encode(collapsed), _KeyRef(index, kind, runs, left, right, (), folded)

        yield folded_key(KeyKind.TERM, folded)
        policy = self.policy
        cjk_count = sum(1 for c in folded if is_cjk(c))
        if not policy.pinyin or cjk_count < policy.min_pinyin_syllables:
            return
        for reading in phonetic.term_readings(folded):
            yield from self._pinyin_keys(index, entry.severity, folded, reading, cjk_count, folded_key)

    def _pinyin_keys(
        self,
        index: int,
        severity: int,
        folded: str,
        reading: tuple[str, ...],
        cjk_count: int,
        folded_key: _FoldedKeyMaker,
    ) -> Iterable[tuple[str, str, _KeyRef]]:
        policy = self.policy
        typed = "".join(reading)
        token_ref = _KeyRef(index, KeyKind.PINYIN_FULL, (), False, False, (), folded)
        if typed.isascii() and typed.isalpha() and len(typed) >= policy.min_pinyin_key_length:
            yield "token", typed, token_ref
            if "v" in typed:  # 'ü' is typed 'v' by IMEs and 'u' by hand
                yield "token", typed.replace("v", "u"), token_ref
        if cjk_count >= policy.min_initials_syllables and severity >= policy.min_initials_severity:
            initials = phonetic.term_initials(reading)
            if initials.isascii() and initials.isalpha():
                yield "token", initials, _KeyRef(index, KeyKind.PINYIN_INITIALS, (), False, False, (), folded)
        for position, char in enumerate(folded):
            if is_cjk(char):
                syllable = phonetic.canonical_latin(reading[position])
                yield folded_key(KeyKind.PINYIN_MIXED, folded[:position] + syllable + folded[position + 1 :])
        if len(folded) == 2 and cjk_count == 2:
            # '冰1毒', '约|炮': an ASCII digit or symbol between the characters folds to a
            # letter. Longer terms are found through the reading, which drops such noise.
            for letter in _NOISE_FOLDS:
                noise_key, ref = folded_key(KeyKind.TERM, folded[0] + letter + folded[1])[1:]
                yield "folded", noise_key, replace(ref, noise_at=1)
        if cjk_count >= policy.min_homophone_syllables:
            reading_key = encode_reading(folded, reading)
            if reading_key is not None:
                ref = _KeyRef(index, KeyKind.HOMOPHONE, (), False, False, reading, folded)
                yield "phonetic", reading_key, ref

    # -- matching --------------------------------------------------------------------------

    def might_match(self, text: str) -> int:
        """Hot path: which scans may find a term, as ``SCAN_*`` flags; 0 is final (pass).

        Any non-zero result needs :meth:`find`, which repeats only the flagged scans with
        offsets; :meth:`match` does both without repeating the scans.
        """
        found = self.scan(text)
        return 0 if found is None else found.flags

    def match(self, text: str) -> list[CandidateHit]:
        """Every confirmed hit in ``text``: :meth:`might_match`, then :meth:`find` if needed.

        The result is the same, but a flagged message is confirmed from the hot path's own
        fold and scan results instead of folding and scanning it again.
        """
        found = self.scan(text)
        return [] if found is None else self.confirm(text, found)

    def confirm(self, text: str, found: Scanned) -> list[CandidateHit]:
        """The slow path for what :meth:`scan` found in ``text``: the confirmed hits."""
        if found.hits is None:
            return self.find(text, found.flags)
        hits: list[CandidateHit] = []
        allowed: list[tuple[int, int]] = []
        size = len(found.scan)  # the reading follows the folded text
        if found.flags & (SCAN_FOLDED | SCAN_ALLOW):
            ft = trace(text, found.folded, found.collapsed)
            folded_hits = [hit for hit in found.hits if hit[0] < size]
            self._confirm_folded(ft, found.scan, folded_hits, hits, allowed)
        if found.flags & SCAN_PHONETIC:
            # reading_of(text).ends, without making the reading again
            ends = list(accumulate(text.translate(self._reading_length).encode("latin-1")))
            phonetic_hits = [(end - size, node) for end, node in found.hits if end >= size]
            self._confirm_phonetic(text, ends, phonetic_hits, hits)
        if found.flags & SCAN_TOKENS:
            self._find_tokens(text, hits)
        return _distinct(hits, allowed)

    def scan(self, text: str) -> Scanned | None:
        """The hot path: fold ``text`` and run the scans; None if nothing was found.

        This is :func:`~livegate.chat.lexicon.normalize.fast_fold` inlined (it runs for
        every message), keeping what :meth:`confirm` needs to confirm a hit.
        """
        runs: list[str] | None = None
        if text.isascii():
            raw = text.encode("ascii")
            # The fold byte by byte (bytes.translate), or as for any text if it cannot be.
            folded = raw.translate(*self._ascii_fold).decode("ascii") if self._ascii_fold else None
            if folded is None:
                folded = text.translate(self._fold_table)
            collapsed = scan = _collapse("", folded)
            reading = None
            # The Latin token stream of ASCII text: its letters lower-cased, the rest spaces.
            spaced = raw.translate(_TOKEN_STREAM).decode("ascii") if self._has_tokens else ""
        else:
            # The table ends at TABLE_LIMIT; translate() leaves the characters beyond as they
            # are, and they (or any character beyond the BMP that the fold keeps) are found
            # among the UTF-8 bytes with the letters, in one pass.
            folded = text.translate(self._fold_table)
            collapsed = _collapse("", folded)
            raw = collapsed.encode("utf-8")
            letters = raw.translate(None, _NOT_LETTERS_OR_4_BYTE_LEADS)
            if not letters.isascii():
                return _SCANNED_ALL
            scan = raw.decode("latin-1")  # encode(): a plain copy
            # Only ideographs read as syllables, and they fold to ideographs (non-ASCII).
            reading = None if raw.isascii() else text.translate(self._reading_table)
            spaced = ""
            if self._has_tokens and (letters or not self._token_precheck):
                runs = _latin_runs(text)
                spaced = " ".join(runs).lower()
                if not spaced.isascii():
                    spaced = lower_latin(spaced)
        flags = 0
        hits = list(self._main_iter(scan if reading is None else scan + reading))
        for _end, node in hits:
            flags |= node.flag
        if spaced:
            # The token automaton skips the spaces, so it sees the runs joined; a key counts
            # only if it starts and ends on a run boundary (see run_bounds). Most hits end
            # inside a run, which the next character shows without working out the bounds.
            size = len(spaced)
            bounds: set[int] | None = None
            for end, node in self._token_iter(spaced, 0, size, True):
                after = end + 1
                if after < size and spaced[after] != " ":
                    continue
                if bounds is None:
                    bounds = run_bounds(runs if runs is not None else _latin_runs(text))
                joined_end = after - spaced.count(" ", 0, after)  # the offset without spaces
                if joined_end in bounds and joined_end - node.units in bounds:
                    flags |= SCAN_TOKENS
                    break
        if flags == SCAN_ALLOW or not flags:
            return None  # nothing, or only allow-listed words: nothing to suppress
        return Scanned(flags, folded, collapsed, scan, hits)

    def find(self, text: str, flags: int = SCAN_ALL) -> list[CandidateHit]:
        """Slow path: every confirmed hit in ``text``, with original spans and steps.

        ``flags`` from :meth:`might_match` limits the work to the scans that found something
        (a hit in the Latin token stream alone needs no character-by-character trace). This
        folds and scans the text afresh, independently of the hot path.
        """
        hits: list[CandidateHit] = []
        allowed: list[tuple[int, int]] = []
        if flags & (SCAN_FOLDED | SCAN_ALLOW):
            ft = trace(text)
            encoded = encode(ft.collapsed)
            self._confirm_folded(ft, encoded, list(self._main_iter(encoded)), hits, allowed)
        if flags & SCAN_PHONETIC:
            reading = reading_of(text)
            self._confirm_phonetic(text, reading.ends, list(self._main_iter(reading.text)), hits)
        if flags & SCAN_TOKENS:
            self._find_tokens(text, hits)
        return _distinct(hits, allowed)

    def _confirm_folded(
        self,
        ft: FoldedText,
        encoded: str,
        found: list[tuple[int, _KeyNode]],
        hits: list[CandidateHit],
        allowed: list[tuple[int, int]],
    ) -> None:
        """Confirm the folded automaton's hits ``found`` in ``encoded`` (``ft.collapsed``)."""
        text, origin, collapsed_start, runs = ft.original, ft.folded_origin, ft.collapsed_start, ft.runs
        entries = self._entries
        for end_unit, node in found:
            end = chars_before(encoded, end_unit + 1)
            start = end - len(node.refs[0].runs)  # a key's runs: one per collapsed character
            f0 = collapsed_start[start]  # whole runs, as FoldedText.collapsed_to_folded()
            f1 = collapsed_start[end - 1] + runs[end - 1]
            for ref in node.refs:
                if ref.kind is KeyKind.ALLOW:
                    allowed.append((origin[f0], origin[f1 - 1] + 1))
                    continue
                if not all(map(ge, runs[start:end], ref.runs)):
                    continue
                s0, s1 = f0, f1
                if ref.left_boundary or ref.right_boundary or end - start == 1:
                    span = self._bounded_span(ft, ref, start, end)
                    if span is None:
                        continue
                    s0, s1 = span
                if ref.noise_at >= 0 and not _is_noise(ft, start + ref.noise_at):
                    continue
                o0, o1 = origin[s0], origin[s1 - 1] + 1
                entry = entries[ref.entry]
                if (
                    ref.kind is KeyKind.TERM
                    and ref.noise_at < 0
                    and ft.folded[s0:s1] == ref.term_folded
                    and text[o0:o1] == entry.term.strip("*")
                ):
                    steps: tuple[Step, ...] = ()  # the term as listed: _explain_folded() finds nothing
                else:
                    steps = self._explain_folded(ft, ref, start, end, s0, s1)
                hits.append(CandidateHit(entry, ref.kind, o0, o1, steps))

    @staticmethod
    def _bounded_span(ft: FoldedText, ref: _KeyRef, start: int, end: int) -> tuple[int, int] | None:
        """The folded span of a match, honouring the term's word boundaries in the original.

        The first and last runs may reach into the neighbouring word, since separators are
        removed before runs are collapsed (``guys shit`` folds to ``guyshit``). The match may
        begin anywhere in its first run and end anywhere in its last that leaves the term's
        letters, so the widest span whose edges are word boundaries is taken.
        """
        text = ft.original
        origin = ft.folded_origin
        f0, f1 = ft.collapsed_to_folded(start, end)
        first_run_end = ft.collapsed_start[start] + ft.runs[start]
        last_run_start = ft.collapsed_start[end - 1]
        if ref.left_boundary:
            latest = first_run_end - ref.runs[0]
            while f0 <= latest and origin[f0] > 0 and is_word_char(text[origin[f0] - 1]):
                f0 += 1
            if f0 > latest:
                return None
        if ref.right_boundary:
            earliest = last_run_start + ref.runs[-1]
            while f1 >= earliest and origin[f1 - 1] + 1 < len(text) and is_word_char(text[origin[f1 - 1] + 1]):
                f1 -= 1
            if f1 < earliest:
                return None
        if start == end - 1 and f1 - f0 < ref.runs[0]:
            return None
        return f0, f1

    def _explain_folded(self, ft: FoldedText, ref: _KeyRef, start: int, end: int, f0: int, f1: int) -> tuple[Step, ...]:
        """Steps that made the text equal the key where the term itself did not need them."""
        term = self._entries[ref.entry].bare_term
        text = ft.original
        steps: set[Step] = set()
        kind_step = _KIND_STEP[ref.kind]
        if kind_step is not None:
            steps.add(kind_step)
        sources = _term_sources(term) if ref.kind is KeyKind.TERM and ref.noise_at < 0 else None
        folds = self._folds
        for k in range(end - start):
            j = start + k
            run_start = max(ft.collapsed_start[j], f0)
            run_end = min(ft.collapsed_start[j] + ft.runs[j], f1)
            if run_end - run_start > ref.runs[k]:
                steps.add(Step.REPEAT)
            if k == ref.noise_at:
                steps.add(Step.SEPARATOR)
                continue
            for f in range(run_start, run_end):
                ch = text[ft.folded_origin[f]]
                if sources is not None and ch in sources[k]:
                    continue
                cp = ord(ch)
                fold = folds.get(cp) if cp < TABLE_LIMIT else fold_char(ch)
                if fold is not None:  # None: unchanged
                    steps.update(fold.steps)
        o0, o1 = ft.original_span(f0, f1)
        removed = removed_in(text, o0, o1)
        if removed and (ref.kind is not KeyKind.TERM or removed != _term_removed(term)):
            steps.add(Step.SEPARATOR)
        return tuple(sorted(steps))

    def _confirm_phonetic(
        self, text: str, ends: list[int], found: list[tuple[int, _KeyNode]], hits: list[CandidateHit]
    ) -> None:
        """Confirm the phonetic keys' hits ``found`` in the reading of ``text`` (``Reading.ends``)."""
        tone_check_max = self.policy.tone_check_max_syllables
        entries = self._entries
        # A hit for an entry and span already found in the folded text is the one kept (see
        # _distinct): a term written as listed is found both ways, and is explained once.
        known = {(id(hit.entry), hit.start, hit.end) for hit in hits}
        for end_unit, node in found:
            o0 = bisect_right(ends, end_unit + 1 - node.units)  # Reading.original_index()
            o1 = bisect_right(ends, end_unit) + 1
            refs = [ref for ref in node.refs if (id(entries[ref.entry]), o0, o1) not in known] if known else node.refs
            if not refs:
                continue
            chars = text[o0:o1]
            if chars.translate(self._ideograph_as_is).strip("\x01"):
                chars = ideographs_between(text, o0, o1)
                steps = steps_between(text, o0, o1)
                steps.discard(Step.HOMOGLYPH)  # digits and symbols here were dropped, not read
                if removed_in(text, o0, o1) or len(chars) != o1 - o0:
                    steps.add(Step.SEPARATOR)
            else:
                steps = set()  # ideographs only, none changed by the fold: what the rest finds
            for ref in refs:
                if chars == ref.term_folded:
                    kind, ref_steps = KeyKind.TERM, steps
                elif len(ref.reading) <= tone_check_max and not _tones_agree(ref, chars):
                    continue
                else:
                    kind, ref_steps = KeyKind.HOMOPHONE, steps | {Step.HOMOPHONE}
                hits.append(CandidateHit(entries[ref.entry], kind, o0, o1, tuple(sorted(ref_steps))))

    def _find_tokens(self, text: str, hits: list[CandidateHit]) -> None:
        joined, runs = latin_runs(text)
        by_start = {run.joined_start: index for index, run in enumerate(runs)}
        by_end = {run.joined_end: index for index, run in enumerate(runs)}
        for end_unit, node in self._token_iter(joined):
            first = by_start.get(end_unit + 1 - node.units)
            last = by_end.get(end_unit + 1)
            if first is None or last is None:
                continue
            o0, o1 = runs[first].start, runs[last].end
            original = text[o0:o1]
            for ref in node.refs:
                kind_step = _KIND_STEP[ref.kind]
                steps: set[Step] = {kind_step} if kind_step is not None else set()
                if last > first:
                    steps.add(Step.SEPARATOR)
                if any(c.isupper() for c in original):
                    steps.add(Step.CASE_FOLD)
                if any("\uff21" <= c <= "\uff5a" for c in original):
                    steps.add(Step.WIDTH)
                hits.append(CandidateHit(self._entries[ref.entry], ref.kind, o0, o1, tuple(sorted(steps))))


def _tones_agree(ref: _KeyRef, span: str) -> bool:
    """Short homophones: every substituted character must share the term's tone."""
    toned = phonetic.term_toned(ref.term_folded)
    if len(span) != len(ref.term_folded) or len(toned) != len(span):
        return False
    for index, char in enumerate(span):
        if char == ref.term_folded[index] or not is_cjk(char):
            continue
        if toned[index] not in phonetic.toned_readings(char):
            return False
    return True
