"""An anonymous report on a live room, sent from Chromium (the /report form solving its
proof of work, and the report button's dialog), with the frame captured at that moment,
followed through triage to a decision and the reporter's private status page."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from livegate.complaints.models import ComplaintCase, ComplaintEvidence
from livegate.core import policy as policy_mod
from livegate.core.permissions import Role
from livegate.core.policy import parse_policy
from tests.conftest import PASSWORD, create_account
from tests.e2e.conftest import LiveServer
from tests.e2e.helpers import ffmpeg_publish, make_room

XSS = "<script>window.__owned = true</script>"


def _policy(live: LiveServer) -> None:
    doc = yaml.safe_load((Path(policy_mod.__file__).parent / "default_policy.yaml").read_text())
    doc["categories"]["education"].update({"frame_sampling_seconds": 1, "broadcast_delay_seconds": 0})
    doc["complaints"]["intake"]["challenge_bits"] = 12  # real work for report.ts, still quick
    live.platform.policy.swap(parse_policy(yaml.safe_dump(doc, allow_unicode=True), source="test"))


def test_anonymous_report_with_frame_through_decision_to_status_page(live: LiveServer, browser: Any) -> None:
    p = live.platform
    _policy(live)
    room, key = make_room(p)
    framed = threading.Event()
    p.media.frame_listeners.append(lambda r, f: framed.set() if r == room else None)
    proc = ffmpeg_publish(live.rtmp_url(key), seconds=60)
    try:
        assert framed.wait(30), "no frame was sampled"
        assert p.complaints.frames.latest(room) is not None
        reporter = browser.new_context().new_page()
        reporter.goto(f"{live.url}/report?target_type=room&target_id={room}")
        reporter.select_option("[data-testid=report-category]", "illegal.obscenity")
        reporter.fill("[data-testid=report-description]", "Indecent stream " + XSS)
        reporter.fill("[data-testid=report-contact]", "witness@example.org")
        reporter.click("[data-testid=report-submit]")
        reporter.wait_for_selector("[data-testid=report-ticket]:not(:empty)", timeout=30_000)
        ticket = reporter.inner_text("[data-testid=report-ticket]")
        status_url = reporter.get_attribute("[data-testid=report-status-link]", "href")
        assert ticket.startswith("C") and status_url and status_url.startswith("/report/status/")

        # The report button: any element with data-report-target gets one (the viewer page's way in).
        reporter.evaluate("""room => { const el = document.createElement('div');
            el.dataset.reportTarget = 'room'; el.dataset.reportId = room; el.id = 'probe';
            document.querySelector('main').appendChild(el); }""", room)
        reporter.click("#probe [data-testid=report-room]")
        dialog = reporter.locator("[data-testid=report-dialog]")
        dialog.locator("[data-testid=report-category]").select_option("harmful.vulgar")
        dialog.locator("[data-testid=report-submit]").click()
        dialog.locator("[data-testid=report-ticket]:not(:empty)").wait_for(timeout=30_000)
        assert reporter.evaluate("window.__owned === undefined")

        with p.db.session() as s:
            case = s.scalars(select(ComplaintCase)).one()
            frames = list(s.scalars(select(ComplaintEvidence).where(ComplaintEvidence.kind == "frame")))
            segments = s.scalars(select(ComplaintEvidence).where(ComplaintEvidence.kind == "segments")).first()
        assert case.report_count == 2 and case.target_id == room
        assert frames and frames[0].blob is not None and frames[0].blob[:2] == b"\xff\xd8" and frames[0].held
        assert segments is not None and segments.data["session"].startswith("s")

        # Triage in the console: the captured frame, then acknowledge and decide.
        create_account(p, "reviewer1", Role.REVIEWER)
        staff = browser.new_context().new_page()
        staff.goto(f"{live.url}/signin?next=/console/complaints")
        staff.fill("input[name=username]", "reviewer1")
        staff.fill("input[name=password]", PASSWORD)
        staff.click("[data-testid=signin-submit]")
        staff.wait_for_url(f"{live.url}/console/complaints")
        staff.click(f"[data-testid=case-row-{case.id}] a")
        staff.wait_for_selector("[data-testid=evidence-frame-image]")
        width = staff.evaluate("""() => { const img = document.querySelector('[data-testid=evidence-frame-image]');
            return img.decode().then(() => img.naturalWidth); }""")
        assert width > 0
        assert "witness@example.org" not in staff.content()
        assert XSS in staff.inner_text("[data-testid=case-reports]")  # shown as text, not run
        staff.click("[data-testid=case-acknowledge]")
        staff.wait_for_selector("[data-testid=case-status]:has-text('acknowledged')")
        staff.select_option("[data-testid=case-outcome]", "stream_cut")
        staff.fill("[data-testid=case-note]", "The stream broke the rules and was stopped.")
        staff.click("[data-testid=case-decide]")
        staff.wait_for_selector("[data-testid=case-status]:has-text('decided')")
        with p.db.session() as s:
            assert s.get(ComplaintCase, case.id).outcome == "stream_cut"  # type: ignore[union-attr]

        # The reporter's private status page tells the outcome.
        reporter.goto(f"{live.url}{status_url}")
        assert reporter.inner_text("[data-testid=status-ticket]") == ticket
        assert reporter.inner_text("[data-testid=status-state]") == "Decided"
        assert "stream was stopped" in reporter.inner_text("[data-testid=status-outcome]")
        assert XSS in reporter.inner_text("[data-testid=status-description]")
        assert reporter.evaluate("window.__owned === undefined")
    finally:
        proc.kill()
        proc.wait()


def test_a_surge_reaches_the_patrol_console_as_it_happens(live: LiveServer, browser: Any) -> None:
    import httpx

    from livegate.complaints.pow import solve
    from tests.complaints.helpers import make_plain_room

    p = live.platform
    _policy(live)
    room = make_plain_room(p, live=True)
    create_account(p, "patrol1", Role.PATROL_OFFICER)
    staff = browser.new_page()
    staff.goto(f"{live.url}/signin?next=/console/complaints")
    staff.fill("input[name=username]", "patrol1")
    staff.fill("input[name=password]", PASSWORD)
    staff.click("[data-testid=signin-submit]")
    staff.wait_for_url(f"{live.url}/console/complaints")
    staff.wait_for_selector("[data-patrol-feed][data-connected]", state="attached")
    with httpx.Client(base_url=live.url) as http:
        for i in range(5):  # the default surge: 5 reports within 10 minutes
            c = http.get("/api/v1/complaints/challenge").json()
            r = http.post("/api/v1/complaints", json={
                "target_type": "room", "target_id": room, "category": "illegal.violence", "description": f"#{i}",
                "challenge": c["challenge"], "nonce": solve(c["challenge"], c["bits"])})
            assert r.status_code == 201, r.text
    item = staff.wait_for_selector("[data-testid=feed-complaint_surge]", timeout=15_000)
    assert item is not None and f"room {room} has 5 reports" in item.inner_text()
