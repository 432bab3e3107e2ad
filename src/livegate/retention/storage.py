"""Object storage for what the platform must keep: the local data dir (default) or an
S3-compatible service.

Keys are relative, slash-separated paths (``media/recordings/<room>/<session>.flv``). The
local backend maps a key to ``<data dir>/<key>``, so a recording the pipeline wrote stays
where it is; the S3 backend uploads it (and checks the size) before the local copy is
dropped. Both answer the same :class:`ObjectStorage` protocol, checked by one shared test.

Configured by ``LIVEGATE_STORAGE_URL``: empty or ``file:`` for the data dir, or
``s3://BUCKET/PREFIX?endpoint=http://host:port&region=us-east-1&capacity_gb=500``;
credentials come from the usual AWS variables (``AWS_ACCESS_KEY_ID``...) via boto3.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qs, urlparse

from livegate.retention.errors import ObjectMissing, StorageError

_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")
#: The local backend never hands out keys outside these prefixes (the database and keys live
#: in the data dir too).
LOCAL_PREFIXES = ("media/", "audit-heads/", "exports/", "objects/")


def check_key(key: str) -> str:
    if not _KEY_RE.match(key) or ".." in key.split("/"):
        raise StorageError(f"invalid object key {key!r}", key=key)
    return key


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int


@runtime_checkable
class ObjectStorage(Protocol):
    """What every backend does; ``p.storage`` is one of these."""

    backend: str

    def put_file(self, key: str, path: Path) -> ObjectInfo:
        """Store the file at ``path`` under ``key`` (the local file may be the object itself)."""

    def put_bytes(self, key: str, data: bytes) -> ObjectInfo: ...

    def get_bytes(self, key: str) -> bytes: ...

    def download(self, key: str, dest: Path) -> None: ...

    def delete(self, key: str) -> bool:
        """Delete ``key``; False if it was not there (deleting is idempotent)."""

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]: ...

    def local_path(self, key: str) -> Path | None:
        """Where the object lies on this node's disk, if the backend keeps it there."""

    def free_bytes(self) -> int | None:
        """Space left, if the backend knows it (None: unbounded or unknown)."""


def sha256_file(path: Path, bufsize: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(bufsize):
            h.update(chunk)
    return h.hexdigest()


class LocalStorage:
    """Objects are files under the data dir."""

    backend = "local"

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        check_key(key)
        if not key.startswith(LOCAL_PREFIXES):
            raise StorageError(f"key {key!r} is outside the storage prefixes", key=key)
        return self.root / key

    def put_file(self, key: str, path: Path) -> ObjectInfo:
        target = self._path(key)
        if path.resolve() != target:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
            shutil.copyfile(path, tmp)
            os.replace(tmp, target)
        return ObjectInfo(key, target.stat().st_size)

    def put_bytes(self, key: str, data: bytes) -> ObjectInfo:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
        return ObjectInfo(key, len(data))

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise ObjectMissing(key=key) from None

    def download(self, key: str, dest: Path) -> None:
        src = self._path(key)
        if not src.is_file():
            raise ObjectMissing(key=key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)

    def delete(self, key: str) -> bool:
        path = self._path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        base = self.root
        for top in LOCAL_PREFIXES:
            if not (top.startswith(prefix) or prefix.startswith(top)):
                continue
            directory = base / top
            if not directory.is_dir():
                continue
            for dirpath, _dirs, files in os.walk(directory):
                for name in files:
                    if name.startswith("."):
                        continue
                    full = Path(dirpath) / name
                    key = full.relative_to(base).as_posix()
                    if key.startswith(prefix):
                        yield ObjectInfo(key, full.stat().st_size)

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def free_bytes(self) -> int | None:
        self.root.mkdir(parents=True, exist_ok=True)
        return shutil.disk_usage(self.root).free


class S3Storage:
    """An S3-compatible bucket (AWS S3, MinIO, Ceph RGW, OSS/COS in S3 mode...)."""

    backend = "s3"

    def __init__(self, bucket: str, *, prefix: str = "", endpoint_url: str | None = None,
                 region: str | None = None, capacity_bytes: int | None = None, client: Any = None) -> None:
        if client is None:
            try:
                import boto3
            except ImportError as exc:  # pragma: no cover - depends on the install
                raise StorageError("S3 storage needs boto3: pip install 'livegate[s3]'") from exc
            client = boto3.client("s3", endpoint_url=endpoint_url, region_name=region or "us-east-1")
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.capacity_bytes = capacity_bytes

    def _k(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _err(self, exc: Exception, key: str) -> StorageError:
        return StorageError(f"S3 {type(exc).__name__} on {key}: {exc}", key=key)

    def ensure_bucket(self) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)

    def put_file(self, key: str, path: Path) -> ObjectInfo:
        size = path.stat().st_size
        try:
            self.client.upload_file(str(path), self.bucket, self._k(key))
            head = self.client.head_object(Bucket=self.bucket, Key=self._k(key))
        except Exception as exc:
            raise self._err(exc, key) from exc
        if int(head["ContentLength"]) != size:
            raise StorageError(f"upload of {key} is {head['ContentLength']} bytes, expected {size}", key=key)
        return ObjectInfo(key, size)

    def put_bytes(self, key: str, data: bytes) -> ObjectInfo:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._k(key), Body=data)
        except Exception as exc:
            raise self._err(exc, key) from exc
        return ObjectInfo(key, len(data))

    def _missing(self, exc: Exception) -> bool:
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
        return code in {"404", "NoSuchKey", "NotFound"}

    def get_bytes(self, key: str) -> bytes:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._k(key))["Body"]
            return body.read()  # type: ignore[no-any-return]
        except Exception as exc:
            if self._missing(exc):
                raise ObjectMissing(key=key) from None
            raise self._err(exc, key) from exc

    def download(self, key: str, dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.client.download_file(self.bucket, self._k(key), str(dest))
        except Exception as exc:
            if self._missing(exc):
                raise ObjectMissing(key=key) from None
            raise self._err(exc, key) from exc

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._k(key))
        except Exception as exc:
            if self._missing(exc):
                return False
            raise self._err(exc, key) from exc
        return True

    def delete(self, key: str) -> bool:
        existed = self.exists(key)
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._k(key))
        except Exception as exc:
            raise self._err(exc, key) from exc
        return existed

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        if prefix:
            check_key(prefix.rstrip("/"))
        full = (f"{self.prefix}/" if self.prefix else "") + prefix
        strip = len(self.prefix) + 1 if self.prefix else 0
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
            for obj in page.get("Contents", []):
                yield ObjectInfo(obj["Key"][strip:], int(obj["Size"]))

    def local_path(self, key: str) -> Path | None:
        return None

    def free_bytes(self) -> int | None:
        if self.capacity_bytes is None:
            return None
        used = sum(o.size for o in self.list(""))
        return max(self.capacity_bytes - used, 0)


def make_storage(url: str, data_dir: Path) -> ObjectStorage:
    """The backend a storage URL names (see the module docstring)."""
    if not url or url.startswith("file:"):
        return LocalStorage(data_dir)
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise StorageError(f"unsupported storage URL {url!r}: use file: or s3://BUCKET/PREFIX")
    q = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
    capacity = int(float(q["capacity_gb"]) * 1024**3) if "capacity_gb" in q else None
    storage = S3Storage(parsed.netloc, prefix=parsed.path, endpoint_url=q.get("endpoint"), region=q.get("region"),
                        capacity_bytes=capacity)
    return storage
