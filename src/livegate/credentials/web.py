"""Routes of the credentials domain: publishers register theirs, administrators the
platform's licences, staff check publishers' credentials and see expiry alerts."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from livegate.core.permissions import Permission
from livegate.credentials.models import Credential
from livegate.identity.accounts import Principal
from livegate.web.deps import platform_of, requires
from livegate.web.pages import render

router = APIRouter()
API = "/api/v1"


def _view(c: Credential) -> dict[str, Any]:
    return {"id": c.id, "holder": c.holder, "account_id": c.account_id, "kind": c.kind, "number": c.number,
            "scope": c.scope, "issuer": c.issuer, "expires_on": c.expires_on.isoformat() if c.expires_on else None,
            "status": c.status}


class CredentialBody(BaseModel):
    kind: str = Field(min_length=1, max_length=64)
    number: str = Field(min_length=1, max_length=64)
    scope: str = Field(default="", max_length=2000)
    issuer: str = Field(min_length=1, max_length=200)
    expires_on: dt.date | None = None


def _register(request: Request, body: CredentialBody, holder: str, account_id: int | None,
              actor: str) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        row = p.identity.credentials.register(
            s, policy=p.policy.get(), holder=holder, account_id=account_id, kind=body.kind, number=body.number,
            scope=body.scope, issuer=body.issuer, expires_on=body.expires_on, now=p.clock.now(), actor=actor)
        return _view(row)


@router.post(f"{API}/me/credentials", status_code=201)
def register_own(request: Request, body: CredentialBody,
                 principal: Principal = requires(Permission.STUDIO_USE)) -> dict[str, Any]:
    return _register(request, body, "publisher", principal.account_id, principal.actor)


@router.get(f"{API}/me/credentials")
def list_own(request: Request, principal: Principal = requires(Permission.STUDIO_USE)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        return {"credentials": [_view(c) for c in p.identity.credentials_of(s, principal.account_id)]}


@router.post(f"{API}/credentials/platform", status_code=201)
def register_platform(request: Request, body: CredentialBody,
                      principal: Principal = requires(Permission.POLICY_MANAGE)) -> dict[str, Any]:
    return _register(request, body, "platform", None, principal.actor)


@router.get(f"{API}/credentials")
def list_all(request: Request, principal: Principal = requires(Permission.CONSOLE_VIEW)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        return {"credentials": [_view(c) for c in p.identity.credentials.listing(s)],
                "alerts": [{"id": a.id, "kind": a.kind, "expires_on": a.expires_on.isoformat(),
                            "credential": _view(c)} for a, c in p.identity.credentials.alerts(s)]}


class CredentialDecisionBody(BaseModel):
    decision: Literal["approve", "reject"]
    reason: str = Field(min_length=1, max_length=2000)


@router.post(f"{API}/credentials/{{credential_id}}/decision")
def decide(request: Request, credential_id: int, body: CredentialDecisionBody,
           principal: Principal = requires(Permission.IDENTITY_REVIEW)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        row = p.identity.credentials.decide(s, credential_id, approve=body.decision == "approve",
                                            reason=body.reason, now=p.clock.now(), actor=principal.actor)
        return _view(row)


class RevokeBody(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


@router.post(f"{API}/credentials/{{credential_id}}/revoke")
def revoke(request: Request, credential_id: int, body: RevokeBody,
           principal: Principal = requires(Permission.POLICY_MANAGE)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        return _view(p.identity.credentials.revoke(s, credential_id, reason=body.reason, now=p.clock.now(),
                                                   actor=principal.actor))


@router.post(f"{API}/credentials/alerts/{{alert_id}}/ack")
def acknowledge(request: Request, alert_id: int,
                principal: Principal = requires(Permission.POLICY_MANAGE)) -> dict[str, bool]:
    p = platform_of(request)
    with p.db.session() as s:
        p.identity.credentials.acknowledge(s, alert_id, now=p.clock.now(), actor=principal.actor)
    return {"ok": True}


@router.get("/studio/identity")
def studio_identity(request: Request, principal: Principal = requires(Permission.STUDIO_USE)) -> Response:
    p = platform_of(request)
    policy = p.policy.get()
    with p.db.session() as s:
        status = p.identity.status_of(s, principal.account_id)
        creds = p.identity.credentials_of(s, principal.account_id)
    kinds = [(k, v.display_name) for k, v in policy.credential_kinds.items() if v.holder == "publisher"]
    needs = [(c.display_name, [policy.credential_kinds[k].display_name
                               for k in c.required_credentials.platform + c.required_credentials.publisher])
             for c in policy.categories.values()]
    return render(request, "credentials/studio_identity.html", status=status, credentials=creds, kinds=kinds,
                  needs=needs)


@router.get("/console/credentials")
def console_credentials(request: Request, principal: Principal = requires(Permission.CONSOLE_VIEW)) -> Response:
    p = platform_of(request)
    policy = p.policy.get()
    with p.db.session() as s:
        creds = p.identity.credentials.listing(s)
        alerts = p.identity.credentials.alerts(s)
    platform_kinds = [(k, v.display_name) for k, v in policy.credential_kinds.items() if v.holder == "platform"]
    return render(request, "credentials/console_credentials.html", credentials=creds, alerts=alerts,
                  platform_kinds=platform_kinds, kind_names={k: v.display_name
                                                             for k, v in policy.credential_kinds.items()},
                  can_manage=principal.has(Permission.POLICY_MANAGE),
                  can_review=principal.has(Permission.IDENTITY_REVIEW))
