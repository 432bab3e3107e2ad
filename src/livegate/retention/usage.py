"""Storage use: bytes per day, a 60-day projection, free space, and an alert — as SVG.

The projection is the average of the last ``window`` days' bytes, times the retention
period: what the next 60 days will add at today's rate. It is compared with the free space
of the backend (and of the local disk, where recordings are written before archiving);
when it exceeds either, the page raises an alert.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from html import escape
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from livegate.core.policy import MIN_RETENTION_DAYS
from livegate.retention.models import StoredObject
from livegate.retention.storage import ObjectStorage


@dataclass(frozen=True)
class StorageUsage:
    backend: str
    days: list[tuple[dt.date, int]]  # oldest first, one entry per day (zeros included)
    stored_bytes: int
    average_daily: float
    projection_days: int
    projected_bytes: int
    free_bytes: int | None
    local_free_bytes: int | None
    alert: str

    def as_dict(self) -> dict[str, object]:
        return {"backend": self.backend, "days": [{"day": d.isoformat(), "bytes": b} for d, b in self.days],
                "stored_bytes": self.stored_bytes, "average_daily": self.average_daily,
                "projection_days": self.projection_days, "projected_bytes": self.projected_bytes,
                "free_bytes": self.free_bytes, "local_free_bytes": self.local_free_bytes, "alert": self.alert}


def human(n: float | None) -> str:
    if n is None:
        return "unknown"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover


def storage_usage(s: Session, storage: ObjectStorage, *, today: dt.date, data_dir: Path,
                  history_days: int = 60, window: int = 14, projection_days: int = MIN_RETENTION_DAYS) -> StorageUsage:
    start = today - dt.timedelta(days=history_days - 1)
    since = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
    per_day: dict[dt.date, int] = {}
    for at, size in s.execute(select(StoredObject.stored_at, StoredObject.size).where(StoredObject.stored_at >= since)):
        day = at.date()
        per_day[day] = per_day.get(day, 0) + int(size)
    days = [(start + dt.timedelta(days=i), per_day.get(start + dt.timedelta(days=i), 0)) for i in range(history_days)]
    stored = int(s.scalar(select(func.coalesce(func.sum(StoredObject.size), 0))) or 0)
    recent = [b for _, b in days[-window:]]
    avg = sum(recent) / max(len(recent), 1)
    projected = int(avg * projection_days)
    free = storage.free_bytes()
    try:
        local_free: int | None = shutil.disk_usage(data_dir).free
    except OSError:
        local_free = None
    alerts = []
    if free is not None and projected > free:
        alerts.append(f"the next {projection_days} days need about {human(projected)} but the {storage.backend} "
                      f"storage has {human(free)} free")
    if storage.backend != "local" and local_free is not None and projected > local_free:
        alerts.append(f"the local disk has {human(local_free)} free, less than {human(projected)}")
    return StorageUsage(storage.backend, days, stored, avg, projection_days, projected, free, local_free,
                        "; ".join(alerts))


def bar_chart_svg(days: list[tuple[dt.date, int]], *, width: int = 720, height: int = 220) -> str:
    """Bytes stored per day, one bar each, with the busiest day labelled."""
    pad_l, pad_b, pad_t = 64, 28, 12
    top = max((b for _, b in days), default=0) or 1
    bw = (width - pad_l - 8) / max(len(days), 1)
    h = height - pad_b - pad_t
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
             f'class="chart" data-testid="chart-bytes-per-day"><title>Bytes stored per day</title>']
    for frac in (0, 0.5, 1):
        y = pad_t + h * (1 - frac)
        parts.append(f'<line x1="{pad_l}" x2="{width - 4}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                     f'<text x="{pad_l - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">{human(top * frac)}</text>')
    for i, (day, b) in enumerate(days):
        bh = h * b / top
        x = pad_l + i * bw
        parts.append(f'<rect x="{x + 1:.1f}" y="{pad_t + h - bh:.1f}" width="{max(bw - 2, 1):.1f}" height="{bh:.1f}" '
                     f'class="bar"><title>{day.isoformat()}: {escape(human(b))}</title></rect>')
    if days:
        first, last = days[0][0].isoformat(), days[-1][0].isoformat()
        parts.append(f'<text x="{pad_l}" y="{height - 8}" class="axis">{first}</text>'
                     f'<text x="{width - 4}" y="{height - 8}" text-anchor="end" class="axis">{last}</text>')
    parts.append("</svg>")
    return "".join(parts)


def projection_chart_svg(usage: StorageUsage, *, width: int = 720, height: int = 220) -> str:
    """Cumulative bytes over the next ``projection_days`` at today's rate, against free space."""
    pad_l, pad_b, pad_t = 64, 28, 12
    n = usage.projection_days
    free = usage.free_bytes
    top = max(usage.projected_bytes, free or 0, 1)
    h = height - pad_b - pad_t
    w = width - pad_l - 8

    def xy(day: int, value: float) -> str:
        return f"{pad_l + w * day / n:.1f},{pad_t + h * (1 - min(value, top) / top):.1f}"

    points = " ".join(xy(d, usage.average_daily * d) for d in range(n + 1))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
             f'class="chart" data-testid="chart-projection"><title>{n}-day projection</title>']
    for frac in (0, 0.5, 1):
        y = pad_t + h * (1 - frac)
        parts.append(f'<line x1="{pad_l}" x2="{width - 4}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                     f'<text x="{pad_l - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">{human(top * frac)}</text>')
    parts.append(f'<polyline points="{points}" class="projection" fill="none"/>')
    if free is not None:
        y = pad_t + h * (1 - min(free, top) / top)
        cls = "free alert" if usage.alert else "free"
        parts.append(f'<line x1="{pad_l}" x2="{width - 4}" y1="{y:.1f}" y2="{y:.1f}" class="{cls}"/>'
                     f'<text x="{width - 6}" y="{y - 4:.1f}" text-anchor="end" class="axis">free {human(free)}</text>')
    parts.append(f'<text x="{pad_l}" y="{height - 8}" class="axis">today</text>'
                 f'<text x="{width - 4}" y="{height - 8}" text-anchor="end" class="axis">+{n} days: '
                 f'{human(usage.projected_bytes)}</text></svg>')
    return "".join(parts)
