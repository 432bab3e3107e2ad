"""The blacklist (Article 15): identities that may not open new accounts.

Entries are keyed by the vault's blind index of the identity (phone number, document
number, optionally a device identifier), so the list can be checked without holding a
single plain value. Adding an entry takes two staff members: one proposes, a different one
confirms (:meth:`Blacklist.confirm` returns the accounts the identity holds, which the
module then closes).

Import format (lists circulated by offices or the industry), UTF-8, either

* CSV with a header row ``kind,value,reason`` (optional ``source`` column), or
* JSON ``{"source": "...", "entries": [{"kind": ..., "value": ..., "reason": ...}]}``,

where ``kind`` is ``phone``, ``document`` or ``device``. Each value is normalised and turned
into its blind index at once; the plain value is not stored, logged or audited (only a
masked hint is kept). Imported entries arrive *proposed* in one batch; a second staff member
confirms the batch.

Report format (to the provincial internet information office), JSON::

    {"format": "livegate.blacklist-report/1", "generated_at": ISO-8601, "batch": "...",
     "count": N, "entries": [{"entry": id, "kind": ..., "masked": ..., "value": (only in a
     full export) ..., "reason": ..., "source": ..., "listed_at": ISO-8601}]}

Only entries not yet reported are included; each report is audited with its SHA-256.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from livegate.core.errors import ValidationFailed
from livegate.enforcement.errors import (
    BlacklistEntryNotFound,
    BlacklistState,
    DifferentStaffRequired,
    InvalidImport,
)
from livegate.enforcement.models import BlacklistEntry
from livegate.identity.errors import InvalidPhoneNumber
from livegate.identity.models import IdentityRecord, PhoneVerification
from livegate.identity.phone import mask_mobile, normalize_mobile
from livegate.identity.vault import FIELD_DOCUMENT_NUMBER, FIELD_PHONE, mask_document, normalize_for_index

if TYPE_CHECKING:
    from livegate.app import Platform

__all__ = ["KINDS", "Blacklist", "ImportResult", "same_staff"]

KINDS: Final = ("phone", "document", "device")
FIELD_DEVICE: Final = "device_id"
REPORT_FORMAT: Final = "livegate.blacklist-report/1"
MAX_IMPORT_ROWS: Final = 100_000


def same_staff(a: str, b: str) -> bool:
    """``account:12:alice`` and ``account:12:alice2`` are the same officer; CLI actors compare whole."""
    def norm(actor: str) -> str:
        parts = actor.split(":")
        return ":".join(parts[:2]) if parts[0] == "account" else actor

    return norm(a) == norm(b)


@dataclass(frozen=True)
class ImportResult:
    batch: str
    added: int
    already_listed: int
    rejected_rows: list[int]


class Blacklist:
    def __init__(self, platform: Platform) -> None:
        self.p = platform

    # --- indexes ------------------------------------------------------------------------
    def index_for(self, kind: str, value: str) -> tuple[str, str]:
        """(blind index, masked hint) of a plain value; the value itself goes no further."""
        vault = self.p.identity.vault
        if kind == "phone":
            e164 = normalize_mobile(value)
            return vault.blind_index(e164, field=FIELD_PHONE), mask_mobile(e164)
        if kind == "document":
            normalized = normalize_for_index(FIELD_DOCUMENT_NUMBER, value)
            if not normalized or len(normalized) > 64:
                raise ValidationFailed("a document number is required", field="value")
            return vault.blind_index(normalized, field=FIELD_DOCUMENT_NUMBER), mask_document(normalized)
        if kind == "device":
            clean = value.strip()
            if not clean or len(clean) > 200:
                raise ValidationFailed("a device identifier is required", field="value")
            return vault.blind_index(clean, field=FIELD_DEVICE), "*" * 4 + clean[-4:]
        raise ValidationFailed("kind is phone, document or device", field="kind")

    def is_listed(self, s: Session, *, phone_index: str | None = None, document_index: str | None = None,
                  device_index: str | None = None) -> bool:
        pairs = [(k, v) for k, v in (("phone", phone_index), ("document", document_index),
                                     ("device", device_index)) if v]
        for kind, index in pairs:
            found = s.scalar(select(BlacklistEntry.id).where(
                BlacklistEntry.kind == kind, BlacklistEntry.value_index == index,
                BlacklistEntry.status == "active").limit(1))
            if found is not None:
                return True
        return False

    # --- four eyes ----------------------------------------------------------------------
    def propose(self, s: Session, *, kind: str, value_index: str, masked: str, reason: str, source: str,
                actor: str, account_id: int | None = None, sanction_id: int | None = None,
                batch: str = "") -> tuple[BlacklistEntry, bool]:
        """Propose an entry; returns (entry, created). A listed or pending identity is returned as is."""
        if kind not in KINDS:
            raise ValidationFailed("kind is phone, document or device", field="kind")
        why = " ".join((reason or "").split())
        if len(why) < 4:
            raise ValidationFailed("state the reason (at least 4 characters)", field="reason")
        now = self.p.clock.now()
        entry = s.scalar(select(BlacklistEntry).where(BlacklistEntry.kind == kind,
                                                      BlacklistEntry.value_index == value_index))
        if entry is not None and entry.status in {"proposed", "active"}:
            return entry, False
        if entry is None:
            entry = BlacklistEntry(kind=kind, value_index=value_index)
            s.add(entry)
        entry.masked = masked[:64]
        entry.reason = why[:2000]
        entry.source = source[:200]
        entry.status = "proposed"
        entry.account_id = account_id
        entry.sanction_id = sanction_id
        entry.import_batch = batch
        entry.proposed_by = actor
        entry.proposed_at = now
        entry.confirmed_by = ""
        entry.confirmed_at = None
        entry.removed_by = ""
        entry.removed_at = None
        entry.removal_reason = ""
        entry.reported_at = None
        entry.report_batch = ""
        s.flush()
        if not batch:
            self.p.audit.record(s, actor=actor, action="blacklist.propose", target=f"blacklist:{entry.id}",
                                reason=why, details={"kind": kind, "masked": entry.masked, "source": entry.source,
                                                     "account": account_id, "sanction": sanction_id})
        return entry, True

    def entry(self, s: Session, entry_id: int) -> BlacklistEntry:
        entry = s.get(BlacklistEntry, entry_id)
        if entry is None:
            raise BlacklistEntryNotFound()
        return entry

    def confirm(self, s: Session, entry_id: int, *, actor: str) -> tuple[BlacklistEntry, list[int]]:
        """The second pair of eyes; returns the entry and the ids of accounts holding the identity."""
        entry = self.entry(s, entry_id)
        if entry.status != "proposed":
            raise BlacklistState(f"the entry is {entry.status}, not proposed", status=entry.status)
        if same_staff(actor, entry.proposed_by):
            raise DifferentStaffRequired("a different staff member must confirm a blacklist entry (four eyes)")
        entry.status = "active"
        entry.confirmed_by = actor
        entry.confirmed_at = self.p.clock.now()
        s.flush()
        accounts = self.accounts_holding(s, entry)
        self.p.audit.record(s, actor=actor, action="blacklist.confirm", target=f"blacklist:{entry.id}",
                            reason=entry.reason, details={"kind": entry.kind, "masked": entry.masked,
                                                          "proposed_by": entry.proposed_by, "accounts": accounts})
        return entry, accounts

    def reject(self, s: Session, entry_id: int, *, actor: str, reason: str) -> BlacklistEntry:
        entry = self.entry(s, entry_id)
        if entry.status != "proposed":
            raise BlacklistState(f"the entry is {entry.status}, not proposed", status=entry.status)
        if same_staff(actor, entry.proposed_by):
            raise DifferentStaffRequired("a different staff member must decide on a blacklist proposal")
        entry.status = "rejected"
        entry.removed_by = actor
        entry.removed_at = self.p.clock.now()
        entry.removal_reason = reason[:2000]
        self.p.audit.record(s, actor=actor, action="blacklist.reject", target=f"blacklist:{entry.id}", reason=reason)
        return entry

    def remove(self, s: Session, entry_id: int, *, actor: str, reason: str) -> BlacklistEntry:
        entry = self.entry(s, entry_id)
        if entry.status not in {"active", "proposed"}:
            raise BlacklistState(f"the entry is {entry.status}", status=entry.status)
        entry.status = "removed"
        entry.removed_by = actor
        entry.removed_at = self.p.clock.now()
        entry.removal_reason = reason[:2000]
        self.p.audit.record(s, actor=actor, action="blacklist.remove", target=f"blacklist:{entry.id}", reason=reason)
        return entry

    def accounts_holding(self, s: Session, entry: BlacklistEntry) -> list[int]:
        if entry.kind == "phone":
            ids = set(s.scalars(select(PhoneVerification.account_id)
                                .where(PhoneVerification.phone_index == entry.value_index)))
        elif entry.kind == "document":
            ids = set(s.scalars(select(IdentityRecord.account_id).where(IdentityRecord.doc_index == entry.value_index)))
        else:
            ids = set()
        if entry.account_id is not None:
            ids.add(entry.account_id)
        return sorted(ids)

    def listing(self, s: Session, status: str | None = None, limit: int = 500) -> list[BlacklistEntry]:
        q = select(BlacklistEntry).order_by(BlacklistEntry.id.desc()).limit(limit)
        if status:
            q = q.where(BlacklistEntry.status == status)
        return list(s.scalars(q))

    # --- import -------------------------------------------------------------------------
    def import_text(self, s: Session, text: str, *, source: str, actor: str) -> ImportResult:
        rows, file_source = _parse_import(text)
        source = (source or file_source or "import").strip()[:200]
        batch = f"imp-{self.p.clock.now():%Y%m%d%H%M%S}-{secrets.token_hex(3)}"
        added = listed = 0
        rejected: list[int] = []
        for line, row in rows:
            try:
                index, masked = self.index_for(row.get("kind", "").strip().lower(), row.get("value", ""))
                _, created = self.propose(s, kind=row["kind"].strip().lower(), value_index=index, masked=masked,
                                          reason=row.get("reason") or f"circulated list: {source}",
                                          source=(row.get("source") or source), actor=actor, batch=batch)
            except (ValidationFailed, InvalidPhoneNumber, KeyError):
                rejected.append(line)  # the row number only: never the value
                continue
            if created:
                added += 1
            else:
                listed += 1
        self.p.audit.record(s, actor=actor, action="blacklist.import", target=f"blacklist-batch:{batch}",
                            details={"source": source, "added": added, "already_listed": listed,
                                     "rejected_rows": rejected[:100], "rows": len(rows)})
        return ImportResult(batch, added, listed, rejected)

    def confirm_batch(self, s: Session, batch: str, *, actor: str) -> tuple[int, list[int]]:
        entries = s.scalars(select(BlacklistEntry).where(BlacklistEntry.import_batch == batch,
                                                         BlacklistEntry.status == "proposed")).all()
        if not entries:
            raise BlacklistEntryNotFound("no proposed entries in that batch")
        accounts: set[int] = set()
        for entry in entries:
            _, held = self.confirm(s, entry.id, actor=actor)
            accounts.update(held)
        return len(entries), sorted(accounts)

    # --- report to the provincial office --------------------------------------------------
    def report(self, s: Session, *, actor: str, full: bool = False, reason: str = "") -> tuple[str, int]:
        """The JSON report of entries not yet reported; marks them reported (audited)."""
        now = self.p.clock.now()
        batch = f"rep-{now:%Y%m%d%H%M%S}-{secrets.token_hex(3)}"
        entries = s.scalars(select(BlacklistEntry).where(BlacklistEntry.status == "active",
                                                         BlacklistEntry.reported_at.is_(None))
                            .order_by(BlacklistEntry.id)).all()
        rows: list[dict[str, Any]] = []
        for e in entries:
            row: dict[str, Any] = {"entry": e.id, "kind": e.kind, "masked": e.masked, "reason": e.reason,
                                   "source": e.source,
                                   "listed_at": e.confirmed_at.isoformat() if e.confirmed_at else None}
            if full:
                row["value"] = self._open_value(s, e)
            rows.append(row)
            e.reported_at = now
            e.report_batch = batch
        doc = {"format": REPORT_FORMAT, "generated_at": now.isoformat(), "batch": batch, "count": len(rows),
               "entries": rows}
        content = json.dumps(doc, ensure_ascii=False, indent=1)
        self.p.audit.record(s, actor=actor, action="blacklist.report", target=f"blacklist-report:{batch}",
                            reason=reason, details={"count": len(rows), "full": full,
                                                    "entries": [r["entry"] for r in rows],
                                                    "sha256": hashlib.sha256(content.encode()).hexdigest()})
        return content, len(rows)

    def _open_value(self, s: Session, e: BlacklistEntry) -> str:
        """The plain identity for a full report, from the vault when an account holds it; else ''."""
        vault = self.p.identity.vault
        if e.kind == "phone":
            ph = s.scalar(select(PhoneVerification).where(PhoneVerification.phone_index == e.value_index))
            if ph is not None and ph.phone_sealed:
                return vault.open(ph.phone_sealed, record_id=ph.account_id, field=FIELD_PHONE)
        if e.kind == "document":
            rec = s.scalar(select(IdentityRecord).where(IdentityRecord.doc_index == e.value_index)
                           .order_by(IdentityRecord.id.desc()).limit(1))
            if rec is not None and rec.doc_sealed:
                return vault.open(rec.doc_sealed, record_id=rec.id, field=FIELD_DOCUMENT_NUMBER)
        return ""


def _parse_import(text: str) -> tuple[list[tuple[int, dict[str, str]]], str]:
    stripped = text.lstrip("\ufeff").strip()
    if not stripped:
        raise InvalidImport("the file is empty")
    if stripped.startswith("{"):
        try:
            doc = json.loads(stripped)
        except ValueError:
            raise InvalidImport("the JSON does not parse") from None
        entries = doc.get("entries") if isinstance(doc, dict) else None
        if not isinstance(entries, list):
            raise InvalidImport('JSON imports are {"entries": [{"kind", "value", "reason"}]}')
        rows = [(i + 1, {k: str(v) for k, v in e.items()}) for i, e in enumerate(entries) if isinstance(e, dict)]
        source = str(doc.get("source") or "")
    else:
        reader = csv.DictReader(io.StringIO(stripped))
        if not reader.fieldnames or not {"kind", "value"} <= {f.strip().lower() for f in reader.fieldnames}:
            raise InvalidImport("CSV imports need a header row with at least kind,value (and reason)")
        rows = [(i + 2, {(k or "").strip().lower(): (v or "") for k, v in r.items()}) for i, r in enumerate(reader)]
        source = ""
    if len(rows) > MAX_IMPORT_ROWS:
        raise InvalidImport(f"at most {MAX_IMPORT_ROWS} rows per import")
    return rows, source
