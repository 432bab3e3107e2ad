"""An external HTTP moderation provider, behind timeouts and a circuit breaker.

Two wire formats:

- ``webhook`` (generic): ``POST {"kind": "text"|"image", "text": ..., "image_jpeg_b64": ...}``;
  the answer is ``{"flagged": bool, "score": 0..1, "label": str}``.
- ``openai`` (OpenAI's documented moderation endpoint, ``POST /v1/moderations``):
  ``{"model": ..., "input": [{"type": "text", "text": ...} | {"type": "image_url", "image_url":
  {"url": "data:image/jpeg;base64,..."}}]}``; the answer is ``{"results": [{"flagged": bool,
  "categories": {...}, "category_scores": {...}}]}``.

A provider that fails ``failure_threshold`` times in a row is not called for
``cooldown_seconds`` (the breaker is open); then one trial call decides (half-open). Review
never waits on a provider longer than ``timeout_seconds``, and a provider that is down
means "no finding", never a block: the other signals carry on.
"""

from __future__ import annotations

import base64
import io
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

import httpx
import numpy as np
from PIL import Image

from livegate.review.signals.base import ContentKind, Example, Finding, ImageSignal, TextSignal

Format = Literal["webhook", "openai"]


class CircuitBreaker:
    def __init__(self, *, failure_threshold: int = 3, cooldown_seconds: float = 30.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.failure_threshold = failure_threshold
        self.cooldown = cooldown_seconds
        self.monotonic = monotonic
        self.failures = 0
        self.opened_at: float | None = None
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        with self._lock:
            if self.opened_at is None:
                return "closed"
            return "half_open" if self.monotonic() - self.opened_at >= self.cooldown else "open"

    def allow(self) -> bool:
        return self.state != "open"

    def success(self) -> None:
        with self._lock:
            self.failures = 0
            self.opened_at = None

    def failure(self) -> None:
        with self._lock:
            self.failures += 1
            if self.failures >= self.failure_threshold:
                self.opened_at = self.monotonic()


class ProviderUnavailable(Exception):
    pass


class HttpModerationSignal(TextSignal, ImageSignal):
    content_kinds = frozenset({ContentKind.TEXT, ContentKind.IMAGE})

    def __init__(self, url: str, *, name: str = "http_provider", fmt: Format = "webhook", api_key: str = "",
                 model: str = "omni-moderation-latest", timeout_seconds: float = 2.0, threshold: float = 0.5,
                 breaker: CircuitBreaker | None = None, transport: httpx.BaseTransport | None = None) -> None:
        self.name = name  # type: ignore[misc]
        self.url = url
        self.fmt = fmt
        self.model = model
        self.threshold = threshold
        self.breaker = breaker or CircuitBreaker()
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(timeout=httpx.Timeout(timeout_seconds), headers=headers, transport=transport)

    @property
    def available(self) -> bool:
        return bool(self.url)

    @property
    def unavailable_reason(self) -> str:
        return "" if self.url else "no provider URL configured"

    def _body(self, text: str | None, jpeg: bytes | None) -> dict[str, Any]:
        b64 = base64.b64encode(jpeg).decode() if jpeg is not None else None
        if self.fmt == "openai":
            item: dict[str, Any] = ({"type": "text", "text": text} if text is not None else
                                    {"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{b64}"}})
            return {"model": self.model, "input": [item]}
        return {"kind": "text" if text is not None else "image", "text": text, "image_jpeg_b64": b64}

    def _parse(self, data: dict[str, Any]) -> Finding | None:
        if self.fmt == "openai":
            result = (data.get("results") or [{}])[0]
            scores: dict[str, float] = {k: float(v) for k, v in (result.get("category_scores") or {}).items()}
            label, top = max(scores.items(), key=lambda kv: kv[1]) if scores else ("flagged", 1.0)
            if not result.get("flagged") and top < self.threshold:
                return None
            return Finding(self.name, round(100 * top, 1), label, {"categories": result.get("categories", {})})
        score = float(data.get("score", 1.0 if data.get("flagged") else 0.0))
        if not data.get("flagged") and score < self.threshold:
            return None
        return Finding(self.name, round(100 * score, 1), str(data.get("label", "flagged")), {"provider": data})

    def ask(self, *, text: str | None = None, jpeg: bytes | None = None) -> Finding | None:
        if not self.breaker.allow():
            raise ProviderUnavailable(f"{self.name}: circuit open after repeated failures")
        try:
            r = self.client.post(self.url, json=self._body(text, jpeg))
            r.raise_for_status()
            finding = self._parse(r.json())
        except (httpx.HTTPError, ValueError) as exc:
            self.breaker.failure()
            raise ProviderUnavailable(f"{self.name}: {exc.__class__.__name__}: {exc}") from exc
        self.breaker.success()
        return finding

    def analyse_text(self, text: str) -> Finding | None:
        try:
            return self.ask(text=text)
        except ProviderUnavailable:
            return None

    def analyse_image(self, rgb: np.ndarray, jpeg: bytes | None = None) -> Finding | None:
        if jpeg is None:
            buf = io.BytesIO()
            Image.fromarray(rgb).save(buf, format="JPEG", quality=85)
            jpeg = buf.getvalue()
        try:
            return self.ask(jpeg=jpeg)
        except ProviderUnavailable:
            return None

    def examples(self) -> Sequence[Example]:
        return []  # depends on the provider; tests run it against a local HTTP server

    def close(self) -> None:
        self.client.close()
