"""The platform object (every service, wired once) and the FastAPI app factory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from livegate import __version__
from livegate.chat.service import ChatModule
from livegate.config import Settings
from livegate.core import migrate
from livegate.core.audit import AuditLog
from livegate.core.broker import Broker, make_broker
from livegate.core.clock import Clock, SystemClock
from livegate.core.db import Database
from livegate.core.metrics import Metrics
from livegate.core.models import Account, PolicyVersion
from livegate.core.permissions import Role
from livegate.core.policy import Policy, PolicyHolder, load_default_policy, load_policy, parse_policy
from livegate.core.ratelimit import MemoryCounter, RateLimiter, RedisCounter
from livegate.core.scheduler import Scheduler
from livegate.core.secretbox import SecretBox
from livegate.enforcement.service import EnforcementModule
from livegate.identity.accounts import AccountService, generate_password
from livegate.identity.service import IdentityModule
from livegate.media.rooms import PublishGate, RoomService

log = logging.getLogger(__name__)
WEB_DIR = Path(__file__).resolve().parent / "web"


class Platform:
    """Every service of one node, built from settings. Nothing here is module-level state."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None, start_rtmp: bool = True) -> None:
        self.settings = settings
        settings.ensure_data_dir()
        self.clock: Clock = clock or SystemClock()
        self.db = Database(settings.effective_database_url)
        self.audit = AuditLog(self.clock)
        self.accounts = AccountService(
            self.audit, self.clock, max_failures=settings.login_max_failures,
            lockout_minutes=settings.login_lockout_minutes, session_hours=settings.session_hours,
        )
        secret = settings.resolved_secret_key()
        self.rooms = RoomService(self.audit, self.clock, SecretBox(secret, "stream-keys"))
        self.gate = PublishGate()
        self.policy = PolicyHolder(self._initial_policy())
        redis = settings.broker_url.startswith(("redis://", "rediss://", "unix://"))
        self.broker: Broker = (
            make_broker(settings.broker_url, namespace=settings.redis_namespace, node_name=settings.node_name)
            if redis else make_broker(settings.broker_url)
        )
        counter = (RedisCounter(settings.broker_url, prefix=f"{settings.redis_namespace}rl:") if redis
                   else MemoryCounter())
        self.ratelimit = RateLimiter(counter, self.clock)
        self.scheduler = Scheduler(self.db, self.clock, settings.node_name)
        self.metrics = Metrics()
        self.identity = IdentityModule(self)
        self.chat = ChatModule(self)
        self.enforcement = EnforcementModule(self)
        self.start_rtmp = start_rtmp
        self.media: Any = None  # the media service, attached by livegate.media.service
        self._tasks: list[asyncio.Task[Any]] = []
        self._started = False
        self.ready = threading.Event()  # set once start() has finished: for tests and the demo
        from livegate.media.service import MediaService

        self.media = MediaService(self)
        from livegate.retention.service import RetentionModule  # after media: archives ended recordings

        self.retention = RetentionModule(self)  # also sets self.storage
        from livegate.complaints.service import ComplaintsModule  # after media: it taps sampled frames

        self.complaints = ComplaintsModule(self)
        from livegate.review.service import ReviewModule  # after media: it taps frames and adds gate checks

        self.review = ReviewModule(self)

    # Policy ---------------------------------------------------------------------------
    def _initial_policy(self) -> Policy:
        if self.settings.policy_file:
            return load_policy(self.settings.policy_file)
        return load_default_policy()

    def sync_policy_from_db(self) -> bool:
        """Adopt the newest policy applied on any node; True if it changed here."""
        with self.db.session() as s:
            row = s.scalars(select(PolicyVersion).order_by(PolicyVersion.id.desc()).limit(1)).first()
        if row is None or row.version_hash == self.policy.version:
            return False
        self.policy.swap(parse_policy(row.text, source=row.source))
        log.info("policy %s adopted from the database", row.version_hash[:12])
        return True

    def apply_policy(self, text: str, *, source: str, actor: str) -> Policy:
        """Validate and swap in a policy everywhere, audited. An invalid text changes nothing."""
        policy = parse_policy(text, source=source)
        holder = PolicyHolder(policy)
        with self.db.session() as s:
            s.add(PolicyVersion(version_hash=holder.version, source=source[:255], text=text,
                                applied_at=self.clock.now(), applied_by=actor))
            self.audit.record(s, actor=actor, action="policy.reload", target="policy",
                              details={"version": holder.version, "source": source,
                                       "previous": self.policy.version})
        self.policy.swap(policy)
        return policy

    # Lifecycle ------------------------------------------------------------------------
    def migrate(self) -> None:
        migrate.upgrade(self.db)

    def bootstrap_admin(self) -> tuple[str, str] | None:
        """On a fresh database create ``admin`` with a one-time password; return it once."""
        with self.db.session() as s:
            if s.scalar(select(Account.id).limit(1)) is not None:
                return None
            password = generate_password()
            self.accounts.create(s, username="admin", password=password, roles=[(Role.ADMINISTRATOR, None)],
                                 actor="system:bootstrap", nickname="Administrator")
        return "admin", password

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        await asyncio.to_thread(self.sync_policy_from_db)
        await self.media.start()
        await self.chat.start()
        self.scheduler.start()
        self.ready.set()

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        self.ready.clear()
        await self.scheduler.stop()
        await self.chat.stop()
        await self.media.stop()
        await self.broker.close()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()

    def close(self) -> None:
        self.db.dispose()


def create_app(platform: Platform) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await platform.start()
        try:
            yield
        finally:
            await platform.stop()

    app = FastAPI(
        title="livegate", version=__version__, lifespan=lifespan,
        openapi_url="/api/openapi.json", docs_url="/api/docs", redoc_url=None,
    )
    app.state.platform = platform
    templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))
    templates.env.globals["version"] = __version__
    app.state.templates = templates

    from livegate.web import errors, routers

    errors.install_error_handlers(app)
    platform.metrics.install(app)
    for router in routers():
        app.include_router(router)
    static = WEB_DIR / "static"
    static.mkdir(exist_ok=True)
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    return app
