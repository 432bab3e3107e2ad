"""Test media: an H.264 FLV whose pictures we also hash (a benign picture, then a banked one)."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from tests.e2e.helpers import FFMPEG


def write_flv(path: Path, scenes: list[tuple[np.ndarray, float]], *, fps: int = 25, gop: int = 25) -> Path:
    """Encode ``(picture, seconds)`` scenes back to back as H.264 in FLV (a keyframe every ``gop``)."""
    h, w = scenes[0][0].shape[:2]
    with av.open(str(path), "w", format="flv") as out:
        st = out.add_stream("libx264", rate=fps)
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        st.codec_context.time_base = Fraction(1, fps)
        st.codec_context.options = {"preset": "ultrafast", "tune": "zerolatency", "g": str(gop),
                                    "keyint_min": str(gop), "sc_threshold": "0"}
        pts = 0
        for picture, seconds in scenes:
            for _ in range(int(seconds * fps)):
                frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
                frame.pts = pts
                pts += 1
                for packet in st.encode(frame):
                    out.mux(packet)
        for packet in st.encode(None):
            out.mux(packet)
    return path


def publish_file(path: Path, url: str) -> subprocess.Popen[bytes]:
    """Publish a file in real time (``-re``) with the ffmpeg CLI, streams copied."""
    return subprocess.Popen([FFMPEG, "-hide_banner", "-loglevel", "error", "-re", "-i", str(path), "-c", "copy",
                             "-f", "flv", url], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def decoded_pictures(data: bytes, every: int = 5) -> list[np.ndarray]:
    import io

    out = []
    with av.open(io.BytesIO(data), format="mpegts") as c:
        for i, frame in enumerate(c.decode(video=0)):
            if i % every == 0:
                out.append(frame.to_ndarray(format="rgb24"))
    return out
