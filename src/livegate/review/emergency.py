"""Emergency switches with incidents and their timelines, and the gate check that pauses new
streams. Each switch is a durable row, so every node's gate reads the same state; each flip
is audited and written to the incident's timeline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from livegate.core.errors import ValidationFailed
from livegate.media.rooms import GateContext, Refusal
from livegate.review.errors import UnknownSwitch
from livegate.review.models import EmergencySwitch, Incident, IncidentEvent

if TYPE_CHECKING:
    from livegate.app import Platform

SWITCHES = ("pause_streams", "premoderate_comments", "raise_sampling")


def switch_key(name: str, category: str | None) -> str:
    if name == "pause_streams":
        return f"pause_streams:{category or '*'}"
    return name


class EmergencyService:
    def __init__(self, platform: Platform) -> None:
        self.p = platform
        self.raised_sampling_seconds: float | None = None  # this node's view, refreshed from the table

    def open_incident(self, s: Session, *, title: str, actor: str) -> Incident:
        if not title.strip():
            raise ValidationFailed("an incident needs a title", field="title")
        inc = Incident(title=title.strip()[:200], status="open", opened_by=actor, opened_at=self.p.clock.now())
        s.add(inc)
        s.flush()
        self.event(s, inc.id, actor=actor, action="incident.open", details={"title": inc.title})
        self.p.audit.record(s, actor=actor, action="emergency.incident_open", target=f"incident:{inc.id}",
                            reason=inc.title)
        return inc

    def close_incident(self, s: Session, incident_id: int, *, actor: str, reason: str) -> Incident:
        inc = s.get(Incident, incident_id)
        if inc is None:
            raise ValidationFailed("no such incident", field="incident_id")
        inc.status = "closed"
        inc.closed_at = self.p.clock.now()
        self.event(s, inc.id, actor=actor, action="incident.close", details={"reason": reason})
        self.p.audit.record(s, actor=actor, action="emergency.incident_close", target=f"incident:{inc.id}",
                            reason=reason)
        return inc

    def event(self, s: Session, incident_id: int | None, *, actor: str, action: str,
              details: dict[str, Any]) -> None:
        if incident_id is None:
            return
        s.add(IncidentEvent(incident_id=incident_id, at=self.p.clock.now(), actor=actor, action=action,
                            details=details))

    def set_switch(self, s: Session, name: str, on: bool, *, actor: str, reason: str, incident_id: int | None = None,
                   category: str | None = None, seconds: float | None = None) -> EmergencySwitch:
        if name not in SWITCHES:
            raise UnknownSwitch(f"unknown switch {name!r}; one of {', '.join(SWITCHES)}")
        if not reason.strip():
            raise ValidationFailed("an emergency switch needs a reason", field="reason")
        if category is not None:
            self.p.policy.get().category(category)  # raises for an unknown category
        key = switch_key(name, category)
        row = s.get(EmergencySwitch, key)
        now = self.p.clock.now()
        params: dict[str, Any] = {"category": category}
        if name == "raise_sampling":
            params["seconds"] = float(seconds or self.p.policy.get().review.emergency_sampling_seconds)
        if row is None:
            row = EmergencySwitch(key=key, active=on, params=params, incident_id=incident_id, changed_by=actor,
                                  changed_at=now)
            s.add(row)
        else:
            row.active, row.params, row.changed_by, row.changed_at = on, params, actor, now
            row.incident_id = incident_id or row.incident_id
        self.event(s, incident_id, actor=actor, action=f"switch.{'on' if on else 'off'}",
                   details={"switch": key, "reason": reason, **params})
        self.p.audit.record(s, actor=actor, action=f"emergency.{name}.{'on' if on else 'off'}", target=key,
                            reason=reason, details={"incident": incident_id, **params})
        s.flush()
        return row

    def active(self, s: Session) -> dict[str, dict[str, Any]]:
        rows = s.scalars(select(EmergencySwitch).where(EmergencySwitch.active.is_(True)))
        return {r.key: dict(r.params or {}) | {"changed_by": r.changed_by, "changed_at": r.changed_at.isoformat(),
                                               "incident_id": r.incident_id} for r in rows}

    def refresh(self, s: Session) -> None:
        row = s.get(EmergencySwitch, "raise_sampling")
        self.raised_sampling_seconds = float(row.params.get("seconds", 2)) if row is not None and row.active else None

    def incidents(self, s: Session) -> list[dict[str, Any]]:
        out = []
        for inc in s.scalars(select(Incident).order_by(Incident.id.desc()).limit(50)):
            events = s.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == inc.id)
                               .order_by(IncidentEvent.id))
            out.append({"id": inc.id, "title": inc.title, "status": inc.status, "opened_by": inc.opened_by,
                        "opened_at": inc.opened_at.isoformat(),
                        "closed_at": inc.closed_at.isoformat() if inc.closed_at else None,
                        "timeline": [{"at": e.at.isoformat(), "actor": e.actor, "action": e.action,
                                      "details": e.details} for e in events]})
        return out


class EmergencyPause:
    """Gate check: new streams are refused while ``pause_streams`` is on (for all categories
    or for the room's)."""

    name = "emergency_pause"

    def check(self, ctx: GateContext) -> Refusal | None:
        for key in ("pause_streams:*", f"pause_streams:{ctx.room.category}"):
            row = ctx.session.get(EmergencySwitch, key)
            if row is not None and row.active:
                scope = "all new streams" if key.endswith("*") else f"new {ctx.room.category} streams"
                return Refusal("emergency.paused", "Art. 7",
                               f"the platform has paused {scope} during an emergency; try again later")
        return None
