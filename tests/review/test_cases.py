"""Cases: signals merge per target, the policy's thresholds queue or ignore, priority grows
with score and audience, reviewers claim and decide; the policy's review section is validated."""

from __future__ import annotations

import pytest
import yaml

from livegate.app import Platform
from livegate.core.permissions import Role
from livegate.core.policy import PolicyError, default_policy_text, parse_policy
from livegate.review.cases import priority_of
from livegate.review.errors import CaseAlreadyDecided, CaseClaimedByAnother, InvalidDecision
from tests.conftest import create_account


def _room(p: Platform, name: str = "pub", viewers: int = 0) -> tuple[str, int]:
    acc = create_account(p, name, Role.PUBLISHER)
    with p.db.session() as s:
        room, _ = p.rooms.create(s, p.accounts.get(s, acc), title="t", category="show", actor="test")
        room.viewers = viewers
        return room.id, acc


def test_signals_merge_into_one_open_case_and_thresholds_apply(platform: Platform) -> None:
    p = platform
    room, acc = _room(p, viewers=500)
    with p.db.session() as s:
        low = p.review.add_signal(s, kind="lexicon", target_type="room", target_id=room, score=10, evidence={},
                                  room_id=room)
        assert p.review.cases.get(s, low).status == "ignored"
        again = p.review.add_signal(s, kind="nudenet", target_type="room", target_id=room, score=70,
                                    evidence={"x": 1}, room_id=room)
        assert again == low
        case = p.review.cases.get(s, low)
        assert case.status == "open" and case.score == 70 and case.signal_count == 2
        assert case.kinds == ["lexicon", "nudenet"] and case.account_id == acc and case.audience == 500
        assert case.credit_level  # from enforcement if installed, else the policy's start level
        assert len(p.review.cases.evidence(s, low)) == 2


def test_priority_grows_with_score_and_audience(platform: Platform) -> None:
    assert priority_of(50, 10_000, 10) > priority_of(50, 10, 10) > priority_of(40, 10, 10)
    p = platform
    small, _ = _room(p, "pub-a", viewers=5)
    big, _ = _room(p, "pub-b", viewers=20_000)
    with p.db.session() as s:
        p.review.add_signal(s, kind="k", target_type="room", target_id=small, score=60, evidence={}, room_id=small)
        p.review.add_signal(s, kind="k", target_type="room", target_id=big, score=60, evidence={}, room_id=big)
        assert [c.room_id for c in p.review.cases.queue(s)] == [big, small]


async def test_claim_and_decide(platform: Platform) -> None:
    p = platform
    room, acc = _room(p)
    with p.db.session() as s:
        cid = p.review.add_signal(s, kind="k", target_type="room", target_id=room, score=60, evidence={},
                                  room_id=room)
        p.review.cases.claim(s, cid, actor="user:r1")
    with p.db.session() as s, pytest.raises(CaseClaimedByAnother):
        p.review.cases.claim(s, cid, actor="user:r2")
    with pytest.raises(InvalidDecision):
        await p.review.decide(cid, decision="escalate", reason="x", actor="user:r1")
    view = await p.review.decide(cid, decision="escalate", reason="needs an editor", actor="user:r1",
                                 escalate_to="chief_editor")
    assert view["status"] == "escalated"
    view = await p.review.decide(cid, decision="warn", reason="keep it civil", actor="user:editor")
    assert view["status"] == "decided" and view["decision"] == "warn"
    with pytest.raises(CaseAlreadyDecided):
        await p.review.decide(cid, decision="dismiss", reason="x", actor="user:editor")
    from sqlalchemy import select

    from livegate.core.models import AuditEntry
    from livegate.review.models import PublisherWarning

    with p.db.session() as s:
        w = s.scalars(select(PublisherWarning)).one()
        assert w.account_id == acc and w.message == "keep it civil"
        actions = set(s.scalars(select(AuditEntry.action)))
        assert {"review.case_open", "review.case_claim", "review.case_escalate", "review.case_warn"} <= actions
        m = p.review.cases.metrics(s)
        assert m["decided_recent"] == 1 and m["queue_length"] == 0


def test_policy_review_section_is_validated() -> None:
    doc = yaml.safe_load(default_policy_text())
    assert parse_policy(yaml.safe_dump(doc)).review.hash_match_distance == 31
    doc["review"]["queue_score"] = 99
    doc["review"]["auto_action_score"] = 50
    with pytest.raises(PolicyError) as err:
        parse_policy(yaml.safe_dump(doc))
    assert "review" in str(err.value)
    del doc["review"]
    assert parse_policy(yaml.safe_dump(doc)).review.auto_action_score == 95  # the section is optional
