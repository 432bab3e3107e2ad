"""HTTP routes of the identity domain: sign-up, phone verification, nicknames, publisher
verification and its review queue, disclosure (reveal, filing, lawful requests), and pages.

Routes stay thin: validate, call one method of ``platform.identity``, return.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from livegate.core.errors import LivegateError, PermissionDenied
from livegate.core.models import Account
from livegate.core.permissions import Permission
from livegate.identity.accounts import Principal
from livegate.identity.documents import DOC_TYPES, PROVINCES
from livegate.identity.models import LawfulRequest
from livegate.identity.photos import MAX_PHOTO_BYTES
from livegate.identity.service import SIGNUP_RULE, Export
from livegate.web.api import SignInBody, sign_in
from livegate.web.deps import PUBLIC, client_ip, platform_of, requires
from livegate.web.pages import render

router = APIRouter()
API = "/api/v1"


# --- sign-up ---------------------------------------------------------------------------------
class SignUpBody(BaseModel):
    username: str = Field(min_length=3, max_length=32)
    nickname: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=10, max_length=256)


def _signup(request: Request, response: Response, body: SignUpBody) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        p.identity.signup(s, username=body.username, nickname=body.nickname, password=body.password,
                          ip=client_ip(request))
    return sign_in(request, response, SignInBody(username=body.username, password=body.password))


@router.post(f"{API}/auth/signup", status_code=201, dependencies=[PUBLIC])
async def api_signup(request: Request, response: Response, body: SignUpBody) -> dict[str, Any]:
    p = platform_of(request)
    await p.ratelimit.check_or_raise(SIGNUP_RULE, client_ip(request))
    return await asyncio.to_thread(_signup, request, response, body)


@router.get("/signup", dependencies=[PUBLIC])
def signup_page(request: Request) -> Response:
    return render(request, "identity/signup.html", error="", username="", nickname="")


@router.post("/signup", dependencies=[PUBLIC])
async def signup_form(
    request: Request,
    username: str = Form(default="", max_length=64),
    nickname: str = Form(default="", max_length=64),
    password: str = Form(default="", max_length=256),
) -> Response:
    p = platform_of(request)
    response = RedirectResponse("/account", status_code=303)
    try:
        await p.ratelimit.check_or_raise(SIGNUP_RULE, client_ip(request))
        body = SignUpBody.model_validate({"username": username, "nickname": nickname, "password": password})
        await asyncio.to_thread(_signup, request, response, body)
    except LivegateError as exc:
        return render(request, "identity/signup.html", status_code=exc.http_status, error=exc.message,
                      username=username, nickname=nickname)
    except ValueError:
        return render(request, "identity/signup.html", status_code=422, username=username, nickname=nickname,
                      error="Choose a username of 3-32 characters, a nickname, and a password of at least 10.")
    return response


# --- the account's own identity ------------------------------------------------------------------
@router.get(f"{API}/me/identity")
def my_identity(request: Request, principal: Principal = requires(Permission.ACCOUNT_SELF)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        return p.identity.status_of(s, principal.account_id)


class PhoneBody(BaseModel):
    phone: str = Field(min_length=1, max_length=40)


class PhoneVerifyBody(PhoneBody):
    code: str = Field(min_length=1, max_length=32)


@router.post(f"{API}/me/phone/code")
async def phone_code(request: Request, body: PhoneBody,
                     principal: Principal = requires(Permission.ACCOUNT_SELF)) -> dict[str, Any]:
    sent = await platform_of(request).identity.request_phone_code(body.phone, ip=client_ip(request))
    return {"phone": sent.masked_phone, "expires_at": sent.expires_at.isoformat(),
            "resend_after": sent.resend_after.isoformat()}


@router.post(f"{API}/me/phone/verify")
async def phone_verify(request: Request, body: PhoneVerifyBody,
                       principal: Principal = requires(Permission.ACCOUNT_SELF)) -> dict[str, Any]:
    masked = await platform_of(request).identity.verify_phone(principal.account_id, body.phone, body.code,
                                                              actor=principal.actor)
    return {"verified": True, "phone": masked}


class NicknameBody(BaseModel):
    nickname: str = Field(min_length=1, max_length=64)


@router.put(f"{API}/me/nickname")
async def change_nickname(request: Request, body: NicknameBody,
                          principal: Principal = requires(Permission.ACCOUNT_SELF)) -> dict[str, str]:
    nick = await platform_of(request).identity.change_nickname(principal.account_id, body.nickname,
                                                               actor=principal.actor)
    return {"nickname": nick}


class VerificationBody(BaseModel):
    doc_type: str = Field(min_length=1, max_length=40)
    number: str = Field(min_length=1, max_length=64)
    real_name: str = Field(min_length=1, max_length=100)
    province: str | None = Field(default=None, max_length=2)


@router.post(f"{API}/me/verification", status_code=201)
def submit_verification(request: Request, body: VerificationBody,
                        principal: Principal = requires(Permission.ACCOUNT_SELF)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        rec = p.identity.submit(s, principal.account_id, doc_type=body.doc_type, number=body.number,
                                real_name=body.real_name, province=body.province or None, actor=principal.actor)
        return {"id": rec.id, "status": rec.status, "check_rule": rec.check_rule, "check_reason": rec.check_reason,
                "guardian_consent_required": rec.guardian_consent_required, "document": rec.doc_masked,
                "name": rec.name_masked}


@router.post(f"{API}/me/verification/photos", status_code=201)
async def upload_photo(request: Request, file: UploadFile = File(...),
                       principal: Principal = requires(Permission.ACCOUNT_SELF)) -> dict[str, Any]:
    p = platform_of(request)
    data = await file.read(MAX_PHOTO_BYTES + 1)
    content_type = file.content_type or ""

    def store() -> dict[str, Any]:
        with p.db.session() as s:
            row = p.identity.add_photo(s, principal.account_id, data, content_type, actor=principal.actor)
            return {"id": row.id, "size": row.size, "width": row.width, "height": row.height}

    return await asyncio.to_thread(store)


# --- review queue (staff) ---------------------------------------------------------------------
def _record_view(rec: Any, acc: Account) -> dict[str, Any]:
    return {"id": rec.id, "account_id": acc.id, "nickname": acc.nickname, "kind": rec.kind,
            "doc_type": rec.doc_type, "document": rec.doc_masked, "name": rec.name_masked,
            "province": rec.province, "status": rec.status, "check_rule": rec.check_rule,
            "check_reason": rec.check_reason, "external_check": rec.external_check,
            "guardian_consent_required": rec.guardian_consent_required,
            "submitted_at": rec.submitted_at.isoformat(), "decision_reason": rec.decision_reason}


@router.get(f"{API}/identity/verifications")
def verification_queue(request: Request, status: str | None = None,
                       principal: Principal = requires(Permission.IDENTITY_REVIEW)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        return {"verifications": [_record_view(r, a) for r, a in p.identity.queue(s, status)]}


@router.get(f"{API}/identity/verifications/{{record_id}}")
def verification_detail(request: Request, record_id: int,
                        principal: Principal = requires(Permission.IDENTITY_REVIEW)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        rec = p.identity.record(s, record_id)
        acc = p.accounts.get(s, rec.account_id)
        out = _record_view(rec, acc)
        out["photos"] = [{"id": ph.id, "width": ph.width, "height": ph.height, "size": ph.size}
                         for ph in p.identity.photos_of(s, rec.id)]
        return out


class DecisionBody(BaseModel):
    decision: Literal["approve", "reject"]
    reason: str = Field(min_length=1, max_length=2000)
    guardian_consent: bool = False


@router.post(f"{API}/identity/verifications/{{record_id}}/decision")
def decide_verification(request: Request, record_id: int, body: DecisionBody,
                        principal: Principal = requires(Permission.IDENTITY_REVIEW)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        rec = p.identity.decide(s, record_id, approve=body.decision == "approve", reason=body.reason,
                                guardian_consent=body.guardian_consent, actor=principal.actor)
        return {"id": rec.id, "status": rec.status}


class ReasonBody(BaseModel):
    reason: str = Field(default="", max_length=500)


@router.post(f"{API}/identity/verifications/{{record_id}}/reveal")
def reveal_identity(request: Request, record_id: int, body: ReasonBody,
                    principal: Principal = requires(Permission.IDENTITY_REVEAL)) -> dict[str, str]:
    p = platform_of(request)
    with p.db.session() as s:
        return p.identity.reveal(s, record_id, reason=body.reason, actor=principal.actor)


@router.post(f"{API}/identity/accounts/{{account_id}}/phone/reveal")
def reveal_phone(request: Request, account_id: int, body: ReasonBody,
                 principal: Principal = requires(Permission.IDENTITY_REVEAL)) -> dict[str, str]:
    p = platform_of(request)
    with p.db.session() as s:
        return {"phone": p.identity.reveal_phone(s, account_id, reason=body.reason, actor=principal.actor)}


@router.post(f"{API}/identity/photos/{{photo_id}}/reveal")
def reveal_photo(request: Request, photo_id: int, body: ReasonBody,
                 principal: Principal = requires(Permission.IDENTITY_REVEAL)) -> Response:
    p = platform_of(request)
    with p.db.session() as s:
        data, content_type = p.identity.open_photo(s, photo_id, reason=body.reason, actor=principal.actor)
    return Response(data, media_type=content_type, headers={"cache-control": "no-store"})


# --- filing and lawful requests (Art. 12) -------------------------------------------------------
def _download(export: Export) -> Response:
    return Response(export.content, media_type=export.media_type,
                    headers={"content-disposition": f'attachment; filename="{export.filename}"',
                             "cache-control": "no-store", "x-row-count": str(export.count)})


class FilingBody(BaseModel):
    province: str | None = Field(default=None, max_length=2)
    type: Literal["individual", "organisation"] = "individual"
    format: Literal["csv", "json"] = "csv"
    full: bool = False
    reason: str = Field(default="", max_length=500)


async def _filing_body(request: Request) -> FilingBody:
    if request.headers.get("content-type", "").startswith("application/json"):
        return FilingBody.model_validate(await request.json())
    form = await request.form()
    data = {k: v for k, v in form.items() if k != "csrf_token" and isinstance(v, str)}
    data["full"] = data.get("full") in {"on", "true", "1"}  # type: ignore[assignment]
    if not data.get("province"):
        data.pop("province", None)
    return FilingBody.model_validate(data)


@router.post(f"{API}/identity/filing/export")
async def filing_export(request: Request,
                        principal: Principal = requires(Permission.FILING_EXPORT)) -> Response:
    """The filing of verified publishers. Masked by default; ``full`` also needs identity:reveal and a reason."""
    p = platform_of(request)
    try:
        body = await _filing_body(request)
    except ValueError as exc:
        from livegate.core.errors import ValidationFailed

        raise ValidationFailed("the export request is not valid") from exc
    if body.full and not principal.has(Permission.IDENTITY_REVEAL):
        raise PermissionDenied("a full export needs the permission identity:reveal",
                               permission=Permission.IDENTITY_REVEAL.value)

    def run() -> Export:
        with p.db.session() as s:
            return p.identity.export_filing(s, province=body.province, kind=body.type, fmt=body.format,
                                            full=body.full, reason=body.reason, actor=principal.actor)

    return _download(await asyncio.to_thread(run))


class LawfulRequestBody(BaseModel):
    authority: str = Field(min_length=1, max_length=200)
    legal_basis: str = Field(min_length=1, max_length=2000)
    reference: str = Field(min_length=1, max_length=120)
    account_ids: list[int] = Field(min_length=1, max_length=1000)


def _lawful_view(req: LawfulRequest) -> dict[str, Any]:
    return {"id": req.id, "authority": req.authority, "legal_basis": req.legal_basis, "reference": req.reference,
            "scope": req.scope, "status": req.status, "requested_by": req.requested_by,
            "requested_at": req.requested_at.isoformat(), "decided_by": req.decided_by,
            "decision_reason": req.decision_reason, "exports": req.exports}


@router.post(f"{API}/lawful-requests", status_code=201)
def create_lawful_request(request: Request, body: LawfulRequestBody,
                          principal: Principal = requires(Permission.LAWFUL_REQUESTS)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        req = p.identity.create_lawful_request(s, authority=body.authority, legal_basis=body.legal_basis,
                                               reference=body.reference, account_ids=body.account_ids,
                                               actor=principal.actor)
        return _lawful_view(req)


@router.get(f"{API}/lawful-requests")
def list_lawful_requests(request: Request,
                         principal: Principal = requires(Permission.LAWFUL_REQUESTS)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        rows = s.scalars(select(LawfulRequest).order_by(LawfulRequest.id.desc()).limit(200))
        return {"requests": [_lawful_view(r) for r in rows]}


@router.post(f"{API}/lawful-requests/{{request_id}}/decision")
def decide_lawful_request(request: Request, request_id: int, body: DecisionBody,
                          principal: Principal = requires(Permission.LAWFUL_REQUESTS)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        req = p.identity.decide_lawful_request(s, request_id, approve=body.decision == "approve",
                                               reason=body.reason, actor=principal.actor)
        return _lawful_view(req)


class LawfulExportBody(BaseModel):
    format: Literal["csv", "json"] = "json"


@router.post(f"{API}/lawful-requests/{{request_id}}/export")
def export_lawful_request(request: Request, request_id: int, body: LawfulExportBody,
                          principal: Principal = requires(Permission.LAWFUL_REQUESTS)) -> Response:
    p = platform_of(request)
    with p.db.session() as s:
        export = p.identity.export_lawful_request(s, request_id, fmt=body.format, actor=principal.actor)
    return _download(export)


# --- pages ---------------------------------------------------------------------------------------
@router.get("/account")
def account_page(request: Request, principal: Principal = requires(Permission.ACCOUNT_SELF)) -> Response:
    p = platform_of(request)
    with p.db.session() as s:
        status = p.identity.status_of(s, principal.account_id)
    return render(request, "identity/account.html", status=status, doc_types=DOC_TYPES,
                  provinces=sorted(PROVINCES.items()), max_photo_mb=MAX_PHOTO_BYTES // (1024 * 1024))


@router.get("/console/identity")
def console_identity(request: Request, principal: Principal = requires(Permission.IDENTITY_REVIEW)) -> Response:
    p = platform_of(request)
    with p.db.session() as s:
        queue = []
        for rec, acc in p.identity.queue(s):
            view = _record_view(rec, acc)
            view["photos"] = [ph.id for ph in p.identity.photos_of(s, rec.id)]
            queue.append(view)
    return render(request, "identity/console_identity.html", queue=queue,
                  can_reveal=principal.has(Permission.IDENTITY_REVEAL))


@router.get("/console/filing")
def console_filing(request: Request, principal: Principal = requires(Permission.FILING_EXPORT)) -> Response:
    return render(request, "identity/console_filing.html", provinces=sorted(PROVINCES.items()),
                  can_reveal=principal.has(Permission.IDENTITY_REVEAL))


@router.get("/console/lawful-requests")
def console_lawful(request: Request, principal: Principal = requires(Permission.LAWFUL_REQUESTS)) -> Response:
    p = platform_of(request)
    with p.db.session() as s:
        rows = [_lawful_view(r) for r in s.scalars(select(LawfulRequest).order_by(LawfulRequest.id.desc())
                                                    .limit(200))]
    return render(request, "identity/console_lawful.html", requests=rows, me=principal.actor)
