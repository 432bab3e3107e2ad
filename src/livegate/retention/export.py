"""Inspection bundles (Article 16, second paragraph): everything kept about an account or
a room for a period, in a directory an authority can check on its own.

Layout of a bundle::

    manifest.json        scope, period, requester, legal basis, who exported and when, the
                         audit-chain head at export time, and the SHA-256 and size of every file
    manifest.sig         Ed25519 signature (base64) of manifest.json's exact bytes
    README.txt           what is inside and how to check it
    media/<room>/<session>.flv   the recordings as received (FLV, plays in VLC/ffplay)
    media/<room>/<session>.mp4   the same remuxed to MP4 (no re-encode), when possible
    media/<room>/<session>.json  the recording index (start, end, why it ended, keyframes)
    records/<kind>.jsonl one JSON object per record of each retention kind in scope
                         (comments with their decisions, sessions, publish attempts, sign-ins...)
    decisions/audit.jsonl the audit entries about the scope in the period, with their chain hashes

``livegate export verify DIR`` (:func:`verify_bundle`) checks the signature, then every
file's hash, and names each file that changed, is missing, or was added.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select

from livegate.core.errors import ValidationFailed
from livegate.core.models import Account, AuditEntry
from livegate.media.layout import MediaLayout
from livegate.media.models import Room, StreamSession
from livegate.retention.chainhead import current_head
from livegate.retention.errors import InvalidScope
from livegate.retention.kinds import ExportScope, json_default
from livegate.retention.models import InspectionExport, StoredObject
from livegate.retention.signing import PlatformKey, fingerprint, verify
from livegate.retention.storage import sha256_file

if TYPE_CHECKING:
    from livegate.app import Platform

log = logging.getLogger(__name__)
BUNDLE_FORMAT = "livegate-inspection/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"


def parse_period(start: str | dt.date | dt.datetime,
                 end: str | dt.date | dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """``--from``/``--to`` as UTC instants; a date ``--to`` includes that whole day."""

    def one(value: str | dt.date | dt.datetime, is_end: bool) -> dt.datetime:
        if isinstance(value, str):
            text = value.strip()
            try:
                value = dt.date.fromisoformat(text) if len(text) == 10 else dt.datetime.fromisoformat(text)
            except ValueError:
                raise ValidationFailed(f"not a date: {text!r} (use YYYY-MM-DD)", field="period") from None
        if isinstance(value, dt.datetime):
            return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        at = dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC)
        return at + dt.timedelta(days=1) if is_end else at

    a, b = one(start, False), one(end, True)
    if b <= a:
        raise ValidationFailed("the period ends before it starts", field="period")
    return a, b


@dataclass
class ExportResult:
    export_id: int
    directory: Path
    files: int
    bytes: int
    manifest_sha256: str
    counts: dict[str, int] = field(default_factory=dict)
    media: list[str] = field(default_factory=list)


def remux_to_mp4(src: Path, dst: Path) -> bool:
    """Copy the FLV's audio and video into MP4 without re-encoding; False if it cannot."""
    try:
        import av

        with av.open(str(src)) as inp, av.open(str(dst), "w", format="mp4") as out:
            mapping: dict[int, Any] = {}
            for st in inp.streams:
                if st.type in ("video", "audio"):
                    mapping[st.index] = out.add_stream_from_template(st)
            if not mapping:
                raise ValueError("no audio or video")
            for pkt in inp.demux(*[inp.streams[i] for i in mapping]):
                if pkt.dts is None:
                    continue
                pkt.stream = mapping[pkt.stream.index]
                out.mux(pkt)
        return True
    except Exception as exc:  # noqa: BLE001 - the FLV is the evidence; the MP4 is a convenience
        log.warning("could not remux %s to MP4: %s", src, exc)
        dst.unlink(missing_ok=True)
        return False


def _write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    n = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, sort_keys=True, default=json_default))
            fh.write("\n")
            n += 1
    if n == 0:
        path.unlink()
    return n


README = """livegate inspection bundle ({format})

Scope: {scope}   Period: {start} to {end} (UTC, end excluded)
Requested by: {requester}
Legal basis: {legal_basis}
Exported by {actor} at {at}

manifest.json lists every file with its SHA-256 and size, and the audit-chain head at
export time. manifest.sig is the Ed25519 signature (base64) of manifest.json's exact bytes,
made with the platform key whose public half is in manifest.json (fingerprint {fp}).

Check it with `livegate export verify <this directory>`, or with any Ed25519 tool:
verify manifest.sig over manifest.json with the public key, then `sha256sum` each file.

media/     recordings as received (FLV) and remuxed to MP4 where possible, with indexes
records/   one JSON object per line for each kind of record (comments, sessions, logs...)
decisions/ audit-log entries about the scope in the period (seq, hash, prev: chain links)
"""


class InspectionExporter:
    def __init__(self, platform: Platform, key: PlatformKey) -> None:
        self.p = platform
        self.key = key

    def _scope(self, s: Any, scope_type: str, scope_id: str) -> tuple[ExportScope, list[str]]:
        if scope_type == "account":
            if not str(scope_id).isdigit() or s.get(Account, int(scope_id)) is None:
                raise InvalidScope(f"no account {scope_id}")
            aid = int(scope_id)
            rooms = frozenset(s.scalars(select(Room.id).where(Room.owner_id == aid)).all())
            targets = [f"account:{aid}"] + [f"room:{r}" for r in sorted(rooms)]
            return ExportScope(accounts=frozenset({aid}), rooms=rooms), targets
        if scope_type == "room":
            if s.get(Room, scope_id) is None:
                raise InvalidScope(f"no room {scope_id}")
            return ExportScope(rooms=frozenset({scope_id})), [f"room:{scope_id}"]
        raise InvalidScope("an inspection export is for an account or a room")

    def build(self, *, scope_type: str, scope_id: str, start: dt.datetime, end: dt.datetime, out_dir: Path,
              requester: str, legal_basis: str, actor: str) -> ExportResult:
        if not requester.strip() or not legal_basis.strip():
            raise ValidationFailed("an inspection export needs the requester and the legal basis")
        out_dir = out_dir.resolve()
        if out_dir.exists() and any(out_dir.iterdir()):
            raise ValidationFailed(f"{out_dir} is not empty", field="out")
        out_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(out_dir, 0o700)
        p = self.p
        now = p.clock.now()
        counts: dict[str, int] = {}
        media: list[str] = []
        with p.db.session() as s:
            scope, targets = self._scope(s, scope_type, str(scope_id))
            sessions = s.execute(
                select(StreamSession.id, StreamSession.room_id).where(
                    StreamSession.room_id.in_(sorted(scope.rooms)) if scope.rooms else StreamSession.id < 0,
                    StreamSession.started_at < end,
                    or_(StreamSession.ended_at.is_(None), StreamSession.ended_at >= start),
                ).order_by(StreamSession.id)).all()
            objects = {(o.session_id, o.kind): o.key for o in s.scalars(
                select(StoredObject).where(StoredObject.session_id.in_([sid for sid, _ in sessions]))).all()}
            for kind in p.retention.kinds.all():
                rows = kind.export(s, scope, start, end)
                n = _write_jsonl(out_dir / "records" / f"{kind.name}.jsonl", rows)
                counts[kind.name] = n
            audit_rows = s.execute(select(AuditEntry).where(
                AuditEntry.target.in_(targets), AuditEntry.at >= start, AuditEntry.at < end).order_by(AuditEntry.seq)
            ).scalars()
            counts["audit"] = _write_jsonl(out_dir / "decisions" / "audit.jsonl", (
                {"seq": e.seq, "at": e.at.isoformat(), "actor": e.actor, "action": e.action, "target": e.target,
                 "reason": e.reason, "details": e.details, "prev_hash": e.prev_hash, "entry_hash": e.entry_hash}
                for e in audit_rows))
            head = current_head(s)
        layout = MediaLayout(p.settings.data_dir / "media")
        for sid, room in sessions:
            name = f"s{sid}"
            target_dir = out_dir / "media" / room
            target_dir.mkdir(parents=True, exist_ok=True)
            for obj_kind, suffix, local in (("recording", ".flv", layout.recording(room, name)),
                                            ("recording_index", ".json", layout.recording_index(room, name))):
                dest = target_dir / f"{name}{suffix}"
                key = objects.get((sid, obj_kind))
                if key is not None:
                    p.retention.storage.download(key, dest)
                elif local.is_file():
                    shutil.copyfile(local, dest)
                else:
                    continue
                if suffix == ".flv":
                    media.append(dest.relative_to(out_dir).as_posix())
                    remux_to_mp4(dest, target_dir / f"{name}.mp4")
        counts["media_sessions"] = len(media)
        (out_dir / "README.txt").write_text(README.format(
            format=BUNDLE_FORMAT, scope=f"{scope_type} {scope_id}", start=start.isoformat(), end=end.isoformat(),
            requester=requester, legal_basis=legal_basis, actor=actor, at=now.isoformat(),
            fp=self.key.fingerprint), encoding="utf-8")
        files = []
        total = 0
        for path in sorted(out_dir.rglob("*")):
            if path.is_file() and path.name not in (MANIFEST, SIGNATURE):
                size = path.stat().st_size
                total += size
                files.append({"path": path.relative_to(out_dir).as_posix(), "sha256": sha256_file(path),
                              "size": size})
        manifest = {
            "format": BUNDLE_FORMAT, "scope": {"type": scope_type, "id": str(scope_id)},
            "period": {"from": start.isoformat(), "to": end.isoformat()},
            "requester": requester, "legal_basis": legal_basis, "exported_by": actor, "exported_at": now.isoformat(),
            "node": p.settings.node_name,
            "audit_head": {"seq": head["seq"], "hash": head["hash"], "chain_verified": head["verified"]},
            "counts": counts, "files": files, "public_key": self.key.public_b64,
            "key_fingerprint": self.key.fingerprint,
        }
        raw = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True).encode()
        (out_dir / MANIFEST).write_bytes(raw)
        (out_dir / SIGNATURE).write_text(self.key.sign(raw) + "\n", encoding="ascii")
        digest = hashlib.sha256(raw).hexdigest()
        with p.db.session() as s:
            row = InspectionExport(scope_type=scope_type, scope_id=str(scope_id), period_from=start, period_to=end,
                                   requester=requester[:200], legal_basis=legal_basis, created_by=actor,
                                   created_at=now, directory=str(out_dir), manifest_sha256=digest,
                                   files=len(files), bytes=total)
            s.add(row)
            s.flush()
            p.audit.record(s, actor=actor, action="retention.inspection_export", target=f"{scope_type}:{scope_id}",
                           reason=legal_basis, details={
                               "export": row.id, "requester": requester, "legal_basis": legal_basis,
                               "from": start.isoformat(), "to": end.isoformat(), "manifest_sha256": digest,
                               "files": len(files), "bytes": total, "audit_head_seq": head["seq"]})
            export_id = row.id
        return ExportResult(export_id, out_dir, len(files), total, digest, counts, media)


@dataclass(frozen=True)
class BundleCheck:
    ok: bool
    changed: list[str]
    missing: list[str]
    extra: list[str]
    problems: list[str]
    key_fingerprint: str = ""
    files: int = 0

    def summary(self) -> str:
        if self.ok:
            return f"bundle verifies: {self.files} files, signed by key {self.key_fingerprint}"
        return "; ".join(self.problems)


def verify_bundle(directory: Path, *, expected_public_key: str | None = None) -> BundleCheck:
    """Check the signature, then each file; name every file that changed, is missing or was added."""
    problems: list[str] = []
    try:
        raw = (directory / MANIFEST).read_bytes()
        sig = (directory / SIGNATURE).read_text(encoding="ascii").strip()
    except FileNotFoundError as exc:
        return BundleCheck(False, [], [Path(exc.filename or "").name], [], [f"missing {Path(exc.filename or '').name}"])
    try:
        manifest = json.loads(raw)
        pub = str(manifest["public_key"])
        entries = list(manifest["files"])
    except (ValueError, KeyError, TypeError):
        return BundleCheck(False, [MANIFEST], [], [], [f"{MANIFEST} changed: it is not a valid manifest"])
    fp = fingerprint(pub)
    if not verify(pub, sig, raw):
        return BundleCheck(False, [MANIFEST], [], [], [f"{MANIFEST} changed: its signature does not verify"],
                           key_fingerprint=fp)
    if expected_public_key is not None and expected_public_key != pub:
        problems.append(f"signed by key {fp}, not by the expected platform key {fingerprint(expected_public_key)}")
    changed: list[str] = []
    missing: list[str] = []
    listed: set[str] = set()
    for entry in entries:
        rel = str(entry["path"])
        listed.add(rel)
        path = directory / rel
        if ".." in Path(rel).parts or not path.is_file():
            missing.append(rel)
            continue
        if path.stat().st_size != entry["size"] or sha256_file(path) != entry["sha256"]:
            changed.append(rel)
    extra = sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*")
                   if p.is_file() and p.name not in (MANIFEST, SIGNATURE)
                   and p.relative_to(directory).as_posix() not in listed)
    problems += [f"{f} changed (SHA-256 differs from the manifest)" for f in changed]
    problems += [f"{f} is missing" for f in missing]
    problems += [f"{f} is not in the manifest (added)" for f in extra]
    return BundleCheck(not problems, changed, missing, extra, problems, fp, len(entries))
