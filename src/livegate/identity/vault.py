"""The identity vault's cryptography: envelope encryption, blind indexes, masking.

Art. 12 obliges the platform to hold publishers' real identities "behind the scenes" and to
"protect the identity information and the privacy of users, and not leak, tamper with, or
damage it". So real names, document numbers and phone numbers are never stored in plain
text (ARCHITECTURE principle 5):

* **Envelope encryption.** Each value is encrypted with AES-256-GCM under its own random
  data key; the data key is wrapped (AES-256-GCM) by a *master key* named by a key id. A
  stolen database is useless without the key file or KMS, and rotating a master key
  re-wraps 60-byte data keys (:func:`rewrap`) without re-encrypting any value.
* **Bound to its place.** The GCM associated data names the field and the record id, so a
  ciphertext copied into another row or column fails to open instead of showing someone
  else's identity there.
* **Blind index.** To find a record by value (is this ID number already registered?) we
  store HMAC-SHA256 of the normalised value under a separate *index key*, with the field
  name as domain separator, so equal values match but indexes of different fields never do
  and the index key alone decrypts nothing.
* **Masks** for display: staff see ``张*`` and ``1****************X`` unless they have a
  permission and a stated reason to decrypt (enforced and audited elsewhere).

Sealed values serialise to a compact, versioned form for one database column: bytes, or
the text ``lv1.<key id>.<wrapped key>.<nonce+ciphertext>`` (base64url), whose visible key
id lets a rotation job select the rows still wrapped under an old key.

Keys come from a :class:`KeyProvider`; :class:`FileKeyProvider` keeps them in a mode-0600
file in the data directory. A provider that also implements :class:`RemoteKeyWrapper` (an
external KMS) does the wrapping itself, so its master keys never enter this process.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
import struct
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from livegate.identity.errors import (
    InvalidPhoneNumber,
    VaultFormatError,
    VaultIntegrityError,
    VaultKeyFileInsecure,
    VaultKeyFileInvalid,
    VaultKeyNotFound,
)
from livegate.identity.phone import normalize_mobile

__all__ = [
    "FIELD_DOCUMENT_NUMBER",
    "FIELD_PHONE",
    "FIELD_REAL_NAME",
    "FileKeyProvider",
    "IdentityVault",
    "KeyProvider",
    "RemoteKeyWrapper",
    "SealedValue",
    "StaticKeyProvider",
    "mask_document",
    "mask_name",
    "normalize_for_index",
    "rewrap",
]

FORMAT_VERSION: Final = 1
KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12
TAG_BYTES: Final = 16

FIELD_REAL_NAME: Final = "real_name"
FIELD_DOCUMENT_NUMBER: Final = "document_number"
FIELD_PHONE: Final = "phone"

_KEY_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_FIELD: Final = re.compile(r"[a-z][a-z0-9_]{0,63}")
_STR_PREFIX: Final = f"lv{FORMAT_VERSION}"
_DATA_AAD: Final = b"livegate/vault/data/v1"
_WRAP_AAD: Final = b"livegate/vault/wrap/v1"
_INDEX_DOMAIN: Final = b"livegate/vault/blind-index/v1"


# --- keys ------------------------------------------------------------------------------


class KeyProvider(Protocol):
    """Where master keys and the blind-index key come from."""

    def current_key_id(self) -> str:
        """The key id new values are wrapped under."""
        ...

    def master_key(self, key_id: str) -> bytes:
        """The 32-byte master key ``key_id``; raise :class:`VaultKeyNotFound` if unknown."""
        ...

    def index_key(self) -> bytes:
        """The 32-byte key of blind indexes; it never rotates without re-indexing every row."""
        ...


@runtime_checkable
class RemoteKeyWrapper(Protocol):
    """A provider (an external KMS) that wraps and unwraps data keys itself.

    When a provider implements these, the vault never asks it for ``master_key``; the
    provider authenticates ``aad`` with the wrapped key (KMS "encryption context").
    """

    def wrap_data_key(self, key_id: str, data_key: bytes, aad: bytes) -> bytes: ...

    def unwrap_data_key(self, key_id: str, wrapped: bytes, aad: bytes) -> bytes: ...


class StaticKeyProvider:
    """Keys held in memory: for tests, and for operators who inject keys from a secret store."""

    def __init__(self, keys: Mapping[str, bytes], *, current: str, index_key: bytes) -> None:
        for key_id, key in keys.items():
            _check_key(key_id, key)
        if current not in keys:
            raise VaultKeyNotFound("The current key id has no key.", key_id=current)
        _check_key("index", index_key)
        self._keys = dict(keys)
        self._current = current
        self._index_key = index_key

    @classmethod
    def generate(cls, key_id: str = "k1") -> StaticKeyProvider:
        return cls({key_id: secrets.token_bytes(KEY_BYTES)}, current=key_id, index_key=secrets.token_bytes(32))

    def current_key_id(self) -> str:
        return self._current

    def master_key(self, key_id: str) -> bytes:
        try:
            return self._keys[key_id]
        except KeyError:
            raise VaultKeyNotFound("This master key is not available.", key_id=key_id) from None

    def index_key(self) -> bytes:
        return self._index_key

    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def rotate(self) -> str:
        """Add a new master key and make it current; older keys stay until retired."""
        key_id = _new_key_id()
        self._keys[key_id] = secrets.token_bytes(KEY_BYTES)
        self._current = key_id
        return key_id

    def retire(self, key_id: str) -> None:
        if key_id == self._current:
            raise ValueError("cannot retire the current master key")
        self._keys.pop(key_id, None)

    def __repr__(self) -> str:
        return f"StaticKeyProvider(current={self._current!r}, keys={len(self._keys)})"


class FileKeyProvider:
    """Master keys and the index key in a JSON file, mode 0600, in the data directory.

    The file is created on first use (atomically: written to a temporary file, then linked
    into place, so two processes starting together agree on one set of keys). Every load
    refuses a file that others can read or write, or that another user owns — the same rule
    ``ssh`` applies to private keys — because a readable key file undoes the whole vault.
    This suits the single-node default; at scale, use a KMS-backed provider.
    """

    FILE_NAME: Final = "vault-keys.json"
    _FORMAT: Final = "livegate-vault-keys"

    def __init__(self, data_dir: str | os.PathLike[str], *, create: bool = True) -> None:
        self.path = Path(data_dir) / self.FILE_NAME
        if not self.path.exists():
            if not create:
                raise VaultKeyFileInvalid("The vault key file does not exist.", path=str(self.path))
            self._create()
        self._load()

    # public ----------------------------------------------------------------------------

    def current_key_id(self) -> str:
        return self._current

    def master_key(self, key_id: str) -> bytes:
        try:
            return self._keys[key_id]
        except KeyError:
            raise VaultKeyNotFound("This master key is not in the key file.", key_id=key_id) from None

    def index_key(self) -> bytes:
        return self._index_key

    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def rotate(self) -> str:
        """Add a new master key, make it current, and save; returns its id."""
        self._load()
        key_id = _new_key_id()
        keys = {**self._keys, key_id: secrets.token_bytes(KEY_BYTES)}
        self._save(keys, key_id, self._index_key)
        return key_id

    def retire(self, key_id: str) -> None:
        """Remove a master key once nothing is wrapped under it any more (see :func:`rewrap`)."""
        self._load()
        if key_id == self._current:
            raise ValueError("cannot retire the current master key")
        keys = {k: v for k, v in self._keys.items() if k != key_id}
        self._save(keys, self._current, self._index_key)

    def reload(self) -> None:
        self._load()

    def __repr__(self) -> str:
        return f"FileKeyProvider(path={str(self.path)!r})"

    # file handling ---------------------------------------------------------------------

    def _create(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        key_id = _new_key_id()
        body = self._encode({key_id: secrets.token_bytes(KEY_BYTES)}, key_id, secrets.token_bytes(32))
        tmp = self._write_private_tmp(body)
        try:
            os.link(tmp, self.path)  # fails if another process created it first
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)

    def _save(self, keys: Mapping[str, bytes], current: str, index_key: bytes) -> None:
        tmp = self._write_private_tmp(self._encode(keys, current, index_key))
        os.replace(tmp, self.path)
        self._load()

    def _write_private_tmp(self, body: bytes) -> Path:
        tmp = self.path.with_name(f".{self.FILE_NAME}.{secrets.token_hex(8)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            os.write(fd, body)
            os.fsync(fd)
        finally:
            os.close(fd)
        return tmp

    def _encode(self, keys: Mapping[str, bytes], current: str, index_key: bytes) -> bytes:
        doc = {
            "format": self._FORMAT,
            "version": 1,
            "current": current,
            "keys": {k: base64.b64encode(v).decode() for k, v in keys.items()},
            "index_key": base64.b64encode(index_key).decode(),
        }
        return json.dumps(doc, indent=2).encode() + b"\n"

    def _load(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError as exc:
            raise VaultKeyFileInvalid(
                "The vault key file cannot be opened (missing, or a symbolic link).", path=str(self.path)
            ) from exc
        try:
            info = os.fstat(fd)
            _check_private(info, self.path)
            with os.fdopen(fd, "rb", closefd=False) as fh:
                raw = fh.read(1 << 20)
        finally:
            os.close(fd)
        try:
            doc = json.loads(raw)
            if doc.get("format") != self._FORMAT or doc.get("version") != 1:
                raise ValueError("format")
            keys = {str(k): base64.b64decode(v, validate=True) for k, v in doc["keys"].items()}
            current = str(doc["current"])
            index_key = base64.b64decode(doc["index_key"], validate=True)
            for key_id, key in keys.items():
                _check_key(key_id, key)
            _check_key("index", index_key)
            if current not in keys:
                raise ValueError("current")
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
            raise VaultKeyFileInvalid(
                "The vault key file is not a valid livegate key file.", path=str(self.path)
            ) from None
        self._keys, self._current, self._index_key = keys, current, index_key


def _check_private(info: os.stat_result, path: Path) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise VaultKeyFileInsecure("The vault key file is not a regular file.", path=str(path))
    if os.name == "posix":
        if info.st_mode & 0o077:
            raise VaultKeyFileInsecure(
                "The vault key file is accessible to other users; it must have mode 0600.",
                path=str(path),
                mode=oct(stat.S_IMODE(info.st_mode)),
            )
        if info.st_uid != os.geteuid():
            raise VaultKeyFileInsecure(
                "The vault key file belongs to another user.", path=str(path), owner_uid=info.st_uid
            )


def _check_key(key_id: str, key: bytes) -> None:
    if key_id != "index" and not _KEY_ID.fullmatch(key_id):
        raise ValueError("a key id may only have the characters A-Z a-z 0-9 _ -")
    if len(key) != KEY_BYTES:
        raise ValueError("a vault key must be 32 bytes long")


def _new_key_id() -> str:
    return "mk_" + secrets.token_hex(6)


# --- sealed values ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SealedValue:
    """One encrypted value: which master key wraps its data key, the wrapped key, and the ciphertext."""

    key_id: str
    wrapped_key: bytes = field(repr=False)
    nonce: bytes = field(repr=False)
    ciphertext: bytes = field(repr=False)  # GCM tag included
    version: int = FORMAT_VERSION

    def to_bytes(self) -> bytes:
        """``version u8 | len u8 | key id | len u16 | wrapped key | nonce(12) | ciphertext+tag``."""
        kid = self.key_id.encode("ascii")
        return b"".join(
            (
                struct.pack(">BB", self.version, len(kid)),
                kid,
                struct.pack(">H", len(self.wrapped_key)),
                self.wrapped_key,
                self.nonce,
                self.ciphertext,
            )
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> SealedValue:
        try:
            version, kid_len = struct.unpack_from(">BB", data, 0)
            if version != FORMAT_VERSION:
                raise VaultFormatError("Unknown sealed-value version.", version=version)
            pos = 2
            key_id = data[pos : pos + kid_len].decode("ascii")
            pos += kid_len
            (wrapped_len,) = struct.unpack_from(">H", data, pos)
            pos += 2
            wrapped = data[pos : pos + wrapped_len]
            pos += wrapped_len
            nonce = data[pos : pos + NONCE_BYTES]
            ciphertext = data[pos + NONCE_BYTES :]
        except (struct.error, UnicodeDecodeError):
            raise VaultFormatError("The sealed value is truncated or malformed.") from None
        return cls._checked(key_id, wrapped, wrapped_len, nonce, ciphertext)

    def to_str(self) -> str:
        return ".".join((_STR_PREFIX, self.key_id, _b64e(self.wrapped_key), _b64e(self.nonce + self.ciphertext)))

    @classmethod
    def from_str(cls, text: str) -> SealedValue:
        parts = text.split(".")
        if len(parts) != 4:
            raise VaultFormatError("The sealed value is truncated or malformed.")
        prefix, key_id, wrapped_b64, body_b64 = parts
        if prefix != _STR_PREFIX:
            raise VaultFormatError("Unknown sealed-value version.")
        wrapped, body = _b64d(wrapped_b64), _b64d(body_b64)
        return cls._checked(key_id, wrapped, len(wrapped), body[:NONCE_BYTES], body[NONCE_BYTES:])

    @classmethod
    def parse(cls, value: SealedValue | str | bytes) -> SealedValue:
        if isinstance(value, SealedValue):
            return value
        if isinstance(value, str):
            return cls.from_str(value)
        return cls.from_bytes(bytes(value))

    @classmethod
    def _checked(cls, key_id: str, wrapped: bytes, wrapped_len: int, nonce: bytes, ciphertext: bytes) -> SealedValue:
        if (
            not _KEY_ID.fullmatch(key_id)
            or len(wrapped) != wrapped_len
            or wrapped_len == 0
            or len(nonce) != NONCE_BYTES
            or len(ciphertext) < TAG_BYTES
        ):
            raise VaultFormatError("The sealed value is truncated or malformed.")
        return cls(key_id=key_id, wrapped_key=wrapped, nonce=nonce, ciphertext=ciphertext)


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    """Strict base64url: only canonical encodings, so no two texts decode to the same bytes."""
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise VaultFormatError("The sealed value is not valid base64url.") from None
    if _b64e(data) != text:
        raise VaultFormatError("The sealed value is not canonical base64url.")
    return data


# --- the vault -------------------------------------------------------------------------


def _lp(data: bytes) -> bytes:
    return struct.pack(">H", len(data)) + data


def _data_aad(record_id: str | int, field_name: str) -> bytes:
    if not _FIELD.fullmatch(field_name):
        raise ValueError("field must be a lower-case identifier such as 'real_name'")
    return _DATA_AAD + _lp(field_name.encode()) + _lp(str(record_id).encode())


def _wrap_aad(version: int, key_id: str) -> bytes:
    return _WRAP_AAD + bytes([version]) + _lp(key_id.encode("ascii"))


def _wrap(provider: KeyProvider, key_id: str, data_key: bytes) -> bytes:
    aad = _wrap_aad(FORMAT_VERSION, key_id)
    if isinstance(provider, RemoteKeyWrapper):
        return provider.wrap_data_key(key_id, data_key, aad)
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(provider.master_key(key_id)).encrypt(nonce, data_key, aad)


def _unwrap(provider: KeyProvider, sealed: SealedValue) -> bytes:
    aad = _wrap_aad(sealed.version, sealed.key_id)
    if isinstance(provider, RemoteKeyWrapper):
        data_key = provider.unwrap_data_key(sealed.key_id, sealed.wrapped_key, aad)
    else:
        master = provider.master_key(sealed.key_id)
        wrapped = sealed.wrapped_key
        try:
            data_key = AESGCM(master).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], aad)
        except (InvalidTag, ValueError):
            raise VaultIntegrityError("The sealed value's data key failed authentication.") from None
    if len(data_key) != KEY_BYTES:
        raise VaultIntegrityError("The sealed value's data key has the wrong length.")
    return data_key


def rewrap(sealed: SealedValue | str | bytes, provider: KeyProvider) -> SealedValue:
    """Re-wrap the data key under ``provider``'s current master key; the ciphertext is untouched.

    Needs the old master key (still in ``provider``) once; afterwards only the current key
    opens the value, and the old key can be retired when no row uses it any more.
    """
    value = SealedValue.parse(sealed)
    target = provider.current_key_id()
    if value.key_id == target:
        return value
    data_key = _unwrap(provider, value)
    return SealedValue(
        key_id=target,
        wrapped_key=_wrap(provider, target, data_key),
        nonce=value.nonce,
        ciphertext=value.ciphertext,
    )


class IdentityVault:
    """Seal and open identity values; compute blind indexes.

    ``record_id`` and ``field`` are the value's place (row id and column); opening with any
    other place fails with :class:`VaultIntegrityError`. This class does not check
    permissions or write the audit log — the service that calls :meth:`open` must.
    """

    def __init__(self, provider: KeyProvider) -> None:
        self.provider = provider

    def seal(self, plaintext: str, *, record_id: str | int, field: str) -> SealedValue:
        aad = _data_aad(record_id, field)
        key_id = self.provider.current_key_id()
        data_key = AESGCM.generate_key(bit_length=256)
        nonce = secrets.token_bytes(NONCE_BYTES)
        ciphertext = AESGCM(data_key).encrypt(nonce, plaintext.encode("utf-8"), aad)
        return SealedValue(
            key_id=key_id,
            wrapped_key=_wrap(self.provider, key_id, data_key),
            nonce=nonce,
            ciphertext=ciphertext,
        )

    def open(self, sealed: SealedValue | str | bytes, *, record_id: str | int, field: str) -> str:
        aad = _data_aad(record_id, field)
        value = SealedValue.parse(sealed)
        data_key = _unwrap(self.provider, value)
        try:
            plaintext = AESGCM(data_key).decrypt(value.nonce, value.ciphertext, aad)
        except InvalidTag:
            raise VaultIntegrityError(
                "The sealed value failed authentication: tampered with, or not this record's or field's."
            ) from None
        try:
            return plaintext.decode("utf-8")
        except UnicodeDecodeError:  # authenticated, so only a bug could get here
            raise VaultIntegrityError("The sealed value does not hold text.") from None

    def rewrap(self, sealed: SealedValue | str | bytes) -> SealedValue:
        return rewrap(sealed, self.provider)

    def blind_index(self, value: str, *, field: str) -> str:
        """Hex HMAC-SHA256 of the normalised value under a per-field key derived from the index key."""
        if not _FIELD.fullmatch(field):
            raise ValueError("field must be a lower-case identifier such as 'real_name'")
        field_key = hmac.digest(self.provider.index_key(), _INDEX_DOMAIN + _lp(field.encode()), "sha256")
        return hmac.new(field_key, normalize_for_index(field, value).encode("utf-8"), hashlib.sha256).hexdigest()


# --- normalisation and masking ---------------------------------------------------------

_NAME_DOTS: Final = re.compile(r"[\u00b7\u2022\u2027\u30fb\u318d\uff0e\u2219\u22c5\u00b7.]")
_DOC_SEPARATORS: Final = re.compile(r"[\s\-]")
_PHONE_SEPARATORS: Final = re.compile(r"[\s\-().]")


def _normalize_name(value: str) -> str:
    """Full-width folded, the many "middle dots" of transliterated names unified, spaces
    collapsed, case folded: so "买买提·艾力" and "买买提•艾力" index the same."""
    folded = unicodedata.normalize("NFKC", value)
    folded = _NAME_DOTS.sub("\u00b7", folded)
    return " ".join(folded.split()).casefold()


def _normalize_document(value: str) -> str:
    return _DOC_SEPARATORS.sub("", unicodedata.normalize("NFKC", value)).upper()


def _normalize_phone(value: str) -> str:
    try:
        return normalize_mobile(value)
    except InvalidPhoneNumber:
        return _PHONE_SEPARATORS.sub("", unicodedata.normalize("NFKC", value))


_NORMALIZERS: Final[Mapping[str, Callable[[str], str]]] = {
    FIELD_REAL_NAME: _normalize_name,
    FIELD_DOCUMENT_NUMBER: _normalize_document,
    FIELD_PHONE: _normalize_phone,
}


def normalize_for_index(field: str, value: str) -> str:
    """The form of ``value`` that is indexed: two spellings of one value give one index."""
    normalizer = _NORMALIZERS.get(field)
    if normalizer is not None:
        return normalizer(value)
    return " ".join(unicodedata.normalize("NFKC", value).split())


def mask_name(name: str) -> str:
    """``张三`` -> ``张*``, ``欧阳娜娜`` -> ``欧***``, ``买买提·艾力`` -> ``买**·艾*``,
    ``John Smith`` -> ``J*** S****``.

    The first character of each part stays so a person can recognise their own record;
    the rest is hidden because the full name is exactly what Art. 12 keeps behind the scenes.
    """
    name = " ".join(name.split())
    if not name:
        return ""
    parts = re.split(r"([ \u00b7\u2022\u30fb.])", name)
    masked = []
    for part in parts:
        if part in {" ", "\u00b7", "\u2022", "\u30fb", "."} or not part:
            masked.append(part)
        elif len(parts) == 1 and len(part) == 1:
            masked.append("*")
        else:
            masked.append(part[0] + "*" * (len(part) - 1))
    return "".join(masked)


def mask_document(number: str, *, keep_start: int = 1, keep_end: int = 1) -> str:
    """``110101199003071234`` -> ``1****************4``.

    By default only the first and last character show: anything more of a resident ID
    reveals the county (digits 1-6), the birth date (7-14) or the sex (17).
    """
    number = "".join(number.split())
    n = len(number)
    if n <= keep_start + keep_end + 2:
        return "*" * max(n - 1, 0) + number[-1:] if n > 2 else "*" * n
    return number[:keep_start] + "*" * (n - keep_start - keep_end) + number[n - keep_end :]
