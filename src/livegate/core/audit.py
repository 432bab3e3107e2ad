"""The append-only, hash-chained audit log.

Each entry's hash covers its own fields and the previous entry's hash, over a canonical
JSON encoding, so editing, deleting or reordering any row breaks the chain from that
row on. Appends happen inside the caller's transaction: the state change and its audit
entry commit together or not at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from livegate.core.clock import Clock, SystemClock
from livegate.core.models import AuditEntry

GENESIS = "0" * 64
_PG_AUDIT_LOCK = 0x4C475F41554454  # "LG_AUDT": serialises appends across nodes on PostgreSQL


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(
    seq: int, at: dt.datetime, actor: str, action: str, target: str, reason: str,
    details: dict[str, Any], prev_hash: str,
) -> bytes:
    doc = {
        "seq": seq, "at": _iso(at), "actor": actor, "action": action, "target": target,
        "reason": reason, "details": details, "prev": prev_hash,
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(e: AuditEntry) -> str:
    return hashlib.sha256(
        canonical(e.seq, e.at, e.actor, e.action, e.target, e.reason, e.details or {}, e.prev_hash)
    ).hexdigest()


class AuditLog:
    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or SystemClock()

    def record(
        self,
        session: Session,
        *,
        actor: str,
        action: str,
        target: str = "",
        reason: str = "",
        details: dict[str, Any] | None = None,
    ) -> AuditEntry:
        """Append one entry in ``session``'s transaction and return it."""
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})
        session.flush()
        last = session.execute(
            select(AuditEntry.seq, AuditEntry.entry_hash).order_by(AuditEntry.seq.desc()).limit(1)
        ).first()
        seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
        clean = json.loads(json.dumps(details or {}, default=str))
        entry = AuditEntry(
            seq=seq, at=self.clock.now(), actor=actor, action=action, target=target,
            reason=reason, details=clean, prev_hash=prev, entry_hash="",
        )
        entry.entry_hash = entry_hash(entry)
        session.add(entry)
        session.flush()
        return entry


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    count: int
    first_broken: int | None = None
    problem: str = ""
    head: str = GENESIS


def verify_chain(session: Session, batch: int = 5000) -> VerifyResult:
    """Walk the chain in order; name the first sequence number that does not fit."""
    expected_seq = 1
    prev = GENESIS
    count = 0
    last_seq = 0
    while True:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.seq > last_seq).order_by(AuditEntry.seq).limit(batch)
        ).all()
        if not rows:
            break
        for e in rows:
            if e.seq != expected_seq:
                return VerifyResult(False, count, expected_seq, f"entry {expected_seq} is missing", prev)
            if e.prev_hash != prev:
                return VerifyResult(False, count, e.seq, "previous-hash link does not match", prev)
            if entry_hash(e) != e.entry_hash:
                return VerifyResult(False, count, e.seq, "entry content does not match its hash", prev)
            prev = e.entry_hash
            expected_seq += 1
            count += 1
            last_seq = e.seq
        session.expunge_all()
    return VerifyResult(True, count, None, "", prev)
