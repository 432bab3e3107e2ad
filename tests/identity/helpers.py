"""Test helpers for the identity domain, for any test that needs a publisher who may go live.

``make_verified_publisher`` walks the real services (submission, staff approval, agreement
acceptance, credentials) rather than writing rows by hand, so a publisher made here passes
every publish-gate check of identity, agreements and credentials.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from typing import Any

from sqlalchemy import select

from livegate.app import Platform
from livegate.core.permissions import Role
from livegate.credentials.models import Credential
from livegate.identity.documents import gb11643_check_char
from tests.conftest import create_account


def resident_id(born: dt.date, seq: int = 123, division: str = "110105") -> str:
    """A resident ID number with a correct GB 11643 check character (sequence ``seq``, 0-999)."""
    body = f"{division}{born:%Y%m%d}{seq % 1000:03d}"
    return body + gb11643_check_char(body)


def wrong_checksum(number: str) -> str:
    check = number[-1]
    return number[:-1] + ("0" if check != "0" else "1")


def resident_id_for(username: str) -> str:
    """A distinct, valid resident ID for each username (an adult born 1970-1999)."""
    h = int(hashlib.sha256(username.encode()).hexdigest(), 16)
    born = dt.date(1970, 1, 1) + dt.timedelta(days=h % 10950)
    return resident_id(born, (h >> 20) % 1000)


def ensure_platform_licences(platform: Platform) -> None:
    """Register every platform licence kind of the policy (idempotent), valid for ten years."""
    policy = platform.policy.get()
    now = platform.clock.now()
    with platform.db.session() as s:
        have = set(s.scalars(select(Credential.kind).where(Credential.holder == "platform",
                                                           Credential.status == "active")))
        for kind, spec in policy.credential_kinds.items():
            if spec.holder == "platform" and kind not in have:
                platform.identity.credentials.register(
                    s, policy=policy, holder="platform", account_id=None, kind=kind, number=f"TEST-{kind}",
                    scope="test", issuer="test authority", expires_on=now.date() + dt.timedelta(days=3650),
                    now=now, actor="test")


def accept_current_agreements(platform: Platform, account_id: int) -> None:
    now = platform.clock.now()
    with platform.db.session() as s:
        missing = platform.identity.agreements.missing(s, account_id, now)
        if missing:
            platform.identity.agreements.accept(s, account_id, [v.id for v in missing], now=now, ip="127.0.0.1",
                                                user_agent="tests", actor="test")


def make_verified_publisher(platform: Platform, username: str, *, credentials: bool = True,
                            agreements: bool = True) -> int:
    """Create ``username`` as a publisher whose identity staff approved, who accepted the agreements
    in force and who (with ``credentials``) holds every publisher credential kind, with the
    platform holding every licence kind: such a publisher passes the identity, agreement and
    credential gate checks for any category. Returns the account id."""
    account_id = create_account(platform, username, Role.PUBLISHER)
    with platform.db.session() as s:
        rec = platform.identity.submit(s, account_id, doc_type="resident_id", number=resident_id_for(username),
                                       real_name=f"测试{username[:8]}", province=None, actor="test")
        platform.identity.decide(s, rec.id, approve=True, reason="test fixture", actor="test")
    if agreements:
        accept_current_agreements(platform, account_id)
    if credentials:
        ensure_platform_licences(platform)
        policy = platform.policy.get()
        now = platform.clock.now()
        with platform.db.session() as s:
            for kind, spec in policy.credential_kinds.items():
                if spec.holder != "publisher":
                    continue
                row = platform.identity.credentials.register(
                    s, policy=policy, holder="publisher", account_id=account_id, kind=kind, number=f"P-{kind}",
                    scope="test", issuer="test authority", expires_on=now.date() + dt.timedelta(days=3650),
                    now=now, actor="test")
                platform.identity.credentials.decide(s, row.id, approve=True, reason="test fixture", now=now,
                                                     actor="test")
    return account_id


def verify_phone_directly(platform: Platform, account_id: int, phone: str = "+8613800138000") -> None:
    """Bind a phone number without the SMS round trip (for tests of other flows)."""
    platform.identity._bind_phone(account_id, phone, "test")


def jpeg_bytes(size: tuple[int, int] = (64, 40), exif: bool = False) -> bytes:
    from PIL import Image

    img = Image.new("RGB", size, (200, 30, 30))
    out = io.BytesIO()
    kwargs: dict[str, Any] = {}
    if exif:
        ex = Image.Exif()
        ex[0x010F] = "SecretCameraMaker"  # Make
        ex[0x0131] = "GPS-holding software"  # Software
        kwargs["exif"] = ex.tobytes()
    img.save(out, format="JPEG", **kwargs)
    return out.getvalue()
