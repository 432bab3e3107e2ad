"""Benchmark plumbing: a seeded data dir, a `livegate serve` child process, CPU accounting
from /proc, and the pre-encoded input file the ingest benchmarks feed to every server."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
FFMPEG = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"
CLK_TCK = os.sysconf("SC_CLK_TCK")

SEED = r'''
import json, sys
sys.path.insert(0, {root!r})
from livegate.app import Platform
from livegate.config import Settings
from livegate.core.permissions import Role
from tests.e2e.helpers import use_policy
from tests.identity.helpers import make_verified_publisher
s = Settings(data_dir={data!r}, secret_key="bench-secret-" + "x" * 20)
p = Platform(s, start_rtmp=False)
p.migrate()
rooms = []
pub = make_verified_publisher(p, "bench-publisher")
with p.db.session() as db:
    owner = p.accounts.get(db, pub)
    for i in range({rooms}):
        room, key = p.rooms.create(db, owner, title=f"bench {{i}}", category="education", actor="bench")
        rooms.append({{"room": room.id, "key": key}})
    officer = p.accounts.create(db, username="bench-officer", password="bench-password-1", actor="bench",
                                roles=[(Role.COMPLIANCE_OFFICER, None)])
    token = p.accounts.create_api_token(db, officer, "bench", "bench")
policy_text = {policy!r}
if policy_text:
    p.apply_policy(policy_text, source="bench", actor="bench")
print(json.dumps({{"rooms": rooms, "token": token}}))
'''


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


def bench_policy(*, tier_sampling_seconds: float | None = None, **category: Any) -> str:
    """The default policy with the education category tuned for the benchmark; the audience
    tiers' own frame sampling can be set too (the shorter of category and tier applies)."""
    import yaml

    from livegate.core.policy import default_policy_text

    doc = yaml.safe_load(default_policy_text())
    doc["categories"]["education"].update(category)
    if tier_sampling_seconds is not None:
        for tier in doc["audience_tiers"]:
            tier["sampling_seconds"] = tier_sampling_seconds
    return yaml.safe_dump(doc, allow_unicode=True)


def seed(data_dir: Path, rooms: int, policy: str = "") -> dict[str, Any]:
    code = SEED.format(root=str(ROOT), data=str(data_dir), rooms=rooms, policy=policy)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


class Server:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.http_port = free_port()
        self.rtmp_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> None:
        env = dict(os.environ, LIVEGATE_HTTP_PORT=str(self.http_port), LIVEGATE_RTMP_PORT=str(self.rtmp_port),
                   LIVEGATE_SECRET_KEY="bench-secret-" + "x" * 20, LIVEGATE_LOG_LEVEL="WARNING")
        self.proc = subprocess.Popen([str(ROOT / ".venv/bin/livegate"), "serve", "--data-dir", str(self.data_dir)],
                                     env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import httpx

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("livegate did not start")

    def stop(self) -> None:
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (FileNotFoundError, IndexError):
            pass
    return total / CLK_TCK


def children(pid: int) -> list[int]:
    out = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            kids = (task / "children").read_text().split()
        except FileNotFoundError:
            continue
        for k in kids:
            out.extend(children(int(k)))
    return out


def input_file(seconds: int = 20) -> Path:
    """A pre-encoded 720p30 ~2.5 Mbit/s H.264/AAC FLV, made once."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"input-720p30-{seconds}s.flv"
    if not path.exists():
        subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-y",
                        "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
                        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
                        "-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast", "-b:v", "2500k",
                        "-maxrate", "2500k", "-bufsize", "5000k", "-g", "60", "-pix_fmt", "yuv420p",
                        "-c:a", "aac", "-b:a", "128k", "-f", "flv", str(path)], check=True)
    return path


def publishers(url_for: list[str], src: Path, seconds: int) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen([FFMPEG, "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1",
                              "-i", str(src), "-t", str(seconds), "-c", "copy", "-f", "flv", url],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for url in url_for]
