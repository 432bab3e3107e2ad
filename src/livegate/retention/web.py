"""Routes of the retention domain: the storage page (charts), legal holds and inspection
exports in the console, and their JSON API."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from markupsafe import Markup
from pydantic import BaseModel, Field
from sqlalchemy import select

from livegate.core.errors import Gone, NotFound
from livegate.core.models import SchedulerLease
from livegate.core.permissions import Permission
from livegate.identity.accounts import Principal
from livegate.retention import bundles
from livegate.retention.export import parse_period
from livegate.retention.models import InspectionExport, LegalHold
from livegate.retention.service import HEAD_JOB, PURGE_JOB
from livegate.retention.usage import bar_chart_svg, human, projection_chart_svg
from livegate.web.deps import platform_of, requires
from livegate.web.pages import render

router = APIRouter()
API = "/api/v1/retention"


def _hold_view(h: LegalHold) -> dict[str, Any]:
    return {"id": h.id, "scope_type": h.scope_type, "scope_id": h.scope_id, "reason": h.reason,
            "placed_by": h.placed_by, "placed_at": h.placed_at.isoformat(),
            "lifted_at": h.lifted_at.isoformat() if h.lifted_at else None, "lifted_by": h.lifted_by,
            "lift_reason": h.lift_reason}


def _export_view(e: InspectionExport) -> dict[str, Any]:
    return {"id": e.id, "scope_type": e.scope_type, "scope_id": e.scope_id, "from": e.period_from.isoformat(),
            "to": e.period_to.isoformat(), "requester": e.requester, "legal_basis": e.legal_basis,
            "created_by": e.created_by, "created_at": e.created_at.isoformat(), "files": e.files, "bytes": e.bytes,
            "manifest_sha256": e.manifest_sha256}


# -- storage -------------------------------------------------------------------------------
@router.get(f"{API}/storage")
def storage_api(request: Request, principal: Principal = requires(Permission.STORAGE_VIEW)) -> dict[str, Any]:
    return platform_of(request).retention.usage().as_dict()  # type: ignore[no-any-return]


@router.get(f"{API}/purge/plan")
def purge_plan(request: Request, principal: Principal = requires(Permission.RETENTION_PURGE)) -> dict[str, Any]:
    """What the purge would delete now (a dry run)."""
    return platform_of(request).retention.purge(dry_run=True).as_dict()  # type: ignore[no-any-return]


@router.get("/console/storage")
def storage_page(request: Request, principal: Principal = requires(Permission.STORAGE_VIEW)) -> Response:
    p = platform_of(request)
    r = p.retention
    r.collect_peer_kinds()
    usage = r.usage()
    policy = p.policy.get()
    kinds = [(k.name, k.description, r.kinds.days(policy, k) if getattr(k, "purges", True) else "kept by its module",
              k.policy_class) for k in r.kinds.all()]
    with p.db.session() as s:
        leases = {row.job: row for row in s.scalars(select(SchedulerLease).where(
            SchedulerLease.job.in_([PURGE_JOB, HEAD_JOB])))}
    return render(request, "retention/storage.html", usage=usage, human=human,
                  bars=Markup(bar_chart_svg(usage.days)),  # noqa: S704 - built from numbers and escaped text
                  projection=Markup(projection_chart_svg(usage)),  # noqa: S704
                  kinds=kinds, leases=leases, purge_job=PURGE_JOB, head_job=HEAD_JOB,
                  key_fingerprint=r.key.fingerprint)


# -- holds ---------------------------------------------------------------------------------
class HoldBody(BaseModel):
    scope_type: Literal["account", "room", "case"]
    scope_id: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=2000)


class LiftBody(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


@router.get(f"{API}/holds")
def list_holds(request: Request, principal: Principal = requires(Permission.LEGAL_HOLD)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        return {"holds": [_hold_view(h) for h in p.retention.holds.history(s)]}


@router.post(f"{API}/holds", status_code=201)
def place_hold(request: Request, body: HoldBody,
               principal: Principal = requires(Permission.LEGAL_HOLD)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        hold_id = p.retention.place_hold(s, scope_type=body.scope_type, scope_id=body.scope_id, reason=body.reason,
                                         actor=principal.actor)
        hold = s.get(LegalHold, hold_id)
        assert hold is not None
        return _hold_view(hold)


@router.post(f"{API}/holds/{{hold_id}}/lift")
def lift_hold(request: Request, hold_id: int, body: LiftBody,
              principal: Principal = requires(Permission.LEGAL_HOLD)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        hold = p.retention.holds.lift(s, hold_id, reason=body.reason, actor=principal.actor)
        return _hold_view(hold)


@router.get("/console/holds")
def holds_page(request: Request, principal: Principal = requires(Permission.LEGAL_HOLD)) -> Response:
    p = platform_of(request)
    with p.db.session() as s:
        holds = p.retention.holds.history(s)
    return render(request, "retention/holds.html", holds=holds)


# -- inspections ---------------------------------------------------------------------------
class ExportBody(BaseModel):
    scope_type: Literal["account", "room"]
    scope_id: str = Field(min_length=1, max_length=64)
    period_from: dt.date = Field(alias="from")
    period_to: dt.date = Field(alias="to")
    requester: str = Field(min_length=1, max_length=200)
    legal_basis: str = Field(min_length=1, max_length=2000)


@router.post(f"{API}/exports", status_code=201)
async def create_export(request: Request, body: ExportBody,
                        principal: Principal = requires(Permission.INSPECTION_EXPORT)) -> dict[str, Any]:
    p = platform_of(request)
    start, end = parse_period(body.period_from, body.period_to)
    result = await asyncio.to_thread(
        p.retention.export_inspection, scope_type=body.scope_type, scope_id=body.scope_id, start=start, end=end,
        requester=body.requester, legal_basis=body.legal_basis, actor=principal.actor)
    return {"id": result.export_id, "files": result.files, "bytes": result.bytes,
            "manifest_sha256": result.manifest_sha256, "counts": result.counts,
            "download": f"{API}/exports/{result.export_id}/bundle.zip"}


@router.get(f"{API}/exports")
def list_exports(request: Request, principal: Principal = requires(Permission.INSPECTION_EXPORT)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        rows = s.scalars(select(InspectionExport).order_by(InspectionExport.id.desc()).limit(200)).all()
        return {"exports": [_export_view(e) for e in rows]}


@router.get(f"{API}/exports/{{export_id}}/bundle.zip")
def download_export(request: Request, export_id: int,
                    principal: Principal = requires(Permission.INSPECTION_EXPORT)) -> Response:
    """The bundle as a zip (stored, not recompressed: media does not shrink). Audited."""
    p = platform_of(request)
    storage = p.retention.storage
    with p.db.session() as s:
        row = s.get(InspectionExport, export_id)
        if row is None:
            raise NotFound("no such export")
        directory = Path(row.directory)
        if not bundles.available(storage, export_id, directory):
            raise Gone("this bundle is no longer on the server")
        p.audit.record(s, actor=principal.actor, action="retention.inspection_download",
                       target=f"{row.scope_type}:{row.scope_id}", details={"export": row.id})
    return StreamingResponse(bundles.zip_stream(storage, export_id, directory), media_type="application/zip",
                             headers={"content-disposition": f'attachment; filename="inspection-{export_id}.zip"'})


@router.get("/console/inspections")
def inspections_page(request: Request, principal: Principal = requires(Permission.INSPECTION_EXPORT)) -> Response:
    p = platform_of(request)
    with p.db.session() as s:
        rows = s.scalars(select(InspectionExport).order_by(InspectionExport.id.desc()).limit(200)).all()
    return render(request, "retention/inspections.html", exports=rows, key_fingerprint=p.retention.key.fingerprint,
                  today=p.clock.now().date().isoformat())
