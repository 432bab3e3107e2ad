"""Small secrets the platform must show again (stream keys), sealed under a key derived
from the platform secret with AES-256-GCM. Identity data does not go here: it has its own
vault with envelope keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from livegate.core.errors import LivegateError


class SealBroken(LivegateError):
    """A sealed value failed its integrity check."""

    code = "seal_broken"
    http_status = 500


class SecretBox:
    def __init__(self, platform_secret: bytes, purpose: str) -> None:
        self._key = hmac.new(platform_secret, f"livegate-secretbox:{purpose}".encode(), hashlib.sha256).digest()

    def seal(self, plain: str, context: str = "") -> str:
        nonce = os.urandom(12)
        ct = AESGCM(self._key).encrypt(nonce, plain.encode(), context.encode())
        return "v1." + base64.urlsafe_b64encode(nonce + ct).decode()

    def open(self, sealed: str, context: str = "") -> str:
        try:
            if not sealed.startswith("v1."):
                raise ValueError("unknown version")
            raw = base64.urlsafe_b64decode(sealed[3:])
            return AESGCM(self._key).decrypt(raw[:12], raw[12:], context.encode()).decode()
        except Exception as exc:
            raise SealBroken() from exc
