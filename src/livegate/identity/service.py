"""The identity module of a platform: phone verification, publisher verification and review,
document photos, disclosure (reveal, filings, lawful requests), nicknames and sign-up.

Every identity value goes through the vault before it reaches the database: sealed with a
per-record data key bound to its row and column, indexed blind, shown masked. Opening one
needs a permission, a stated reason, and writes an audit entry in the same transaction.
Nothing here logs or audits a plain identity value.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import datetime as dt
import hashlib
import hmac
import io
import json
import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from livegate.agreements.service import AgreementService
from livegate.core.errors import NotFound, ValidationFailed
from livegate.core.models import Account
from livegate.core.permissions import Role
from livegate.core.ratelimit import RateRule
from livegate.credentials.models import Credential
from livegate.credentials.service import CredentialService
from livegate.identity.documents import PROVINCES, age_on, check_document
from livegate.identity.errors import (
    AlreadyVerified,
    DuplicateIdentity,
    GuardianConsentRequired,
    InvalidPhoto,
    LawfulRequestState,
    NicknameTaken,
    PhoneInUse,
    PublisherTooYoung,
    ReasonRequired,
    SecondOfficerRequired,
    VaultKeyInUse,
    VaultKeyNotFound,
    VerificationDecided,
    VerificationNotFound,
    VerificationPending,
)
from livegate.identity.models import DocumentPhoto, IdentityRecord, LawfulRequest, PhoneVerification
from livegate.identity.nicknames import check_nickname, default_moderator
from livegate.identity.otp import OtpPolicy, OtpRequested, OtpService
from livegate.identity.photos import clean_photo
from livegate.identity.provider import IdentityCheckProvider, NullIdentityCheck
from livegate.identity.sms import AliyunSmsProvider, ConsoleSmsProvider, SmsOutbox, SmsProvider
from livegate.identity.store import DatabaseOtpStore
from livegate.identity.vault import (
    FIELD_DOCUMENT_NUMBER,
    FIELD_PHONE,
    FIELD_REAL_NAME,
    FileKeyProvider,
    IdentityVault,
    SealedValue,
    mask_document,
    mask_name,
    normalize_for_index,
)
from livegate.media.rooms import Refusal

if TYPE_CHECKING:
    from livegate.app import Platform

log = logging.getLogger(__name__)

__all__ = ["FIELD_PHOTO", "IdentityModule", "ORGANISATION_DOCS", "OPEN_STATUSES"]

FIELD_PHOTO: Final = "document_photo"
PHONE_PURPOSE: Final = "bind_phone"
ORGANISATION_DOCS: Final = frozenset({"uscc", "org_code"})
OPEN_STATUSES: Final = ("pending", "manual_review")
MAX_PHOTOS: Final = 4
MAX_NAME: Final = 100
# Check failures that a person may still resolve (real documents with a misprinted check
# character exist; division codes change): staff decide, with the rule and reason shown.
MANUAL_REVIEW_SUFFIXES: Final = (".checksum", ".division_code", ".division_province", ".division",
                                 ".authority", ".org_type", ".province")
NICKNAME_RULE: Final = RateRule.per_window("nickname.change", 3, 86400)
SIGNUP_RULE: Final = RateRule.per_window("signup.ip", 10, 3600)
_PG_IDENTITY_LOCK: Final = 0x4C475F4944454E  # serialises approvals of one identity across nodes


class ReloadingFileKeyProvider(FileKeyProvider):
    """A file key provider that follows the key file when ``livegate vault rotate`` or
    ``retire`` changes it in another process: it re-reads the file when the file changed
    (a ``stat`` per use) and when asked for a key it does not know. So a running server seals
    new values under the new current key at once (nothing new lands under a key about to be
    retired) and keeps opening values re-wrapped under it."""

    def _load(self) -> None:
        super()._load()
        self._seen = self._signature()

    def _signature(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    def _follow(self) -> None:
        if self._signature() != self._seen:
            self.reload()

    def current_key_id(self) -> str:
        self._follow()
        return super().current_key_id()

    def master_key(self, key_id: str) -> bytes:
        self._follow()
        if key_id not in self.key_ids():
            self.reload()
        return super().master_key(key_id)


def make_sms_provider(platform: Platform) -> SmsProvider:
    st = platform.settings
    if st.sms_provider == "aliyun":
        return AliyunSmsProvider(
            access_key_id=st.sms_access_key_id, access_key_secret=st.sms_access_key_secret.get_secret_value(),
            sign_name=st.sms_sign_name, templates={PHONE_PURPOSE: st.sms_template_code}, endpoint=st.sms_endpoint,
            clock=platform.clock,
        )
    return ConsoleSmsProvider(SmsOutbox())


@dataclass(frozen=True)
class Export:
    content: str
    media_type: str
    count: int
    filename: str


def _actor_account(actor: str) -> str:
    """``account:12:alice`` -> ``account:12``: the same officer whatever the username says."""
    parts = actor.split(":")
    return ":".join(parts[:2]) if parts[0] == "account" else actor


def _clean_reason(reason: str | None) -> str:
    value = " ".join((reason or "").split())
    if len(value) < 4:
        raise ReasonRequired("State why (at least 4 characters); the reason is recorded in the audit log.")
    return value[:500]


class IdentityModule:
    """Wired once per platform as ``platform.identity``; also owns agreements and credentials."""

    def __init__(self, platform: Platform) -> None:
        self.p = platform
        self.vault = IdentityVault(ReloadingFileKeyProvider(platform.settings.data_dir))
        #: Every column that holds values sealed by the vault: (model, attribute, stored as
        #: bytes). Other modules that seal with ``vault`` add theirs (complaint contacts), so
        #: rotation re-wraps them and retiring a key knows whether anything still needs it.
        self.sealed_columns: list[tuple[type[Any], str, bool]] = [
            (PhoneVerification, "phone_sealed", False), (IdentityRecord, "doc_sealed", False),
            (IdentityRecord, "name_sealed", False), (DocumentPhoto, "sealed", True)]
        self.otp_store = DatabaseOtpStore(platform.db)
        self.sms: SmsProvider = make_sms_provider(platform)
        self.outbox: SmsOutbox | None = self.sms.outbox if isinstance(self.sms, ConsoleSmsProvider) else None
        self.checker: IdentityCheckProvider = NullIdentityCheck()
        self._otp_secret = hmac.digest(platform.settings.resolved_secret_key(), b"livegate/identity/otp", "sha256")
        self.agreements = AgreementService(platform.audit)
        self.credentials = CredentialService(platform.audit)
        from livegate.identity.gates import install_gate_checks

        install_gate_checks(platform)
        platform.scheduler.add("credentials.expiry_alerts", dt.timedelta(hours=6), self._expiry_job)
        platform.scheduler.add("identity.otp_purge", dt.timedelta(hours=1), self._purge_job)

    # --- scheduled jobs ------------------------------------------------------------------
    async def _expiry_job(self) -> str:
        def run() -> int:
            now = self.p.clock.now()
            with self.p.db.session() as s:
                return self.credentials.raise_expiry_alerts(s, today=now.date(), now=now)

        return f"{await asyncio.to_thread(run)} new alerts"

    async def _purge_job(self) -> str:
        before = self.p.clock.now() - dt.timedelta(days=1)
        return f"{await asyncio.to_thread(self.otp_store.purge_expired, before)} challenges purged"

    # --- phone verification (audience, Art. 12) ---------------------------------------------
    def otp_service(self) -> OtpService:
        o = self.p.policy.get().otp
        policy = OtpPolicy(code_ttl_s=o.code_ttl_seconds, max_attempts=o.max_attempts, code_digits=o.code_length,
                           resend_cooldown_s=o.resend_cooldown_seconds, per_phone=(o.per_number_rule(),),
                           per_ip=(o.per_ip_rule(),))
        return OtpService(self.otp_store, self.sms, secret=self._otp_secret, clock=self.p.clock, policy=policy,
                          limiter=self.p.ratelimit)

    async def request_phone_code(self, phone: str, *, ip: str) -> OtpRequested:
        return await self.otp_service().request_code(phone, purpose=PHONE_PURPOSE, ip=ip or None)

    async def verify_phone(self, account_id: int, phone: str, code: str, *, actor: str) -> str:
        """Accept the code and bind the number to the account; returns the masked number."""
        verified = await self.otp_service().verify_code(phone, code, purpose=PHONE_PURPOSE)
        return await asyncio.to_thread(self._bind_phone, account_id, verified.phone_e164, actor)

    def _bind_phone(self, account_id: int, e164: str, actor: str) -> str:
        index = self.vault.blind_index(e164, field=FIELD_PHONE)
        masked = self.vault_mask_phone(e164)
        try:
            self._store_phone(account_id, e164, index, masked, actor)
        except IntegrityError:  # another account bound it at the same moment (unique index)
            raise PhoneInUse() from None
        return masked

    def _store_phone(self, account_id: int, e164: str, index: str, masked: str, actor: str) -> None:
        with self.p.db.session() as s:
            enforcement = getattr(self.p, "enforcement", None)  # issue 7: blacklist (Art. 15); neutral refusal
            if enforcement is not None and enforcement.blacklisted(s, phone_index=index):
                enforcement.refuse_identity(s, account_id=account_id, step="phone_verification")
            other = s.scalar(select(PhoneVerification.account_id).where(
                PhoneVerification.phone_index == index, PhoneVerification.account_id != account_id))
            if other is not None:
                raise PhoneInUse()
            row = s.get(PhoneVerification, account_id)
            if row is None:
                row = PhoneVerification(account_id=account_id, phone_index=index, phone_masked=masked,
                                        verified_at=self.p.clock.now())
                s.add(row)
            row.phone_index = index
            row.phone_masked = masked
            row.verified_at = self.p.clock.now()
            row.phone_sealed = self.vault.seal(e164, record_id=account_id, field=FIELD_PHONE).to_str()
            s.flush()
            self.p.audit.record(s, actor=actor, action="identity.phone_verified", target=f"account:{account_id}",
                                details={"phone": masked})

    @staticmethod
    def vault_mask_phone(e164: str) -> str:
        from livegate.identity.phone import mask_mobile

        return mask_mobile(e164)

    @staticmethod
    def phone_of(s: Session, account_id: int) -> PhoneVerification | None:
        return s.get(PhoneVerification, account_id)

    # --- sign-up and nicknames ---------------------------------------------------------------
    def signup(self, s: Session, *, username: str, nickname: str, password: str, ip: str) -> Account:
        nick = check_nickname(nickname, moderator=default_moderator())
        self._nickname_free(s, nick, None)
        return self.p.accounts.create(s, username=username, password=password, roles=[(Role.AUDIENCE, None)],
                                      actor=f"signup:{ip or 'unknown'}", nickname=nick)

    @staticmethod
    def _nickname_free(s: Session, nick: str, account_id: int | None) -> None:
        q = select(Account.id).where(func.lower(Account.nickname) == nick.lower())
        if account_id is not None:
            q = q.where(Account.id != account_id)
        if s.scalar(q) is not None:
            raise NicknameTaken()

    async def change_nickname(self, account_id: int, nickname: str, *, actor: str) -> str:
        nick = check_nickname(nickname, moderator=default_moderator())
        await self.p.ratelimit.check_or_raise(NICKNAME_RULE, str(account_id))
        return await asyncio.to_thread(self._set_nickname, account_id, nick, actor)

    def _set_nickname(self, account_id: int, nick: str, actor: str) -> str:
        try:
            with self.p.db.session() as s:
                account = self.p.accounts.get(s, account_id)
                if account.nickname == nick:
                    return nick
                self._nickname_free(s, nick, account_id)
                old = account.nickname
                account.nickname = nick
                s.flush()
                self.p.audit.record(s, actor=actor, action="account.nickname_change", target=f"account:{account_id}",
                                    details={"from": old, "to": nick})
        except IntegrityError:
            raise NicknameTaken() from None
        return nick

    # --- publisher verification ---------------------------------------------------------------
    def submit(self, s: Session, account_id: int, *, doc_type: str, number: str, real_name: str,
               province: str | None, actor: str) -> IdentityRecord:
        """Check and store a publisher's identity for review; see the module docstring for what is stored."""
        now = self.p.clock.now()
        rules = self.p.policy.get().publisher
        name = " ".join((real_name or "").split())
        if not name or len(name) > MAX_NAME:
            raise ValidationFailed(f"enter the real name as on the document (1-{MAX_NAME} characters)",
                                   field="real_name")
        if province and province not in PROVINCES:
            raise ValidationFailed("province must be a two-digit GB/T 2260 province code", field="province")
        check = check_document(doc_type, number, today=now.date())
        status = "pending"
        if not check.valid:
            if not check.rule.endswith(MANUAL_REVIEW_SUFFIXES):
                check.require_valid()  # raises InvalidDocument naming the rule; nothing is stored
            status = "manual_review"
        normalized = check.normalized or normalize_for_index(FIELD_DOCUMENT_NUMBER, number)
        kind = "organisation" if doc_type in ORGANISATION_DOCS else "individual"

        guardian = False
        if kind == "individual":
            born = check.details.get("birth_date") if check.valid else _birth_from_number(normalized, now.date())
            if born is not None:
                age = age_on(born, now.date())
                if age < rules.min_age:
                    raise PublisherTooYoung(f"Publishers must be at least {rules.min_age} years old.",
                                            min_age=rules.min_age)
                guardian = age < rules.guardian_consent_below

        mine = s.scalars(select(IdentityRecord).where(IdentityRecord.account_id == account_id)).all()
        if sum(r.status == "approved" for r in mine) >= rules.identities_per_publisher:
            raise AlreadyVerified()
        if any(r.status in OPEN_STATUSES for r in mine):
            raise VerificationPending()
        doc_index = self.vault.blind_index(normalized, field=FIELD_DOCUMENT_NUMBER)
        enforcement = getattr(self.p, "enforcement", None)  # issue 7: blacklist (Art. 15); neutral refusal
        if enforcement is not None and enforcement.blacklisted(s, document_index=doc_index):
            enforcement.refuse_identity(s, account_id=account_id, step="publisher_verification")
        self._check_duplicates(s, doc_index, account_id)

        reasons = [] if check.valid else [check.reason]
        external = self.checker.check(doc_type=doc_type, number=normalized, real_name=name)
        if external.status in {"mismatch", "unavailable"}:
            status = "manual_review"
            reasons.append(f"external check ({getattr(self.checker, 'name', 'provider')}): {external.status}"
                           + (f" - {external.reason}" if external.reason else ""))
        derived = _province_of(doc_type, normalized)
        rec = IdentityRecord(
            account_id=account_id, kind=kind, doc_type=doc_type, doc_index=doc_index,
            doc_masked=mask_document(normalized), name_index=self.vault.blind_index(name, field=FIELD_REAL_NAME),
            name_masked=mask_name(name), province=province or derived, status=status,
            check_rule=check.rule, check_reason="; ".join(reasons) or check.reason, external_check=external.status,
            guardian_consent_required=guardian, guardian_consent=False, submitted_at=now, decided_by="",
            decision_reason="",
        )
        s.add(rec)
        s.flush()
        rec.doc_sealed = self.vault.seal(normalized, record_id=rec.id, field=FIELD_DOCUMENT_NUMBER).to_str()
        rec.name_sealed = self.vault.seal(name, record_id=rec.id, field=FIELD_REAL_NAME).to_str()
        self.p.audit.record(s, actor=actor, action="identity.submit", target=f"account:{account_id}",
                            details={"record": rec.id, "doc_type": doc_type, "status": status, "rule": check.rule,
                                     "guardian_consent_required": guardian, "external": external.status})
        return rec

    def _check_duplicates(self, s: Session, doc_index: str, account_id: int) -> None:
        limit = self.p.policy.get().publisher.publisher_accounts_per_identity
        holders = s.scalar(select(func.count(func.distinct(IdentityRecord.account_id))).where(
            IdentityRecord.doc_index == doc_index, IdentityRecord.status == "approved",
            IdentityRecord.account_id != account_id)) or 0
        if holders >= limit:
            raise DuplicateIdentity(
                "This identity document is already verified for another publisher account.", limit=limit)

    def latest_record(self, s: Session, account_id: int) -> IdentityRecord | None:
        return s.scalar(select(IdentityRecord).where(IdentityRecord.account_id == account_id)
                        .order_by(IdentityRecord.id.desc()).limit(1))

    @staticmethod
    def is_verified(s: Session, account_id: int) -> bool:
        return s.scalar(select(IdentityRecord.id).where(IdentityRecord.account_id == account_id,
                                                        IdentityRecord.status == "approved").limit(1)) is not None

    def record(self, s: Session, record_id: int) -> IdentityRecord:
        rec = s.get(IdentityRecord, record_id)
        if rec is None:
            raise VerificationNotFound()
        return rec

    def queue(self, s: Session, status: str | None = None) -> list[tuple[IdentityRecord, Account]]:
        q = select(IdentityRecord, Account).join(Account, Account.id == IdentityRecord.account_id)
        q = q.where(IdentityRecord.status == status) if status else q.where(IdentityRecord.status.in_(OPEN_STATUSES))
        return [(r, a) for r, a in s.execute(q.order_by(IdentityRecord.submitted_at))]

    def decide(self, s: Session, record_id: int, *, approve: bool, reason: str, actor: str,
               guardian_consent: bool = False) -> IdentityRecord:
        rec = self.record(s, record_id)
        if rec.status not in OPEN_STATUSES:
            raise VerificationDecided(status=rec.status)
        why = " ".join((reason or "").split())
        if not why:
            raise ValidationFailed("a decision needs a reason", field="reason")
        if approve:
            if rec.guardian_consent_required and not guardian_consent:
                raise GuardianConsentRequired()
            if s.get_bind().dialect.name == "postgresql":
                key = _PG_IDENTITY_LOCK ^ int(rec.doc_index[:12], 16)
                s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
            self._check_duplicates(s, rec.doc_index, rec.account_id)
            enforcement = getattr(self.p, "enforcement", None)  # issue 7: listed after it was submitted
            if enforcement is not None and enforcement.blacklisted(s, document_index=rec.doc_index):
                enforcement.refuse_identity(s, account_id=rec.account_id, step="publisher_approval")
            approved = s.scalar(select(func.count(IdentityRecord.id)).where(
                IdentityRecord.account_id == rec.account_id, IdentityRecord.status == "approved")) or 0
            if approved >= self.p.policy.get().publisher.identities_per_publisher:
                raise AlreadyVerified()
        rec.status = "approved" if approve else "rejected"
        rec.guardian_consent = bool(guardian_consent and rec.guardian_consent_required)
        rec.decided_at = self.p.clock.now()
        rec.decided_by = actor
        rec.decision_reason = why[:2000]
        s.flush()
        self.p.audit.record(s, actor=actor, action="identity.approve" if approve else "identity.reject",
                            target=f"account:{rec.account_id}", reason=why,
                            details={"record": rec.id, "guardian_consent": rec.guardian_consent})
        if approve:
            account = self.p.accounts.get(s, rec.account_id)
            self.p.accounts.grant(s, account, Role.PUBLISHER, None, actor)
        return rec

    def reveal(self, s: Session, record_id: int, *, reason: str, actor: str) -> dict[str, str]:
        why = _clean_reason(reason)
        rec = self.record(s, record_id)
        out = {"real_name": self.vault.open(rec.name_sealed, record_id=rec.id, field=FIELD_REAL_NAME),
               "document_number": self.vault.open(rec.doc_sealed, record_id=rec.id, field=FIELD_DOCUMENT_NUMBER),
               "doc_type": rec.doc_type}
        self.p.audit.record(s, actor=actor, action="identity.reveal", target=f"account:{rec.account_id}",
                            reason=why, details={"record": rec.id, "fields": ["real_name", "document_number"]})
        return out

    def reveal_phone(self, s: Session, account_id: int, *, reason: str, actor: str) -> str:
        why = _clean_reason(reason)
        row = s.get(PhoneVerification, account_id)
        if row is None:
            raise NotFound("this account has no verified phone number")
        phone = self.vault.open(row.phone_sealed, record_id=account_id, field=FIELD_PHONE)
        self.p.audit.record(s, actor=actor, action="identity.reveal", target=f"account:{account_id}",
                            reason=why, details={"fields": ["phone"]})
        return phone

    # --- document photos ----------------------------------------------------------------------
    def add_photo(self, s: Session, account_id: int, data: bytes, content_type: str, *,
                  actor: str) -> DocumentPhoto:
        photo = clean_photo(data, content_type)
        rec = s.scalar(select(IdentityRecord).where(IdentityRecord.account_id == account_id,
                                                    IdentityRecord.status.in_(OPEN_STATUSES))
                       .order_by(IdentityRecord.id.desc()).limit(1))
        if rec is None:
            raise VerificationNotFound("Submit your document details first, then add photos.")
        count = s.scalar(select(func.count(DocumentPhoto.id)).where(DocumentPhoto.identity_id == rec.id)) or 0
        if count >= MAX_PHOTOS:
            raise InvalidPhoto(f"At most {MAX_PHOTOS} photos per submission.", reason="count")
        row = DocumentPhoto(identity_id=rec.id, content_type=photo.content_type, size=len(photo.data),
                            width=photo.width, height=photo.height, sealed=b"", uploaded_at=self.p.clock.now())
        s.add(row)
        s.flush()
        sealed = self.vault.seal(base64.b64encode(photo.data).decode("ascii"), record_id=row.id, field=FIELD_PHOTO)
        row.sealed = sealed.to_bytes()
        self.p.audit.record(s, actor=actor, action="identity.photo_upload", target=f"account:{account_id}",
                            details={"record": rec.id, "photo": row.id, "size": row.size})
        return row

    def photos_of(self, s: Session, record_id: int) -> list[DocumentPhoto]:
        return list(s.scalars(select(DocumentPhoto).where(DocumentPhoto.identity_id == record_id)
                              .order_by(DocumentPhoto.id)))

    def open_photo(self, s: Session, photo_id: int, *, reason: str, actor: str) -> tuple[bytes, str]:
        why = _clean_reason(reason)
        row = s.get(DocumentPhoto, photo_id)
        if row is None:
            raise NotFound("no such photo")
        data = base64.b64decode(self.vault.open(row.sealed, record_id=row.id, field=FIELD_PHOTO))
        rec = self.record(s, row.identity_id)
        self.p.audit.record(s, actor=actor, action="identity.reveal", target=f"account:{rec.account_id}",
                            reason=why, details={"record": rec.id, "photo": row.id, "fields": ["document_photo"]})
        return data, row.content_type

    # --- vault rotation -----------------------------------------------------------------------
    def rotate_master_key(self, *, actor: str) -> dict[str, Any]:
        """Add a new master key and re-wrap every data key under it, in one transaction (audited)."""
        provider = self.vault.provider
        assert isinstance(provider, FileKeyProvider)
        old = provider.current_key_id()
        new = provider.rotate()
        count = 0
        with self.p.db.session() as s:
            for model, attr, as_bytes in self.sealed_columns:
                for row in s.scalars(select(model).where(getattr(model, attr).is_not(None),
                                                         getattr(model, attr) != (b"" if as_bytes else ""))):
                    value = self.vault.rewrap(getattr(row, attr))
                    setattr(row, attr, value.to_bytes() if as_bytes else value.to_str())
                    count += 1
            self.p.audit.record(s, actor=actor, action="vault.rotate", target="vault",
                                details={"from_key": old, "to_key": new, "rewrapped": count})
        return {"previous_key": old, "current_key": new, "rewrapped": count}

    def key_usage(self, s: Session) -> dict[str, int]:
        """Every master key in the key file with how many stored values are wrapped under it."""
        provider = self.vault.provider
        assert isinstance(provider, FileKeyProvider)
        provider.reload()
        usage = dict.fromkeys(provider.key_ids(), 0)
        for model, attr, as_bytes in self.sealed_columns:
            column = getattr(model, attr)
            for value in s.scalars(select(column).where(column.is_not(None), column != (b"" if as_bytes else ""))):
                key_id = SealedValue.parse(value).key_id
                usage[key_id] = usage.get(key_id, 0) + 1
        return usage

    def retire_master_key(self, key_id: str, *, actor: str) -> dict[str, Any]:
        """Remove a master key from the key file once no stored value needs it (audited)."""
        provider = self.vault.provider
        assert isinstance(provider, FileKeyProvider)
        with self.p.db.session() as s:
            usage = self.key_usage(s)
            if key_id not in provider.key_ids():
                raise VaultKeyNotFound("There is no such master key in the key file.", key_id=key_id)
            if key_id == provider.current_key_id():
                raise VaultKeyInUse("This is the current master key; rotate first.", key_id=key_id)
            if usage.get(key_id):
                raise VaultKeyInUse(f"{usage[key_id]} stored values are still wrapped under this key; "
                                    "run `livegate vault rotate` to re-wrap them first.",
                                    key_id=key_id, values=usage[key_id])
            provider.retire(key_id)
            self.p.audit.record(s, actor=actor, action="vault.retire", target="vault",
                                details={"key": key_id, "current_key": provider.current_key_id()})
        return {"retired": key_id, "keys": sorted(k for k in usage if k != key_id)}

    # --- filing (Art. 12) ----------------------------------------------------------------------
    def filing_rows(self, s: Session, *, province: str | None, kind: str, full: bool) -> list[dict[str, Any]]:
        q = (select(IdentityRecord, Account).join(Account, Account.id == IdentityRecord.account_id)
             .where(IdentityRecord.status == "approved", IdentityRecord.kind == kind)
             .order_by(IdentityRecord.decided_at, IdentityRecord.id))
        if province:
            q = q.where(IdentityRecord.province == province)
        rows = []
        for rec, acc in s.execute(q):
            phone = s.get(PhoneVerification, acc.id)
            row: dict[str, Any] = {
                "account_id": acc.id, "nickname": acc.nickname, "type": rec.kind, "doc_type": rec.doc_type,
                "real_name": rec.name_masked, "document_number": rec.doc_masked,
                "phone": phone.phone_masked if phone else "", "province": rec.province,
                "verified_at": rec.decided_at.isoformat() if rec.decided_at else "",
                "guardian_consent": rec.guardian_consent,
            }
            if full:
                row["real_name"] = self.vault.open(rec.name_sealed, record_id=rec.id, field=FIELD_REAL_NAME)
                row["document_number"] = self.vault.open(rec.doc_sealed, record_id=rec.id,
                                                         field=FIELD_DOCUMENT_NUMBER)
                if phone:
                    row["phone"] = self.vault.open(phone.phone_sealed, record_id=acc.id, field=FIELD_PHONE)
            rows.append(row)
        return rows

    def export_filing(self, s: Session, *, province: str | None, kind: str, fmt: str, full: bool,
                      reason: str | None, actor: str) -> Export:
        """The filing of verified publishers of one type, masked unless ``full`` (which needs a reason)."""
        if kind not in {"individual", "organisation"}:
            raise ValidationFailed("type is 'individual' or 'organisation'", field="type")
        if province and province not in PROVINCES:
            raise ValidationFailed("province must be a two-digit GB/T 2260 province code", field="province")
        why = _clean_reason(reason) if full else " ".join((reason or "").split())
        rows = self.filing_rows(s, province=province, kind=kind, full=full)
        export = _render(rows, fmt, f"filing-{province or 'all'}-{kind}")
        self.p.audit.record(s, actor=actor, action="filing.export", target=f"filing:{province or 'all'}:{kind}",
                            reason=why, details={"format": fmt, "full": full, "count": len(rows),
                                                 "sha256": hashlib.sha256(export.content.encode()).hexdigest()})
        return export

    # --- lawful requests (Art. 12) ------------------------------------------------------------
    def create_lawful_request(self, s: Session, *, authority: str, legal_basis: str, reference: str,
                              account_ids: list[int], actor: str) -> LawfulRequest:
        fields = {"authority": (authority, 200), "legal_basis": (legal_basis, 2000), "reference": (reference, 120)}
        clean: dict[str, str] = {}
        for name, (value, limit) in fields.items():
            v = " ".join((value or "").split())
            if not v or len(v) > limit:
                raise ValidationFailed(f"{name} is required (at most {limit} characters)", field=name)
            clean[name] = v
        scope = sorted(set(account_ids))
        if not scope or len(scope) > 1000:
            raise ValidationFailed("name 1-1000 accounts in scope", field="account_ids")
        found = set(s.scalars(select(Account.id).where(Account.id.in_(scope))))
        if missing := [a for a in scope if a not in found]:
            raise ValidationFailed("some accounts in scope do not exist", field="account_ids", missing=missing)
        req = LawfulRequest(authority=clean["authority"], legal_basis=clean["legal_basis"],
                            reference=clean["reference"], scope=scope, status="pending", requested_by=actor,
                            requested_at=self.p.clock.now(), decided_by="", decision_reason="", exports=0)
        s.add(req)
        s.flush()
        self.p.audit.record(s, actor=actor, action="lawful_request.create", target=f"lawful_request:{req.id}",
                            details={"authority": req.authority, "reference": req.reference, "scope": scope})
        return req

    def lawful_request(self, s: Session, request_id: int) -> LawfulRequest:
        req = s.get(LawfulRequest, request_id)
        if req is None:
            raise NotFound("no such lawful request")
        return req

    def decide_lawful_request(self, s: Session, request_id: int, *, approve: bool, reason: str,
                              actor: str) -> LawfulRequest:
        req = self.lawful_request(s, request_id)
        if req.status != "pending":
            raise LawfulRequestState(status=req.status)
        if _actor_account(actor) == _actor_account(req.requested_by):
            raise SecondOfficerRequired()
        why = " ".join((reason or "").split())
        if not why:
            raise ValidationFailed("a decision needs a reason", field="reason")
        req.status = "approved" if approve else "rejected"
        req.decided_by = actor
        req.decided_at = self.p.clock.now()
        req.decision_reason = why[:2000]
        self.p.audit.record(s, actor=actor, action=f"lawful_request.{'approve' if approve else 'reject'}",
                            target=f"lawful_request:{req.id}", reason=why)
        return req

    def export_lawful_request(self, s: Session, request_id: int, *, fmt: str, actor: str) -> Export:
        """Full identity data of exactly the accounts in scope; only once a second officer approved."""
        req = self.lawful_request(s, request_id)
        if req.status != "approved":
            raise LawfulRequestState("only an approved request can be exported", status=req.status)
        rows: list[dict[str, Any]] = []
        for account_id in req.scope:
            acc = s.get(Account, account_id)
            if acc is None:
                continue
            phone = s.get(PhoneVerification, account_id)
            base: dict[str, Any] = {
                "account_id": acc.id, "username": acc.username, "nickname": acc.nickname,
                "phone": self.vault.open(phone.phone_sealed, record_id=acc.id, field=FIELD_PHONE) if phone else "",
                "type": "", "doc_type": "", "real_name": "", "document_number": "", "verification_status": "",
            }
            records = s.scalars(select(IdentityRecord).where(IdentityRecord.account_id == acc.id)
                                .order_by(IdentityRecord.id)).all()
            if not records:
                rows.append(base)
            for rec in records:
                rows.append({**base, "type": rec.kind, "doc_type": rec.doc_type, "verification_status": rec.status,
                             "real_name": self.vault.open(rec.name_sealed, record_id=rec.id, field=FIELD_REAL_NAME),
                             "document_number": self.vault.open(rec.doc_sealed, record_id=rec.id,
                                                                field=FIELD_DOCUMENT_NUMBER)})
        export = _render(rows, fmt, f"lawful-request-{req.id}")
        req.exports += 1
        req.last_export_at = self.p.clock.now()
        self.p.audit.record(s, actor=actor, action="lawful_request.export", target=f"lawful_request:{req.id}",
                            reason=f"{req.authority} {req.reference}",
                            details={"format": fmt, "accounts": list(req.scope), "rows": len(rows),
                                     "sha256": hashlib.sha256(export.content.encode()).hexdigest()})
        return export

    # --- status for the account page -----------------------------------------------------------
    def status_of(self, s: Session, account_id: int) -> dict[str, Any]:
        now = self.p.clock.now()
        phone = s.get(PhoneVerification, account_id)
        rec = self.latest_record(s, account_id)
        missing = self.agreements.missing(s, account_id, now)
        return {
            "phone": {"verified": phone is not None, "masked": phone.phone_masked if phone else None},
            "identity": None if rec is None else {
                "id": rec.id, "status": rec.status, "kind": rec.kind, "doc_type": rec.doc_type,
                "document": rec.doc_masked, "name": rec.name_masked, "province": rec.province,
                "check_rule": rec.check_rule, "check_reason": rec.check_reason,
                "guardian_consent_required": rec.guardian_consent_required,
                "decision_reason": rec.decision_reason if rec.status == "rejected" else "",
                "photos": len(self.photos_of(s, rec.id)),
            },
            "verified": self.is_verified(s, account_id),
            "agreements_missing": [{"id": v.id, "kind": v.kind, "version": v.version, "title": v.title}
                                   for v in missing],
        }

    def comment_gate(self, s: Session, account_id: int) -> Refusal | None:
        """The chat's check before accepting a comment: phone verified and agreements current."""
        from livegate.identity.gates import comment_gate_check

        return comment_gate_check(s, account_id, now=self.p.clock.now(), audit=self.p.audit)

    def demo_onboard(self, account_id: int) -> None:
        """For ``livegate serve --demo`` only (a fresh demo data dir): verify the demo publisher
        with a synthetic identity, accept the agreements in force, and register demo platform
        licences so the demo room passes the publish gate. Every step is audited as ``system:demo``."""
        from livegate.identity.documents import gb11643_check_char

        actor = "system:demo"
        now = self.p.clock.now()
        policy = self.p.policy.get()
        body = f"110105199001{(account_id % 28) + 1:02d}{account_id % 1000:03d}"
        with self.p.db.session() as s:
            if not self.is_verified(s, account_id):
                rec = self.submit(s, account_id, doc_type="resident_id", number=body + gb11643_check_char(body),
                                  real_name="演示主播", province=None, actor=actor)
                self.decide(s, rec.id, approve=True, reason="demo data (synthetic identity)", actor=actor)
            missing = self.agreements.missing(s, account_id, now)
            if missing:
                self.agreements.accept(s, account_id, [v.id for v in missing], now=now, ip="", user_agent="demo",
                                       actor=actor)
            held = {c.kind for c in self.credentials.listing(s, holder="platform") if c.status == "active"}
            for kind, spec in policy.credential_kinds.items():
                if spec.holder == "platform" and kind not in held:
                    self.credentials.register(s, policy=policy, holder="platform", account_id=None, kind=kind,
                                              number=f"DEMO-{kind}", scope="demo only",
                                              issuer="demo (not a real licence)",
                                              expires_on=now.date() + dt.timedelta(days=365), now=now, actor=actor)

    def credentials_of(self, s: Session, account_id: int) -> list[Credential]:
        return self.credentials.listing(s, holder="publisher", account_id=account_id)


def _birth_from_number(normalized: str, today: dt.date) -> dt.date | None:
    """The birth date of an 18-character GB 11643 number whose check failed, if it reads as a date."""
    if len(normalized) != 18 or not normalized[6:14].isdigit():
        return None
    try:
        born = dt.date(int(normalized[6:10]), int(normalized[10:12]), int(normalized[12:14]))
    except ValueError:
        return None
    return born if born <= today else None


def _province_of(doc_type: str, normalized: str) -> str:
    if doc_type == "resident_id":
        code = normalized[:2]
    elif doc_type == "foreign_permanent_resident_id" and len(normalized) == 18:
        code = normalized[1:3]
    elif doc_type == "uscc":
        code = normalized[2:4]
    else:
        return ""
    return code if code in PROVINCES else ""


def _render(rows: list[dict[str, Any]], fmt: str, stem: str) -> Export:
    if fmt == "json":
        return Export(json.dumps({"rows": rows, "count": len(rows)}, ensure_ascii=False, indent=1),
                      "application/json", len(rows), f"{stem}.json")
    if fmt == "csv":
        buf = io.StringIO()
        fields = list(rows[0]) if rows else ["account_id"]
        writer = csv.DictWriter(buf, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_safe(v) for k, v in row.items()})
        return Export(buf.getvalue(), "text/csv", len(rows), f"{stem}.csv")
    raise ValidationFailed("format is 'csv' or 'json'", field="format")


def _csv_safe(value: Any) -> Any:
    """Neutralise spreadsheet formulas in text cells (CSV injection)."""
    if isinstance(value, str) and (value[:1] in {"=", "@"} or (value[:1] in {"+", "-"} and not value[1:2].isdigit())):
        return "'" + value
    return value
