"""Real servers and real clients: the platform on real sockets (uvicorn + RTMP), Debian's
Chromium driven by Playwright, the ffmpeg CLI and PyAV as publishers."""

from __future__ import annotations

import asyncio
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn

from livegate.app import Platform, create_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--autoplay-policy=no-user-gesture-required"]


@dataclass
class LiveServer:
    platform: Platform
    url: str
    thread: threading.Thread
    server: uvicorn.Server
    loop: asyncio.AbstractEventLoop

    @property
    def rtmp_port(self) -> int:
        return int(self.platform.media.rtmp_port)

    def rtmp_url(self, key: str) -> str:
        return f"rtmp://127.0.0.1:{self.rtmp_port}/live/{key}"


def start_live_server(platform: Platform, ws: str = "websockets") -> LiveServer:
    """The platform served by uvicorn on a thread of its own; ``ws`` names uvicorn's WebSocket
    protocol (``websockets`` or ``websockets-sansio``)."""
    # Bind first: clients that connect before uvicorn accepts wait in the backlog.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    app = create_app(platform)
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on",
                                           ws=ws))  # type: ignore[arg-type]

    loop = asyncio.new_event_loop()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(server.serve(sockets=[sock]))
        finally:
            loop.close()

    thread = threading.Thread(target=run, name=f"live-server-{ws}", daemon=True)
    thread.start()
    assert platform.ready.wait(30), "platform did not start"
    return LiveServer(platform, f"http://127.0.0.1:{port}", thread, server, loop)


def stop_live_server(live: LiveServer) -> None:
    live.server.should_exit = True
    live.thread.join(30)


@pytest.fixture
def live(platform: Platform) -> Iterator[LiveServer]:
    srv = start_live_server(platform)
    yield srv
    stop_live_server(srv)


@pytest.fixture
def playwright_instance() -> Iterator[Any]:
    # Function scope: the sync API runs an event loop in this thread while it is open, which
    # would break every later test that calls asyncio.run.
    if not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture
def browser(playwright_instance: Any) -> Iterator[Any]:
    b = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield b
    b.close()
