"""What can be purged: a registry of retention kinds.

Each domain registers the records it keeps as a *kind*: a name (the key of the policy's
``retention.by_kind``), which policy period applies (``default`` or ``network_logs``), where
the records live, which column dates them, and how to tell which are under a legal hold.
The purge asks every kind what is older than its period and not held, and deletes that.

Most kinds are rows of one table: :class:`TableKind` does everything from column names.
A domain registers its own with ``p.retention.register(TableKind(...))`` when
``p.retention`` exists; a module built before ``p.retention`` instead offers a
``retention_kinds()`` method that returns them, and the retention module collects it::

    # in chat/service.py (issue 5)
    def retention_kinds(self) -> list[RetentionKind]:
        from livegate.retention.kinds import TableKind
        return [TableKind("chat_messages", ChatMessage, "created_at", room_column="room_id",
                          account_column="account_id", description="comments and their decisions")]

A kind that is not one table (files on disk) implements the :class:`RetentionKind`
protocol itself, as :class:`SegmentKind` does.

The audit log is *not* a kind: it is never purged by age, because it anchors the hash
chain that makes every other record tamper-evident (deleting its first entries would
break the chain, and with it the proof). It is small (decisions, not content).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from sqlalchemy import ColumnElement, Table, and_, delete, false, func, not_, or_, select, true
from sqlalchemy.orm import Session

from livegate.core.policy import MIN_RETENTION_DAYS, Policy
from livegate.retention.errors import DuplicateKind

if TYPE_CHECKING:
    from livegate.retention.storage import ObjectStorage

PolicyClass = Literal["default", "network_logs"]


@dataclass(frozen=True)
class HeldScopes:
    """Everything under an active legal hold, resolved once per purge."""

    accounts: frozenset[int] = frozenset()
    rooms: frozenset[str] = frozenset()
    cases: frozenset[str] = frozenset()
    #: rooms owned by a held account: their content is held too
    owned_rooms: frozenset[str] = frozenset()

    def all_rooms(self) -> frozenset[str]:
        return self.rooms | self.owned_rooms


@dataclass(frozen=True)
class ExportScope:
    """Whose records an inspection bundle carries."""

    accounts: frozenset[int] = frozenset()
    rooms: frozenset[str] = frozenset()


@dataclass
class PurgeContext:
    session_factory: Callable[[], Any]  # Database.session
    held: HeldScopes
    now: dt.datetime
    storage: ObjectStorage
    media_root: Any = None  # Path of <data>/media
    batch_size: int = 5000


@dataclass(frozen=True)
class KindReport:
    kind: str
    days: int
    cutoff: dt.datetime
    count: int
    bytes: int = 0
    held_skipped: int = 0
    error: str = ""


@runtime_checkable
class RetentionKind(Protocol):
    name: str
    policy_class: PolicyClass
    description: str
    order: int
    outlives: tuple[str, ...]

    def plan(self, ctx: PurgeContext, cutoff: dt.datetime) -> tuple[int, int, int]:
        """(records that would go, their bytes if known, records kept only by a hold)."""

    def purge(self, ctx: PurgeContext, cutoff: dt.datetime) -> tuple[int, int]:
        """Delete what is due; return (records, bytes)."""

    def export(self, s: Session, scope: ExportScope, start: dt.datetime, end: dt.datetime) -> Iterator[dict[str, Any]]:
        """Records of ``scope`` dated in ``[start, end)`` as dicts (for inspections); values
        JSON can't hold natively are written with :func:`json_default`."""


def json_default(value: Any) -> Any:
    """``json.dumps(default=...)`` for exported records: ISO dates, hex bytes, else ``str``."""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


OnDelete = Callable[[Session, Sequence[Any]], int]


@dataclass
class TableKind:
    """A kind whose records are the rows of one table, dated by one column."""

    name: str
    table: Any  # an ORM class or a Table
    timestamp: str
    policy_class: PolicyClass = "default"
    description: str = ""
    room_column: str | None = None
    account_column: str | None = None
    case_column: str | None = None
    #: held case scopes name this kind's cases as ``case_prefix`` + the ``case_column`` value
    #: (the complaints module holds ``complaint-12``); empty: the scope id is the value itself
    case_prefix: str = ""
    #: a held account also holds the rows of the rooms it owns (via ``room_column``)
    room_owner_holds: bool = True
    order: int = 50
    outlives: tuple[str, ...] = ()
    export_exclude: tuple[str, ...] = ()
    #: extra condition selecting this kind's rows in a shared table
    where: Callable[[Table], ColumnElement[bool]] | None = None
    #: called with the rows about to be deleted (in their transaction); returns bytes freed
    on_delete: OnDelete | None = None
    exportable: bool = True
    #: False: exported into inspection bundles but never purged here (its module keeps it)
    purges: bool = True

    _t: Table = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._t = self.table if isinstance(self.table, Table) else self.table.__table__
        pk = list(self._t.primary_key.columns)
        if len(pk) != 1:
            raise ValueError(f"retention kind {self.name}: table {self._t.name} needs a single-column primary key")
        for col in (self.timestamp, self.room_column, self.account_column, self.case_column):
            if col is not None and col not in self._t.c:
                raise ValueError(f"retention kind {self.name}: {self._t.name} has no column {col!r}")

    @property
    def table_name(self) -> str:
        return self._t.name

    def _base(self, cutoff: dt.datetime) -> list[ColumnElement[bool]]:
        conds: list[ColumnElement[bool]] = [self._t.c[self.timestamp] < cutoff]
        if self.where is not None:
            conds.append(self.where(self._t))
        return conds

    def _held(self, held: HeldScopes) -> ColumnElement[bool] | None:
        parts: list[ColumnElement[bool]] = []
        rooms = held.all_rooms() if self.room_owner_holds else held.rooms
        if self.room_column and rooms:
            parts.append(self._t.c[self.room_column].in_(sorted(rooms)))
        if self.account_column and held.accounts:
            parts.append(self._t.c[self.account_column].in_(sorted(held.accounts)))
        if self.case_column and any(c.startswith(self.case_prefix) for c in held.cases):
            col = self._t.c[self.case_column]
            p = self.case_prefix
            ids: list[Any] = sorted(c[len(p):] for c in held.cases if c.startswith(p))
            try:
                numeric = col.type.python_type is int
            except NotImplementedError:
                numeric = False
            if numeric:
                ids = [int(c) for c in ids if c.isdigit()]
            parts.append(col.in_(ids))
        if not parts:
            return None
        return or_(*parts)

    def _unheld(self, held: HeldScopes) -> ColumnElement[bool]:
        h = self._held(held)
        if h is None:
            return true()
        # NULL columns (no room, no account) are never held: coalesce the test to false.
        return not_(func.coalesce(h, false()))

    def plan(self, ctx: PurgeContext, cutoff: dt.datetime) -> tuple[int, int, int]:
        if not self.purges:
            return 0, 0, 0
        with ctx.session_factory() as s:
            due = s.scalar(select(func.count()).select_from(self._t).where(*self._base(cutoff),
                                                                            self._unheld(ctx.held))) or 0
            h = self._held(ctx.held)
            kept = 0
            if h is not None:
                kept = s.scalar(select(func.count()).select_from(self._t).where(*self._base(cutoff), h)) or 0
        return int(due), 0, int(kept)

    def purge(self, ctx: PurgeContext, cutoff: dt.datetime) -> tuple[int, int]:
        """Delete in batches of ``ctx.batch_size``, one short transaction each, walking the
        primary key (keyset) so each batch starts where the last ended: linear even
        without an index on the timestamp column."""
        if not self.purges:
            return 0, 0
        pk = next(iter(self._t.primary_key.columns))
        total = freed = 0
        last: Any = None
        while True:
            with ctx.session_factory() as s:
                conds = [*self._base(cutoff), self._unheld(ctx.held)]
                if last is not None:
                    conds.append(pk > last)
                if self.on_delete is None:
                    # One range DELETE per batch: find the batch's last key, delete up to it.
                    boundary = s.scalar(select(pk).where(*conds).order_by(pk).offset(ctx.batch_size - 1).limit(1))
                    if boundary is not None:
                        conds.append(pk <= boundary)
                    res = s.execute(delete(self._t).where(*conds))
                    n = int(res.rowcount or 0)  # type: ignore[attr-defined]
                    total += n
                    if boundary is None:
                        return total, freed
                    last = boundary
                    continue
                ids = list(s.scalars(select(pk).where(*conds).order_by(pk).limit(ctx.batch_size)).all())
                if not ids:
                    return total, freed
                rows = s.execute(select(self._t).where(pk.in_(ids))).all()
                freed += self.on_delete(s, rows)
                s.execute(delete(self._t).where(pk.in_(ids)))
            last = ids[-1]
            total += len(ids)
            if len(ids) < ctx.batch_size:
                return total, freed

    def export(self, s: Session, scope: ExportScope, start: dt.datetime, end: dt.datetime) -> Iterator[dict[str, Any]]:
        if not self.exportable:
            return
        who: list[ColumnElement[bool]] = []
        if self.room_column and scope.rooms:
            who.append(self._t.c[self.room_column].in_(sorted(scope.rooms)))
        if self.account_column and scope.accounts:
            who.append(self._t.c[self.account_column].in_(sorted(scope.accounts)))
        if not who:
            return
        ts = self._t.c[self.timestamp]
        conds = [ts >= start, ts < end, or_(*who)]
        if self.where is not None:
            conds.append(self.where(self._t))
        pk = next(iter(self._t.primary_key.columns))
        cols = [c for c in self._t.c if c.name not in self.export_exclude]
        # Values go out as they are; the writer turns dates and bytes into JSON (see json_default).
        for row in s.execute(select(*cols).where(and_(*conds)).order_by(pk)).mappings():
            yield dict(row)


class KindRegistry:
    """Kinds by name; refuses a second kind with a name already taken."""

    def __init__(self) -> None:
        self._kinds: dict[str, RetentionKind] = {}

    def register(self, kind: RetentionKind) -> RetentionKind:
        if kind.name in self._kinds:
            raise DuplicateKind(f"retention kind {kind.name!r} is registered already", kind=kind.name)
        self._kinds[kind.name] = kind
        return kind

    def __contains__(self, name: object) -> bool:
        return name in self._kinds

    def get(self, name: str) -> RetentionKind:
        return self._kinds[name]

    def all(self) -> list[RetentionKind]:
        return sorted(self._kinds.values(), key=lambda k: (k.order, k.name))

    def days(self, policy: Policy, kind: RetentionKind) -> int:
        """The retention period of ``kind``: ``by_kind`` or its class's period, never below the floor,
        and never shorter than the kinds it must outlive (a session row outlives its media)."""
        by_kind = policy.retention.by_kind
        days = by_kind[kind.name] if kind.name in by_kind else policy.retention_days(kind.policy_class)
        for other in kind.outlives:
            if other in self._kinds:
                days = max(days, self.days(policy, self._kinds[other]))
        return max(days, MIN_RETENTION_DAYS)
