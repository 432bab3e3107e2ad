"""The media service of one node (placeholder until ingest is wired)."""

from __future__ import annotations

from typing import Any


class MediaService:
    def __init__(self, platform: Any) -> None:
        self.platform = platform

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def live_count(self) -> int:
        return 0
