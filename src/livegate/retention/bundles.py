"""Inspection bundles wherever they are asked for: kept in shared object storage when there is
one (so any node serves a bundle another node built), and sent as a zip streamed file by file
(a bundle holds recordings; it is never assembled in memory).

A bundle's files are stored under ``inspections/<export id>/<path in the bundle>``.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from livegate.core.errors import Gone
from livegate.retention.storage import LocalStorage, ObjectStorage

PREFIX = "inspections"
CHUNK = 1 << 20


def _prefix(export_id: int) -> str:
    return f"{PREFIX}/{export_id}/"


def shared(storage: ObjectStorage) -> bool:
    """Whether ``storage`` is reachable from every node (not this node's own disk)."""
    return not isinstance(storage, LocalStorage)


def store(storage: ObjectStorage, export_id: int, directory: Path) -> int:
    """Put every file of a built bundle into ``storage``; returns how many."""
    n = 0
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            storage.put_file(_prefix(export_id) + path.relative_to(directory).as_posix(), path)
            n += 1
    return n


def available(storage: ObjectStorage, export_id: int, directory: Path) -> bool:
    if directory.is_dir():
        return True
    return shared(storage) and storage.exists(_prefix(export_id) + "manifest.json")


class _Sink:
    """A write-only, non-seekable file for :class:`zipfile.ZipFile` that hands out what was written."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._offset = 0

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self._offset += len(data)
        return len(data)

    def tell(self) -> int:
        return self._offset

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        out, self._parts = b"".join(self._parts), []
        return out


def _zip(files: list[tuple[str, Path]]) -> Iterator[bytes]:
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, path in files:
            with zf.open(name, "w", force_zip64=True) as member, open(path, "rb") as src:
                while chunk := src.read(CHUNK):
                    member.write(chunk)
                    yield sink.take()
            yield sink.take()
    yield sink.take()


def zip_stream(storage: ObjectStorage, export_id: int, directory: Path) -> Iterator[bytes]:
    """The bundle as a zip whose entries lie under ``inspection-<id>/``, produced as it is sent.

    From the bundle's directory when this node has it, else fetched from shared storage one
    file at a time into a temporary directory that goes when the zip is done."""
    top = f"inspection-{export_id}"
    if directory.is_dir():
        files = [(f"{top}/{p.relative_to(directory).as_posix()}", p)
                 for p in sorted(directory.rglob("*")) if p.is_file()]
        yield from _zip(files)
        return
    if not shared(storage):
        raise Gone("this bundle is no longer on the server")
    prefix = _prefix(export_id)
    keys = sorted(o.key for o in storage.list(prefix))
    if not keys:
        raise Gone("this bundle is no longer in storage")
    tmp = Path(tempfile.mkdtemp(prefix=f"{top}-"))
    try:
        files = []
        for key in keys:
            rel = key[len(prefix):] if key.startswith(prefix) else key.rsplit("/", 1)[-1]
            dest = tmp / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            storage.download(key, dest)
            files.append((f"{top}/{rel}", dest))
        yield from _zip(files)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
