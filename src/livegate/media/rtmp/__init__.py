"""RTMP ingest: a sans-IO protocol core (:mod:`.session`) and its asyncio adapter (:mod:`.server`).

What the rest of the platform uses::

    server = RtmpServer(handler, RtmpLimits())
    await server.start("0.0.0.0", 1935)
    await server.close_publisher(stream_key, "cut off by a reviewer")
    await server.stop()
"""

from livegate.media.rtmp.errors import RtmpError, RtmpProtocolError
from livegate.media.rtmp.limits import RtmpLimits
from livegate.media.rtmp.server import RtmpServer, key_tag
from livegate.media.rtmp.session import ServerConnection

__all__ = ["RtmpError", "RtmpLimits", "RtmpProtocolError", "RtmpServer", "ServerConnection", "key_tag"]
