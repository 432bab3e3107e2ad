"""HTTP routes of enforcement: sanctions, appeals, credit and the blacklist, for staff
(``/console/...``, ``/api/v1/enforcement/...``) and for the account itself (``/studio/...``,
``/api/v1/me/...``). Routes stay thin: validate, call ``platform.enforcement``, return."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from livegate.core.errors import PermissionDenied
from livegate.core.models import Account
from livegate.core.permissions import Permission
from livegate.enforcement.blacklist import same_staff
from livegate.enforcement.models import Appeal, BlacklistEntry, Sanction
from livegate.enforcement.reasons import REASONS, reason
from livegate.identity.accounts import Principal
from livegate.web.deps import platform_of, requires
from livegate.web.pages import render

router = APIRouter()
API = "/api/v1"


def _iso(at: dt.datetime | None) -> str | None:
    return at.isoformat() if at else None


def sanction_view(sn: Sanction) -> dict[str, Any]:
    why = REASONS.get(sn.reason_code)
    return {"id": sn.id, "account_id": sn.account_id, "kind": sn.kind, "scopes": list(sn.scopes or []),
            "reason_code": sn.reason_code, "reason": why.label() if why else sn.reason_code, "rule": sn.rule,
            "article": sn.article, "severity": sn.severity, "case_id": sn.case_id, "room_id": sn.room_id,
            "note": sn.note, "requested_kind": sn.requested_kind, "escalation": sn.escalation,
            "credit_deducted": sn.credit_deducted, "starts_at": _iso(sn.starts_at), "ends_at": _iso(sn.ends_at),
            "status": sn.status, "acknowledged_at": _iso(sn.acknowledged_at), "created_by": sn.created_by,
            "effects_done": sn.effects_done, "effects": sn.effects or {}, "lift_reason": sn.lift_reason}


def appeal_view(ap: Appeal) -> dict[str, Any]:
    return {"id": ap.id, "sanction_id": ap.sanction_id, "account_id": ap.account_id, "statement": ap.statement,
            "submitted_at": _iso(ap.submitted_at), "submitted_by": ap.submitted_by, "status": ap.status,
            "decided_by": ap.decided_by, "decided_at": _iso(ap.decided_at), "decision_reason": ap.decision_reason}


def entry_view(e: BlacklistEntry) -> dict[str, Any]:
    return {"id": e.id, "kind": e.kind, "masked": e.masked, "reason": e.reason, "source": e.source,
            "status": e.status, "account_id": e.account_id, "sanction_id": e.sanction_id, "batch": e.import_batch,
            "proposed_by": e.proposed_by, "proposed_at": _iso(e.proposed_at), "confirmed_by": e.confirmed_by,
            "confirmed_at": _iso(e.confirmed_at), "reported_at": _iso(e.reported_at)}


# --- sanctions (staff) -------------------------------------------------------------------------
class SanctionBody(BaseModel):
    account_id: int
    reason_code: str = Field(min_length=1, max_length=64)
    kind: Literal["warning", "suspension", "closure"] | None = None
    days: int | None = Field(default=None, ge=1, le=3650)
    scope: list[Literal["publish", "comment"]] = Field(default=["publish", "comment"], min_length=1)
    severity: Literal["minor", "moderate", "serious", "critical"] | None = None
    case_id: int | None = None
    room_id: str | None = Field(default=None, max_length=16)
    note: str = Field(default="", max_length=2000)
    escalate: bool = True


@router.post(f"{API}/enforcement/sanctions", status_code=201)
async def apply_sanction(request: Request, body: SanctionBody,
                         principal: Principal = requires(Permission.SANCTIONS_MANAGE)) -> dict[str, Any]:
    p = platform_of(request)
    reason(body.reason_code)
    done = await p.enforcement.sanction(body.account_id, kind=body.kind, reason_code=body.reason_code,
                                        actor=principal.actor, case_id=body.case_id, days=body.days,
                                        scope=tuple(body.scope), severity=body.severity, room_id=body.room_id or None,
                                        note=body.note, escalate=body.escalate)
    with p.db.session() as s:
        return sanction_view(p.enforcement.get_sanction(s, done.id))


@router.get(f"{API}/enforcement/sanctions")
def list_sanctions(request: Request, account_id: int | None = None,
                   principal: Principal = requires(Permission.SANCTIONS_MANAGE)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        q = select(Sanction).order_by(Sanction.id.desc()).limit(500)
        if account_id is not None:
            q = q.where(Sanction.account_id == account_id)
        return {"sanctions": [sanction_view(sn) for sn in s.scalars(q)]}


@router.get(f"{API}/enforcement/reasons")
def list_reasons(request: Request, principal: Principal = requires(Permission.CONSOLE_VIEW)) -> dict[str, Any]:
    return {"reasons": [{"code": r.code, "rule": r.rule, "article": r.article, "title": r.title,
                         "severity": r.severity} for r in REASONS.values()]}


@router.get(f"{API}/enforcement/sanctions/{{sanction_id}}/report")
def incident_report(request: Request, sanction_id: int, format: Literal["json", "html"] = "json",
                    principal: Principal = requires(Permission.SANCTIONS_MANAGE)) -> Response:
    """The incident report to the competent department: JSON, or a printable page (audited)."""
    p = platform_of(request)
    with p.db.session() as s:
        content, media_type = p.enforcement.export_incident(s, sanction_id, fmt=format, actor=principal.actor)
    headers = {"cache-control": "no-store"}
    if format == "json":
        headers["content-disposition"] = f'attachment; filename="incident-{sanction_id}.json"'
    return Response(content, media_type=media_type, headers=headers)


class StatementBody(BaseModel):
    statement: str = Field(min_length=1, max_length=4000)


@router.post(f"{API}/enforcement/sanctions/{{sanction_id}}/appeal", status_code=201)
def appeal_on_behalf(request: Request, sanction_id: int, body: StatementBody,
                     principal: Principal = requires(Permission.SANCTIONS_MANAGE)) -> dict[str, Any]:
    """Record an appeal received by mail or phone (a closed account cannot sign in)."""
    p = platform_of(request)
    with p.db.session() as s:
        sn = p.enforcement.get_sanction(s, sanction_id)
        ap = p.enforcement.appeal(s, sanction_id, account_id=sn.account_id, statement=body.statement,
                                  actor=principal.actor)
        return appeal_view(ap)


# --- appeals (staff) ---------------------------------------------------------------------------
@router.get(f"{API}/enforcement/appeals")
def list_appeals(request: Request, status: str | None = None,
                 principal: Principal = requires(Permission.SANCTIONS_MANAGE)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        q = select(Appeal).order_by(Appeal.id.desc()).limit(500)
        if status:
            q = q.where(Appeal.status == status)
        return {"appeals": [appeal_view(a) for a in s.scalars(q)]}


class AppealDecisionBody(BaseModel):
    decision: Literal["uphold", "lift"]
    reason: str = Field(min_length=1, max_length=2000)


@router.post(f"{API}/enforcement/appeals/{{appeal_id}}/decision")
async def decide_appeal(request: Request, appeal_id: int, body: AppealDecisionBody,
                        principal: Principal = requires(Permission.SANCTIONS_MANAGE)) -> dict[str, Any]:
    ap = await platform_of(request).enforcement.decide_appeal(appeal_id, decision=body.decision, reason=body.reason,
                                                              actor=principal.actor)
    return appeal_view(ap)


# --- the account's own side ----------------------------------------------------------------------
@router.get(f"{API}/me/sanctions")
def my_sanctions(request: Request, principal: Principal = requires(Permission.ACCOUNT_SELF)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        appeals = s.scalars(select(Appeal).where(Appeal.account_id == principal.account_id)).all()
        return {"sanctions": [sanction_view(sn) for sn in p.enforcement.sanctions_of(s, principal.account_id)],
                "appeals": [appeal_view(a) for a in appeals]}


@router.post(f"{API}/me/sanctions/{{sanction_id}}/acknowledge")
def acknowledge(request: Request, sanction_id: int,
                principal: Principal = requires(Permission.ACCOUNT_SELF)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        sn = p.enforcement.acknowledge(s, sanction_id, account_id=principal.account_id, actor=principal.actor)
        return sanction_view(sn)


@router.post(f"{API}/me/sanctions/{{sanction_id}}/appeal", status_code=201)
def appeal(request: Request, sanction_id: int, body: StatementBody,
           principal: Principal = requires(Permission.ACCOUNT_SELF)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        ap = p.enforcement.appeal(s, sanction_id, account_id=principal.account_id, statement=body.statement,
                                  actor=principal.actor)
        return appeal_view(ap)


def _credit_view(p: Any, s: Any, account_id: int) -> dict[str, Any]:
    book = p.enforcement.credit
    level = book.level_of(s, account_id)
    c = level.consequences
    return {"score": book.score_of(s, account_id), "level": level.key, "level_name": level.display_name,
            "consequences": {"broadcast_delay_seconds": c.broadcast_delay_seconds,
                             "comment_premoderation": c.comment_premoderation,
                             "allowed_categories": c.allowed_categories or "all",
                             "max_audience_tier": c.max_audience_tier,
                             "sampling_multiplier": c.sampling_multiplier},
            "how_to_recover": book.recovery_text(s, account_id),
            "history": [{"at": _iso(e.at), "kind": e.kind, "delta": e.delta, "score": e.score_after,
                         "level_before": e.level_before, "level_after": e.level_after, "reason": e.reason}
                        for e in book.history(s, account_id)]}


@router.get(f"{API}/me/credit")
def my_credit(request: Request, principal: Principal = requires(Permission.STUDIO_USE)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        return _credit_view(p, s, principal.account_id)


@router.get(f"{API}/enforcement/credit/distribution")
def credit_distribution(request: Request,
                        principal: Principal = requires(Permission.SANCTIONS_MANAGE)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        return {"levels": [{"level": lv.key, "name": lv.display_name, "min": lv.min_score, "max": lv.max_score,
                            "publishers": n} for lv, n in p.enforcement.credit.distribution(s)]}


# --- blacklist (staff) ---------------------------------------------------------------------------
class ProposeBody(BaseModel):
    kind: Literal["phone", "document", "device"]
    value: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=2000)
    source: str = Field(default="platform", max_length=200)


@router.post(f"{API}/enforcement/blacklist", status_code=201)
def propose_entry(request: Request, body: ProposeBody,
                  principal: Principal = requires(Permission.SANCTIONS_MANAGE)) -> dict[str, Any]:
    p = platform_of(request)
    bl = p.enforcement.blacklist
    index, masked = bl.index_for(body.kind, body.value)
    with p.db.session() as s:
        entry, _ = bl.propose(s, kind=body.kind, value_index=index, masked=masked, reason=body.reason,
                              source=body.source or "platform", actor=principal.actor)
        return entry_view(entry)


@router.get(f"{API}/enforcement/blacklist")
def list_entries(request: Request, status: str | None = None,
                 principal: Principal = requires(Permission.SANCTIONS_MANAGE)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        return {"entries": [entry_view(e) for e in p.enforcement.blacklist.listing(s, status)]}


@router.post(f"{API}/enforcement/blacklist/{{entry_id}}/confirm")
async def confirm_entry(request: Request, entry_id: int,
                        principal: Principal = requires(Permission.SANCTIONS_MANAGE)) -> dict[str, Any]:
    closed = await platform_of(request).enforcement.confirm_blacklist(entry_id, actor=principal.actor)
    return {"entry": entry_id, "status": "active", "closure_sanctions": closed}


class ReasonBody(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


@router.post(f"{API}/enforcement/blacklist/{{entry_id}}/reject")
def reject_entry(request: Request, entry_id: int, body: ReasonBody,
                 principal: Principal = requires(Permission.SANCTIONS_MANAGE)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        return entry_view(p.enforcement.blacklist.reject(s, entry_id, actor=principal.actor, reason=body.reason))


@router.post(f"{API}/enforcement/blacklist/{{entry_id}}/remove")
def remove_entry(request: Request, entry_id: int, body: ReasonBody,
                 principal: Principal = requires(Permission.SANCTIONS_MANAGE)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        return entry_view(p.enforcement.blacklist.remove(s, entry_id, actor=principal.actor, reason=body.reason))


class ImportBody(BaseModel):
    text: str = Field(min_length=1, max_length=20_000_000)
    source: str = Field(default="", max_length=200)


@router.post(f"{API}/enforcement/blacklist/import", status_code=201)
def import_entries(request: Request, body: ImportBody,
                   principal: Principal = requires(Permission.SANCTIONS_MANAGE)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        r = p.enforcement.blacklist.import_text(s, body.text, source=body.source, actor=principal.actor)
    return {"batch": r.batch, "added": r.added, "already_listed": r.already_listed, "rejected_rows": r.rejected_rows}


@router.post(f"{API}/enforcement/blacklist/batches/{{batch}}/confirm")
async def confirm_batch(request: Request, batch: str,
                        principal: Principal = requires(Permission.SANCTIONS_MANAGE)) -> dict[str, Any]:
    n, closed = await platform_of(request).enforcement.confirm_blacklist_batch(batch, actor=principal.actor)
    return {"batch": batch, "confirmed": n, "closure_sanctions": closed}


class ReportBody(BaseModel):
    full: bool = False
    reason: str = Field(default="", max_length=500)


@router.post(f"{API}/enforcement/blacklist/report")
async def blacklist_report(request: Request, principal: Principal = requires(Permission.SANCTIONS_MANAGE)) -> Response:
    """New entries for the provincial office (JSON, documented in enforcement/blacklist.py); audited.
    ``full`` adds the plain values the vault holds, and needs identity:reveal and a reason."""
    p = platform_of(request)
    ctype = request.headers.get("content-type", "")
    raw: dict[str, Any] = await request.json() if ctype.startswith("application/json") else {}
    body = ReportBody.model_validate(raw)
    if body.full:
        if not principal.has(Permission.IDENTITY_REVEAL):
            raise PermissionDenied("a full report needs the permission identity:reveal",
                                   permission=Permission.IDENTITY_REVEAL.value)
        if len(body.reason.strip()) < 4:
            from livegate.core.errors import ValidationFailed

            raise ValidationFailed("a full report needs a reason", field="reason")

    def run() -> tuple[str, int]:
        with p.db.session() as s:
            return p.enforcement.blacklist.report(s, actor=principal.actor, full=body.full, reason=body.reason)

    content, count = await asyncio.to_thread(run)
    return Response(content, media_type="application/json",
                    headers={"content-disposition": 'attachment; filename="blacklist-report.json"',
                             "cache-control": "no-store", "x-row-count": str(count)})


class CheckBody(BaseModel):
    kind: Literal["phone", "document", "device"]
    value: str = Field(min_length=1, max_length=200)


@router.post(f"{API}/enforcement/blacklist/check")
def check_entry(request: Request, body: CheckBody,
                principal: Principal = requires(Permission.SANCTIONS_MANAGE)) -> dict[str, Any]:
    p = platform_of(request)
    bl = p.enforcement.blacklist
    index, masked = bl.index_for(body.kind, body.value)
    with p.db.session() as s:
        listed = bl.is_listed(s, **{f"{body.kind}_index": index})
        p.audit.record(s, actor=principal.actor, action="blacklist.check", target="blacklist",
                       details={"kind": body.kind, "masked": masked, "listed": listed})
    return {"kind": body.kind, "masked": masked, "listed": listed}


# --- pages ---------------------------------------------------------------------------------------
@router.get("/console/sanctions")
def console_sanctions(request: Request, principal: Principal = requires(Permission.SANCTIONS_MANAGE)) -> Response:
    p = platform_of(request)
    with p.db.session() as s:
        rows = s.execute(select(Sanction, Account.nickname).join(Account, Account.id == Sanction.account_id)
                         .order_by(Sanction.id.desc()).limit(300)).all()
        sanctions = [{**sanction_view(sn), "nickname": nick} for sn, nick in rows]
    return render(request, "enforcement/console_sanctions.html", sanctions=sanctions, reasons=list(REASONS.values()),
                  ladder=p.policy.get().sanctions)


@router.get("/console/appeals")
def console_appeals(request: Request, principal: Principal = requires(Permission.SANCTIONS_MANAGE)) -> Response:
    p = platform_of(request)
    with p.db.session() as s:
        rows = []
        for ap in s.scalars(select(Appeal).order_by(Appeal.id.desc()).limit(300)):
            sn = p.enforcement.get_sanction(s, ap.sanction_id)
            rows.append({**appeal_view(ap), "sanction": sanction_view(sn),
                         "may_decide": not same_staff(principal.actor, sn.created_by)})
    return render(request, "enforcement/console_appeals.html", appeals=rows)


def distribution_svg(levels: list[tuple[str, int]]) -> str:
    """A bar chart of publishers per credit level, as inline SVG (no script needed)."""
    from markupsafe import escape

    width, bar_h, gap, label_w = 420, 22, 8, 40
    top = max((n for _, n in levels), default=0) or 1
    height = len(levels) * (bar_h + gap) + gap
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="publishers per credit level" '
             f'width="{width}" height="{height}" data-testid="credit-chart">']
    for i, (key, n) in enumerate(levels):
        y = gap + i * (bar_h + gap)
        w = int((width - label_w - 60) * n / top)
        parts.append(f'<text x="4" y="{y + 16}" font-size="14">{escape(key)}</text>'
                     f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_h}" fill="#4a7bd0"/>'
                     f'<text x="{label_w + w + 6}" y="{y + 16}" font-size="13">{n}</text>')
    parts.append("</svg>")
    return "".join(parts)


@router.get("/console/credit")
def console_credit(request: Request, principal: Principal = requires(Permission.SANCTIONS_MANAGE)) -> Response:
    from markupsafe import Markup

    from livegate.enforcement.models import CreditScore

    p = platform_of(request)
    with p.db.session() as s:
        dist = p.enforcement.credit.distribution(s)
        lowest = s.execute(select(CreditScore, Account.nickname).join(Account, Account.id == CreditScore.account_id)
                           .order_by(CreditScore.score, CreditScore.account_id).limit(50)).all()
        low = [{"account_id": c.account_id, "nickname": nick, "score": c.score, "level": c.level} for c, nick in lowest]
    chart = Markup(distribution_svg([(lv.key, n) for lv, n in dist]))  # noqa: S704 - built from numbers and escaped keys
    return render(request, "enforcement/console_credit.html", chart=chart, dist=dist, lowest=low,
                  credit=p.policy.get().credit)


@router.get("/console/blacklist")
def console_blacklist(request: Request, principal: Principal = requires(Permission.SANCTIONS_MANAGE)) -> Response:
    p = platform_of(request)
    with p.db.session() as s:
        entries = [entry_view(e) for e in p.enforcement.blacklist.listing(s)]
    return render(request, "enforcement/console_blacklist.html", entries=entries, me=principal.actor,
                  can_reveal=principal.has(Permission.IDENTITY_REVEAL))


@router.get("/studio/sanctions")
def studio_sanctions(request: Request, principal: Principal = requires(Permission.ACCOUNT_SELF)) -> Response:
    p = platform_of(request)
    with p.db.session() as s:
        mine = [sanction_view(sn) for sn in p.enforcement.sanctions_of(s, principal.account_id)]
        appeals = {a.sanction_id: appeal_view(a)
                   for a in s.scalars(select(Appeal).where(Appeal.account_id == principal.account_id))}
    warnings = [x for x in mine if x["kind"] == "warning"]
    others = [x for x in mine if x["kind"] != "warning"]
    return render(request, "enforcement/studio_sanctions.html", warnings=warnings, sanctions=others, appeals=appeals)


@router.get("/studio/credit")
def studio_credit(request: Request, principal: Principal = requires(Permission.STUDIO_USE)) -> Response:
    p = platform_of(request)
    with p.db.session() as s:
        view = _credit_view(p, s, principal.account_id)
    return render(request, "enforcement/studio_credit.html", credit=view, levels=p.policy.get().credit.levels)
