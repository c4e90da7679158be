"""The Philomena profile's photo: what an upload must be, and what is kept of it. Pure: bytes in,
bytes out, nothing written.

An upload is accepted only when Pillow itself reads it as a JPEG or PNG (the file's name and
declared type are ignored), no larger than MAX_UPLOAD_BYTES and MAX_PIXELS (checked from the
header, before any pixel is decoded: a decompression bomb is refused, not expanded). What is kept
is a new JPEG drawn from the pixels alone, turned upright and no larger than MAX_SIDE: no EXIF
(GPS position, camera, time), no ICC profile, no comment, nothing of the original file survives.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
#: About 40 megapixels: more than any phone photo; far less than a bomb expands to.
MAX_PIXELS = 40_000_000
MAX_SIDE = 1200
ACCEPTED_FORMATS = ("JPEG", "PNG")
JPEG_QUALITY = 85

# Pillow's own guard, for every image this process opens: an error (not a warning) at 2x.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

NOT_AN_IMAGE = "The photo must be a JPEG or PNG image"
TOO_BIG = "The photo must be smaller than 5 MB"
TOO_MANY_PIXELS = "The photo is too large: use one under 40 megapixels"
UNREADABLE = "The photo could not be read: it may be damaged. Try another copy"


class PhotoRefused(ValueError):
    """The upload is not a photo the profile keeps; the message says why, for the form."""


def clean_photo(data: bytes) -> bytes:
    """The upload re-encoded as a metadata-free JPEG, or PhotoRefused."""
    if not data:
        raise PhotoRefused(NOT_AN_IMAGE)
    if len(data) > MAX_UPLOAD_BYTES:
        raise PhotoRefused(TOO_BIG)
    image = _open(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
            upright = ImageOps.exif_transpose(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoRefused(TOO_MANY_PIXELS) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise PhotoRefused(UNREADABLE) from exc
    return _reencode(upright)


def _open(data: bytes) -> Image.Image:
    try:
        # Only the two decoders we accept are tried: a GIF, a renamed text file or anything else
        # never reaches another of Pillow's parsers.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(ACCEPTED_FORMATS))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoRefused(TOO_MANY_PIXELS) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise PhotoRefused(NOT_AN_IMAGE) from exc
    if image.format not in ACCEPTED_FORMATS:
        raise PhotoRefused(NOT_AN_IMAGE)
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise PhotoRefused(TOO_MANY_PIXELS)
    return image


def _reencode(image: Image.Image) -> bytes:
    """A new RGB image holding only the pixels (transparency laid on white), scaled down."""
    rgba = image.convert("RGBA")
    pixels = Image.new("RGB", rgba.size, "white")
    pixels.paste(rgba, mask=rgba.getchannel("A"))
    pixels.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    pixels.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()
