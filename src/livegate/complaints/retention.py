"""What the complaints module keeps, as retention kinds (Art. 16): the purge takes reports and
their evidence once the retention period has passed, their case is decided and nothing holds
them; cases (the record of how each complaint was handled) are exported for inspections and
kept here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, exists, select
from sqlalchemy.orm import Session

from livegate.complaints.models import ComplaintCase, ComplaintEvidence, ComplaintReport
from livegate.retention.kinds import RetentionKind, TableKind

#: How the complaints module names a case when it places a legal hold on it.
CASE_HOLD_PREFIX = "complaint-"


def _of_decided_case(t: Table) -> ColumnElement[bool]:
    return t.c.case_id.in_(select(ComplaintCase.id).where(ComplaintCase.status == "decided"))


def _evidence_due(t: Table) -> ColumnElement[bool]:
    return and_(_of_decided_case(t), t.c.held.is_(False))


def _report_due(t: Table) -> ColumnElement[bool]:
    # Deleting a report deletes its evidence (ON DELETE CASCADE): never while any is held.
    held = exists().where(ComplaintEvidence.report_id == t.c.id, ComplaintEvidence.held.is_(True))
    return and_(_of_decided_case(t), ~held)


def _evidence_bytes(_s: Session, rows: Sequence[Any]) -> int:
    return sum(len(r.blob or b"") for r in rows)


def complaint_kinds() -> list[RetentionKind]:
    return [
        TableKind("complaint_evidence", ComplaintEvidence, "captured_at",
                  description="evidence captured with reports (frames, comment context, segment lists)",
                  case_column="case_id", case_prefix=CASE_HOLD_PREFIX, where=_evidence_due,
                  on_delete=_evidence_bytes, order=45, exportable=False),
        TableKind("complaint_reports", ComplaintReport, "received_at",
                  description="complaints and reports received (contact sealed, IP hashed)",
                  room_column="room_id", account_column="reporter_account_id", case_column="case_id",
                  case_prefix=CASE_HOLD_PREFIX, where=_report_due, order=50, outlives=("complaint_evidence",),
                  export_exclude=("token_hash", "contact_sealed")),
        TableKind("complaint_cases", ComplaintCase, "opened_at",
                  description="complaint cases and how they were handled (kept by the complaints module)",
                  room_column="room_id", account_column="account_id", purges=False, order=60),
    ]
