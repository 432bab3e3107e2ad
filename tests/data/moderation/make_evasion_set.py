"""Generate ``evasion_generated.tsv``: evasive spellings of the test lexicon's terms.

Each row is ``message<TAB>expected term<TAB>technique``: a chat line (a carrier phrase around
the disguised term) and the lexicon term a moderator must find in it. The techniques are the
ones seen in live-stream chat: separators and invisible characters between characters,
traditional characters, homophones, typed pinyin and initials, one character typed as pinyin,
stretched characters; for Latin terms leetspeak, Cyrillic/Greek look-alikes, fullwidth,
mathematical and enclosed letters, diacritics, mixed case, stretching - alone and combined.

The generator knows nothing of the matcher; it writes what an evader would write, including
spellings the matcher is known to miss (two-syllable homophones, digits between Chinese
characters), so the recall measured on this set is honest. Deterministic: fixed seed.

Run from the repository root: ``.venv/bin/python tests/data/moderation/make_evasion_set.py``.
"""

from __future__ import annotations

import random
import unicodedata
from pathlib import Path

import opencc
from pypinyin import Style, lazy_pinyin
from pypinyin.pinyin_dict import pinyin_dict

HERE = Path(__file__).resolve().parent
SEED = 20240607
VARIANTS_PER_TERM = 5

ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"]
CJK_SEPARATORS = (
    [" ", "  ", ".", "·", "*", "-", "_", "/", "~", "、", "，", "。", "\u3000", "♥", "😂", "🔥", "⭐", "\ufe0f"]
    + ZERO_WIDTH
    + ["|", "1", "2"]  # rarer: symbols and digits (read as letters elsewhere)
)
LATIN_SEPARATORS = [" ", ".", "-", "_", "*", "~", "·", "/", "♥", "😂"] + ZERO_WIDTH

LEET = {"a": ["4", "@"], "e": ["3"], "i": ["1", "!", "|"], "l": ["1", "|"], "o": ["0"], "s": ["5", "$"], "t": ["7"]}
CYRILLIC = {"a": "а", "c": "с", "e": "е", "i": "і", "o": "о", "p": "р", "s": "ѕ", "x": "х", "y": "у", "k": "к"}
GREEK = {"a": "α", "i": "ι", "k": "κ", "o": "ο", "p": "ρ", "t": "τ", "u": "υ", "v": "ν", "x": "χ"}

ZH_CARRIERS = [
    "{}",
    "主播{}吗",
    "有没有人{}",
    "{}了解一下",
    "大家快看{}",
    "刚看到{}的消息",
    "谁懂{}啊",
    "{}私聊我",
    "弹幕里有人说{}",
    "这就是{}吧",
    "{}，懂的都懂",
    "求{}资源",
    "哈哈哈{}哈哈",
    "兄弟们{}冲",
]
EN_CARRIERS = [
    "{}",
    "you are such an {}",
    "{} lol",
    "lmao {}",
    "this is {} honestly",
    "stop being a {}",
    "{} in the chat",
    "omg {} again",
    "who is {} here",
    "{}!!!",
    "guys {} for real",
]


def is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff"


def load_terms(path: Path) -> list[tuple[str, int]]:
    terms = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        columns = line.split("\t")
        if columns[0] == "term":
            continue
        terms.append((columns[0], int(columns[2])))
    return terms


def homophone_table() -> dict[str, list[str]]:
    """Toneless syllable -> common characters read that way (GB2312 level 1)."""
    common: set[str] = set()
    for row in range(0xB0, 0xD8):
        for col in range(0xA1, 0xFF):
            try:
                common.add(bytes([row, col]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    table: dict[str, list[str]] = {}
    for cp, readings in sorted(pinyin_dict.items()):
        ch = chr(cp)
        if ch not in common:
            continue
        syllable = lazy_pinyin(ch, style=Style.NORMAL)[0]
        table.setdefault(syllable, []).append(ch)
    return table


class Generator:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.s2t = opencc.OpenCC("s2t")
        self.homophones = homophone_table()

    # -- Chinese ----------------------------------------------------------------------------

    def separated(self, term: str) -> str:
        sep = self.rng.choice(CJK_SEPARATORS)
        return sep.join(term)

    def traditional(self, term: str) -> str:
        return self.s2t.convert(term)

    def homophone(self, term: str) -> str:
        chars = list(term)
        positions = [i for i, c in enumerate(chars) if is_cjk(c)]
        for i in self.rng.sample(positions, k=min(len(positions), self.rng.choice([1, 1, 2]))):
            syllable = lazy_pinyin(chars[i], style=Style.NORMAL)[0]
            options = [c for c in self.homophones.get(syllable, []) if c != chars[i]]
            if options:
                chars[i] = self.rng.choice(options)
        return "".join(chars)

    def typed_pinyin(self, term: str) -> str:
        syllables = lazy_pinyin(term, style=Style.NORMAL)
        joiner = self.rng.choice(["", " ", "", "-"])
        text = joiner.join(syllables)
        return text.upper() if self.rng.random() < 0.2 else text

    def initials(self, term: str) -> str:
        letters = "".join(s[0] for s in lazy_pinyin(term, style=Style.NORMAL))
        return letters.upper() if self.rng.random() < 0.4 else letters

    def mixed(self, term: str) -> str:
        positions = [i for i, c in enumerate(term) if is_cjk(c)]
        i = self.rng.choice(positions)
        return term[:i] + lazy_pinyin(term[i], style=Style.NORMAL)[0] + term[i + 1 :]

    def stretched(self, term: str) -> str:
        i = self.rng.randrange(len(term))
        return term[:i] + term[i] * self.rng.randint(2, 4) + term[i + 1 :]

    def chinese_variant(self, term: str, severity: int) -> tuple[str, str]:
        cjk = sum(1 for c in term if is_cjk(c))
        techniques = ["separated", "separated", "traditional", "homophone", "typed_pinyin", "mixed", "stretched"]
        if cjk >= 3 and severity >= 4:
            techniques.append("initials")
        technique = self.rng.choice(techniques)
        text = getattr(self, technique)(term)
        if technique in ("traditional", "homophone", "mixed") and self.rng.random() < 0.4:
            text = self.separated(text)
            technique += "+separated"
        return text, technique

    # -- Latin ------------------------------------------------------------------------------

    def leet(self, term: str) -> str:
        out = []
        for c in term:
            if c in LEET and self.rng.random() < 0.6:
                out.append(self.rng.choice(LEET[c]))
            else:
                out.append(c)
        return "".join(out)

    def lookalike(self, term: str) -> str:
        table = self.rng.choice([CYRILLIC, GREEK])
        return "".join(table[c] if c in table and self.rng.random() < 0.7 else c for c in term)

    def fullwidth(self, term: str) -> str:
        return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" if c == " " else c for c in term)

    def styled(self, term: str) -> str:
        base = self.rng.choice([0x1D41A, 0x1D5EE, 0x1D68A])  # bold, sans-serif bold, monospace a
        return "".join(chr(base + ord(c) - ord("a")) if "a" <= c <= "z" else c for c in term)

    def enclosed(self, term: str) -> str:
        base = self.rng.choice([0x24D0, 0x1F170])  # circled small a, negative squared capital A
        return "".join(chr(base + ord(c) - ord("a")) if "a" <= c <= "z" else c for c in term)

    def accented(self, term: str) -> str:
        marks = ["\u0301", "\u0308", "\u0303", "\u0300"]
        out = []
        for c in term:
            if c.isalpha() and self.rng.random() < 0.5:
                out.append(unicodedata.normalize("NFC", c + self.rng.choice(marks)))
            else:
                out.append(c)
        return "".join(out)

    def mixed_case(self, term: str) -> str:
        return "".join(c.upper() if self.rng.random() < 0.5 else c for c in term)

    def spaced(self, term: str) -> str:
        sep = self.rng.choice(LATIN_SEPARATORS)
        return sep.join(term.replace(" ", ""))

    def stretched_latin(self, term: str) -> str:
        letters = [i for i, c in enumerate(term) if c.isalpha()]
        i = self.rng.choice(letters)
        return term[:i] + term[i] * self.rng.randint(3, 6) + term[i + 1 :]

    def latin_variant(self, term: str) -> tuple[str, str]:
        techniques = [
            "leet",
            "lookalike",
            "fullwidth",
            "styled",
            "enclosed",
            "accented",
            "mixed_case",
            "spaced",
            "stretched_latin",
        ]
        technique = self.rng.choice(techniques)
        text = getattr(self, technique)(term)
        if technique in ("leet", "lookalike", "mixed_case") and self.rng.random() < 0.4:
            second = self.rng.choice(["spaced", "stretched_latin"])
            text = getattr(self, second)(text)
            technique += "+" + second
        return text, technique

    # -- rows -------------------------------------------------------------------------------

    def rows(self, terms: list[tuple[str, int]]) -> list[tuple[str, str, str]]:
        rows: list[tuple[str, str, str]] = []
        for term, severity in terms:
            bare = term.strip("*")
            chinese = any(is_cjk(c) for c in bare)
            seen: set[str] = set()
            for _ in range(VARIANTS_PER_TERM * 3):
                if len(seen) >= VARIANTS_PER_TERM:
                    break
                text, technique = self.chinese_variant(bare, severity) if chinese else self.latin_variant(bare)
                if text == bare or text in seen:
                    continue
                seen.add(text)
                carrier = self.rng.choice(ZH_CARRIERS if chinese else EN_CARRIERS)
                rows.append((carrier.format(text), term, technique))
        return rows


def render() -> str:
    """The file's full text (the test suite compares it with the committed copy)."""
    rng = random.Random(SEED)
    rows = Generator(rng).rows(load_terms(HERE / "lexicon.tsv"))
    lines = [f"# Generated by make_evasion_set.py (seed {SEED}); do not edit by hand."]
    lines.append("# message\texpected term\ttechnique")
    for message, term, technique in rows:
        if "\t" in message or "\n" in message:
            raise ValueError(f"generated message holds a tab or newline: {message!r}")
        lines.append(f"{message}\t{term}\t{technique}")
    return "\n".join(lines) + "\n"


def main() -> None:
    text = render()
    (HERE / "evasion_generated.tsv").write_text(text, encoding="utf-8")
    print(f"wrote {text.count(chr(10)) - 2} rows")


if __name__ == "__main__":
    main()
