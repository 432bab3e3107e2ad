"""Throughput of comment moderation on one core: full normalisation vs plain Aho-Corasick.

Builds a synthetic, seeded 50,000-term lexicon (mostly Chinese terms of 2-6 common
characters, plus Latin words and phrases) and ~30-character danmaku-like messages (Chinese
chat fragments, English, emoji, numbers; about 1 in 50 carries a lexicon term), then
measures messages per second for

* ``Moderator.moderate`` - NFKC/width/case/homoglyph/t2s folding, separator removal, run
  collapsing, pinyin and homophone keys, allow-list, explanation on hits;
* plain ``pyahocorasick`` over the raw text with the raw terms as keys (no normalisation),
  consuming every hit - the baseline the issue asks for.

The process is pinned to one CPU. Run: ``.venv/bin/python bench/bench_moderation.py``
(options: ``--terms``, ``--messages``, ``--seed``, ``--repeat``).
"""

from __future__ import annotations

import argparse
import os
import random
import string
import time
from collections.abc import Callable

import ahocorasick

from livegate.chat.lexicon import Action, Category, Lexicon, LexiconEntry, Moderator
from livegate.chat.lexicon.normalize import warm_up


def common_hanzi() -> list[str]:
    """GB2312 level-1 characters: the 3,755 most common simplified characters."""
    chars: list[str] = []
    for row in range(0xB0, 0xD8):
        for col in range(0xA1, 0xFF):
            try:
                chars.append(bytes([row, col]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return chars


CHAT_ZH = [
    "主播",
    "好厉害",
    "哈哈哈",
    "哈哈哈哈哈",
    "666",
    "这波操作",
    "太秀了",
    "前方高能",
    "打卡",
    "来了来了",
    "爷青回",
    "awsl",
    "yyds",
    "绝了",
    "笑死我了",
    "求BGM",
    "这是什么歌",
    "下次一定",
    "三连了",
    "好听",
    "主播晚上好",
    "今天吃什么",
    "刚下班",
    "有人吗",
    "弹幕护体",
    "泪目",
    "我来晚了",
    "牛啊",
    "太可爱了",
    "这个游戏叫什么",
    "主播加油",
    "稳住",
    "别浪",
    "上分",
    "输了输了",
    "赢了",
    "再来一把",
    "好家伙",
    "真的假的",
    "不会吧",
    "离谱",
    "细节",
    "名场面",
    "经典",
    "支持",
    "关注了",
    "点赞",
    "收藏了",
    "？？？",
    "！！",
    "……",
    "2333",
    "hhh",
    "233333",
    "草",
    "awsl awsl",
    "绝绝子",
    "破防了",
]
CHAT_EN = [
    "lol",
    "gg",
    "nice play",
    "what a shot",
    "let's go",
    "hello from Berlin",
    "first time here",
    "this song slaps",
    "gg wp",
    "hype",
    "poggers",
    "no way",
    "that was close",
    "love this stream",
    "can you play it again",
    "subscribed",
    "great vibes",
    "ez",
    "omg",
    "so good",
]
EMOJI = ["😂", "👍", "❤️", "🔥", "😭", "🎉", "👏", "🤣", "✨", "🙏"]


def make_lexicon(n_terms: int, rng: random.Random) -> list[LexiconEntry]:
    hanzi = common_hanzi()
    categories = list(Category)
    actions = [Action.BLOCK, Action.HOLD, Action.MASK, Action.FLAG]
    terms: set[str] = set()
    while len(terms) < n_terms:
        roll = rng.random()
        if roll < 0.70:
            length = rng.choices([2, 3, 4, 5, 6], weights=[25, 30, 25, 12, 8])[0]
            terms.add("".join(rng.choice(hanzi) for _ in range(length)))
        elif roll < 0.92:
            terms.add("".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(5, 10))))
        else:
            words = ["".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 7))) for _ in range(2)]
            terms.add(" ".join(words))
    return [
        LexiconEntry(
            term,
            rng.choice(categories),
            rng.choices([1, 2, 3, 4, 5], weights=[30, 30, 20, 12, 8])[0],
            rng.choice(actions),
        )
        for term in sorted(terms)
    ]


def make_messages(n: int, terms: list[str], rng: random.Random) -> list[str]:
    hanzi = common_hanzi()[:1500]
    messages: list[str] = []
    for _ in range(n):
        english = rng.random() < 0.2
        parts: list[str] = []
        length = 0
        target = rng.randint(24, 36)
        while length < target:
            roll = rng.random()
            if english:
                piece = rng.choice(CHAT_EN) + " "
            elif roll < 0.6:
                piece = rng.choice(CHAT_ZH)
            elif roll < 0.8:
                piece = "".join(rng.choice(hanzi) for _ in range(rng.randint(2, 4)))
            elif roll < 0.9:
                piece = rng.choice(EMOJI)
            else:
                piece = rng.choice(["，", "。", "！", " ", "~"])
            parts.append(piece)
            length += len(piece)
        if rng.random() < 0.02:
            parts.insert(rng.randrange(len(parts) + 1), rng.choice(terms))
        messages.append("".join(parts)[:40])
    return messages


def pin_one_cpu() -> str:
    try:
        cpu = sorted(os.sched_getaffinity(0))[0]
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    except (AttributeError, OSError):
        return "not pinned (no sched_setaffinity)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--terms", type=int, default=50_000)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--repeat", type=int, default=3, help="timed passes; the best is reported")
    args = parser.parse_args()
    print(pin_one_cpu())
    rng = random.Random(args.seed)

    started = time.perf_counter()
    warm_up()
    entries = make_lexicon(args.terms, rng)
    lexicon = Lexicon(entries)
    moderator = Moderator(lexicon)
    build_s = time.perf_counter() - started
    plain = ahocorasick.Automaton()
    for index, entry in enumerate(entries):
        plain.add_word(entry.term, index)
    plain.make_automaton()
    messages = make_messages(args.messages, [e.term for e in entries], rng)
    avg_len = sum(map(len, messages)) / len(messages)
    print(
        f"lexicon: {len(lexicon)} terms, {moderator._compiled.key_count} keys, built in {build_s:.1f}s "
        f"(incl. process-wide tables); messages: {len(messages)}, avg {avg_len:.1f} chars"
    )

    moderate = moderator.moderate
    might_match = moderator._compiled.might_match  # the hot path alone, for the breakdown

    def timed(work: Callable[[], object]) -> tuple[float, float]:
        """Best (CPU seconds, wall seconds) over the passes; CPU time is this process only."""
        best_cpu = best_wall = float("inf")
        for _ in range(args.repeat):
            cpu0, wall0 = time.process_time(), time.perf_counter()
            work()
            best_cpu = min(best_cpu, time.process_time() - cpu0)
            best_wall = min(best_wall, time.perf_counter() - wall0)
        return best_cpu, best_wall

    def run_full() -> int:
        return sum(1 for text in messages if moderate(text).action is not Action.PASS)

    def run_hot() -> int:
        return sum(1 for text in messages if might_match(text))

    def run_plain() -> int:
        hits = 0
        for text in messages:
            for _hit in plain.iter(text):
                hits += 1
        return hits

    flagged, slow, plain_hits = run_full(), run_hot(), run_plain()
    full_cpu, full_wall = timed(run_full)
    hot_cpu, _ = timed(run_hot)
    plain_cpu, plain_wall = timed(run_plain)
    n = len(messages)

    def line(label: str, cpu: float, wall: float | None = None) -> str:
        text = f"{label:<28}{n / cpu:>10,.0f} msg/s per CPU-second ({cpu / n * 1e6:5.2f} us/msg)"
        if wall is not None:
            text += f"; wall {n / wall:,.0f} msg/s"
        return text

    print(line("full normalisation", full_cpu, full_wall))
    print(line("  hot path only", hot_cpu))
    print(line("plain pyahocorasick (raw)", plain_cpu, plain_wall))
    print(f"ratio full/plain            : {plain_cpu / full_cpu:.2f} (throughput, CPU time)")
    print(
        f"decisions != pass: {flagged} ({flagged / n:.1%}); slow path taken: {slow} ({slow / n:.1%}); "
        f"plain raw hits: {plain_hits}"
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average at the end: {load:.2f} (wall figures suffer when other processes share the CPU)")
    rate = n / full_cpu
    print(f"goal >= 100,000 msg/s: {'met' if rate >= 100_000 else 'NOT met'} ({rate:,.0f} msg/s per CPU-second)")


if __name__ == "__main__":
    main()
