"""Publish a few H.264 frames over RTMP with PyAV; run as a separate process by the e2e tests.

It must be a separate process: PyAV holds the GIL while FFmpeg connects and handshakes, so
a publisher on a thread of the server's own process would deadlock the event loop.
"""

from __future__ import annotations

import sys

import av
import numpy as np


def publish(url: str, frames: int) -> None:
    container = av.open(url, "w", format="flv")
    stream = container.add_stream("libx264", rate=25)
    stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
    stream.options = {"preset": "ultrafast", "tune": "zerolatency", "g": "5"}
    for i in range(frames):
        image = np.full((120, 160, 3), (i * 25) % 256, np.uint8)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = i
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()


if __name__ == "__main__":
    publish(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 12)
