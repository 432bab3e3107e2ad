"""The platform's mark on every live picture.

Two modes, chosen by policy per category (the field notes put burning a mark into 720p30
at 17-38 CPU-s per stream-minute, remuxing at 0.14):

- ``burn``: decode, composite the mark with FFmpeg's ``overlay`` filter, encode with
  libx264. The mark is in the pixels; every copy of the video carries it.
- ``overlay``: video is passed through bit for bit, and the playlist carries the mark as
  timed metadata (an ``EXT-X-DATERANGE`` naming the text, the room and the mark image),
  which the player draws over the video.

The mark is rendered with Pillow (the bundled FFmpeg has no ``drawtext``): the platform's
name and the room number on a translucent plate, sized to the picture.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
from av.filter import Graph
from av.filter.context import FilterContext
from av.video.format import VideoFormat
from PIL import Image, ImageDraw, ImageFont

from livegate.media.hls import DateRange

MARK_CLASS = "com.livegate.mark"


@dataclass(frozen=True, slots=True)
class MarkPlacement:
    """Where the mark sits: top-right, ``margin`` pixels from the edges."""

    x: int
    y: int
    width: int
    height: int


def mark_label(text: str, room: str) -> str:
    return f"{text}  {room}"


def render_mark(text: str, room: str, *, video_height: int = 720, font_path: str | None = None) -> Image.Image:
    """The mark as an RGBA image scaled to ``video_height`` (about 4.5% of it for the text)."""
    size = max(10, round(video_height * 0.045))
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont
    if font_path:
        font = ImageFont.truetype(font_path, size)
    else:
        font = ImageFont.load_default(size=size)
    label = mark_label(text, room)
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    left, top, right, bottom = (int(round(v)) for v in probe.textbbox((0, 0), label, font=font))
    pad = max(3, size // 3)
    width = (right - left) + 2 * pad
    height = (bottom - top) + 2 * pad
    width += width % 2  # even sizes keep 4:2:0 chroma aligned
    height += height % 2
    img = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((0, 0, width - 1, height - 1), radius=pad, fill=(0, 0, 0, 120))
    draw.text((pad - left, pad - top), label, font=font, fill=(255, 255, 255, 235))
    return img


def mark_png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def placement(image: Image.Image, video_width: int, video_height: int) -> MarkPlacement:
    margin = max(4, round(video_height * 0.025)) & ~1
    return MarkPlacement(video_width - image.width - margin, margin, image.width, image.height)


def mark_daterange(*, session: str, start: dt.datetime, text: str, room: str, mark_uri: str) -> DateRange:
    """The overlay-mode announcement of the mark, for the player to draw."""
    return DateRange(
        id=f"mark-{session}",
        cls=MARK_CLASS,
        start=start,
        attributes=(
            ("LIVEGATE-MARK-TEXT", text),
            ("LIVEGATE-ROOM", room),
            ("LIVEGATE-MARK-URI", mark_uri),
            ("LIVEGATE-MARK-POSITION", "top-right"),
        ),
    )


class MarkBurner:
    """Composites the mark onto decoded frames through an FFmpeg filter graph.

    ``buffer`` (video) and ``buffer`` (the mark, pushed once then closed, so ``overlay``
    repeats it) feed ``overlay``, then ``format=yuv420p`` for libx264. The graph is built on
    the first frame, when the picture size is known; frames of another size are scaled back
    to it, since the encoder cannot change resolution mid-stream.
    """

    def __init__(self, text: str, room: str, *, font_path: str | None = None) -> None:
        self.text = text
        self.room = room
        self.font_path = font_path
        self._graph: Graph | None = None
        self._main: FilterContext | None = None
        self._sink: FilterContext | None = None
        self.size: tuple[int, int] | None = None
        self.placement: MarkPlacement | None = None
        self.image: Image.Image | None = None

    def _build(self, frame: av.VideoFrame) -> None:
        width, height = frame.width, frame.height
        image = render_mark(self.text, self.room, video_height=height, font_path=self.font_path)
        where = placement(image, width, height)
        graph = Graph()
        time_base = frame.time_base or Fraction(1, 1000)
        main = graph.add_buffer(width=width, height=height, format=frame.format, time_base=time_base, name="main")
        mark_src = graph.add_buffer(
            width=image.width, height=image.height, format=VideoFormat("rgba"), time_base=time_base, name="mark"
        )
        overlay = graph.add("overlay", f"x={where.x}:y={where.y}:eof_action=repeat")
        fmt = graph.add("format", "pix_fmts=yuv420p")
        sink = graph.add("buffersink")
        main.link_to(overlay, 0, 0)
        mark_src.link_to(overlay, 0, 1)
        overlay.link_to(fmt)
        fmt.link_to(sink)
        graph.configure()
        mark_frame = av.VideoFrame.from_ndarray(np.asarray(image), format="rgba")
        mark_frame.pts = frame.pts or 0
        mark_frame.time_base = time_base
        mark_src.push(mark_frame)
        mark_src.push(None)
        self._graph, self._main, self._sink = graph, main, sink
        self.size = (width, height)
        self.placement = where
        self.image = image

    def burn(self, frame: av.VideoFrame) -> list[av.VideoFrame]:
        """The marked frame(s) ready for the encoder (the overlay filter does not delay)."""
        if self._graph is None:
            self._build(frame)
        assert self._main is not None and self._sink is not None and self.size is not None
        if (frame.width, frame.height) != self.size:
            pts, tb = frame.pts, frame.time_base
            frame = frame.reformat(width=self.size[0], height=self.size[1])
            frame.pts, frame.time_base = pts, tb
        self._main.push(frame)
        out: list[av.VideoFrame] = []
        while True:
            try:
                result = self._sink.pull()
            except (av.BlockingIOError, av.EOFError):
                break
            assert isinstance(result, av.VideoFrame)
            out.append(result)
        return out
