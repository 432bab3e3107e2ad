"""Enforcement end to end, with the real ffmpeg CLI publishing over RTMP to a real server:
a violation sanctions, cuts, removes, preserves and reports; a repeat escalates; a suspended
publisher is refused with the reason and the end time; an appeal restores access."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from websockets.sync.client import connect as ws_connect

from livegate.core.permissions import Role
from livegate.enforcement.models import EvidenceRef
from tests.conftest import create_account, sign_in_http
from tests.e2e.conftest import LiveServer
from tests.e2e.helpers import StreamWatch, ffmpeg_publish, make_room, use_policy


def _wait_live(live: LiveServer, room: str) -> Any:
    """A viewer socket on the room: tests wait on its "live" and "cutoff" messages, never on the clock."""
    return ws_connect(f"ws://127.0.0.1:{live.url.rsplit(':', 1)[1]}/ws/rooms/{room}")


def _until(ws: Any, kind: str, timeout: float = 30) -> dict[str, Any]:
    while True:
        msg = json.loads(ws.recv(timeout))
        if msg.get("type") == kind:
            return msg  # type: ignore[no-any-return]


def test_a_violation_sanctions_cuts_removes_preserves_reports_and_a_repeat_escalates(live: LiveServer) -> None:
    p = live.platform
    use_policy(p, education={"broadcast_delay_seconds": 0})
    room, key = make_room(p, "violator")
    create_account(p, "officer-a", Role.COMPLIANCE_OFFICER)
    watch = StreamWatch().attach(p)
    # an earlier live that ended normally has a replay
    first = ffmpeg_publish(live.rtmp_url(key), seconds=2)
    first.communicate(timeout=60)
    ended = watch.wait_ended(room)
    assert ended.replay is not None and ended.replay.exists()
    replay_name = ended.replay.name
    ws = _wait_live(live, room)
    proc = ffmpeg_publish(live.rtmp_url(key), seconds=60)
    try:
        _until(ws, "live")
        with httpx.Client(base_url=live.url, timeout=30) as http:
            officer = sign_in_http(http, "officer-a")
            assert http.get(f"/hls/{room}/{replay_name}").status_code == 200
            with p.db.session() as s:
                owner = p.rooms.get(s, room).owner_id
            r = http.post("/api/v1/enforcement/sanctions", headers=officer, json={
                "account_id": owner, "reason_code": "prohibited.pornography", "kind": "suspension", "days": 7,
                "scope": ["publish"], "case_id": 4242, "room_id": room})
            assert r.status_code == 201, r.text
            sanction = r.json()
            assert sanction["effects"]["streams_cut"] == [room]
            assert sanction["effects"]["replays_withdrawn"]
            _until(ws, "cutoff")
            _, err = proc.communicate(timeout=30)  # the publisher was hung up on
            # removed from public surfaces, kept in the retention store
            assert http.get(f"/hls/{room}/{replay_name}").status_code == 410
            with p.db.session() as s:
                refs = s.scalars(select(EvidenceRef).where(EvidenceRef.sanction_id == sanction["id"])).all()
                recordings = [e.ref for e in refs if e.kind == "recording"]
            assert len(recordings) == 2 and all(Path(x).exists() for x in recordings)
            report = http.get(f"/api/v1/enforcement/sanctions/{sanction['id']}/report?format=json", headers=officer)
            doc = report.json()
            assert doc["violation"]["case_id"] == 4242 and doc["actions"]["streams_cut"] == [room]
            page = http.get(f"/api/v1/enforcement/sanctions/{sanction['id']}/report?format=html", headers=officer)
            assert "Art. 14" in page.text and "content.obscene" in page.text
            # the suspended publisher is refused at RTMP with the reason and the end time
            again = ffmpeg_publish(live.rtmp_url(key), seconds=5)
            _, err = again.communicate(timeout=30)
            assert again.returncode != 0
            text = err.decode(errors="replace")
            assert "sanction.suspended" in text and "suspended until" in text and "UTC" in text, text[-800:]
            assert "Art. 14" in text and "content.obscene" in text
            # a repeat within the window escalates: a warning decided becomes a suspension rung higher
            r2 = http.post("/api/v1/enforcement/sanctions", headers=officer, json={
                "account_id": owner, "reason_code": "livestream.disorder", "kind": "warning"})
            assert r2.json()["kind"] == "suspension" and "escalate" in r2.json()["escalation"]
    finally:
        ws.close()
        proc.kill()
        proc.wait()


def test_a_closed_account_is_refused_until_an_appeal_lifts_the_closure(live: LiveServer) -> None:
    p = live.platform
    use_policy(p, education={"broadcast_delay_seconds": 0})
    room, key = make_room(p, "appellant")
    create_account(p, "officer-b", Role.COMPLIANCE_OFFICER)
    create_account(p, "officer-c", Role.COMPLIANCE_OFFICER)
    with p.db.session() as s:
        owner = p.rooms.get(s, room).owner_id
    with httpx.Client(base_url=live.url, timeout=30) as a, httpx.Client(base_url=live.url, timeout=30) as b:
        ha, hb = sign_in_http(a, "officer-b"), sign_in_http(b, "officer-c")
        r = a.post("/api/v1/enforcement/sanctions", headers=ha, json={
            "account_id": owner, "reason_code": "identity.false", "kind": "closure"})
        sid = r.json()["id"]
        refused = ffmpeg_publish(live.rtmp_url(key), seconds=5)
        _, err = refused.communicate(timeout=30)
        assert refused.returncode != 0 and b"closed" in err
        ap = a.post(f"/api/v1/enforcement/sanctions/{sid}/appeal", headers=ha,
                    json={"statement": "Letter: the identity documents were genuine."}).json()
        assert a.post(f"/api/v1/enforcement/appeals/{ap['id']}/decision", headers=ha,
                      json={"decision": "lift", "reason": "own decision"}).status_code == 403
        ok = b.post(f"/api/v1/enforcement/appeals/{ap['id']}/decision", headers=hb,
                    json={"decision": "lift", "reason": "issuer confirmed the documents"})
        assert ok.status_code == 200, ok.text
    ws = _wait_live(live, room)
    proc = ffmpeg_publish(live.rtmp_url(key), seconds=30)
    try:
        _until(ws, "live")
        with p.db.session() as s:
            assert p.enforcement.credit.score_of(s, owner) == 100
    finally:
        ws.close()
        proc.kill()
        proc.wait()
