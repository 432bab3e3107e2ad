"""The audit chain's head, written out daily and signed, so tampering is provable later.

The audit log is hash-chained, but a hash chain alone does not stop someone with database
access from rewriting it end to end (recomputing every hash). A head written out each day
(into storage, and wherever the operator copies it: off-site, to the regulator) pins the
chain as it was: if entry ``seq`` later hashes to anything else, or the chain got shorter,
the earlier head proves it. :func:`verify_against` makes that comparison.

A head file is JSON: ``{"format", "day", "seq", "hash", "count", "verified", "written_at",
"node", "public_key", "signature"}``; the Ed25519 signature covers the canonical JSON of
every other field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from livegate.core.audit import GENESIS, verify_chain
from livegate.core.models import AuditEntry
from livegate.retention.errors import HeadFileInvalid
from livegate.retention.signing import PlatformKey, canonical_json, fingerprint, verify

HEAD_FORMAT = "livegate-audit-head/1"


def current_head(s: Session, *, full_verify: bool = True) -> dict[str, Any]:
    """The last entry's seq and hash, and whether the whole chain verifies up to it."""
    if full_verify:
        r = verify_chain(s)
        last = s.execute(select(AuditEntry.seq, AuditEntry.entry_hash)
                         .order_by(AuditEntry.seq.desc()).limit(1)).first()
        seq, head = (last[0], last[1]) if last else (0, GENESIS)
        return {"seq": int(seq), "hash": head, "count": r.count, "verified": r.ok,
                "problem": r.problem, "first_broken": r.first_broken}
    last = s.execute(select(AuditEntry.seq, AuditEntry.entry_hash).order_by(AuditEntry.seq.desc()).limit(1)).first()
    seq, head = (last[0], last[1]) if last else (0, GENESIS)
    return {"seq": int(seq), "hash": head, "count": int(seq), "verified": None}


def signed_head(head: dict[str, Any], *, day: str, written_at: str, node: str, key: PlatformKey) -> dict[str, Any]:
    body = {"format": HEAD_FORMAT, "day": day, "seq": head["seq"], "hash": head["hash"], "count": head["count"],
            "verified": head["verified"], "written_at": written_at, "node": node, "public_key": key.public_b64}
    return {**body, "signature": key.sign(canonical_json(body))}


def parse_head(data: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise HeadFileInvalid(f"not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != HEAD_FORMAT:
        raise HeadFileInvalid(f"not a {HEAD_FORMAT} file")
    body = {k: v for k, v in doc.items() if k != "signature"}
    if not verify(str(doc.get("public_key", "")), str(doc.get("signature", "")), canonical_json(body)):
        raise HeadFileInvalid("the signature does not match the head (the file was altered)")
    return doc


@dataclass(frozen=True)
class HeadCheck:
    ok: bool
    message: str
    day: str
    seq: int
    key_fingerprint: str
    key_is_platform: bool | None


def verify_against(s: Session, data: bytes, *, platform_key: PlatformKey | None = None) -> HeadCheck:
    """Does today's chain still contain, unchanged, the head recorded in ``data``?"""
    doc = parse_head(data)
    seq, expected = int(doc["seq"]), str(doc["hash"])
    fp = fingerprint(doc["public_key"])
    mine = None if platform_key is None else platform_key.public_b64 == doc["public_key"]
    day = str(doc.get("day", ""))

    def done(ok: bool, msg: str) -> HeadCheck:
        return HeadCheck(ok, msg, day, seq, fp, mine)

    r = verify_chain(s)
    if not r.ok:
        return done(False, f"the audit chain is broken at entry {r.first_broken}: {r.problem}")
    if seq == 0:
        return done(True, "the head file records an empty chain")
    row = s.execute(select(AuditEntry.entry_hash).where(AuditEntry.seq == seq)).first()
    if row is None:
        return done(False, f"entry {seq}, the head on {day}, is missing: the chain was truncated "
                           f"(it now has {r.count} entries)")
    if row[0] != expected:
        return done(False, f"entry {seq} hashes to {row[0][:16]}… but the head written on {day} says "
                           f"{expected[:16]}…: the chain was rewritten since")
    return done(True, f"the chain still contains the head of {day} (entry {seq}) unchanged; "
                      f"{r.count - seq} entries were appended since")
