"""A pluggable second opinion on a comment: an external HTTP moderation service.

The lexicon always decides first; a classifier may only make the outcome stricter. When it
is slow or failing, the lexicon's decision stands (``fallback``), so a broken provider can
never stop the room's chat or let through what the lexicon blocks.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from livegate.chat.lexicon import Action

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClassifierVerdict:
    action: Action
    category: str | None = None
    reason: str = ""
    provider: str = ""
    details: dict[str, Any] = field(default_factory=dict)


class ClassifierHook(Protocol):
    name: str

    async def classify(self, text: str, *, room_id: str, account_id: int | None) -> ClassifierVerdict | None:
        """A verdict, or None when the provider has nothing to say."""


@dataclass(frozen=True)
class ClassifierOutcome:
    verdict: ClassifierVerdict | None
    fallback: str = ""  # "", "timeout", "error"


async def consult(hook: ClassifierHook | None, text: str, *, room_id: str, account_id: int | None,
                  timeout: float) -> ClassifierOutcome:  # noqa: ASYNC109
    """Ask ``hook`` within ``timeout`` seconds; any failure falls back to no verdict."""
    if hook is None:
        return ClassifierOutcome(None)
    try:
        verdict = await asyncio.wait_for(hook.classify(text, room_id=room_id, account_id=account_id), timeout)
    except TimeoutError:
        return ClassifierOutcome(None, "timeout")
    except Exception as exc:  # a provider's failure must never reach the sender
        log.warning("classifier %s failed: %s", getattr(hook, "name", "?"), exc)
        return ClassifierOutcome(None, "error")
    return ClassifierOutcome(verdict)


class HttpClassifier:
    """POSTs ``{"text", "room", "account"}`` as JSON to ``url``; expects
    ``{"action": "block|hold|mask|flag|pass", "category"?: str, "reason"?: str}``."""

    def __init__(self, url: str, *, name: str = "http", transport: httpx.AsyncBaseTransport | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.name = name
        self._transport = transport
        self._headers = headers or {}
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(transport=self._transport, headers=self._headers)
        return self._client

    async def classify(self, text: str, *, room_id: str, account_id: int | None) -> ClassifierVerdict | None:
        r = await self._http().post(self.url, json={"text": text, "room": room_id, "account": account_id})
        r.raise_for_status()
        body = r.json()
        if not isinstance(body, dict):
            raise ValueError("the classifier answered with something other than a JSON object")
        action = Action(str(body.get("action", "pass")))
        category = body.get("category")
        return ClassifierVerdict(action, str(category) if category else None, str(body.get("reason", ""))[:500],
                                 self.name, {k: v for k, v in body.items() if k in ("score", "labels")})

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
