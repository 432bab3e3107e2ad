"""CPU cost of burn mode: livegate's pipeline against the ffmpeg CLI doing the same work.

Both sides take the same 720p30 H.264/AAC FLV (``testsrc2`` with temporal noise, so the
encoder has camera-like work to do, at about 2.6 Mbit/s), composite the same PNG mark at
the same place with FFmpeg's ``overlay`` filter, encode libx264 with the same settings
(preset, tune, CRF, GOP, a forced keyframe every segment), copy the audio and write
2-second HLS segments:

* ``cli``: ``/usr/bin/ffmpeg -filter_complex overlay ... -f hls`` (a child process; its CPU
  is ``RUSAGE_CHILDREN``);
* ``livegate``: the FLV split into RTMP media messages and fed to a burn-mode
  :class:`~livegate.media.pipeline.LiveStream` (demux, decode, mark, encode, segmenter,
  playlist, recorder; CPU is ``RUSAGE_SELF``, all threads);
* ``pyav-min``: the same decode/overlay/encode in a bare PyAV loop with no pipeline
  around it, which separates our overhead from the difference between the CLI's FFmpeg
  and x264 builds (Debian's) and PyAV's bundled ones.

Each is run ``--repeats`` times, alternating; the minimum counts (the machine is shared).
Goal: livegate / cli <= 1.1. Run: ``.venv/bin/python bench/bench_burn.py`` (options:
``--seconds``, ``--repeats``, ``--preset``, ``--crf``, ``--keep``).
"""

from __future__ import annotations

import argparse
import io
import resource
import shutil
import subprocess
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av

from livegate.core.clock import SystemClock
from livegate.media.flv import read_messages
from livegate.media.pipeline import LiveStream
from livegate.media.settings import EncoderSettings, MediaSettings
from livegate.media.testpattern import publish
from livegate.media.watermark import MarkBurner, mark_png, placement, render_mark

FFMPEG = "/usr/bin/ffmpeg"
WIDTH, HEIGHT, FPS = 1280, 720, 30
SEGMENT = 2.0
ROOM = "10086"
TEXT = "livegate"


def cpu(who: int) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def make_input(path: Path, seconds: float) -> None:
    subprocess.run(
        [FFMPEG, "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size={WIDTH}x{HEIGHT}:rate={FPS}",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
         "-t", str(seconds), "-vf", "noise=alls=12:allf=t",
         "-c:v", "libx264", "-preset", "veryfast", "-b:v", "2600k", "-maxrate", "2600k", "-bufsize", "5200k",
         "-g", str(2 * FPS), "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-f", "flv", str(path)],
        check=True,
    )


def run_cli(src: Path, mark: Path, out: Path, enc: EncoderSettings, x: int, y: int) -> float:
    out.mkdir(parents=True, exist_ok=True)
    gop = int(FPS * SEGMENT * 4)
    cmd = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y", "-i", str(src), "-i", str(mark),
           "-filter_complex", f"[0:v][1:v]overlay=x={x}:y={y}:eof_action=repeat,format=yuv420p[v]",
           "-map", "[v]", "-map", "0:a", "-c:v", "libx264", "-preset", enc.preset]
    if enc.tune:
        cmd += ["-tune", enc.tune]
    cmd += ["-crf", str(enc.crf), "-g", str(gop), "-force_key_frames", f"expr:gte(t,n_forced*{SEGMENT})",
            "-c:a", "copy", "-f", "hls", "-hls_time", str(SEGMENT), "-hls_list_size", "0",
            str(out / "index.m3u8")]
    before = cpu(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True)
    return cpu(resource.RUSAGE_CHILDREN) - before


def run_livegate(messages: list, root: Path, enc: EncoderSettings) -> float:
    settings = MediaSettings(mark_mode="burn", mark_text=TEXT, segment_seconds=SEGMENT, encoder=enc,
                             sample_interval_seconds=None, audio_ident_interval_seconds=None, replay=False)
    before = cpu(resource.RUSAGE_SELF)
    stream = LiveStream(ROOM, "bench", settings, root, SystemClock())
    publish(stream, messages, metadata={"videocodecid": 7.0, "audiocodecid": 10.0, "framerate": float(FPS)})
    ended = stream.join(timeout=600)
    used = cpu(resource.RUSAGE_SELF) - before
    if ended is None or ended.reason != "ended":
        raise SystemExit(f"pipeline did not end normally: {ended}")
    return used


def run_pyav_min(src: Path, enc: EncoderSettings) -> float:
    before = cpu(resource.RUSAGE_SELF)
    burner = MarkBurner(TEXT, ROOM)
    with av.open(str(src)) as inp, av.open(io.BytesIO(), "w", format="mpegts") as out:
        vin = inp.streams.video[0]
        vin.codec_context.thread_type = "AUTO"
        vout = out.add_stream("libx264", rate=FPS)
        vout.width, vout.height, vout.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        vout.time_base = Fraction(1, 1000)
        vout.codec_context.time_base = Fraction(1, 1000)
        vout.codec_context.gop_size = int(FPS * SEGMENT * 4)
        vout.codec_context.options = enc.codec_options()
        next_key = 0.0
        for frame in inp.decode(vin):
            for marked in burner.burn(frame):
                assert marked.pts is not None and marked.time_base is not None
                t = float(marked.pts * marked.time_base)
                if t >= next_key:
                    marked.pict_type = av.video.frame.PictureType.I
                    next_key = t + SEGMENT
                else:
                    marked.pict_type = av.video.frame.PictureType.NONE
                out.mux(vout.encode(marked))
        out.mux(vout.encode(None))
    return cpu(resource.RUSAGE_SELF) - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="length of the 720p30 input")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--preset", default="ultrafast")
    parser.add_argument("--tune", default="zerolatency")
    parser.add_argument("--crf", type=int, default=23)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    if not Path(FFMPEG).exists():
        raise SystemExit(f"{FFMPEG} is missing: install ffmpeg (apt) and run again")
    enc = EncoderSettings(preset=args.preset, tune=args.tune or None, crf=args.crf)

    work = Path(tempfile.mkdtemp(prefix="bench_burn."))
    t0 = time.monotonic()
    src = work / "input.flv"
    make_input(src, args.seconds)
    image = render_mark(TEXT, ROOM, video_height=HEIGHT)
    where = placement(image, WIDTH, HEIGHT)
    mark = work / "mark.png"
    mark.write_bytes(mark_png(image))
    messages = read_messages(src.read_bytes())
    print(f"input: {args.seconds:g} s of {WIDTH}x{HEIGHT}@{FPS} H.264/AAC, {src.stat().st_size / 1e6:.1f} MB; "
          f"x264 preset={enc.preset} tune={enc.tune} crf={enc.crf}; prepared in {time.monotonic() - t0:.1f} s")

    results: dict[str, list[float]] = {"cli": [], "livegate": [], "pyav-min": []}
    for i in range(args.repeats):
        results["cli"].append(run_cli(src, mark, work / f"cli{i}", enc, where.x, where.y))
        results["livegate"].append(run_livegate(messages, work / f"lg{i}", enc))
        results["pyav-min"].append(run_pyav_min(src, enc))
        print("  run", i + 1, "  ".join(f"{k}={v[-1]:.2f}" for k, v in results.items()), flush=True)

    best = {k: min(v) for k, v in results.items()}
    per_minute = 60.0 / args.seconds
    print()
    print(f"{'':10} {'CPU-s':>7} {'CPU-s/stream-min':>17}")
    for name, value in best.items():
        print(f"{name:10} {value:7.2f} {value * per_minute:17.1f}")
    print()
    print(f"ratio livegate / ffmpeg CLI:  {best['livegate'] / best['cli']:.2f}  (goal <= 1.10)")
    print(f"ratio livegate / bare PyAV:   {best['livegate'] / best['pyav-min']:.2f}  (pipeline overhead)")
    print(f"ratio bare PyAV / ffmpeg CLI: {best['pyav-min'] / best['cli']:.2f}  (library builds)")
    print(f"total wall time {time.monotonic() - t0:.0f} s")
    if args.keep:
        print("work directory:", work)
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
