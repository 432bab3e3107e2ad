"""Routes of the agreements domain: the texts in force (public), acceptance, publishing and
the clause-coverage view (administrators)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from livegate.agreements.errors import AgreementNotFound
from livegate.agreements.models import AgreementVersion
from livegate.agreements.service import KINDS, render_markdown
from livegate.core.permissions import Permission
from livegate.identity.accounts import Principal
from livegate.web.deps import PUBLIC, client_ip, current_principal, platform_of, requires
from livegate.web.pages import render

router = APIRouter()
API = "/api/v1/agreements"


def _view(v: AgreementVersion, *, body: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"id": v.id, "kind": v.kind, "version": v.version, "title": v.title,
                           "effective_at": v.effective_at.isoformat(), "published_by": v.published_by}
    if body:
        out["body"] = v.body
    return out


@router.get(f"{API}/current", dependencies=[PUBLIC])
def current(request: Request) -> dict[str, Any]:
    p = platform_of(request)
    principal = current_principal(request)
    with p.db.session() as s:
        versions = p.identity.agreements.current(s, p.clock.now())
        missing = ({v.id for v in p.identity.agreements.missing(s, principal.account_id, p.clock.now())}
                   if principal else set())
        return {"agreements": [{**_view(v, body=True), **({"accepted": v.id not in missing} if principal else {})}
                               for v in versions.values()]}


class AcceptBody(BaseModel):
    version_ids: list[int] = Field(min_length=1, max_length=10)


@router.post(f"{API}/accept")
def accept(request: Request, body: AcceptBody,
           principal: Principal = requires(Permission.ACCOUNT_SELF)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        done = p.identity.agreements.accept(
            s, principal.account_id, body.version_ids, now=p.clock.now(), ip=client_ip(request),
            user_agent=request.headers.get("user-agent", ""), actor=principal.actor)
        missing = p.identity.agreements.missing(s, principal.account_id, p.clock.now())
        return {"accepted": [_view(v) for v in done], "missing": [_view(v) for v in missing]}


class PublishBody(BaseModel):
    kind: str = Field(min_length=1, max_length=32)
    version: str = Field(min_length=1, max_length=32)
    body: str = Field(min_length=1, max_length=200_000)
    title: str | None = Field(default=None, max_length=200)
    effective_at: dt.datetime | None = None
    allow_missing_clauses: bool = False


@router.post(API, status_code=201)
def publish(request: Request, body: PublishBody,
            principal: Principal = requires(Permission.POLICY_MANAGE)) -> dict[str, Any]:
    p = platform_of(request)
    now = p.clock.now()
    with p.db.session() as s:
        row = p.identity.agreements.publish(
            s, kind=body.kind, version=body.version, body=body.body, title=body.title,
            effective_at=body.effective_at or now, now=now, policy=p.policy.get(), actor=principal.actor,
            allow_missing_clauses=body.allow_missing_clauses)
        return _view(row)


@router.get(f"{API}/coverage")
def coverage(request: Request, principal: Principal = requires(Permission.POLICY_MANAGE)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        rows = p.identity.agreements.coverage(s, p.policy.get(), p.clock.now())
        versions = [_view(v) for v in p.identity.agreements.versions(s)]
    return {"clauses": [{"id": c.id, "description": c.description, "applies_to": list(c.applies_to),
                         "covered_by": list(c.covered_by), "covered": c.covered} for c in rows],
            "versions": versions}


@router.get("/agreements/{kind}", dependencies=[PUBLIC])
def agreement_page(request: Request, kind: str) -> Response:
    p = platform_of(request)
    if kind not in KINDS:
        raise AgreementNotFound()
    with p.db.session() as s:
        version = p.identity.agreements.current(s, p.clock.now()).get(kind)
    if version is None:
        raise AgreementNotFound()
    return render(request, "agreements/agreement.html", version=version, html=render_markdown(version.body))


@router.get("/console/agreements")
def console_agreements(request: Request, principal: Principal = requires(Permission.POLICY_MANAGE)) -> Response:
    p = platform_of(request)
    with p.db.session() as s:
        rows = p.identity.agreements.coverage(s, p.policy.get(), p.clock.now())
        versions = p.identity.agreements.versions(s)
        current_ids = {v.id for v in p.identity.agreements.current(s, p.clock.now()).values()}
    return render(request, "agreements/console_agreements.html", clauses=rows, versions=versions,
                  current_ids=current_ids, kinds=KINDS)
