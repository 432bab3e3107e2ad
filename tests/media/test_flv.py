from __future__ import annotations

import functools

import pytest

from livegate.media import flv
from livegate.media.errors import CorruptMedia
from livegate.media.testpattern import PatternSpec, encode_flv
from livegate.media.types import MediaMessage


@functools.cache
def sample_flv() -> bytes:
    return encode_flv(PatternSpec(seconds=1.0))


def test_parser_reads_what_pyav_wrote() -> None:
    tags = list(flv.iter_tags(sample_flv()))
    kinds = {t.kind for t in tags}
    assert kinds == {"audio", "video", "data"}
    assert flv.script_name(tags[0].body) == "onMetaData"
    videos = [t for t in tags if t.kind == "video"]
    first = flv.video_info(videos[0].body)
    assert first.codec == "h264" and first.sequence_header and first.keyframe
    assert flv.video_info(videos[1].body).keyframe and not flv.video_info(videos[1].body).sequence_header
    audios = [t for t in tags if t.kind == "audio"]
    assert flv.audio_info(audios[0].body).sequence_header
    assert flv.audio_info(audios[1].body).codec == "aac"
    assert all(b.timestamp_ms >= a.timestamp_ms for a, b in zip(videos, videos[1:], strict=False))


def test_round_trip_through_messages() -> None:
    messages = flv.read_messages(sample_flv())
    rebuilt = flv.file_header(audio=True, video=True) + b"".join(flv.encode_message(m) for m in messages)
    assert flv.read_messages(rebuilt) == messages


def test_incremental_parsing_in_small_chunks() -> None:
    data = sample_flv()
    parser = flv.FlvParser()
    tags: list[flv.FlvTag] = []
    for i in range(0, len(data), 7):
        tags.extend(parser.feed(data[i : i + 7]))
    assert [t.to_message() for t in tags] == flv.read_messages(data)
    assert parser.pending == 0


def test_truncated_tail_is_not_a_tag() -> None:
    data = sample_flv()
    assert len(list(flv.iter_tags(data[:-3]))) == len(list(flv.iter_tags(data))) - 1


def test_extended_timestamps() -> None:
    msg = MediaMessage("audio", 0x12345678, b"\xaf\x01abc")
    (tag,) = flv.iter_tags(flv.file_header(audio=True, video=False) + flv.encode_message(msg))
    assert tag.timestamp_ms == 0x12345678
    assert tag.offset == 13


def test_not_flv_fails_and_stays_failed() -> None:
    parser = flv.FlvParser()
    with pytest.raises(CorruptMedia):
        parser.feed(b"GIF89a" + b"\x00" * 20)
    with pytest.raises(CorruptMedia):
        parser.feed(flv.file_header(audio=True, video=True))


def test_oversized_tag_is_refused() -> None:
    parser = flv.FlvParser(max_tag_body=100)
    head = flv.file_header(audio=True, video=False)
    with pytest.raises(CorruptMedia):
        parser.feed(head + flv.encode_tag("audio", 0, b"\xaf\x01" + b"x" * 200))


def test_enhanced_rtmp_video_header() -> None:
    info = flv.video_info(bytes([0x90]) + b"hvc1" + b"\x01" * 8)  # keyframe, SequenceStart
    assert info.codec == "hevc" and info.keyframe and info.sequence_header
    assert flv.video_info(bytes([0xA1]) + b"av01" + b"\x00").codec == "av1"


def test_codec_ids() -> None:
    assert flv.video_info(b"\x24" + b"\x00" * 4).codec == "vp6"
    assert flv.audio_info(b"\x2f\x00").codec == "mp3"
    assert flv.audio_info(b"\xb6\x00").codec == "speex"
    with pytest.raises(CorruptMedia):
        flv.video_info(b"")
    with pytest.raises(CorruptMedia):
        flv.video_info(b"\x17\x00")


def test_set_data_frame_is_stripped() -> None:
    name = b"@setDataFrame"
    body = b"\x02" + len(name).to_bytes(2, "big") + name + b"\x02\x00\x0aonMetaData\x08\x00\x00\x00\x00\x00\x00\x09"
    stripped = flv.strip_set_data_frame(body)
    assert flv.script_name(stripped) == "onMetaData"
    assert flv.strip_set_data_frame(stripped) == stripped
    assert flv.script_name(b"\x05") is None
