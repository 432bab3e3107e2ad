"""Recall on the adversarial evasion set and precision on ordinary chat.

Uses the committed test data under ``tests/data/moderation``: the test lexicon and
allow-list, ``evasion_generated.tsv`` (from ``make_evasion_set.py``, fixed seed) plus
``evasion_handwritten.tsv`` (evasive spellings of listed terms, with the expected term), and
``ordinary_chat.txt`` (harmless danmaku and chat). A row of the evasion set counts as found
when the decision names its expected term; an ordinary line counts as a false positive
when its action is anything but ``pass``. Precision is found / (found + false positives).

Goal: recall >= 0.95 at precision >= 0.99. Run: ``.venv/bin/python bench/bench_evasion.py``
(``--misses`` lists what was missed and what was wrongly flagged).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from livegate.chat.lexicon import Action, AllowList, Lexicon, Moderator

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "moderation"


def rows(name: str) -> list[list[str]]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines if line and not line.startswith("#")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--misses", action="store_true", help="list misses and false positives")
    args = parser.parse_args()

    started = time.perf_counter()
    moderator = Moderator(Lexicon.load(DATA / "lexicon.tsv"), AllowList.load(DATA / "allow_list.txt"))
    build_s = time.perf_counter() - started

    by_technique: Counter[str] = Counter()
    found_by_technique: Counter[str] = Counter()
    misses: list[tuple[str, str, str]] = []
    total = found = 0
    for source in ("evasion_generated.tsv", "evasion_handwritten.tsv"):
        for message, term, technique in rows(source):
            label = technique.split(":")[0] if source.endswith("handwritten.tsv") else technique.split("+")[0]
            label = f"{'hand' if source.endswith('handwritten.tsv') else 'gen'}:{label}"
            total += 1
            by_technique[label] += 1
            if any(hit.term == term for hit in moderator.moderate(message).hits):
                found += 1
                found_by_technique[label] += 1
            else:
                misses.append((message, term, technique))

    chat = [row[0] for row in rows("ordinary_chat.txt")]
    false_positives = []
    for line in chat:
        decision = moderator.moderate(line)
        if decision.action is not Action.PASS:
            false_positives.append((line, decision.matched, decision.action.value))

    recall = found / total
    precision = found / (found + len(false_positives))
    print(f"lexicon: {len(moderator.lexicon)} terms (version {moderator.lexicon.version}), built in {build_s:.2f}s")
    print(
        f"evasion set   : {total} rows ({len(rows('evasion_generated.tsv'))} generated, "
        f"{len(rows('evasion_handwritten.tsv'))} hand-written)"
    )
    print(f"recall        : {recall:.3f}  ({found}/{total})")
    print(
        f"ordinary chat : {len(chat)} lines, {len(false_positives)} flagged "
        f"(false-positive rate {len(false_positives) / len(chat):.3%})"
    )
    print(f"precision     : {precision:.3f}")
    ok = recall >= 0.95 and precision >= 0.99
    print(f"goal recall >= 0.95 at precision >= 0.99: {'met' if ok else 'NOT met'}")
    print("\nrecall by technique:")
    for label in sorted(by_technique):
        print(
            f"  {label:32s} {found_by_technique[label]:>4}/{by_technique[label]:<4}"
            f" {found_by_technique[label] / by_technique[label]:.2f}"
        )
    if args.misses:
        print("\nmissed:")
        for message, term, technique in misses:
            print(f"  {message!r:40} expected {term!r} ({technique})")
        print("\nfalse positives:")
        for line, matched, action in false_positives:
            print(f"  {line!r:40} {action} on {matched!r}")


if __name__ == "__main__":
    main()
