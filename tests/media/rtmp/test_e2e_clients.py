"""Real clients against the real server: the ffmpeg CLI and PyAV publish over TCP.

The tests wait on the processes and on the sink, never on the clock.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from livegate.media.rtmp.server import RtmpServer

from .support import RecordingHandler, RecordingSink

FFMPEG = "/usr/bin/ffmpeg"
PUBLISHER = Path(__file__).with_name("pyav_publisher.py")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not os.path.exists(FFMPEG), reason="the ffmpeg CLI is not installed"),
]

REFUSAL = "This stream key has been revoked (Art. 10)."



@pytest.fixture
async def handler() -> RecordingHandler:
    return RecordingHandler(refuse={"revoked-key": REFUSAL})


@pytest.fixture
async def server(handler: RecordingHandler) -> AsyncIterator[RtmpServer]:
    srv = RtmpServer(handler)
    await srv.start("127.0.0.1", 0)
    yield srv
    await srv.stop()


async def ffmpeg(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", *args,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )


def av_publish_args(url: str, seconds: float, *, video: bool = True, realtime: bool = True) -> list[str]:
    args = ["-re"] if realtime else []
    if video:
        args += ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25"]
    args += ["-f", "lavfi", "-i", "sine"]
    if video:
        args += ["-c:v", "libx264", "-preset", "ultrafast", "-g", "25"]
    args += ["-c:a", "aac", "-t", str(seconds), "-f", "flv", url]
    return args


async def finish(proc: asyncio.subprocess.Process, within: float = 60) -> str:
    async with asyncio.timeout(within):
        _, err = await proc.communicate()
    return err.decode(errors="replace")


def is_avc_sequence_header(payload: bytes) -> bool:
    return payload[0] & 0x0F == 7 and payload[1] == 0


def is_keyframe(payload: bytes) -> bool:
    return payload[0] >> 4 == 1 and payload[1] == 1


async def test_ffmpeg_publishes_h264_and_aac_in_real_time(server: RtmpServer, handler: RecordingHandler) -> None:
    url = f"rtmp://127.0.0.1:{server.port}/live/ffmpeg-key?session=9"
    proc = await ffmpeg(*av_publish_args(url, 3))
    err = await finish(proc)
    assert proc.returncode == 0, err
    sink: RecordingSink = await handler.sink_for("ffmpeg-key")
    await sink.wait_for(lambda: bool(sink.ends))
    assert sink.ends == ["unpublished"]

    (metadata,) = sink.metadata
    assert metadata["width"] == 320 and metadata["height"] == 240
    assert metadata["videocodecid"] == 7 and metadata["audiocodecid"] == 10

    video, audio = sink.kinds("video"), sink.kinds("audio")
    assert is_avc_sequence_header(video[0].payload)
    keyframes = [m for m in video if is_keyframe(m.payload)]
    assert len(keyframes) >= 3  # -g 25 at 25 fps for 3 s
    assert keyframes[0] is video[1]
    assert 72 <= len(video) - 1 <= 76
    assert audio[0].payload[:2] == b"\xaf\x00"  # AAC sequence header
    assert len(audio) > 100 and all(m.payload[0] >> 4 == 10 for m in audio)
    for kind in (video, audio):
        stamps = [m.timestamp_ms for m in kind]
        assert stamps == sorted(stamps)
    assert 2800 <= video[-1].timestamp_ms <= 3100
    assert sink.kinds("data")[0].payload.startswith(b"\x02\x00\x0aonMetaData")


async def test_ffmpeg_hears_why_its_key_was_refused(server: RtmpServer) -> None:
    proc = await ffmpeg(*av_publish_args(f"rtmp://127.0.0.1:{server.port}/live/revoked-key", 3))
    err = await finish(proc)
    assert proc.returncode != 0
    assert REFUSAL in err


async def test_close_publisher_ends_ffmpegs_connection(server: RtmpServer, handler: RecordingHandler) -> None:
    proc = await ffmpeg(*av_publish_args(f"rtmp://127.0.0.1:{server.port}/live/cut-key", 60))
    try:
        sink = await handler.sink_for("cut-key", within=30)
        await sink.wait_for(lambda: any(is_keyframe(m.payload) for m in sink.kinds("video")), within=30)
        assert await server.close_publisher("cut-key", "cut off: test violation")
        assert sink.ends == ["cut off: test violation"]
        received = len(sink.media)
        err = await finish(proc, within=30)  # ffmpeg gives up on its own
        assert proc.returncode != 0
        assert "cut off: test violation" in err or "Broken pipe" in err or "Connection reset" in err, err
        assert len(sink.media) == received  # nothing more was delivered
        assert sink.ends == ["cut off: test violation"]
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_audio_only_publish(server: RtmpServer, handler: RecordingHandler) -> None:
    url = f"rtmp://127.0.0.1:{server.port}/live/radio-key"
    proc = await ffmpeg(*av_publish_args(url, 2, video=False, realtime=False))
    err = await finish(proc)
    assert proc.returncode == 0, err
    sink = await handler.sink_for("radio-key")
    await sink.wait_for(lambda: bool(sink.ends))
    assert sink.kinds("video") == []
    assert sink.kinds("audio")[0].payload[:2] == b"\xaf\x00"
    assert len(sink.kinds("audio")) > 80
    assert "videocodecid" not in sink.metadata[0]
    assert sink.ends == ["unpublished"]


async def test_pyav_publishes_h264(server: RtmpServer, handler: RecordingHandler) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(PUBLISHER), f"rtmp://127.0.0.1:{server.port}/live/pyav-key", "12",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    err = await finish(proc)
    assert proc.returncode == 0, err
    sink = await handler.sink_for("pyav-key")
    await sink.wait_for(lambda: bool(sink.ends))
    video = sink.kinds("video")
    assert is_avc_sequence_header(video[0].payload)
    assert video[-1].payload[:2] == b"\x17\x02"  # the muxer closes with an AVC end of sequence
    frames = [m for m in video if m.payload[1] == 1]
    assert len(frames) == 12 and is_keyframe(frames[0].payload)
    assert [m.timestamp_ms for m in frames] == [i * 40 for i in range(12)]
    assert sink.metadata[0]["width"] == 160
    assert sink.ends == ["unpublished"]


async def test_an_ffmpeg_player_validates_our_digest_handshake(server: RtmpServer) -> None:
    # As a player, ffmpeg checks the server's S1 digest and S2 proof before it says anything
    # else; it only gets as far as our "publishers only" answer if both were right.
    proc = await ffmpeg("-i", f"rtmp://127.0.0.1:{server.port}/live/some-key", "-f", "null", "-")
    err = await finish(proc)
    assert proc.returncode != 0
    assert "This server accepts publishers only." in err
    assert "Signature mismatch" not in err and "validating failed" not in err
