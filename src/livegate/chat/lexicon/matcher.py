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

Finding a key is only a candidate; :meth:`CompiledLexicon.find` confirms it on the traced
text: repeated letters must cover the term's (``as`` in ``was`` is not ``ass``), Latin keys
need word boundaries in the *original* text, token keys must span whole letter runs, and,
if enabled, short homophones must agree in tone.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from enum import StrEnum

import ahocorasick

from livegate.chat.lexicon import phonetic
from livegate.chat.lexicon.errors import LexiconEntryInvalid
from livegate.chat.lexicon.lexicon import AllowList, Lexicon, LexiconEntry
from livegate.chat.lexicon.normalize import (
    HIGH_PLANE_RE,
    LATIN_RUN_RE,
    READING_GAP,
    REPEAT_RE,
    FoldedText,
    Step,
    chars_before,
    collapse_runs,
    encode,
    encode_reading,
    fold_tables,
    fold_term,
    is_cjk,
    is_word_char,
    latin_runs,
    lower_latin,
    reading_of,
    run_bounds,
    trace,
)

__all__ = ["KeyKind", "MatchPolicy", "CandidateHit", "CompiledLexicon"]


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


@dataclass(frozen=True, slots=True)
class CandidateHit:
    """A confirmed match of one entry: where it is in the original text and why it matched."""

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


_collapse = REPEAT_RE.sub
_has_high = HIGH_PLANE_RE.search
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


def _node_flag(refs: list[_KeyRef]) -> int:
    if any(ref.kind is KeyKind.HOMOPHONE for ref in refs):
        return SCAN_PHONETIC
    if all(ref.kind is KeyKind.ALLOW for ref in refs):
        return SCAN_ALLOW
    return SCAN_FOLDED


def _build(*key_sets: dict[str, list[_KeyRef]]) -> ahocorasick.Automaton | None:
    automaton = ahocorasick.Automaton()
    for keys in key_sets:
        for key, refs in keys.items():
            automaton.add_word(key, _KeyNode(len(key), _node_flag(refs), tuple(refs)))
    if len(automaton) == 0:
        return None
    automaton.make_automaton()
    return automaton


def _no_hits(_text: str) -> Iterator[tuple[int, _KeyNode]]:
    return iter(())


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
        # Folded and phonetic keys never share a string (disjoint alphabets): one automaton.
        main = _build(folded_keys, phonetic_keys)
        tokens = _build(token_keys)
        self._main_iter: Callable[[str], Iterator[tuple[int, _KeyNode]]] = main.iter if main else _no_hits
        self._token_iter: Callable[[str], Iterator[tuple[int, _KeyNode]]] = tokens.iter if tokens else _no_hits
        self._has_tokens = tokens is not None
        tables = fold_tables()
        self._ascii_table = tables.ascii_table
        self._fold_table = tables.fold_plain
        self._encode_table = tables.encode_table
        self._reading_table = tables.reading_table
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

        This is :func:`~livegate.chat.lexicon.normalize.fast_fold` inlined (it runs for
        every message) followed by the scans. Any non-zero result needs :meth:`find`, which
        repeats only the flagged scans with offsets.
        """
        if text.isascii():
            scan = _collapse("", text.translate(self._ascii_table))
        elif _has_high(text) is not None:
            return SCAN_ALL
        else:
            folded = text.translate(self._fold_table)
            scan = _collapse("", folded)
            if not folded.isascii():
                scan = scan.translate(self._encode_table)
                reading = text.translate(self._reading_table)
                if reading.strip(READING_GAP):
                    scan += reading
        flags = 0
        for _end, node in self._main_iter(scan):
            flags |= node.flag
        if self._has_tokens:
            runs = _latin_runs(text)
            if runs:
                joined = "".join(runs).lower()
                if not joined.isascii():
                    joined = lower_latin(joined)
                bounds: set[int] | None = None
                for end, node in self._token_iter(joined):
                    if bounds is None:
                        bounds = run_bounds(runs)
                    if end + 1 in bounds and end + 1 - node.units in bounds:
                        flags |= SCAN_TOKENS
                        break
        if flags == SCAN_ALLOW:
            return 0  # only allow-listed words: nothing to suppress
        return flags

    def find(self, text: str, flags: int = SCAN_ALL) -> list[CandidateHit]:
        """Slow path: every confirmed hit in ``text``, with original spans and steps.

        ``flags`` from :meth:`might_match` limits the work to the scans that found something
        (a hit in the Latin token stream alone needs no character-by-character trace).
        """
        hits: list[CandidateHit] = []
        allowed: list[tuple[int, int]] = []
        if flags & (SCAN_FOLDED | SCAN_PHONETIC | SCAN_ALLOW):
            ft = trace(text)
            if flags & (SCAN_FOLDED | SCAN_ALLOW):
                self._find_folded(ft, hits, allowed)
            if flags & SCAN_PHONETIC:
                self._find_phonetic(ft, hits)
        if flags & SCAN_TOKENS:
            self._find_tokens(text, hits)
        if allowed:
            hits = [h for h in hits if not any(a0 <= h.start and h.end <= a1 for a0, a1 in allowed)]
        unique: dict[tuple[int, int, int], CandidateHit] = {}
        for hit in hits:
            unique.setdefault((id(hit.entry), hit.start, hit.end), hit)
        return list(unique.values())

    def _find_folded(self, ft: FoldedText, hits: list[CandidateHit], allowed: list[tuple[int, int]]) -> None:
        encoded = encode(ft.collapsed)
        for end_unit, node in self._main_iter(encoded):
            if node.flag == SCAN_PHONETIC:
                continue
            start = chars_before(encoded, end_unit + 1 - node.units)
            end = chars_before(encoded, end_unit + 1)
            for ref in node.refs:
                if ref.kind is KeyKind.ALLOW:
                    allowed.append(ft.original_span(*ft.collapsed_to_folded(start, end)))
                    continue
                runs = ft.runs
                if any(runs[start + k] < need for k, need in enumerate(ref.runs)):
                    continue
                span = self._bounded_span(ft, ref, start, end)
                if span is None:
                    continue
                f0, f1 = span
                if ref.noise_at >= 0 and not _is_noise(ft, start + ref.noise_at):
                    continue
                o0, o1 = ft.original_span(f0, f1)
                steps = self._explain_folded(ft, ref, start, end, f0, f1)
                hits.append(CandidateHit(self._entries[ref.entry], ref.kind, o0, o1, steps))

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
        steps: set[Step] = set()
        kind_step = _KIND_STEP[ref.kind]
        if kind_step is not None:
            steps.add(kind_step)
        term = self._entries[ref.entry].bare_term
        sources = _term_sources(term) if ref.kind is KeyKind.TERM and ref.noise_at < 0 else None
        text = ft.original
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
                origin = ft.folded_origin[f]
                if sources is not None and text[origin] in sources[k]:
                    continue
                steps.update(ft.steps_at(origin))
        o0, o1 = ft.original_span(f0, f1)
        removed = ft.removed_in(o0, o1)
        if removed and (ref.kind is not KeyKind.TERM or removed != _term_removed(term)):
            steps.add(Step.SEPARATOR)
        return tuple(sorted(steps))

    def _find_phonetic(self, ft: FoldedText, hits: list[CandidateHit]) -> None:
        text = ft.original
        reading = reading_of(text)
        policy = self.policy
        for end_unit, node in self._main_iter(reading.text):
            if node.flag != SCAN_PHONETIC:
                continue
            o0 = reading.original_index(end_unit + 1 - node.units)
            o1 = reading.original_index(end_unit) + 1
            chars = ft.ideographs_between(o0, o1)
            for ref in node.refs:
                homophone = chars != ref.term_folded
                if homophone and len(ref.reading) <= policy.tone_check_max_syllables and not _tones_agree(ref, chars):
                    continue
                steps = ft.steps_between(o0, o1)
                if homophone:
                    steps.add(Step.HOMOPHONE)
                if ft.removed_in(o0, o1) or len(chars) != o1 - o0:
                    steps.add(Step.SEPARATOR)
                steps.discard(Step.HOMOGLYPH)  # digits and symbols here were dropped, not read
                kind = KeyKind.HOMOPHONE if homophone else KeyKind.TERM
                hits.append(CandidateHit(self._entries[ref.entry], kind, o0, o1, tuple(sorted(steps))))

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
