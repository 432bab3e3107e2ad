from __future__ import annotations

from collections.abc import Iterator

import pytest

from livegate.app import Platform
from livegate.config import Settings
from livegate.core.clock import ManualClock
from tests.conftest import make_platform


@pytest.fixture
def rp(settings: Settings, clock: ManualClock) -> Iterator[Platform]:
    """A platform on a manual clock (for travelling 59 and 61 days ahead)."""
    p = make_platform(settings, clock=clock, start_rtmp=False)
    yield p
    p.close()


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    import os

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    moto_server = pytest.importorskip("moto.server")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
