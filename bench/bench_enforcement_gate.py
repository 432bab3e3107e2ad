"""What enforcement adds to admitting a publisher, and what a blacklist check costs.

* gate: :meth:`PublishGate.evaluate` for a verified publisher with a history of sanctions
  (30 expired or acknowledged ones), with every check except enforcement's (reference)
  against the full gate (``sanctions_clear`` and ``credit_allows_category`` added);
* blacklist: ``blacklisted(phone_index=...)`` against a list of ``--entries`` entries
  (reference: the identity module's own look-up of a phone number by blind index, a
  unique-index probe on ``phone_verifications``).

Both run on SQLite in a temporary data dir; the minimum over ``--repeats`` counts (the
machine is shared). Run: ``.venv/bin/python bench/bench_enforcement_gate.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import insert, select

from livegate.app import Platform
from livegate.config import Settings
from livegate.enforcement.models import BlacklistEntry
from livegate.identity.models import PhoneVerification
from livegate.media.models import Room
from livegate.media.rooms import GateContext, PublishGate


def _best(fn: Callable[[], None], n: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--entries", type=int, default=100_000)
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.identity.helpers
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), database_url=f"sqlite:///{tmp}/b.db", broker_url="memory://",
                            http_port=0, rtmp_port=0, secret_key="bench-secret-" + "x" * 20)
        p = Platform(settings, start_rtmp=False)
        p.migrate()
        from tests.identity.helpers import make_verified_publisher, verify_phone_directly

        pub = make_verified_publisher(p, "bench-pub")
        verify_phone_directly(p, pub, "+8613800001234")
        with p.db.session() as s:
            room, _ = p.rooms.create(s, p.accounts.get(s, pub), title="b", category="education", actor="bench")
            room_id = room.id
        for _ in range(30):
            done = asyncio.run(p.enforcement.sanction(pub, kind="warning", reason_code="livestream.disorder",
                                                      actor="bench", escalate=False))
            with p.db.session() as s:
                p.enforcement.acknowledge(s, done.id, account_id=pub, actor="bench")
        now = p.clock.now()
        with p.db.session() as s:
            s.execute(insert(BlacklistEntry), [
                {"kind": "phone", "value_index": secrets.token_hex(32), "masked": "", "reason": "bench",
                 "source": "bench", "status": "active", "import_batch": "", "proposed_by": "a", "proposed_at": now,
                 "confirmed_by": "b", "removed_by": "", "removal_reason": "", "report_batch": ""}
                for _ in range(args.entries)])
        reference_gate = PublishGate([c for c in p.gate.checks
                                      if c.name not in {"sanctions_clear", "credit_allows_category"}])

        def gate(g: PublishGate) -> Callable[[], None]:
            def run() -> None:
                with p.db.session() as s:
                    room = s.get(Room, room_id)
                    assert room is not None
                    owner = p.accounts.get(s, pub)
                    g.evaluate(GateContext(session=s, room=room, owner=owner, now=now + dt.timedelta(days=1),
                                           peer="bench"))
            return run

        index = p.identity.vault.blind_index("+8613800001234", field="phone")

        def phone_lookup() -> None:
            with p.db.session() as s:
                s.scalar(select(PhoneVerification.account_id).where(PhoneVerification.phone_index == index))

        def blacklist_lookup() -> None:
            with p.db.session() as s:
                p.enforcement.blacklisted(s, phone_index=index)

        ref = _best(gate(reference_gate), args.calls, args.repeats)
        ours = _best(gate(p.gate), args.calls, args.repeats)
        print(f"publish gate, {len(reference_gate.checks)} checks (reference): {ref * 1e3:.3f} ms")
        print(f"publish gate + enforcement, {len(p.gate.checks)} checks (ours): {ours * 1e3:.3f} ms")
        print(f"ratio ours/reference: {ours / ref:.2f}")
        ref = _best(phone_lookup, args.calls, args.repeats)
        ours = _best(blacklist_lookup, args.calls, args.repeats)
        print(f"phone look-up by blind index (reference): {ref * 1e3:.3f} ms")
        print(f"blacklist check, {args.entries} entries (ours): {ours * 1e3:.3f} ms")
        print(f"ratio ours/reference: {ours / ref:.2f}")
        p.close()


if __name__ == "__main__":
    main()
