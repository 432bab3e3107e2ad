"""``p.retention``: periods, purge, legal holds, archiving into ``p.storage``, inspections,
and the daily audit-chain head.

Built once per node by the platform. It registers two scheduled jobs that run once
across all nodes (a lease in the database): ``retention.purge`` (daily) and
``retention.audit_head`` (daily), and listens for ended streams to archive their
recordings.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from livegate.core.policy import Policy
from livegate.media.models import Room, StreamSession
from livegate.retention import bundles
from livegate.retention.builtin_kinds import builtin_kinds
from livegate.retention.chainhead import HeadCheck, current_head, signed_head, verify_against
from livegate.retention.export import ExportResult, InspectionExporter, verify_bundle
from livegate.retention.holds import CaseResolver, HoldService
from livegate.retention.kinds import KindRegistry, KindReport, PurgeContext, RetentionKind, TableKind
from livegate.retention.models import AccountLogEntry, AuditHead, StoredObject
from livegate.retention.signing import PlatformKey, canonical_json
from livegate.retention.storage import ObjectStorage, make_storage, sha256_file
from livegate.retention.usage import StorageUsage, storage_usage

if TYPE_CHECKING:
    from livegate.app import Platform
    from livegate.media.pipeline import StreamEnded

log = logging.getLogger(__name__)
PURGE_JOB = "retention.purge"
HEAD_JOB = "retention.audit_head"
#: Modules that may offer ``retention_kinds()`` because they are built before ``p.retention``.
_PEER_MODULES = ("identity", "chat", "review", "enforcement", "complaints", "media")
#: Tables of other domains known today: table -> (timestamp column, description, room column,
#: account column, purged here?). Decisions (cases, sanctions) and posts are exported into
#: inspection bundles but left to their modules to purge, since evidence rows reference them.
_KNOWN_PEER_TABLES: dict[str, tuple[str, str, str | None, str | None, bool]] = {
    "chat_messages": ("created_at", "comments with their decisions", "room_id", "account_id", True),
    "review_cases": ("created_at", "review cases and decisions (kept by the review module)", "room_id",
                     "account_id", False),
    "review_posts": ("created_at", "image-text posts and decisions (kept by the review module)", "room_id",
                     "account_id", False),
    "sanctions": ("created_at", "sanctions (kept by the enforcement module)", "room_id", "account_id", False),
}


@dataclass
class PurgeReport:
    at: dt.datetime
    dry_run: bool
    kinds: list[KindReport] = field(default_factory=list)
    held: dict[str, list[str]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(k.count for k in self.kinds)

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "dry_run": self.dry_run, "total": self.total, "held": self.held,
                "kinds": [{"kind": k.kind, "days": k.days, "cutoff": k.cutoff.isoformat(), "count": k.count,
                           "bytes": k.bytes, "kept_by_hold": k.held_skipped, "error": k.error}
                          for k in self.kinds]}


def record_account_event(s: Session, account_id: int | None, event: str, *, at: dt.datetime, ip: str = "",
                         user_agent: str = "", detail: str = "") -> None:
    """Append one network-log entry (sign-in, failed sign-in, verification...) in ``s``'s transaction."""
    s.add(AccountLogEntry(account_id=account_id, at=at, event=event[:32], ip=ip[:64], user_agent=user_agent[:255],
                          detail=detail[:255]))


class RetentionModule:
    def __init__(self, platform: Platform, *, storage: ObjectStorage | None = None) -> None:
        self.p = platform
        data = platform.settings.data_dir
        url = str(getattr(platform.settings, "storage_url", "") or os.environ.get("LIVEGATE_STORAGE_URL", ""))
        self.storage: ObjectStorage = storage or make_storage(url, data)
        platform.storage = self.storage  # type: ignore[attr-defined]
        self.media_root = data / "media"
        self.exports_dir = data / "exports"
        self.key = PlatformKey(data)
        self.holds = HoldService(platform.audit, platform.clock)
        self.kinds = KindRegistry()
        for kind in builtin_kinds(self.storage):
            self.kinds.register(kind)
        self._peers_collected = False
        self._archive_tasks: set[asyncio.Task[Any]] = set()
        self.exporter = InspectionExporter(platform, self.key)
        platform.scheduler.add(PURGE_JOB, dt.timedelta(days=1), self._purge_job, lease=dt.timedelta(hours=2))
        platform.scheduler.add(HEAD_JOB, dt.timedelta(days=1), self._head_job, lease=dt.timedelta(hours=1))
        media = getattr(platform, "media", None)
        if media is not None:
            media.ended_listeners.append(self.on_stream_ended)

    def attach_media(self, media: Any) -> None:
        """Listen for ended streams on a media service built after this module."""
        if self.on_stream_ended not in media.ended_listeners:
            media.ended_listeners.append(self.on_stream_ended)

    # -- registry -------------------------------------------------------------------------
    def register(self, kind: RetentionKind) -> RetentionKind:
        """Add a kind of record to purge and export (see :mod:`livegate.retention.kinds`)."""
        return self.kinds.register(kind)

    def register_case_resolver(self, resolver: CaseResolver) -> None:
        """Let a hold on a case also hold the accounts and rooms the case concerns."""
        self.holds.case_resolvers.append(resolver)

    def collect_peer_kinds(self) -> None:
        if self._peers_collected:
            return
        self._peers_collected = True
        for name in _PEER_MODULES:
            offer = getattr(getattr(self.p, name, None), "retention_kinds", None)
            if callable(offer):
                for kind in offer():
                    if kind.name not in self.kinds:
                        self.kinds.register(kind)
        # Tables of other domains that exist today but do not register themselves (yet).
        import livegate.models_registry  # noqa: F401 - every table in the metadata
        from livegate.core.db import Base

        for name, (ts, description, room_col, account_col, purges) in _KNOWN_PEER_TABLES.items():
            table = Base.metadata.tables.get(name)
            if table is None or name in self.kinds:
                continue
            try:
                self.kinds.register(TableKind(name, table, ts, description=description, room_column=room_col,
                                              account_column=account_col, purges=purges, order=60))
            except ValueError:  # the table changed shape: its module should register itself
                log.warning("retention: cannot register %s from its known shape", name)

    def days(self, kind: str | RetentionKind, policy: Policy | None = None) -> int:
        k = self.kinds.get(kind) if isinstance(kind, str) else kind
        return self.kinds.days(policy or self.p.policy.get(), k)

    # -- holds ----------------------------------------------------------------------------
    def place_hold(self, s: Session, *, scope_type: str, scope_id: str | int, reason: str, actor: str) -> int:
        return self.holds.place(s, scope_type=scope_type, scope_id=scope_id, reason=reason, actor=actor)

    def lift_hold(self, s: Session, hold_id: int, *, reason: str, actor: str) -> None:
        self.holds.lift(s, hold_id, reason=reason, actor=actor)

    def is_held(self, s: Session, scope_type: str, scope_id: str | int) -> bool:
        return self.holds.is_held(s, scope_type, scope_id)

    # -- account log ------------------------------------------------------------------------
    def log_account_event(self, s: Session, account_id: int | None, event: str, *, ip: str = "",
                          user_agent: str = "", detail: str = "") -> None:
        record_account_event(s, account_id, event, at=self.p.clock.now(), ip=ip, user_agent=user_agent,
                             detail=detail)

    # -- purge ----------------------------------------------------------------------------
    def _context(self, s: Session) -> PurgeContext:
        return PurgeContext(session_factory=self.p.db.session, held=self.holds.held_scopes(s),
                            now=self.p.clock.now(), storage=self.storage, media_root=self.media_root)

    def purge(self, *, dry_run: bool = False, actor: str = "system:retention",
              kinds: Iterable[str] | None = None) -> PurgeReport:
        """Delete (or, dry, count) every record older than its period and not under a hold."""
        self.collect_peer_kinds()
        policy = self.p.policy.get()
        with self.p.db.session() as s:
            ctx = self._context(s)
        wanted = set(kinds) if kinds is not None else None
        report = PurgeReport(ctx.now, dry_run, held={
            "accounts": [str(a) for a in sorted(ctx.held.accounts)], "rooms": sorted(ctx.held.rooms),
            "cases": sorted(ctx.held.cases), "rooms_of_held_accounts": sorted(ctx.held.owned_rooms)})
        failed: set[str] = set()
        for kind in self.kinds.all():
            if (wanted is not None and kind.name not in wanted) or not getattr(kind, "purges", True):
                continue
            days = self.kinds.days(policy, kind)
            cutoff = ctx.now - dt.timedelta(days=days)
            error = ""
            waiting = [o for o in kind.outlives if o in failed]
            try:
                if waiting:  # e.g. session rows stay until their media is really gone
                    raise RuntimeError(f"skipped: {', '.join(waiting)} failed in this run")
                due, size, kept = kind.plan(ctx, cutoff)
                if not dry_run and due:
                    due, size = kind.purge(ctx, cutoff)
            except Exception as exc:  # one failing kind (storage down) must not stop the others
                log.exception("retention: purging %s failed", kind.name)
                due, size, kept, error = 0, 0, 0, f"{type(exc).__name__}: {exc}"[:300]
                failed.add(kind.name)
            report.kinds.append(KindReport(kind.name, days, cutoff, due, size, kept, error))
        if not dry_run:
            with self.p.db.session() as s:
                self.p.audit.record(s, actor=actor, action="retention.purge", target="retention",
                                    details={"deleted": {k.kind: k.count for k in report.kinds if k.count},
                                             "bytes": sum(k.bytes for k in report.kinds),
                                             "kept_by_hold": {k.kind: k.held_skipped for k in report.kinds
                                                              if k.held_skipped},
                                             "errors": {k.kind: k.error for k in report.kinds if k.error},
                                             "policy": policy.digest[:12]})
        return report

    async def _purge_job(self) -> str:
        await asyncio.to_thread(self.archive_pending)
        report = await asyncio.to_thread(self.purge)
        failed = [k.kind for k in report.kinds if k.error]
        return f"purged {report.total} records" + (f"; failed: {', '.join(failed)}" if failed else "")

    # -- archiving ----------------------------------------------------------------------------
    def on_stream_ended(self, ended: StreamEnded) -> None:
        """Media listener (on the event loop): archive the recording off the loop."""
        try:
            session_id = int(ended.session.lstrip("s"))
        except ValueError:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.archive_session(session_id)
            return
        task = loop.create_task(asyncio.to_thread(self._archive_quietly, session_id))
        self._archive_tasks.add(task)
        task.add_done_callback(self._archive_tasks.discard)

    def _archive_quietly(self, session_id: int) -> None:
        try:
            self.archive_session(session_id)
        except Exception:
            log.exception("archiving the recording of session %s failed; the purge job retries", session_id)

    def archive_session(self, session_id: int) -> list[str]:
        """Put one session's recording and index into ``p.storage``; idempotent."""
        p = self.p
        with p.db.session() as s:
            ss = s.get(StreamSession, session_id)
            if ss is None:
                return []
            room = s.get(Room, ss.room_id)
            owner = room.owner_id if room else None
            room_id = ss.room_id
            recorded_at = ss.ended_at or p.clock.now()
            have = set(s.scalars(select(StoredObject.kind).where(StoredObject.session_id == session_id)).all())
        name = f"s{session_id}"
        stored: list[str] = []
        for kind, local in (("recording", self.media_root / "recordings" / room_id / f"{name}.flv"),
                            ("recording_index", self.media_root / "recordings" / room_id / f"{name}.json")):
            if kind in have or not local.is_file():
                continue
            key = f"media/recordings/{room_id}/{local.name}"
            digest = sha256_file(local)
            info = self.storage.put_file(key, local)
            with p.db.session() as s:
                s.add(StoredObject(key=key, kind=kind, backend=self.storage.backend, size=info.size, sha256=digest,
                                   room_id=room_id, account_id=owner, session_id=session_id,
                                   recorded_at=recorded_at, stored_at=p.clock.now()))
            if self.storage.local_path(key) is None:
                local.unlink(missing_ok=True)  # uploaded and size-checked: the bucket holds it now
            stored.append(key)
        return stored

    def archive_pending(self) -> int:
        """Archive ended sessions of this node whose recordings are not in storage yet."""
        with self.p.db.session() as s:
            archived = select(StoredObject.session_id).where(StoredObject.kind == "recording",
                                                             StoredObject.session_id.is_not(None))
            ids = s.scalars(select(StreamSession.id).where(
                StreamSession.ended_at.is_not(None), StreamSession.node == self.p.settings.node_name,
                StreamSession.id.not_in(archived))).all()
        return sum(len(self.archive_session(i)) for i in ids)

    # -- inspections --------------------------------------------------------------------------
    def export_inspection(self, *, scope_type: str, scope_id: str | int, start: dt.datetime, end: dt.datetime,
                          requester: str, legal_basis: str, actor: str, out_dir: Path | None = None) -> ExportResult:
        self.collect_peer_kinds()
        if out_dir is None:
            stamp = self.p.clock.now().strftime("%Y%m%dT%H%M%S")
            out_dir = self.exports_dir / f"{stamp}-{scope_type}-{scope_id}"
        result = self.exporter.build(scope_type=scope_type, scope_id=str(scope_id), start=start, end=end,
                                     out_dir=out_dir, requester=requester, legal_basis=legal_basis, actor=actor)
        if bundles.shared(self.storage):  # any node can then serve it, not only this one
            bundles.store(self.storage, result.export_id, result.directory)
        return result

    def verify_bundle(self, directory: Path) -> Any:
        return verify_bundle(directory)

    # -- audit head ---------------------------------------------------------------------------
    def write_audit_head(self, *, actor: str = "system:retention") -> dict[str, Any]:
        """Write today's signed chain head into storage (``audit-heads/YYYY-MM-DD.json``)."""
        p = self.p
        now = p.clock.now()
        day = now.date().isoformat()
        with p.db.session() as s:
            head = current_head(s)
        doc = signed_head(head, day=day, written_at=now.isoformat(), node=p.settings.node_name, key=self.key)
        key = f"audit-heads/{day}.json"
        data = canonical_json(doc) + b"\n"
        info = self.storage.put_bytes(key, data)
        with p.db.session() as s:
            s.add(AuditHead(day=day, seq=head["seq"], entry_hash=head["hash"], verified=bool(head["verified"]),
                            key=key, written_at=now))
            existing = s.scalar(select(StoredObject).where(StoredObject.key == key))
            if existing is None:
                s.add(StoredObject(key=key, kind="audit_head", backend=self.storage.backend, size=info.size,
                                   room_id=None, account_id=None, session_id=None, recorded_at=now, stored_at=now))
            else:
                existing.size = info.size
                existing.stored_at = now
            p.audit.record(s, actor=actor, action="retention.audit_head", target="audit",
                           details={"day": day, "seq": head["seq"], "hash": head["hash"], "key": key,
                                    "verified": head["verified"]})
        return doc

    async def _head_job(self) -> str:
        doc = await asyncio.to_thread(self.write_audit_head)
        return f"head {doc['seq']} written"

    def verify_head(self, data: bytes) -> HeadCheck:
        with self.p.db.session() as s:
            return verify_against(s, data, platform_key=self.key)

    # -- storage page -------------------------------------------------------------------------
    def usage(self) -> StorageUsage:
        with self.p.db.session() as s:
            return storage_usage(s, self.storage, today=self.p.clock.now().date(), data_dir=self.p.settings.data_dir,
                                 projection_days=self.days("recordings"))
