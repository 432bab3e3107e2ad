"""The external HTTP moderation adapter against a real local HTTP server: the generic
webhook format, OpenAI's documented moderation format, timeouts and the circuit breaker."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

from livegate.review.signals.http_provider import CircuitBreaker, HttpModerationSignal, ProviderUnavailable


class Provider:
    def __init__(self) -> None:
        self.mode = "ok"
        self.bodies: list[dict[str, Any]] = []
        self.release = threading.Event()


@pytest.fixture
def provider() -> Iterator[tuple[str, Provider]]:
    state = Provider()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a: object) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            state.bodies.append(body)
            if state.mode == "slow":
                state.release.wait(5)
            if state.mode == "error":
                self.send_response(503)
                self.end_headers()
                return
            if self.path == "/v1/moderations":
                text = body["input"][0].get("text", "")
                out = {"results": [{"flagged": "bad" in text, "categories": {"violence": "bad" in text},
                                    "category_scores": {"violence": 0.97 if "bad" in text else 0.01}}]}
            else:
                flagged = body["kind"] == "image" or "bad" in (body.get("text") or "")
                out = {"flagged": flagged, "score": 0.9 if flagged else 0.0, "label": "test"}
            data = json.dumps(out).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", state
    state.release.set()
    server.shutdown()
    server.server_close()


def test_webhook_format(provider: tuple[str, Provider]) -> None:
    url, state = provider
    sig = HttpModerationSignal(f"{url}/hook")
    assert sig.analyse_text("all good") is None
    found = sig.analyse_text("something bad")
    assert found is not None and found.score == 90.0 and found.label == "test"
    assert sig.analyse_image(np.zeros((16, 16, 3), np.uint8)) is not None
    assert state.bodies[-1]["kind"] == "image" and state.bodies[-1]["image_jpeg_b64"]
    sig.close()


def test_openai_moderation_format(provider: tuple[str, Provider]) -> None:
    url, state = provider
    sig = HttpModerationSignal(f"{url}/v1/moderations", fmt="openai", api_key="k")
    found = sig.analyse_text("bad words")
    assert found is not None and found.label == "violence" and found.score == 97.0
    assert state.bodies[-1]["model"] == "omni-moderation-latest"
    assert state.bodies[-1]["input"] == [{"type": "text", "text": "bad words"}]
    assert sig.analyse_text("fine") is None
    sig.close()


def test_timeouts_open_the_breaker_then_a_trial_call_closes_it(provider: tuple[str, Provider]) -> None:
    url, state = provider
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=2, cooldown_seconds=30, monotonic=lambda: now[0])
    sig = HttpModerationSignal(f"{url}/hook", timeout_seconds=0.2, breaker=breaker)
    state.mode = "slow"
    for _ in range(2):
        with pytest.raises(ProviderUnavailable):
            sig.ask(text="x")
    assert breaker.state == "open"
    calls = len(state.bodies)
    assert sig.analyse_text("bad") is None  # open: not called at all, no finding, no block
    assert len(state.bodies) == calls
    state.mode = "error"
    now[0] = 31.0
    assert breaker.state == "half_open"
    with pytest.raises(ProviderUnavailable):
        sig.ask(text="x")
    assert breaker.state == "open"
    state.mode = "ok"
    now[0] = 62.0
    assert sig.analyse_text("bad") is not None
    assert breaker.state == "closed"
    state.release.set()
    sig.close()
