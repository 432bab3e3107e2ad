"""Routes of the complaints domain: the public intake (``/report``, its API, the reporter's
private status page), the staff queue and case pages, statistics and the export."""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from livegate.complaints import stats as stats_mod
from livegate.complaints.errors import CaseNotFound
from livegate.complaints.models import ComplaintCase, ComplaintEvidence
from livegate.complaints.service import (
    MAX_CONTACT,
    MAX_DESCRIPTION,
    OUTCOMES,
    PATROL_CHANNEL,
    SANCTION_KINDS,
    ComplaintsModule,
    Receipt,
    ReportIntake,
    complaint_categories,
)
from livegate.core.errors import LivegateError, ValidationFailed
from livegate.core.permissions import Permission
from livegate.identity.accounts import Principal
from livegate.web.deps import PUBLIC, client_ip, current_principal, platform_of, requires
from livegate.web.pages import render

router = APIRouter()
API = "/api/v1/complaints"


def _module(request: Request) -> ComplaintsModule:
    return platform_of(request).complaints  # type: ignore[no-any-return]


def _reporting_account(request: Request) -> int | None:
    """A signed-in reporter counts as such only with a valid CSRF token (or an API token),
    so another site cannot file reports in a visitor's name."""
    principal = current_principal(request)
    if principal is None:
        return None
    if principal.via != "session":
        return principal.account_id
    sent = request.headers.get("x-csrf-token", "")
    return principal.account_id if sent and hmac.compare_digest(sent, principal.csrf_token) else None


# -- public ---------------------------------------------------------------------------------------
class ReportBody(BaseModel):
    target_type: Literal["room", "message", "comment", "account", "user", "sanction"]
    target_id: str = Field(min_length=1, max_length=128)
    category: str = Field(min_length=1, max_length=48)
    description: str = Field(default="", max_length=MAX_DESCRIPTION)
    contact: str = Field(default="", max_length=MAX_CONTACT)
    room_id: str | None = Field(default=None, max_length=16)
    challenge: str = Field(default="", max_length=200)
    nonce: str = Field(default="", max_length=32)


def _receipt_view(receipt: Receipt) -> dict[str, Any]:
    return {"ticket": receipt.ticket, "status_url": receipt.status_path, "status_token": receipt.token,
            "merged": receipt.merged}


@router.get("/report", dependencies=[PUBLIC])
def report_page(request: Request, target_type: str = "room", target_id: str = "", room_id: str = "") -> Response:
    p = platform_of(request)
    return render(request, "complaints/report.html", categories=list(complaint_categories().items()),
                  target_type=target_type, target_id=target_id[:128], room_id=room_id[:16],
                  max_description=MAX_DESCRIPTION, max_contact=MAX_CONTACT,
                  sla=p.policy.get().complaints)


@router.get(f"{API}/categories", dependencies=[PUBLIC])
def categories(request: Request) -> dict[str, Any]:
    return {"categories": [{"code": k, "label": v} for k, v in complaint_categories().items()]}


@router.get(f"{API}/challenge", dependencies=[PUBLIC])
async def challenge(request: Request) -> dict[str, Any]:
    c = await _module(request).issue_challenge(ip=client_ip(request))
    return {"challenge": c.text, "bits": c.bits, "expires": c.expires}


@router.post(API, dependencies=[PUBLIC], status_code=201)
async def submit(request: Request, body: ReportBody) -> dict[str, Any]:
    intake = ReportIntake(body.target_type, body.target_id, body.category, body.description, body.contact,
                          body.room_id)
    account = await asyncio.to_thread(_reporting_account, request)
    receipt = await _module(request).submit(intake, ip=client_ip(request), account_id=account,
                                            challenge=body.challenge, nonce=body.nonce)
    return _receipt_view(receipt)


@router.get(f"{API}/status/{{token}}", dependencies=[PUBLIC])
def status_json(request: Request, token: str) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        return _module(request).status_of(s, token[:64])


@router.get("/report/status/{token}", dependencies=[PUBLIC])
def status_page(request: Request, token: str) -> Response:
    p = platform_of(request)
    with p.db.session() as s:
        status = _module(request).status_of(s, token[:64])
    response = render(request, "complaints/status.html", status=status,
                      category_label=complaint_categories().get(status["category"], status["category"]))
    response.headers["referrer-policy"] = "no-referrer"  # the link is the secret
    response.headers["cache-control"] = "no-store"
    return response


# -- staff ------------------------------------------------------------------------------------------
def _case_view(c: ComplaintCase) -> dict[str, Any]:
    return {"id": c.id, "target_type": c.target_type, "target_id": c.target_id, "room_id": c.room_id,
            "account_id": c.account_id, "category": c.category, "status": c.status, "priority": c.priority,
            "reports": c.report_count, "opened_at": c.opened_at.isoformat(),
            "ack_due_at": c.ack_due_at.isoformat(), "decide_due_at": c.decide_due_at.isoformat(),
            "acknowledged_at": c.acknowledged_at.isoformat() if c.acknowledged_at else None,
            "decided_at": c.decided_at.isoformat() if c.decided_at else None, "outcome": c.outcome,
            "escalation": c.escalation, "surge": c.surge_at is not None, "review_case_id": c.review_case_id,
            "appeal_ref": c.appeal_ref, "actions": c.actions or []}


@router.get(f"{API}/cases")
def list_cases(request: Request, include_decided: bool = False,
               principal: Principal = requires(Permission.COMPLAINTS_HANDLE)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        return {"cases": [_case_view(c) for c in _module(request).queue(s, include_decided=include_decided)]}


@router.post(f"{API}/cases/{{case_id}}/acknowledge")
def acknowledge(request: Request, case_id: int,
                principal: Principal = requires(Permission.COMPLAINTS_HANDLE)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        return _case_view(_module(request).acknowledge(s, case_id, actor=principal.actor))


class DecisionBody(BaseModel):
    outcome: str = Field(min_length=1, max_length=32)
    note: str = Field(default="", max_length=MAX_DESCRIPTION)
    sanction_kind: str | None = Field(default=None, max_length=16)
    sanction_days: int | None = Field(default=None, ge=1, le=3650)
    reason_code: str | None = Field(default=None, max_length=64)


@router.post(f"{API}/cases/{{case_id}}/decision")
async def decide(request: Request, case_id: int, body: DecisionBody,
                 principal: Principal = requires(Permission.COMPLAINTS_HANDLE)) -> dict[str, Any]:
    return await _module(request).decide(case_id, outcome=body.outcome, note=body.note, actor=principal.actor,
                                          sanction_kind=body.sanction_kind, sanction_days=body.sanction_days,
                                          reason_code=body.reason_code)


class RevealBody(BaseModel):
    reason: str = Field(min_length=5, max_length=500)


@router.post(f"{API}/reports/{{report_id}}/contact")
def reveal_contact(request: Request, report_id: int, body: RevealBody,
                   principal: Principal = requires(Permission.IDENTITY_REVEAL)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        return {"contact": _module(request).reveal_contact(s, report_id, actor=principal.actor, reason=body.reason)}


def _window(since: dt.date | None, until: dt.date | None, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    end = dt.datetime.combine(until, dt.time(), dt.UTC) + dt.timedelta(days=1) if until else now + dt.timedelta(
        seconds=1)
    start = dt.datetime.combine(since, dt.time(), dt.UTC) if since else end - dt.timedelta(days=30)
    if start >= end:
        raise ValidationFailed("since must be before until")
    return start, end


@router.get(f"{API}/export")
def export(request: Request, format: Literal["csv", "json"] = "json", since: dt.date | None = Query(default=None),
           until: dt.date | None = Query(default=None),
           principal: Principal = requires(Permission.COMPLAINTS_EXPORT)) -> Response:
    """For the authorities: one row per case (no contact, no IP), and the summary; audited."""
    p = platform_of(request)
    now = p.clock.now()
    start, end = _window(since, until, now)
    with p.db.session() as s:
        st = stats_mod.compute(s, since=start, until=end, now=now)
        p.audit.record(s, actor=principal.actor, action="complaint.export", target="complaints",
                       details={"format": format, "since": start.isoformat(), "until": end.isoformat(),
                                "cases": st.cases, "reports": st.reports})
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    if format == "csv":
        return Response(stats_mod.to_csv(st), media_type="text/csv; charset=utf-8",
                        headers={"content-disposition": f'attachment; filename="complaints-{stamp}.csv"'})
    body = json.dumps({"summary": st.summary(), "cases": st.rows}, ensure_ascii=False, indent=1)
    return Response(body, media_type="application/json",
                    headers={"content-disposition": f'attachment; filename="complaints-{stamp}.json"'})


PATROL_EVENTS = ("complaint_surge", "complaint_escalated")


@router.get(f"{API}/patrol/events")
async def patrol_events(request: Request,
                        principal: Principal = requires(Permission.COMPLAINTS_HANDLE)) -> StreamingResponse:
    """Server-sent events: surges and SLA escalations as they happen, on any node."""
    p = platform_of(request)

    async def stream() -> AsyncIterator[str]:
        async with p.broker.subscribe(PATROL_CHANNEL) as sub:
            yield ": connected\n\n"
            while not await request.is_disconnected():
                try:
                    msg = await sub.get(timeout=15)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if msg.get("type") in PATROL_EVENTS:
                    yield f"event: {msg['type']}\ndata: {json.dumps(msg, ensure_ascii=False)}\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"cache-control": "no-store", "x-accel-buffering": "no"})


@router.get("/console/complaints")
def console_queue(request: Request, show: str = "open",
                  principal: Principal = requires(Permission.COMPLAINTS_HANDLE)) -> Response:
    p = platform_of(request)
    now = p.clock.now()
    with p.db.session() as s:
        cases = _module(request).queue(s, include_decided=show == "all")
        surges = [c for c in cases if c.surge_at is not None and c.status != "decided"]
        st = stats_mod.compute(s, since=now - dt.timedelta(days=30), until=now + dt.timedelta(seconds=1), now=now)
    return render(request, "complaints/console_queue.html", cases=cases, surges=surges, stats=st,
                  charts=stats_mod.charts(st), now=now, show=show,
                  can_export=principal.has(Permission.COMPLAINTS_EXPORT))


@router.get("/console/complaints/{case_id}")
def console_case(request: Request, case_id: int,
                 principal: Principal = requires(Permission.COMPLAINTS_HANDLE)) -> Response:
    p = platform_of(request)
    m = _module(request)
    with p.db.session() as s:
        case = m.get_case(s, case_id)
        reports = m.reports_of(s, case_id)
        evidence = m.evidence_of(s, case_id)
    return render(request, "complaints/console_case.html", case=case, reports=reports, evidence=evidence,
                  outcomes=list(OUTCOMES), sanction_kinds=SANCTION_KINDS, now=p.clock.now(),
                  categories=complaint_categories(), can_reveal=principal.has(Permission.IDENTITY_REVEAL))


@router.get("/console/complaints/evidence/{evidence_id}.jpg")
def evidence_frame(request: Request, evidence_id: int,
                   principal: Principal = requires(Permission.COMPLAINTS_HANDLE)) -> Response:
    p = platform_of(request)
    with p.db.session() as s:
        ev = s.get(ComplaintEvidence, evidence_id)
        if ev is None or ev.kind != "frame" or ev.blob is None:
            raise CaseNotFound("no captured frame with this number")
        return Response(ev.blob, media_type="image/jpeg", headers={"cache-control": "private, no-store"})


@router.post("/console/complaints/{case_id}/acknowledge")
def console_acknowledge(request: Request, case_id: int,
                        principal: Principal = requires(Permission.COMPLAINTS_HANDLE)) -> Response:
    p = platform_of(request)
    with p.db.session() as s:
        _module(request).acknowledge(s, case_id, actor=principal.actor)
    return RedirectResponse(f"/console/complaints/{case_id}", status_code=303)


@router.post("/console/complaints/{case_id}/decision")
async def console_decide(request: Request, case_id: int, outcome: str = Form(max_length=32),
                         note: str = Form(default="", max_length=MAX_DESCRIPTION),
                         sanction_kind: str = Form(default="", max_length=16),
                         sanction_days: str = Form(default="", max_length=5),
                         principal: Principal = requires(Permission.COMPLAINTS_HANDLE)) -> Response:
    days = int(sanction_days) if sanction_days.isdigit() else None
    try:
        await _module(request).decide(case_id, outcome=outcome, note=note, actor=principal.actor,
                                      sanction_kind=sanction_kind or None, sanction_days=days)
    except LivegateError as exc:
        if exc.http_status >= 500:
            raise
        return RedirectResponse(f"/console/complaints/{case_id}?error={exc.code}", status_code=303)
    return RedirectResponse(f"/console/complaints/{case_id}", status_code=303)
