"""HLS, the room WebSocket, studio room management and cut-off (placeholder)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
