"""The real-client tests run on asyncio's loop and on uvloop, which `livegate serve` uses
(its transports are not asyncio's classes, and its sockets are stand-ins)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import pytest


def pytest_asyncio_loop_factories(config: pytest.Config,
                                  item: pytest.Item) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    factories: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {"asyncio": asyncio.new_event_loop}
    if item.path.name != "test_e2e_clients.py":
        return factories
    try:
        import uvloop
    except ImportError:  # not on this platform: asyncio's loop only
        return factories
    factories["uvloop"] = uvloop.new_event_loop
    return factories
