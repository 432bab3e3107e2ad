"""Complaints under retention (Art. 16): reports and their evidence are purged once the period
has passed, their case is decided and nothing holds them; a held case (by its own hold, with
no room to hold) or an undecided one keeps everything; cases themselves stay."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from livegate.app import Platform
from livegate.complaints.models import ComplaintCase, ComplaintEvidence, ComplaintReport
from livegate.core.clock import ManualClock
from livegate.core.permissions import Role
from tests.complaints.helpers import make_plain_room, report
from tests.conftest import As, create_account, sign_in


def _count(p: Platform, model: Any, **where: Any) -> int:
    with p.db.session() as s:
        q = select(func.count()).select_from(model)
        for column, value in where.items():
            q = q.where(getattr(model, column) == value)
        return int(s.scalar(q) or 0)


def _case_of(p: Platform, target_id: str) -> int:
    with p.db.session() as s:
        return int(s.scalars(select(ComplaintCase.id).where(ComplaintCase.target_id == target_id)).one())


def test_decided_unheld_complaints_are_purged_and_held_or_open_ones_kept(
        clocked: tuple[Platform, ManualClock, TestClient]) -> None:
    p, clock, client = clocked
    client.portal.call(p.scheduler.stop)  # the purges below are the only ones, counted exactly
    anon = As(client)
    cleared_room = make_plain_room(p, "cleared", live=True)
    open_room = make_plain_room(p, "still-open", live=True)
    reported = create_account(p, "reported-account", Role.AUDIENCE)
    for target_type, target_id in (("room", cleared_room), ("room", open_room), ("account", str(reported))):
        assert report(anon, target_type, target_id, description="see for yourself").status_code == 201
    assert _count(p, ComplaintEvidence, case_id=_case_of(p, cleared_room)) >= 1  # a frame or its placeholder
    create_account(p, "rev", Role.REVIEWER)
    reviewer = sign_in(client, "rev")
    r = reviewer.post(f"/api/v1/complaints/cases/{_case_of(p, cleared_room)}/decision",
                      json={"outcome": "no_violation", "note": "Nothing wrong."})
    assert r.status_code == 200, r.text  # its holds are lifted
    r = reviewer.post(f"/api/v1/complaints/cases/{_case_of(p, str(reported))}/decision",
                      json={"outcome": "referred", "note": "Passed on."})
    assert r.status_code == 200, r.text  # decided, but its case hold stays

    clock.advance(days=59)
    early = p.retention.purge()
    assert {k.name for k in p.retention.kinds.all()} >= {"complaint_reports", "complaint_evidence",
                                                          "complaint_cases"}
    assert {k.kind: k.count for k in early.kinds}["complaint_reports"] == 0  # within 60 days: all kept

    clock.advance(days=2)
    done = {k.kind: k for k in p.retention.purge().kinds}
    assert done["complaint_reports"].count == 1 and done["complaint_evidence"].count >= 1
    assert done["complaint_reports"].held_skipped >= 1  # the referred case's report, by its case hold
    assert _count(p, ComplaintReport, target_id=cleared_room) == 0
    assert _count(p, ComplaintEvidence, case_id=_case_of(p, cleared_room)) == 0
    assert _count(p, ComplaintReport, target_id=open_room) == 1  # undecided
    assert _count(p, ComplaintReport, target_id=str(reported)) == 1  # held
    assert _count(p, ComplaintCase) == 3  # the record of how each was handled stays
