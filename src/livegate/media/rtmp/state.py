"""Every state an RTMP ingest connection can be in, and every way it may move.

Like h11's ``_state.py``, this file is the single source of truth: the connection asks
:func:`next_state` and never assigns a state on its own, so a reader can check the whole
life cycle here. A trigger that has no entry for the current state is a protocol error
if the peer caused it, and a :class:`~livegate.media.rtmp.errors.LocalProtocolError` if
our own code did.

Life cycle of a publisher::

    AWAIT_C0C1 --c0c1--> AWAIT_C2 --c2--> AWAIT_CONNECT --connect--> CONNECTED
    CONNECTED --publish--> PUBLISH_PENDING --accept--> PUBLISHING --unpublish--> CONNECTED
    PUBLISH_PENDING --refuse--> CLOSING          (last words queued; the adapter hangs up)
    AWAIT_CONNECT --connect rejected--> CLOSING
    any live state --close--> CLOSING  --peer closed--> CLOSED
    any live state --peer closed--> CLOSED
    any live state --protocol error / timeout--> ERROR  (for good)
"""

from __future__ import annotations

import enum
from typing import Final


class ConnState(enum.Enum):
    AWAIT_C0C1 = "await_c0c1"
    AWAIT_C2 = "await_c2"
    AWAIT_CONNECT = "await_connect"
    CONNECTED = "connected"
    PUBLISH_PENDING = "publish_pending"
    PUBLISHING = "publishing"
    CLOSING = "closing"
    CLOSED = "closed"
    ERROR = "error"


class Trigger(enum.Enum):
    C0C1_RECEIVED = "c0c1_received"
    C2_RECEIVED = "c2_received"
    CONNECT_ACCEPTED = "connect_accepted"
    CONNECT_REJECTED = "connect_rejected"
    PUBLISH_REQUESTED = "publish_requested"
    PUBLISH_ACCEPTED = "publish_accepted"
    PUBLISH_REFUSED = "publish_refused"
    UNPUBLISHED = "unpublished"
    PLAY_REFUSED = "play_refused"
    LOCAL_CLOSE = "local_close"
    PEER_CLOSED = "peer_closed"
    PROTOCOL_ERROR = "protocol_error"
    TIMEOUT = "timeout"


LIVE_STATES: Final = frozenset(
    {
        ConnState.AWAIT_C0C1,
        ConnState.AWAIT_C2,
        ConnState.AWAIT_CONNECT,
        ConnState.CONNECTED,
        ConnState.PUBLISH_PENDING,
        ConnState.PUBLISHING,
    }
)
"""States in which bytes from the peer are still read and acted on."""

HANDSHAKING: Final = frozenset({ConnState.AWAIT_C0C1, ConnState.AWAIT_C2})
BEFORE_PUBLISH: Final = frozenset(
    {ConnState.AWAIT_C0C1, ConnState.AWAIT_C2, ConnState.AWAIT_CONNECT, ConnState.CONNECTED}
)
"""States the setup timeout covers: the peer has not yet asked to publish."""


def _table() -> dict[ConnState, dict[Trigger, ConnState]]:
    table: dict[ConnState, dict[Trigger, ConnState]] = {
        ConnState.AWAIT_C0C1: {Trigger.C0C1_RECEIVED: ConnState.AWAIT_C2},
        ConnState.AWAIT_C2: {Trigger.C2_RECEIVED: ConnState.AWAIT_CONNECT},
        ConnState.AWAIT_CONNECT: {
            Trigger.CONNECT_ACCEPTED: ConnState.CONNECTED,
            Trigger.CONNECT_REJECTED: ConnState.CLOSING,
        },
        ConnState.CONNECTED: {
            Trigger.PUBLISH_REQUESTED: ConnState.PUBLISH_PENDING,
            Trigger.PLAY_REFUSED: ConnState.CLOSING,
        },
        ConnState.PUBLISH_PENDING: {
            Trigger.PUBLISH_ACCEPTED: ConnState.PUBLISHING,
            Trigger.PUBLISH_REFUSED: ConnState.CLOSING,
        },
        ConnState.PUBLISHING: {Trigger.UNPUBLISHED: ConnState.CONNECTED},
        ConnState.CLOSING: {Trigger.PEER_CLOSED: ConnState.CLOSED, Trigger.LOCAL_CLOSE: ConnState.CLOSING},
        ConnState.CLOSED: {},
        ConnState.ERROR: {},
    }
    for state in LIVE_STATES:
        table[state][Trigger.LOCAL_CLOSE] = ConnState.CLOSING
        table[state][Trigger.PEER_CLOSED] = ConnState.CLOSED
        table[state][Trigger.PROTOCOL_ERROR] = ConnState.ERROR
        table[state][Trigger.TIMEOUT] = ConnState.ERROR
    return table


TRANSITIONS: Final = _table()


def next_state(state: ConnState, trigger: Trigger) -> ConnState | None:
    """The state ``trigger`` leads to from ``state``, or ``None`` if it is not allowed there."""
    return TRANSITIONS[state].get(trigger)


_AFTER_CONNECT: Final = frozenset({ConnState.CONNECTED, ConnState.PUBLISH_PENDING, ConnState.PUBLISHING})

COMMAND_STATES: Final[dict[str, frozenset[ConnState]]] = {
    "connect": frozenset({ConnState.AWAIT_CONNECT}),
    "releaseStream": _AFTER_CONNECT,
    "FCPublish": _AFTER_CONNECT,
    "createStream": _AFTER_CONNECT,
    "publish": frozenset({ConnState.CONNECTED}),
    "play": frozenset({ConnState.CONNECTED}),
    "FCUnpublish": _AFTER_CONNECT,
    "deleteStream": _AFTER_CONNECT,
    "closeStream": _AFTER_CONNECT,
}
"""Where each known command may arrive; outside these states it is a protocol error.

Commands not listed here are ignored after connect (clients probe with ``_checkbw``,
``getStreamLength`` and the like), and refused before it.
"""
