"""Accounts, passwords (Argon2id), sign-in with lockout and optional TOTP, web sessions
and API tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass, field

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from livegate.core.audit import AuditLog
from livegate.core.clock import Clock
from livegate.core.errors import Conflict, LivegateError, NotAuthenticated, NotFound, ValidationFailed
from livegate.core.models import Account, ApiToken, RoleGrant, WebSession
from livegate.core.permissions import STAFF_ROLES, Permission, Role, permissions_for

_hasher = PasswordHasher()  # Argon2id with the library's current recommended parameters
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{2,31}$")


class SignInFailed(LivegateError):
    """Wrong username, password or one-time code."""

    code = "sign_in_failed"
    http_status = 401


class AccountLocked(LivegateError):
    """Too many failed sign-ins; the account is locked for a while."""

    code = "account_locked"
    http_status = 423


class AccountClosed(LivegateError):
    """This account is closed."""

    code = "account_closed"
    http_status = 403


class TotpRequired(LivegateError):
    """This account needs its one-time code."""

    code = "totp_required"
    http_status = 401


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def generate_password() -> str:
    return secrets.token_urlsafe(15)


@dataclass
class Principal:
    """Who is making a request, and what they may do."""

    account_id: int
    username: str
    nickname: str
    roles: set[tuple[str, str | None]] = field(default_factory=set)
    via: str = "session"  # session | token
    csrf_token: str = ""

    @property
    def actor(self) -> str:
        return f"account:{self.account_id}:{self.username}"

    @property
    def role_names(self) -> set[str]:
        return {r for r, _ in self.roles}

    @property
    def is_staff(self) -> bool:
        return any(r in {x.value for x in STAFF_ROLES} for r in self.role_names)

    def has(self, perm: Permission, room: str | None = None) -> bool:
        return perm in permissions_for(self.roles, room)

    def rooms_managed(self) -> set[str]:
        return {s for r, s in self.roles if r == Role.ROOM_MANAGER and s}


def principal_for(account: Account, via: str = "session", csrf_token: str = "") -> Principal:
    return Principal(
        account_id=account.id, username=account.username, nickname=account.nickname,
        roles={(g.role, g.scope) for g in account.roles}, via=via, csrf_token=csrf_token,
    )


class AccountService:
    def __init__(self, audit: AuditLog, clock: Clock, *, max_failures: int = 5, lockout_minutes: int = 15,
                 session_hours: int = 12) -> None:
        self.audit = audit
        self.clock = clock
        self.max_failures = max_failures
        self.lockout = dt.timedelta(minutes=lockout_minutes)
        self.session_ttl = dt.timedelta(hours=session_hours)

    # Accounts ------------------------------------------------------------------------
    def create(
        self, s: Session, *, username: str, password: str | None, roles: list[tuple[Role, str | None]],
        actor: str, nickname: str | None = None,
    ) -> Account:
        username = username.strip().lower()
        if not USERNAME_RE.match(username):
            raise ValidationFailed(
                "username must be 3-32 characters: lower-case letters, digits, '_', '.', '-'", field="username"
            )
        if password is not None and len(password) < 10:
            raise ValidationFailed("password must have at least 10 characters", field="password")
        if s.scalar(select(Account.id).where(Account.username == username)) is not None:
            raise Conflict("that username is taken", field="username")
        nick = nickname or username
        if s.scalar(select(Account.id).where(Account.nickname == nick)) is not None:
            raise Conflict("that nickname is taken", field="nickname")
        now = self.clock.now()
        account = Account(
            username=username, nickname=nick, password_hash=hash_password(password) if password else None,
            status="active", is_staff=any(r in STAFF_ROLES for r, _ in roles), created_at=now,
            failed_logins=0,
        )
        s.add(account)
        s.flush()
        for role, scope in roles:
            s.add(RoleGrant(account_id=account.id, role=role.value, scope=scope, granted_at=now, granted_by=actor))
        s.flush()
        s.refresh(account)
        self.audit.record(
            s, actor=actor, action="account.create", target=f"account:{account.id}",
            details={"username": username, "roles": [f"{r.value}{'@' + sc if sc else ''}" for r, sc in roles]},
        )
        return account

    def get(self, s: Session, account_id: int) -> Account:
        acc = s.get(Account, account_id)
        if acc is None:
            raise NotFound("no such account")
        return acc

    def by_username(self, s: Session, username: str) -> Account | None:
        return s.scalar(select(Account).where(Account.username == username.strip().lower()))

    def grant(self, s: Session, account: Account, role: Role, scope: str | None, actor: str) -> None:
        exists = s.scalar(
            select(RoleGrant.id).where(
                RoleGrant.account_id == account.id, RoleGrant.role == role.value,
                RoleGrant.scope.is_(None) if scope is None else RoleGrant.scope == scope,
            )
        )
        if exists:
            return
        s.add(RoleGrant(account_id=account.id, role=role.value, scope=scope, granted_at=self.clock.now(),
                        granted_by=actor))
        if role in STAFF_ROLES:
            account.is_staff = True
        s.flush()
        s.refresh(account)
        self.audit.record(s, actor=actor, action="role.grant", target=f"account:{account.id}",
                          details={"role": role.value, "scope": scope})

    def revoke(self, s: Session, account: Account, role: Role, scope: str | None, actor: str) -> bool:
        cond = RoleGrant.scope.is_(None) if scope is None else RoleGrant.scope == scope
        res = s.execute(delete(RoleGrant).where(RoleGrant.account_id == account.id,
                                                RoleGrant.role == role.value, cond))
        s.flush()
        s.refresh(account)
        if res.rowcount:  # type: ignore[attr-defined]
            self.audit.record(s, actor=actor, action="role.revoke", target=f"account:{account.id}",
                              details={"role": role.value, "scope": scope})
        return bool(res.rowcount)  # type: ignore[attr-defined]

    def set_password(self, s: Session, account: Account, password: str, actor: str) -> None:
        if len(password) < 10:
            raise ValidationFailed("password must have at least 10 characters", field="password")
        account.password_hash = hash_password(password)
        self.audit.record(s, actor=actor, action="account.password_set", target=f"account:{account.id}")

    # Sign-in --------------------------------------------------------------------------
    def authenticate(self, s: Session, username: str, password: str, totp_code: str | None = None,
                     *, ip: str = "") -> Account:
        """Check credentials with lockout; audited either way (never with the password)."""
        now = self.clock.now()
        account = self.by_username(s, username)
        if account is None or not account.password_hash:
            _hasher.hash("timing-equaliser")  # same cost as a real check
            raise SignInFailed()
        if account.locked_until and account.locked_until > now:
            self.audit.record(s, actor=f"ip:{ip}", action="auth.locked_attempt", target=f"account:{account.id}")
            raise AccountLocked(retry_after=int((account.locked_until - now).total_seconds()))
        try:
            _hasher.verify(account.password_hash, password)
        except (VerificationError, InvalidHashError):
            self._fail(s, account, ip, "bad_password")
            raise SignInFailed() from None
        if account.status == "closed":
            raise AccountClosed()
        if account.totp_secret:
            if not totp_code:
                raise TotpRequired()
            if not pyotp.TOTP(account.totp_secret).verify(totp_code, for_time=now, valid_window=1):
                self._fail(s, account, ip, "bad_totp")
                raise SignInFailed()
        if _hasher.check_needs_rehash(account.password_hash):
            account.password_hash = hash_password(password)
        account.failed_logins = 0
        account.locked_until = None
        account.last_login_at = now
        self.audit.record(s, actor=f"account:{account.id}:{account.username}", action="auth.sign_in",
                          target=f"account:{account.id}", details={"ip": ip})
        return account

    def _fail(self, s: Session, account: Account, ip: str, why: str) -> None:
        account.failed_logins = (account.failed_logins or 0) + 1
        details: dict[str, object] = {"ip": ip, "why": why, "failures": account.failed_logins}
        if account.failed_logins >= self.max_failures:
            account.locked_until = self.clock.now() + self.lockout
            account.failed_logins = 0
            details["locked_until"] = account.locked_until.isoformat()
        self.audit.record(s, actor=f"ip:{ip}", action="auth.sign_in_failed", target=f"account:{account.id}",
                          details=details)
        # retention (issue 8): failed sign-ins are network logs too
        from livegate.retention.service import record_account_event
        record_account_event(s, account.id, "sign_in_failed", at=self.clock.now(), ip=ip, detail=why)
        # Commit the failure even though the caller raises: lockout must count.
        s.commit()

    # TOTP -----------------------------------------------------------------------------
    def begin_totp(self, account: Account) -> str:
        return pyotp.random_base32()

    def enable_totp(self, s: Session, account: Account, secret: str, code: str) -> None:
        if not pyotp.TOTP(secret).verify(code, for_time=self.clock.now(), valid_window=1):
            raise ValidationFailed("the one-time code does not match", field="code")
        account.totp_secret = secret
        self.audit.record(s, actor=f"account:{account.id}:{account.username}", action="auth.totp_enabled",
                          target=f"account:{account.id}")

    # Sessions -------------------------------------------------------------------------
    def open_session(self, s: Session, account: Account, *, ip: str, user_agent: str) -> tuple[str, WebSession]:
        token = secrets.token_urlsafe(32)
        now = self.clock.now()
        ws = WebSession(
            token_hash=sha256_hex(token), account_id=account.id, csrf_token=secrets.token_urlsafe(24),
            created_at=now, expires_at=now + self.session_ttl, ip=ip[:64], user_agent=user_agent[:255],
        )
        s.add(ws)
        # retention (issue 8): the sign-in goes into the account's network log (IP, device)
        from livegate.retention.service import record_account_event
        record_account_event(s, account.id, "sign_in", at=now, ip=ip, user_agent=user_agent)
        s.flush()
        return token, ws

    def resolve_session(self, s: Session, token: str) -> Principal | None:
        ws = s.get(WebSession, sha256_hex(token))
        if ws is None or ws.expires_at <= self.clock.now():
            return None
        account = s.get(Account, ws.account_id)
        if account is None or account.status == "closed":
            return None
        return principal_for(account, "session", ws.csrf_token)

    def close_session(self, s: Session, token: str) -> None:
        s.execute(delete(WebSession).where(WebSession.token_hash == sha256_hex(token)))

    # API tokens -----------------------------------------------------------------------
    def create_api_token(self, s: Session, account: Account, name: str, actor: str) -> str:
        token = "lg_" + secrets.token_urlsafe(32)
        s.add(ApiToken(account_id=account.id, name=name[:64], token_hash=sha256_hex(token),
                       created_at=self.clock.now()))
        self.audit.record(s, actor=actor, action="api_token.create", target=f"account:{account.id}",
                          details={"name": name})
        return token

    def resolve_api_token(self, s: Session, token: str) -> Principal | None:
        row = s.scalar(select(ApiToken).where(ApiToken.token_hash == sha256_hex(token)))
        if row is None or row.revoked_at is not None:
            return None
        account = s.get(Account, row.account_id)
        if account is None or account.status == "closed":
            return None
        row.last_used_at = self.clock.now()
        return principal_for(account, "token")


def require_signed_in(p: Principal | None) -> Principal:
    if p is None:
        raise NotAuthenticated()
    return p
