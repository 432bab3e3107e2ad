"""``livegate serve --demo``: a demo room with a live test pattern, so a newcomer sees a
stream at once.

Seeding refuses a data dir that holds anything but the bootstrap administrator and earlier
demo data, so the demo can never mix into a real installation. The publisher is PyAV,
publishing over RTMP into this node's own ingest exactly as OBS would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import threading
import time
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import av
import numpy as np
from sqlalchemy import select

from livegate.core.errors import Conflict
from livegate.core.models import Account
from livegate.core.permissions import Role
from livegate.identity.accounts import generate_password
from livegate.media.testpattern import pattern_frame, sine

if TYPE_CHECKING:
    from livegate.app import Platform

log = logging.getLogger(__name__)
DEMO_FILE = "demo.json"
DEMO_USERS = {"demo-publisher": Role.PUBLISHER, "demo-viewer": Role.AUDIENCE, "demo-reviewer": Role.REVIEWER,
              "demo-officer": Role.COMPLIANCE_OFFICER}


class NotADemoDataDir(Conflict):
    """This data dir holds data that is not demo data; the demo will not seed it."""

    code = "not_a_demo_data_dir"


def seed_demo(p: Platform) -> dict[str, Any]:
    path = p.settings.data_dir / DEMO_FILE
    if path.exists():
        info: dict[str, Any] = json.loads(path.read_text())
        return info
    with p.db.session() as s:
        names = set(s.scalars(select(Account.username)))
    if names - {"admin"}:
        raise NotADemoDataDir(f"{p.settings.data_dir} already holds accounts; use an empty data dir for --demo")
    accounts: dict[str, dict[str, str]] = {}
    with p.db.session() as s:
        for username, role in DEMO_USERS.items():
            password = generate_password()
            acc = p.accounts.create(s, username=username, password=password, roles=[(role, None)],
                                    actor="system:demo", nickname=username.replace("demo-", "Demo ").title())
            accounts[username] = {"password": password, "role": role.value, "id": str(acc.id)}
        publisher = p.accounts.by_username(s, "demo-publisher")
        assert publisher is not None
        room, key = p.rooms.create(s, publisher, title="Demo test pattern", category="education",
                                   actor="system:demo")
    _satisfy_gates(p, int(accounts["demo-publisher"]["id"]))
    info = {"room": room.id, "stream_key": key, "accounts": accounts,
            "viewer_url": f"{p.settings.effective_public_url}/r/{room.id}",
            "rtmp_url": f"{p.settings.effective_rtmp_url}/{key}"}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(info, fh, indent=2)
    return info


def _satisfy_gates(p: Platform, account_id: int) -> None:
    """Let domain modules mark the demo publisher as fully onboarded (verified, agreements)."""
    hook = getattr(getattr(p, "identity", None), "demo_onboard", None)
    if callable(hook):
        hook(account_id)


class PatternPublisher:
    """Publishes a moving test pattern with a tone over RTMP in real time, reconnecting."""

    def __init__(self, url: str, width: int = 640, height: int = 360, fps: int = 25) -> None:
        self.url = url
        self.width, self.height, self.fps = width, height, fps
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="demo-publisher", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(10)

    def _run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self._publish_once()
            except Exception as exc:  # refused, cut off, or the server went away
                log.info("demo publisher stopped: %s", type(exc).__name__)
            self.stop_event.wait(10)

    def _publish_once(self) -> None:
        with av.open(self.url, "w", format="flv") as out:
            v = out.add_stream("libx264", rate=self.fps, options={"preset": "ultrafast", "tune": "zerolatency"})
            v.width, v.height, v.pix_fmt = self.width, self.height, "yuv420p"
            v.gop_size = self.fps * 2
            v.bit_rate = 800_000
            a = out.add_stream("aac", rate=44100)
            a.layout = "stereo"  # type: ignore[union-attr]
            start = time.monotonic()
            samples = 0
            i = 0
            while not self.stop_event.is_set():
                frame = av.VideoFrame.from_ndarray(pattern_frame(i, self.width, self.height), format="rgb24")
                frame.pts = i
                frame.time_base = Fraction(1, self.fps)
                for pkt in v.encode(frame):
                    out.mux(pkt)
                target = int((i + 1) * 44100 / self.fps)
                chunk = sine((target - samples) / 44100, 44100, 440.0 if (i // self.fps) % 4 else 880.0, 0.2,
                             start=samples)
                stereo = np.vstack([chunk, chunk]).astype(np.float32)
                af = av.AudioFrame.from_ndarray(stereo, format="fltp", layout="stereo")
                af.sample_rate = 44100
                af.pts = samples
                af.time_base = Fraction(1, 44100)
                for pkt in a.encode(af):
                    out.mux(pkt)
                samples = target
                i += 1
                ahead = start + i / self.fps - time.monotonic()
                if ahead > 0:
                    self.stop_event.wait(ahead)


async def run_demo_publisher(p: Platform, info: dict[str, Any]) -> None:
    """Run the pattern publisher in a child process, restarting it while the node runs.

    A child process, not a thread: PyAV holds the GIL while FFmpeg connects, which would
    freeze this process's event loop — the very loop that must answer the handshake.
    """
    url = f"rtmp://127.0.0.1:{p.media.rtmp_port}/live/{info['stream_key']}"
    while True:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "livegate.demo", url,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            await proc.wait()
        finally:
            if proc.returncode is None:
                proc.kill()
                with contextlib.suppress(Exception):
                    await proc.wait()
        await asyncio.sleep(10)  # refused or cut off: try again later, as a streamer would


def _main(argv: list[str]) -> int:
    pub = PatternPublisher(argv[1])
    try:
        pub._publish_once()
    except KeyboardInterrupt:
        return 0
    except Exception as exc:
        print(f"demo publisher: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv))
