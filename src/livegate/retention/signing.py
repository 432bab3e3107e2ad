"""The platform's Ed25519 signing key: inspection manifests and audit-chain heads.

The private key is a PKCS#8 PEM file (mode 0600) in the data dir, created on first use
with ``O_EXCL`` so two processes never make two keys. Signatures travel as base64 next to
the public key, so a recipient can check a bundle offline and compare the key's
fingerprint with the one the operator published.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEY_FILE = "platform_ed25519.pem"


def canonical_json(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def public_key_b64(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def fingerprint(public_b64: str) -> str:
    """SHA-256 of the raw public key, hex, grouped for reading aloud."""
    digest = hashlib.sha256(base64.b64decode(public_b64)).hexdigest()
    return ":".join(digest[i:i + 4] for i in range(0, 32, 4))


def load_public(public_b64: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(public_b64))


def verify(public_b64: str, signature_b64: str, data: bytes) -> bool:
    try:
        load_public(public_b64).verify(base64.b64decode(signature_b64), data)
    except (InvalidSignature, ValueError):
        return False
    return True


class PlatformKey:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / KEY_FILE
        self._key: Ed25519PrivateKey | None = None

    def _load(self) -> Ed25519PrivateKey:
        if self._key is not None:
            return self._key
        if not self.path.exists():
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process won the race: use its key
            else:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(pem)
        key = serialization.load_pem_private_key(self.path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{self.path} is not an Ed25519 key")
        self._key = key
        return key

    @property
    def public_b64(self) -> str:
        return public_key_b64(self._load().public_key())

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_b64)

    def sign(self, data: bytes) -> str:
        return base64.b64encode(self._load().sign(data)).decode()
