"""The interaction flow of one node: the comment gate, room modes, moderation, records and
fan-out, and the room managers' actions (Articles 7, 9, 11, 12, 16 of the Measures).

A comment goes: gate (signed in, phone verified, agreements, not muted, not sanctioned, room
not cut off, length) -> rate limits (per account and room, per room, slow mode; counted in
Redis across nodes) -> lexicon (+ optional classifier) -> pre-moderation -> stored with its
decision, account, IP and client -> acknowledged -> fanned out. Nothing is acknowledged
before it is durable (Art. 16).

Storing is a group commit: the comments that arrive while a transaction is being written
wait for the next one and go in together (the rest of the gate is read for all of them in one
query each, the rows are inserted in one statement), and every one of them is acknowledged
after that transaction committed. A batch that fails is retried one comment per transaction,
so one bad comment never costs the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from livegate.chat.classifier import ClassifierHook, ClassifierOutcome, HttpClassifier, consult
from livegate.chat.hub import RoomHub
from livegate.chat.lexicon import Action, Lexicon, ModerationDecision, Moderator, ModeratorSlot
from livegate.chat.models import ChatMessage, ChatMute, ChatRoomMode, ChatSwitch, LexiconVersion
from livegate.core.errors import Conflict, LivegateError, NotFound, ValidationFailed
from livegate.core.models import Account
from livegate.core.permissions import Permission, Role
from livegate.core.ratelimit import RateLimiterUnavailable, RateRule
from livegate.identity.accounts import Principal
from livegate.media.models import Room
from livegate.media.rooms import Refusal

if TYPE_CHECKING:
    from livegate.app import Platform

log = logging.getLogger(__name__)
_T = TypeVar("_T")

LEXICON_CHANNEL = "chat.lexicon"
SWITCH_PREMODERATION = "premoderation"
SWITCH_BLOCKED_OUTCOME = "blocked_outcome"
BLOCKED_OUTCOMES = ("refuse", "self_only")
CLASSIFIER_TIMEOUT = float(os.environ.get("LIVEGATE_CHAT_CLASSIFIER_TIMEOUT_MS", "300")) / 1000
RECENT = 50
#: How long a node trusts what it read about a room (cut-off, modes) and about an account that
#: passed the identity gate (phone verified, agreements current, active). Mutes and sanctions
#: are read for every comment, in the transaction that stores it; a mode switched on this node
#: applies at once, on others within ROOM_CACHE_SECONDS.
ROOM_CACHE_SECONDS = 1.0
ACCOUNT_CACHE_SECONDS = 10.0
#: The most comments stored in one transaction (group commit).
MAX_COMMIT_BATCH = 256


class ChatError(LivegateError):
    """A chat operation could not be done."""

    code = "chat_error"


class ChatStopping(ChatError):
    """This node is stopping; the comment was not stored. Send it again."""

    code = "chat.stopping"
    http_status = 503


class MessageNotHeld(Conflict):
    """Only a held comment can be approved or rejected."""

    code = "chat.not_held"


@dataclass(frozen=True)
class Sender:
    """Who sends a comment, from where (kept with the record for the logs, Art. 16)."""

    principal: Principal | None
    ip: str = ""
    client: str = ""

    @property
    def account_id(self) -> int | None:
        return self.principal.account_id if self.principal else None


@dataclass(frozen=True)
class RoomModes:
    premoderated: bool
    slow_seconds: int
    why: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"premoderated": self.premoderated, "slow_seconds": self.slow_seconds, "why": list(self.why)}


@dataclass
class CommentResult:
    """What the sender is told. ``status``: published | held | self_only | blocked | refused."""

    status: str
    ref: str = ""
    message_id: int | None = None
    rule: str = ""
    article: str = ""
    reason: str = ""
    retry_after: float | None = None
    comment: dict[str, Any] | None = None
    decision: dict[str, Any] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.status in ("published", "held", "self_only")

    def frame(self) -> dict[str, Any]:
        if self.accepted:
            out: dict[str, Any] = {"type": "ack", "ref": self.ref, "id": self.message_id, "status": self.status}
            if self.reason:
                out["reason"] = self.reason
            if self.comment is not None:
                out["comment"] = self.comment
            return out
        out = {"type": "refused", "ref": self.ref, "status": self.status, "code": self.rule,
               "article": self.article, "message": self.reason}
        if self.message_id is not None:
            out["id"] = self.message_id
        if self.retry_after is not None:
            out["retry_after"] = round(self.retry_after, 3)
        return out


@dataclass
class _StoreJob:
    """One comment waiting for the group commit, with everything decided before the database."""

    room_id: str
    state: tuple[bool, RoomModes]
    sender: Sender
    text: str
    ref: str
    position: str
    color: str
    decision: ModerationDecision | None
    outcome: ClassifierOutcome
    too_long: Refusal | None
    future: asyncio.Future[_Stored] | None = None


#: What storing a comment gives: the sender's result, the viewers' frame, the held queue's view.
_Stored = tuple[CommentResult, dict[str, Any] | None, dict[str, Any] | None]


@dataclass(frozen=True)
class _GateReads:
    """The parts of the gate read for a whole batch at once: active mutes (room, account) ->
    until, and the accounts a sanction stops from commenting."""

    mutes: dict[tuple[str, int], dt.datetime]
    restrictions: dict[int, Refusal]


@dataclass(frozen=True)
class _Admission:
    refusal: Refusal | None
    nickname: str = ""
    modes: RoomModes = RoomModes(False, 0)
    moderator: bool = False
    max_length: int = 200


def comment_view(m: ChatMessage) -> dict[str, Any]:
    """A comment as viewers see it."""
    return {"id": m.id, "room": m.room_id, "text": m.shown, "nickname": m.nickname, "account": m.account_id,
            "position": m.position, "color": m.color, "at": m.created_at.isoformat()}


def record_view(m: ChatMessage) -> dict[str, Any]:
    """A comment as its room's managers and staff see it: with the decision and status."""
    return {**comment_view(m), "body": m.body, "status": m.status, "reason": m.reason, "flagged": m.flagged,
            "decision": m.decision, "reviewed_by": m.reviewed_by, "removed_by": m.removed_by}


class ChatModule:
    """``p.chat``: comments, room modes, moderation and the lexicon of this node."""

    def __init__(self, platform: Platform) -> None:
        self.p = platform
        self._slot: ModeratorSlot | None = None
        self._lexicon_id = 0
        self._tasks: list[asyncio.Task[Any]] = []
        self._start_lock: asyncio.Lock | None = None
        self.classifier: ClassifierHook | None = None
        self.classifier_timeout = CLASSIFIER_TIMEOUT
        url = os.environ.get("LIVEGATE_CHAT_CLASSIFIER_URL", "")
        if url:
            self.classifier = HttpClassifier(url)
        self.lexicon_listeners: list[Callable[[str], None]] = []
        self._room_cache: dict[str, tuple[float, bool, RoomModes]] = {}
        self._db_executor: ThreadPoolExecutor | None = None
        self._store_queue: list[_StoreJob] = []
        self._storing = False  # a group commit is being written
        self._account_cache: dict[int, tuple[float, str]] = {}
        from prometheus_client import Counter

        self.comments_total = Counter("livegate_chat_comments_total", "Comments received, by outcome", ["status"],
                                      registry=platform.metrics.registry)

    # -- lifecycle -----------------------------------------------------------------------
    @property
    def hub(self) -> RoomHub:
        return self.p.media.hub  # type: ignore[no-any-return]

    @property
    def slot(self) -> ModeratorSlot:
        if self._slot is None:
            self._slot = ModeratorSlot(Moderator.default())
        return self._slot

    @property
    def lexicon_version(self) -> str:
        return self.slot.current.version

    async def start(self) -> None:
        """Load the newest lexicon and follow changes (broker at once, database poll as backstop).

        Idempotent; the gateway calls it on first use, so a node that never serves chat costs nothing."""
        if self._tasks and not any(t.done() for t in self._tasks):
            return
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._tasks and not any(t.done() for t in self._tasks):
                return
            for t in self._tasks:
                t.cancel()
            self._tasks = []
            await asyncio.to_thread(self.sync_lexicon)
            ready = asyncio.Event()
            tasks = [asyncio.create_task(self._listen_lexicon(ready), name="chat-lexicon-listen"),
                     asyncio.create_task(self._poll_lexicon(), name="chat-lexicon-poll")]
            self._tasks = tasks
            # The platform cancels these when it stops.
            self.p._tasks.extend(tasks)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ready.wait(), 10)

    async def stop(self) -> None:
        if self._db_executor is not None:
            self._db_executor.shutdown(wait=False)
            self._db_executor = None
        queued, self._store_queue = self._store_queue, []
        for job in queued:
            if job.future is not None and not job.future.done():
                job.future.set_exception(ChatStopping())
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks = []

    # -- lexicon -------------------------------------------------------------------------
    def sync_lexicon(self) -> bool:
        """Install the newest stored lexicon if this node has not; True if it changed here."""
        with self.p.db.session() as s:
            row = s.scalars(select(LexiconVersion).order_by(LexiconVersion.id.desc()).limit(1)).first()
            if row is None or row.id == self._lexicon_id:
                if self._slot is None:
                    self._slot = ModeratorSlot(Moderator.default())
                return False
            row_id, text, source = row.id, row.text, row.source
        lexicon = Lexicon.from_tsv(text, source=source)
        if self._slot is None:
            self._slot = ModeratorSlot(Moderator(lexicon, Moderator.default().allow_list))
        else:
            self._slot.reload(lexicon)
        self._lexicon_id = row_id
        log.info("lexicon %d (%s, %d terms) in service", row_id, lexicon.version, len(lexicon))
        for listener in list(self.lexicon_listeners):
            listener(self.slot.current.version)
        return True

    def import_lexicon(self, text: str, *, source: str, actor: str, merge: bool = False) -> dict[str, Any]:
        """Validate a TSV lexicon and store it as the new version (audited); nodes adopt it live.

        With ``merge`` the rows are added to the lexicon in service instead of replacing it."""
        lexicon = Lexicon.from_tsv(text, source=source)
        if len(lexicon) == 0:
            raise ValidationFailed("the lexicon file has no entries")
        if merge:
            current = self.current_lexicon_text()
            lexicon = Lexicon([*Lexicon.from_tsv(current, source="current"), *lexicon])
        stored = "term\tcategory\tseverity\taction\n" + lexicon.to_tsv()
        with self.p.db.session() as s:
            row = LexiconVersion(version_hash=lexicon.version, source=source[:255], entries=len(lexicon),
                                 text=stored, created_at=self.p.clock.now(), created_by=actor[:128])
            s.add(row)
            s.flush()
            self.p.audit.record(s, actor=actor, action="chat.lexicon.import", target=f"lexicon:{row.id}",
                                details={"version": lexicon.version, "entries": len(lexicon), "source": source,
                                         "merge": merge})
            return {"id": row.id, "version": lexicon.version, "entries": len(lexicon)}

    def current_lexicon_text(self) -> str:
        with self.p.db.session() as s:
            row = s.scalars(select(LexiconVersion).order_by(LexiconVersion.id.desc()).limit(1)).first()
            if row is not None:
                return row.text
        return Lexicon.default().to_tsv()

    def lexicon_versions(self, s: Session, limit: int = 20) -> list[dict[str, Any]]:
        rows = s.scalars(select(LexiconVersion).order_by(LexiconVersion.id.desc()).limit(limit))
        return [{"id": r.id, "version": r.version_hash, "entries": r.entries, "source": r.source,
                 "created_at": r.created_at.isoformat(), "created_by": r.created_by} for r in rows]

    async def announce_lexicon(self) -> None:
        with contextlib.suppress(Exception):
            await self.p.broker.publish(LEXICON_CHANNEL, {"type": "lexicon"})

    async def _listen_lexicon(self, ready: asyncio.Event) -> None:
        try:
            async with self.p.broker.subscribe(LEXICON_CHANNEL) as sub:
                ready.set()
                async for _msg in sub:
                    try:
                        await asyncio.to_thread(self.sync_lexicon)
                    except Exception:
                        log.exception("lexicon reload failed")
        finally:
            ready.set()

    async def _poll_lexicon(self) -> None:
        interval = max(0.25, float(self.p.settings.control_poll_seconds) * 4)
        while True:
            await asyncio.sleep(interval)
            try:
                # a local read takes ~0.1 ms: cheaper on the loop than a thread hop each poll
                newest = (self._newest_lexicon_id() if self.p.db.reads_locally
                          else await asyncio.to_thread(self._newest_lexicon_id))
                if newest and newest != self._lexicon_id:
                    await asyncio.to_thread(self.sync_lexicon)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("lexicon poll failed")

    _NEWEST_LEXICON = select(func.max(LexiconVersion.id))  # built once: polled every few seconds

    def _newest_lexicon_id(self) -> int:
        with self.p.db.read() as conn:
            return int(conn.scalar(self._NEWEST_LEXICON) or 0)

    def moderate(self, text: str) -> ModerationDecision:
        return self.slot.moderate(text)

    # -- switches ------------------------------------------------------------------------
    def _switch(self, s: Session, name: str, default: str = "") -> str:
        row = s.get(ChatSwitch, name)
        return row.value if row is not None else default

    def _set_switch(self, s: Session, name: str, value: str, actor: str, reason: str) -> None:
        row = s.get(ChatSwitch, name)
        before = row.value if row else None
        if row is None:
            row = ChatSwitch(name=name, value=value, updated_at=self.p.clock.now(), updated_by=actor[:128])
            s.add(row)
        else:
            row.value, row.updated_at, row.updated_by = value, self.p.clock.now(), actor[:128]
        self.p.audit.record(s, actor=actor, action=f"chat.switch.{name}", target="chat", reason=reason,
                            details={"before": before, "after": value})

    async def set_platform_premoderation(self, on: bool, *, actor: str, reason: str) -> None:
        """The emergency switch: every comment in every room is held for review (Art. 7, 9)."""
        def write() -> None:
            with self.p.db.session() as s:
                self._set_switch(s, SWITCH_PREMODERATION, "on" if on else "off", actor, reason)
        await asyncio.to_thread(write)
        self._room_cache.clear()

    def platform_premoderation(self, s: Session) -> bool:
        if self._switch(s, SWITCH_PREMODERATION) == "on":
            return True
        emergency = getattr(getattr(self.p, "review", None), "emergency", None)
        for attr in ("force_premoderation", "premoderation", "comment_premoderation"):
            value = getattr(emergency, attr, None)
            if isinstance(value, bool) and value:
                return True
        return False

    def blocked_outcome(self, s: Session) -> str:
        value = self._switch(s, SWITCH_BLOCKED_OUTCOME, "refuse")
        return value if value in BLOCKED_OUTCOMES else "refuse"

    def set_blocked_outcome(self, s: Session, outcome: str, *, actor: str, reason: str) -> None:
        if outcome not in BLOCKED_OUTCOMES:
            raise ValidationFailed(f"blocked_outcome must be one of {', '.join(BLOCKED_OUTCOMES)}")
        self._set_switch(s, SWITCH_BLOCKED_OUTCOME, outcome, actor, reason)

    # -- room modes ----------------------------------------------------------------------
    def modes(self, s: Session, room: Room) -> RoomModes:
        policy = self.p.policy.get()
        cat = policy.categories.get(room.category)
        mode = cat.comment_mode if cat else "open"
        why: list[str] = []
        enforcement = getattr(self.p, "enforcement", None)
        if enforcement is not None and hasattr(enforcement, "credit_level_of"):
            with contextlib.suppress(Exception):
                level = enforcement.credit_level_of(s, room.owner_id)
                mode = policy.comment_mode(room.category, level)
                if mode == "premoderated" and (cat is None or cat.comment_mode != "premoderated"):
                    why.append(f"publisher credit level {getattr(level, 'key', level)}")
        premod = mode == "premoderated"
        if premod and cat is not None and cat.comment_mode == "premoderated":
            why.append(f"category {room.category} (Art. 7)")
        slow = cat.slow_mode_seconds if (cat is not None and mode == "slow") else 0
        row = s.get(ChatRoomMode, room.id)
        if row is not None:
            if row.premoderation:
                premod = True
                why.append("room switch")
            slow = max(slow, row.slow_seconds)
        if self.platform_premoderation(s):
            premod = True
            why.append("platform emergency switch")
        return RoomModes(premod, slow, tuple(why))

    async def set_room_modes(self, room_id: str, *, actor: str, reason: str, slow_seconds: int | None = None,
                             premoderation: bool | None = None) -> RoomModes:
        if slow_seconds is not None and not 0 <= slow_seconds <= 3600:
            raise ValidationFailed("slow_seconds must be 0..3600")

        def write() -> RoomModes:
            with self.p.db.session() as s:
                room = self.p.rooms.get(s, room_id)
                row = s.get(ChatRoomMode, room_id)
                if row is None:
                    row = ChatRoomMode(room_id=room_id, slow_seconds=0, premoderation=False,
                                       updated_at=self.p.clock.now(), updated_by=actor[:128])
                    s.add(row)
                before = {"slow_seconds": row.slow_seconds, "premoderation": row.premoderation}
                if slow_seconds is not None:
                    row.slow_seconds = slow_seconds
                if premoderation is not None:
                    row.premoderation = premoderation
                row.updated_at, row.updated_by = self.p.clock.now(), actor[:128]
                s.flush()
                self.p.audit.record(s, actor=actor, action="chat.room_modes", target=f"room:{room_id}",
                                    reason=reason, details={"before": before, "after": {
                                        "slow_seconds": row.slow_seconds, "premoderation": row.premoderation}})
                return self.modes(s, room)

        modes = await asyncio.to_thread(write)
        self._room_cache.pop(room_id, None)
        await self.hub.publish(room_id, {"type": "modes", "room": room_id, **modes.to_json()})
        return modes

    # -- the gate ------------------------------------------------------------------------
    def is_moderator(self, principal: Principal | None, room_id: str) -> bool:
        return bool(principal and principal.has(Permission.COMMENTS_MODERATE, room_id))

    def _admission(self, s: Session, room: Room | None, sender: Sender) -> _Admission:
        """The whole gate, for one viewer in one room (the ``hello`` frame uses it)."""
        if room is None:
            return _Admission(Refusal("chat.no_room", "Art. 11", "there is no such room"))
        return self._admit(s, room.id, self._room_state(s, room), sender, self._gate_reads(s, [(room.id, sender)]))

    def _room_state(self, s: Session, room: Room) -> tuple[bool, RoomModes]:
        now = self.p.clock.monotonic()
        cached = self._room_cache.get(room.id)
        if cached is not None and now - cached[0] < ROOM_CACHE_SECONDS:
            return cached[1], cached[2]
        state = (room.blocked, self.modes(s, room))
        self._room_cache[room.id] = (now, *state)
        return state

    def _cached_room_state(self, room_id: str) -> tuple[bool, RoomModes] | None:
        cached = self._room_cache.get(room_id)
        if cached is not None and self.p.clock.monotonic() - cached[0] < ROOM_CACHE_SECONDS:
            return cached[1], cached[2]
        return None

    def _load_room_state(self, room_id: str) -> tuple[bool, RoomModes] | None:
        with self.p.db.session() as s:
            room = s.get(Room, room_id)
            return None if room is None else self._room_state(s, room)

    def _admit(self, s: Session, room_id: str, state: tuple[bool, RoomModes], sender: Sender,
               reads: _GateReads) -> _Admission:
        max_length = self.p.policy.get().comments.max_length
        principal = sender.principal
        if principal is None:
            return _Admission(Refusal("chat.sign_in", "Art. 12", "sign in with a verified phone number to comment"))
        blocked, modes = state
        now = self.p.clock.monotonic()
        moderator = self.is_moderator(principal, room_id)
        cached_account = self._account_cache.get(principal.account_id)
        if cached_account is not None and now - cached_account[0] < ACCOUNT_CACHE_SECONDS:
            ok = _Admission(None, cached_account[1], modes, moderator, max_length)
        else:
            account = s.get(Account, principal.account_id)
            if account is None or account.status != "active":
                return _Admission(Refusal("chat.account_closed", "Art. 14", "this account cannot comment"))
            ok = _Admission(None, account.nickname, modes, moderator, max_length)
            identity = getattr(self.p, "identity", None)
            if identity is not None and hasattr(identity, "comment_gate"):
                refusal = identity.comment_gate(s, principal.account_id)
                if refusal is not None:
                    return replace(ok, refusal=refusal)
            self._account_cache[principal.account_id] = (now, account.nickname)
            if len(self._account_cache) > 100_000:
                self._account_cache.clear()
        if blocked:
            return replace(ok, refusal=Refusal("chat.room_closed", "Art. 14",
                                               "this room was stopped by the platform; comments are closed"))
        muted_until = reads.mutes.get((room_id, principal.account_id))
        if muted_until is not None:
            until = muted_until.strftime("%Y-%m-%d %H:%M UTC")
            return replace(ok, refusal=Refusal("chat.muted", "Art. 11",
                                               f"a room manager muted you here until {until}"))
        refusal = reads.restrictions.get(principal.account_id)
        if refusal is not None:
            return replace(ok, refusal=refusal)
        return ok

    def _gate_reads(self, s: Session, senders: list[tuple[str, Sender]]) -> _GateReads:
        """Active mutes and sanctions of every (room, sender): one query each, however many."""
        accounts = {sender.account_id for _, sender in senders if sender.account_id is not None}
        if not accounts:
            return _GateReads({}, {})
        rooms = {room_id for room_id, _ in senders}
        now = self.p.clock.now()
        mutes: dict[tuple[str, int], dt.datetime] = {}
        for room_id, account_id, until in s.execute(
                select(ChatMute.room_id, ChatMute.account_id, ChatMute.until).where(
                    ChatMute.room_id.in_(rooms), ChatMute.account_id.in_(accounts), ChatMute.until > now,
                    ChatMute.lifted_at.is_(None))):
            key = (room_id, account_id)
            if key not in mutes or until > mutes[key]:
                mutes[key] = until
        restrictions: dict[int, Refusal] = {}
        enforcement = getattr(self.p, "enforcement", None)
        if enforcement is not None and hasattr(enforcement, "active_restrictions"):
            restrictions = enforcement.active_restrictions(s, accounts, "comment")
        return _GateReads(mutes, restrictions)

    def comment_permission(self, room_id: str, principal: Principal | None) -> tuple[Refusal | None, RoomModes]:
        """For the viewer page: may this viewer comment here now, and under which modes."""
        with self.p.db.session() as s:
            room = s.get(Room, room_id)
            adm = self._admission(s, room, Sender(principal))
            return adm.refusal, adm.modes

    # -- posting -------------------------------------------------------------------------
    async def post_comment(self, room_id: str, sender: Sender, text: str, *, ref: str = "",
                           position: str = "scroll", color: str = "#ffffff") -> CommentResult:
        """Run one comment through the whole flow; the result is what its sender is told.

        Cheap refusals first (signed in, not empty, rate limits and slow mode, counted before
        anything touches the database so a flood cannot reach it), then moderation and the
        classifier, then one transaction that checks the rest of the gate and stores the
        comment with its decision."""
        await self.start()
        text = text.strip()
        principal = sender.principal
        if principal is None:
            return CommentResult("refused", ref, rule="chat.sign_in", article="Art. 12",
                                 reason="sign in with a verified phone number to comment")
        if not text:
            return CommentResult("refused", ref, rule="chat.empty", article="Art. 11", reason="write something first")
        state = self._cached_room_state(room_id) or await self._in_db_thread(self._load_room_state, room_id)
        if state is None:
            return CommentResult("refused", ref, rule="chat.no_room", article="Art. 11", reason="there is no such room")
        limited = await self._rate_limits(room_id, sender, state[1], self.is_moderator(principal, room_id))
        if limited is not None:
            limited.ref = ref
            return limited
        max_length = self.p.policy.get().comments.max_length
        too_long = None
        decision: ModerationDecision | None = None
        outcome = ClassifierOutcome(None)
        if len(text) > max_length:
            too_long = Refusal("chat.too_long", "Art. 11",
                               f"comments are limited to {max_length} characters (this one has {len(text)})")
        else:
            try:
                decision = self.moderate(text)
            except LivegateError as exc:  # over the matcher's own length limit
                too_long = Refusal("chat.too_long", "Art. 11", exc.message)
            else:
                outcome = await consult(self.classifier, text, room_id=room_id, account_id=sender.account_id,
                                        timeout=self.classifier_timeout)
        result, frame, held_view = await self._store(
            _StoreJob(room_id, state, sender, text, ref, position, color, decision, outcome, too_long))
        self.comments_total.labels(result.status).inc()
        if frame is not None:
            await self.hub.publish(room_id, {"type": "comment", **frame})
        if held_view is not None:
            await self.hub.publish(room_id, {"type": "held", "message": held_view, "_to": "moderators"})
        return result

    async def _in_db_thread(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Run a comment's database work on the chat's own threads: one on SQLite (writers
        queue here instead of sleeping in SQLite's busy handler), a few on PostgreSQL."""
        return await asyncio.get_running_loop().run_in_executor(self._executor(), functools.partial(fn, *args))

    def _executor(self) -> ThreadPoolExecutor:
        if self._db_executor is None:
            workers = 1 if self.p.db.dialect == "sqlite" else 4
            self._db_executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="chat-db")
        return self._db_executor

    async def _rate_limits(self, room_id: str, sender: Sender, modes: RoomModes,
                           moderator: bool) -> CommentResult | None:
        comments = self.p.policy.get().comments
        account = str(sender.account_id)
        checks: list[tuple[RateRule, tuple[str, ...], str, str]] = []
        if modes.slow_seconds > 0 and not moderator:
            n = modes.slow_seconds
            checks.append((RateRule(f"comments.slow.{n}", 1, 1 / n), (room_id, account), "chat.slow_mode",
                           f"slow mode: one comment every {n} s in this room"))
        checks.append((comments.per_account_per_room_rule(), (account, room_id), "chat.rate_limited",
                       "you are commenting too fast; wait a moment"))
        checks.append((comments.per_room_rule(), (room_id,), "chat.room_busy",
                       "this room receives too many comments right now; try again shortly"))
        for rule, key, code, message in checks:
            try:
                decision = await self.p.ratelimit.hit(rule, key)
            except RateLimiterUnavailable:
                return CommentResult("refused", rule="chat.unavailable", article="Art. 11",
                                     reason="comments are unavailable for a moment; try again")
            if not decision.allowed:
                return CommentResult("refused", rule=code, article="Art. 11", reason=message,
                                     retry_after=decision.retry_after)
        return None

    async def _store(self, job: _StoreJob) -> _Stored:
        """Store one comment in the next group commit; its result once that has committed."""
        job.future = asyncio.get_running_loop().create_future()
        self._store_queue.append(job)
        self._next_commit()
        return await job.future

    def _next_commit(self) -> None:
        """Start a group commit with what is queued, unless one is being written (its end
        starts the next). One at a time, on every database: the comments of a node are
        stored, acknowledged and fanned out in the order they arrived."""
        if not self._store_queue or self._storing:
            return
        batch = self._store_queue[:MAX_COMMIT_BATCH]
        del self._store_queue[:MAX_COMMIT_BATCH]
        self._storing = True
        done = asyncio.get_running_loop().run_in_executor(self._executor(), self._store_batch, batch)
        done.add_done_callback(functools.partial(self._committed, batch))

    def _committed(self, batch: list[_StoreJob], done: asyncio.Future[list[_Stored | BaseException]]) -> None:
        self._storing = False
        try:
            outcomes: list[_Stored | BaseException] = done.result()
        except BaseException as exc:  # the executor itself failed (shut down while stopping)
            outcomes = [exc] * len(batch)
        for job, out in zip(batch, outcomes, strict=True):
            assert job.future is not None
            if job.future.done():
                continue
            if isinstance(out, BaseException):
                job.future.set_exception(out)
            else:
                job.future.set_result(out)
        if self._db_executor is not None:
            self._next_commit()

    def _store_batch(self, batch: list[_StoreJob]) -> list[_Stored | BaseException]:
        """One transaction for the whole batch; if it fails, one per comment."""
        try:
            with self.p.db.session() as s:
                return list(self._admit_and_store(s, batch))
        except Exception as exc:
            if len(batch) == 1:
                return [exc]
            log.warning("a group commit of %d comments failed (%s); storing them one by one", len(batch), exc)
        outcomes: list[_Stored | BaseException] = []
        for job in batch:
            try:
                with self.p.db.session() as s:
                    outcomes.extend(self._admit_and_store(s, [job]))
            except Exception as exc:
                outcomes.append(exc)
        return outcomes

    def _admit_and_store(self, s: Session, jobs: list[_StoreJob]) -> list[_Stored]:
        """Check the rest of the gate, decide and insert every comment of ``jobs`` (one flush)."""
        reads = self._gate_reads(s, [(job.room_id, job.sender) for job in jobs])
        staged: list[tuple[ChatMessage, Callable[[ChatMessage], _Stored]]] = []
        for job in jobs:
            adm = self._admit(s, job.room_id, job.state, job.sender, reads)
            refusal = adm.refusal or job.too_long
            if refusal is not None or job.decision is None:
                assert refusal is not None
                row = self._row(job, adm.nickname, job.text[:10_000], job.text[:10_000], "refused", refusal.message,
                                {"gate": {"rule": refusal.rule, "article": refusal.article}}, flagged=False)
                staged.append((row, functools.partial(_refused, job.ref, refusal)))
            else:
                staged.append(self._decide(s, job, adm, job.decision))
        s.add_all([row for row, _ in staged])
        s.flush()
        return [finish(row) for row, finish in staged]

    def _decide(self, s: Session, job: _StoreJob, adm: _Admission, decision: ModerationDecision,
                ) -> tuple[ChatMessage, Callable[[ChatMessage], _Stored]]:
        """The comment's row (not yet inserted) and what to make of it once it has its id."""
        outcome, text, ref = job.outcome, job.text, job.ref
        action = decision.action
        explanation: dict[str, Any] = {"lexicon": decision.to_json_dict(), "modes": adm.modes.to_json()}
        category = decision.category.value if decision.category else None
        reason_category = category
        if outcome.fallback:
            explanation["classifier"] = {"fallback": outcome.fallback}
        verdict = outcome.verdict
        if verdict is not None:
            explanation["classifier"] = {"provider": verdict.provider, "action": verdict.action.value,
                                         "category": verdict.category, "reason": verdict.reason,
                                         **verdict.details}
            if verdict.action.rank > action.rank:
                action = verdict.action
                reason_category = verdict.category or reason_category
        shown = text
        if action is Action.MASK:
            shown = decision.masked_text if decision.action is Action.MASK and decision.masked_text else "*" * len(text)
        status, reason = "published", ""
        if action is Action.BLOCK:
            outcome_mode = self.blocked_outcome(s)
            status = "self_only" if outcome_mode == "self_only" else "blocked"
            reason = _blocked_reason(reason_category)
        elif action is Action.HOLD:
            status, reason = "held", "your comment will appear once a reviewer approves it"
        elif adm.modes.premoderated:
            status, reason = "held", "comments in this room are reviewed before they appear (pre-moderation)"
        explanation["status"] = status
        row = self._row(job, adm.nickname, text, shown, status, reason, explanation, flagged=action is Action.FLAG)

        def finish(row: ChatMessage) -> _Stored:
            if action is not Action.PASS:
                self._signal(s, row, decision, action)
            view = comment_view(row)
            if status == "published":
                return CommentResult("published", ref, row.id, comment=None, decision=explanation), view, None
            if status == "held":
                return (CommentResult("held", ref, row.id, rule="chat.held", article="Art. 7, 11", reason=reason),
                        None, record_view(row))
            if status == "self_only":
                return (CommentResult("self_only", ref, row.id, rule="moderation.blocked", article="Art. 9",
                                      reason=reason, comment={**view, "self_only": True}), None, None)
            return (CommentResult("blocked", ref, row.id, rule="moderation.blocked", article="Art. 9",
                                  reason=reason), None, None)

        return row, finish

    def _row(self, job: _StoreJob, nickname: str, body: str, shown: str, status: str, reason: str,
             decision: dict[str, Any], *, flagged: bool) -> ChatMessage:
        sender = job.sender
        return ChatMessage(room_id=job.room_id, account_id=sender.account_id, nickname=nickname[:64], body=body,
                           shown=shown, position=job.position, color=job.color, status=status, reason=reason,
                           decision=decision, flagged=flagged, ip=sender.ip[:64], client=sender.client[:255],
                           client_ref=job.ref[:64], node=self.p.settings.node_name[:64],
                           created_at=self.p.clock.now(), reviewed_by="", removed_by="", removal_reason="")

    def _signal(self, s: Session, row: ChatMessage, decision: ModerationDecision, action: Action) -> None:
        review = getattr(self.p, "review", None)
        if review is None or not hasattr(review, "add_signal"):
            return
        try:
            with s.begin_nested():
                review.add_signal(s, kind="chat.lexicon", target_type="message", target_id=str(row.id),
                                  score=min(1.0, max(decision.severity, 1) / 5),
                                  evidence={"action": action.value, "text": row.body[:500],
                                            "decision": row.decision},
                                  room_id=row.room_id, account_id=row.account_id)
        except Exception:
            log.exception("review signal for message %s failed", row.id)

    # -- managing ------------------------------------------------------------------------
    def _message(self, s: Session, message_id: int, room_id: str | None = None) -> ChatMessage:
        m = s.get(ChatMessage, message_id)
        if m is None or (room_id is not None and m.room_id != room_id):
            raise NotFound("no such comment")
        return m

    async def remove_message(self, message_id: int, *, actor: str, reason: str,
                             room_id: str | None = None) -> dict[str, Any]:
        """Remove a comment for every viewer on every node at once (audited)."""
        def write() -> tuple[str, bool]:
            with self.p.db.session() as s:
                m = self._message(s, message_id, room_id)
                if m.status == "removed":
                    return m.room_id, False
                before = m.status
                m.status, m.removed_at, m.removed_by, m.removal_reason = (
                    "removed", self.p.clock.now(), actor[:128], reason)
                self.p.audit.record(s, actor=actor, action="chat.remove", target=f"message:{m.id}", reason=reason,
                                    details={"room": m.room_id, "account": m.account_id, "before": before})
                return m.room_id, True

        room, changed = await asyncio.to_thread(write)
        await self.hub.publish(room, {"type": "removed", "room": room, "ids": [message_id]})
        return {"id": message_id, "room": room, "removed": True, "changed": changed}

    async def remove_account_messages(self, account_id: int, *, actor: str, reason: str,
                                      room_id: str | None = None) -> int:
        """Remove every visible comment of an account (in one room, or everywhere); returns how many."""
        def write() -> dict[str, list[int]]:
            with self.p.db.session() as s:
                q = select(ChatMessage).where(ChatMessage.account_id == account_id,
                                              ChatMessage.status.in_(("published", "held", "self_only")))
                if room_id is not None:
                    q = q.where(ChatMessage.room_id == room_id)
                by_room: dict[str, list[int]] = {}
                now = self.p.clock.now()
                for m in s.scalars(q):
                    m.status, m.removed_at, m.removed_by, m.removal_reason = "removed", now, actor[:128], reason
                    by_room.setdefault(m.room_id, []).append(m.id)
                self.p.audit.record(s, actor=actor, action="chat.remove_account", target=f"account:{account_id}",
                                    reason=reason, details={"room": room_id,
                                                            "count": sum(len(v) for v in by_room.values())})
                return by_room

        by_room = await asyncio.to_thread(write)
        for room, ids in by_room.items():
            await self.hub.publish(room, {"type": "removed", "room": room, "ids": ids})
        return sum(len(v) for v in by_room.values())

    async def review_held(self, room_id: str, message_id: int, *, approve: bool, actor: str,
                          reason: str = "") -> dict[str, Any]:
        """Approve (publish now) or reject (never shown) a held comment."""
        def write() -> tuple[dict[str, Any], dict[str, Any]]:
            with self.p.db.session() as s:
                m = self._message(s, message_id, room_id)
                if m.status != "held":
                    raise MessageNotHeld(f"this comment is {m.status}, not held")
                m.status = "published" if approve else "rejected"
                m.reviewed_at, m.reviewed_by = self.p.clock.now(), actor[:128]
                self.p.audit.record(s, actor=actor, action="chat.approve" if approve else "chat.reject",
                                    target=f"message:{m.id}", reason=reason,
                                    details={"room": m.room_id, "account": m.account_id})
                return comment_view(m), record_view(m)

        view, record = await asyncio.to_thread(write)
        if approve:
            await self.hub.publish(room_id, {"type": "comment", **view})
        await self.hub.publish(room_id, {"type": "reviewed", "message": record, "_to": "moderators"})
        return record

    async def mute(self, room_id: str, account_id: int, *, minutes: int, actor: str, reason: str) -> dict[str, Any]:
        if not 1 <= minutes <= 60 * 24 * 30:
            raise ValidationFailed("a mute lasts 1 minute to 30 days")

        def write() -> dict[str, Any]:
            with self.p.db.session() as s:
                self.p.rooms.get(s, room_id)
                if s.get(Account, account_id) is None:
                    raise NotFound("no such account")
                now = self.p.clock.now()
                row = ChatMute(room_id=room_id, account_id=account_id, until=now + dt.timedelta(minutes=minutes),
                               reason=reason, created_at=now, created_by=actor[:128], lifted_by="")
                s.add(row)
                s.flush()
                self.p.audit.record(s, actor=actor, action="chat.mute", target=f"account:{account_id}",
                                    reason=reason, details={"room": room_id, "minutes": minutes})
                return {"id": row.id, "room": room_id, "account": account_id, "until": row.until.isoformat()}

        out = await asyncio.to_thread(write)
        await self.hub.publish(room_id, {"type": "notice", "room": room_id, "code": "muted",
                                         "text": f"a room manager muted you until {out['until']}",
                                         "_to_account": account_id})
        return out

    async def unmute(self, room_id: str, account_id: int, *, actor: str, reason: str) -> int:
        def write() -> int:
            with self.p.db.session() as s:
                now = self.p.clock.now()
                n = s.execute(update(ChatMute).where(
                    ChatMute.room_id == room_id, ChatMute.account_id == account_id, ChatMute.lifted_at.is_(None),
                    ChatMute.until > now).values(lifted_at=now, lifted_by=actor[:128])).rowcount  # type: ignore[attr-defined]
                self.p.audit.record(s, actor=actor, action="chat.unmute", target=f"account:{account_id}",
                                    reason=reason, details={"room": room_id, "lifted": n})
                return int(n or 0)
        return await asyncio.to_thread(write)

    # -- room managers (Art. 11) ---------------------------------------------------------
    def managers(self, s: Session, room_id: str) -> list[dict[str, Any]]:
        from livegate.core.models import RoleGrant

        rows = s.execute(select(Account.id, Account.username, Account.nickname, RoleGrant.granted_at,
                                RoleGrant.granted_by).join(RoleGrant, RoleGrant.account_id == Account.id)
                         .where(RoleGrant.role == Role.ROOM_MANAGER.value, RoleGrant.scope == room_id)
                         .order_by(Account.nickname)).all()
        return [{"account": a, "username": u, "nickname": n, "granted_at": g.isoformat(), "granted_by": b}
                for a, u, n, g, b in rows]

    def _own_room(self, s: Session, room_id: str, principal: Principal) -> Room:
        room = self.p.rooms.get(s, room_id)
        if room.owner_id != principal.account_id and not principal.has(Permission.USERS_MANAGE):
            from livegate.core.errors import PermissionDenied

            raise PermissionDenied("only the room's publisher appoints its managers")
        return room

    def appoint_manager(self, s: Session, room_id: str, username: str, *, principal: Principal) -> dict[str, Any]:
        self._own_room(s, room_id, principal)
        account = self.p.accounts.by_username(s, username)
        if account is None:
            account = s.scalars(select(Account).where(Account.nickname == username)).first()
        if account is None or account.status != "active":
            raise NotFound(f"no active account named {username!r}")
        self.p.accounts.grant(s, account, Role.ROOM_MANAGER, room_id, principal.actor)
        return {"account": account.id, "username": account.username, "nickname": account.nickname}

    def remove_manager(self, s: Session, room_id: str, account_id: int, *, principal: Principal) -> bool:
        self._own_room(s, room_id, principal)
        account = s.get(Account, account_id)
        if account is None:
            raise NotFound("no such account")
        return bool(self.p.accounts.revoke(s, account, Role.ROOM_MANAGER, room_id, principal.actor))

    # -- reading -------------------------------------------------------------------------
    def recent(self, s: Session, room_id: str, limit: int = RECENT) -> list[dict[str, Any]]:
        rows = s.scalars(select(ChatMessage).where(ChatMessage.room_id == room_id,
                                                   ChatMessage.status == "published")
                         .order_by(ChatMessage.id.desc()).limit(limit))
        return [comment_view(m) for m in reversed(list(rows))]

    def records(self, s: Session, room_id: str, *, status: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        q = select(ChatMessage).where(ChatMessage.room_id == room_id)
        if status:
            q = q.where(ChatMessage.status == status)
        rows = s.scalars(q.order_by(ChatMessage.id.desc()).limit(limit))
        return [record_view(m) for m in rows]

    def message_context(self, s: Session, message_id: int, before: int = 5, after: int = 5) -> list[dict[str, Any]]:
        """The comment and its neighbours in the room, oldest first, for reviewers and complaints."""
        m = self._message(s, message_id)
        older = list(s.scalars(select(ChatMessage).where(ChatMessage.room_id == m.room_id, ChatMessage.id < m.id)
                               .order_by(ChatMessage.id.desc()).limit(before)))
        newer = list(s.scalars(select(ChatMessage).where(ChatMessage.room_id == m.room_id, ChatMessage.id > m.id)
                               .order_by(ChatMessage.id).limit(after)))
        return [{**record_view(x), "ip": x.ip, "client": x.client, "focus": x.id == m.id}
                for x in [*reversed(older), m, *newer]]


def _refused(ref: str, refusal: Refusal, row: ChatMessage) -> _Stored:
    return CommentResult("refused", ref, row.id, refusal.rule, refusal.article, refusal.message), None, None


def _blocked_reason(category: str | None) -> str:
    label = ""
    if category:
        from livegate.chat.lexicon import Category

        with contextlib.suppress(ValueError):
            cat = Category(category)
            label = f" ({cat.label_zh}; {cat.provision})"
    return f"your comment was not published: it breaks the platform's rules on prohibited content{label}"
