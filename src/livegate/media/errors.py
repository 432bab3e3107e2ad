"""Errors of the media pipeline.

A stream that fails ends with one of these as its typed reason (see
:class:`livegate.media.pipeline.StreamEnded`); the process keeps running. The codes are
stable: the console shows them and the audit log stores them.
"""

from __future__ import annotations

from livegate.core.errors import Gone, LivegateError, NotFound


class MediaError(LivegateError):
    """The media pipeline could not process this stream."""

    code = "media_error"
    http_status = 500


class CorruptMedia(MediaError):
    """The stream's data is not valid FLV/H.264/AAC and cannot be processed."""

    code = "media_corrupt"
    http_status = 422


class UnsupportedMedia(MediaError):
    """The stream uses a codec or layout the platform does not carry (H.264/HEVC video, AAC/MP3 audio)."""

    code = "media_unsupported"
    http_status = 415


class MediaOverloaded(MediaError):
    """The stream arrived faster than it could be processed; its buffer limit was reached."""

    code = "media_overloaded"
    http_status = 503


class StreamCutOff(MediaError):
    """The stream was cut off; nothing more is published."""

    code = "media_cut_off"
    http_status = 410


class ReplayNotFound(NotFound):
    """There is no replay of this stream session."""

    code = "replay_not_found"


class ReplayWithdrawn(Gone):
    """This replay was withdrawn."""

    code = "replay_withdrawn"
