"""Document photos: prove an upload is an image, drop its metadata, bound its size.

Decoding with Pillow is the proof; re-encoding from pixels drops EXIF (GPS position,
camera serial, thumbnails that may show more than the crop). The result is sealed by the
vault before it touches the database.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Final

from PIL import Image, ImageOps, UnidentifiedImageError

from livegate.identity.errors import InvalidPhoto, PhotoTooLarge

__all__ = ["ACCEPTED_TYPES", "MAX_PHOTO_BYTES", "MAX_PIXELS", "CleanPhoto", "clean_photo"]

MAX_PHOTO_BYTES: Final = 5 * 1024 * 1024
MAX_PIXELS: Final = 40_000_000  # a decompression bomb is refused before decoding
MAX_SIDE: Final = 4096  # larger photos are scaled down: more pixels add nothing a reviewer needs
ACCEPTED_TYPES: Final = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}


@dataclass(frozen=True, slots=True)
class CleanPhoto:
    data: bytes
    content_type: str
    width: int
    height: int


def clean_photo(data: bytes, declared_type: str) -> CleanPhoto:
    """Decode, check and re-encode ``data``; raise :class:`InvalidPhoto` or :class:`PhotoTooLarge`."""
    if len(data) > MAX_PHOTO_BYTES:
        raise PhotoTooLarge(f"A photo may be at most {MAX_PHOTO_BYTES // (1024 * 1024)} MB.", limit=MAX_PHOTO_BYTES)
    if not data:
        raise InvalidPhoto("The upload is empty.", reason="empty")
    declared = (declared_type or "").split(";")[0].strip().lower()
    if declared not in ACCEPTED_TYPES:
        raise InvalidPhoto("Upload a JPEG, PNG or WebP image.", reason="type", accepted=sorted(ACCEPTED_TYPES))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                fmt = probe.format
                if probe.width * probe.height > MAX_PIXELS:
                    raise InvalidPhoto("The image has far too many pixels.", reason="pixels")
                probe.verify()
            with Image.open(io.BytesIO(data)) as decoded:
                decoded.load()
                img: Image.Image = ImageOps.exif_transpose(decoded).convert("RGB")
    except InvalidPhoto:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):
        raise InvalidPhoto("The upload is not a readable image.", reason="decode") from None
    if fmt not in set(ACCEPTED_TYPES.values()):
        raise InvalidPhoto("Upload a JPEG, PNG or WebP image.", reason="type", accepted=sorted(ACCEPTED_TYPES))
    img.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=90)  # no exif= argument: metadata is not written
    return CleanPhoto(out.getvalue(), "image/jpeg", img.width, img.height)
