"""Complaint statistics (volume, categories, time to acknowledge and to decide, share within
the SLA), drawn as server-side SVG for the console and exported for the authorities."""

from __future__ import annotations

import csv
import datetime as dt
import io
import statistics
from dataclasses import dataclass, field
from html import escape
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from livegate.complaints.models import ComplaintCase, ComplaintReport

EXPORT_FIELDS = ("case", "opened_at", "target_type", "category", "reports", "status", "priority", "escalation",
                 "acknowledged_at", "decided_at", "outcome", "hours_to_acknowledge", "hours_to_decide",
                 "acknowledged_within_sla", "decided_within_sla")


@dataclass
class ComplaintStats:
    since: dt.datetime
    until: dt.datetime
    reports: int = 0
    cases: int = 0
    per_day: list[tuple[str, int]] = field(default_factory=list)
    per_category: list[tuple[str, int]] = field(default_factory=list)
    hours_to_acknowledge: dict[str, float | None] = field(default_factory=dict)
    hours_to_decide: dict[str, float | None] = field(default_factory=dict)
    acknowledged_within_sla: float | None = None  # share of cases whose acknowledgement was due or done
    decided_within_sla: float | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"since": self.since.isoformat(), "until": self.until.isoformat(), "reports": self.reports,
                "cases": self.cases, "per_day": dict(self.per_day), "per_category": dict(self.per_category),
                "hours_to_acknowledge": self.hours_to_acknowledge, "hours_to_decide": self.hours_to_decide,
                "acknowledged_within_sla": self.acknowledged_within_sla,
                "decided_within_sla": self.decided_within_sla}


def _hours(a: dt.datetime | None, b: dt.datetime | None) -> float | None:
    return None if a is None or b is None else round((b - a).total_seconds() / 3600, 3)


def _spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "median": None, "p90": None, "count": 0}
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    return {"mean": round(statistics.fmean(ordered), 3), "median": round(statistics.median(ordered), 3),
            "p90": round(p90, 3), "count": len(ordered)}


def compute(s: Session, *, since: dt.datetime, until: dt.datetime, now: dt.datetime) -> ComplaintStats:
    st = ComplaintStats(since, until)
    reports = list(s.execute(select(ComplaintReport.received_at, ComplaintReport.category)
                             .where(ComplaintReport.received_at >= since, ComplaintReport.received_at < until)))
    st.reports = len(reports)
    days: dict[str, int] = {}
    cats: dict[str, int] = {}
    for at, cat in reports:
        days[at.date().isoformat()] = days.get(at.date().isoformat(), 0) + 1
        cats[cat] = cats.get(cat, 0) + 1
    st.per_day = sorted(days.items())
    st.per_category = sorted(cats.items(), key=lambda kv: (-kv[1], kv[0]))
    cases = list(s.scalars(select(ComplaintCase).where(ComplaintCase.opened_at >= since,
                                                       ComplaintCase.opened_at < until).order_by(ComplaintCase.id)))
    st.cases = len(cases)
    ack_h: list[float] = []
    dec_h: list[float] = []
    ack_due = ack_ok = dec_due = dec_ok = 0
    for c in cases:
        ha, hd = _hours(c.opened_at, c.acknowledged_at), _hours(c.opened_at, c.decided_at)
        if ha is not None:
            ack_h.append(ha)
        if hd is not None:
            dec_h.append(hd)
        ack_in = c.acknowledged_at <= c.ack_due_at if c.acknowledged_at else (False if c.ack_due_at <= now else None)
        dec_in = c.decided_at <= c.decide_due_at if c.decided_at else (False if c.decide_due_at <= now else None)
        if ack_in is not None:
            ack_due += 1
            ack_ok += int(ack_in)
        if dec_in is not None:
            dec_due += 1
            dec_ok += int(dec_in)
        st.rows.append({"case": c.id, "opened_at": c.opened_at.isoformat(), "target_type": c.target_type,
                        "category": c.category, "reports": c.report_count, "status": c.status,
                        "priority": c.priority, "escalation": c.escalation,
                        "acknowledged_at": c.acknowledged_at.isoformat() if c.acknowledged_at else "",
                        "decided_at": c.decided_at.isoformat() if c.decided_at else "", "outcome": c.outcome,
                        "hours_to_acknowledge": ha, "hours_to_decide": hd,
                        "acknowledged_within_sla": ack_in, "decided_within_sla": dec_in})
    st.hours_to_acknowledge = _spread(ack_h)
    st.hours_to_decide = _spread(dec_h)
    st.acknowledged_within_sla = round(ack_ok / ack_due, 4) if ack_due else None
    st.decided_within_sla = round(dec_ok / dec_due, 4) if dec_due else None
    return st


def to_csv(st: ComplaintStats) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(EXPORT_FIELDS), lineterminator="\n")
    w.writeheader()
    for row in st.rows:
        w.writerow({k: "" if row[k] is None else row[k] for k in EXPORT_FIELDS})
    return buf.getvalue()


def bar_chart(title: str, bars: list[tuple[str, float]], *, unit: str = "", width: int = 520) -> str:
    """A horizontal bar chart as SVG; every label is escaped here."""
    row_h, label_w, pad = 22, 190, 8
    height = pad * 2 + 24 + row_h * max(1, len(bars))
    top = max((v for _, v in bars), default=0) or 1
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="100%"'
             f' style="max-width:{width}px" viewBox="0 0 {width} {height}" fill="currentColor"'
             f' aria-label="{escape(title)}">',
             f'<text x="{pad}" y="{pad + 14}" font-weight="bold" font-size="13">{escape(title)}</text>']
    if not bars:
        parts.append(f'<text x="{pad}" y="{pad + 24 + 15}" font-size="12" opacity="0.6">no data</text>')
    for i, (label, value) in enumerate(bars):
        y = pad + 24 + i * row_h
        w = int((width - label_w - 60) * (value / top))
        shown = f"{value:g}{unit}"
        parts.append(f'<text x="{pad}" y="{y + 15}" font-size="12">{escape(label[:28])}</text>'
                     f'<rect x="{label_w}" y="{y + 3}" width="{max(w, 1)}" height="{row_h - 6}" fill="#c0392b"/>'
                     f'<text x="{label_w + max(w, 1) + 4}" y="{y + 15}" font-size="12">{escape(shown)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def charts(st: ComplaintStats) -> list[str]:
    def pct(v: float | None) -> float:
        return round(100 * v, 1) if v is not None else 0.0

    ack, dec = st.hours_to_acknowledge, st.hours_to_decide
    return [
        bar_chart("Reports per day", [(d, float(n)) for d, n in st.per_day[-14:]]),
        bar_chart("Reports by category", [(c, float(n)) for c, n in st.per_category[:12]]),
        bar_chart("Hours to acknowledge / decide (median)",
                  [("acknowledge", float(ack.get("median") or 0)), ("decide", float(dec.get("median") or 0))],
                  unit=" h"),
        bar_chart("Share within SLA", [("acknowledged in time", pct(st.acknowledged_within_sla)),
                                       ("decided in time", pct(st.decided_within_sla))], unit=" %"),
    ]
