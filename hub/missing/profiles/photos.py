"""The Philomena profile's photo: what an upload must be, and what is kept of it. Pure: bytes in,
bytes out, nothing written.

An upload is accepted only when Pillow itself reads it as a JPEG or PNG (the file's name and
declared type are ignored), no larger than MAX_UPLOAD_BYTES, and within its format's pixel cap
(checked from the header, before any pixel is decoded: a decompression bomb is refused, not
expanded). What is kept is a new JPEG drawn from the pixels alone, turned upright and no larger
than MAX_SIDE: no EXIF (GPS position, camera, time), no ICC profile, no comment, nothing of the
original file survives.

The work is done in the request, so it is bounded there: a profile photo is kept at 1200 pixels
a side, and an upload is decoded at no more than it needs. A JPEG is decoded by libjpeg at 1/2,
1/4 or 1/8 of its size (DCT scaling, `Image.draft`), so a 24-megapixel phone photo costs about
what a 2-megapixel one does; its scans are counted first, since a progressive JPEG of thousands
of scans is slow at any size. A PNG has no such shortcut (every pixel is inflated and unfiltered),
so its cap is a 4K screen's screenshot: a 6000 x 6000 PNG, 105 KB of zlib, held a web worker for
7 s (issue 19). bench/photo_upload.py measures both.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_SIDE = 1200
#: A 24-megapixel phone photo (5712 x 4284) with room to spare; decoded scaled down (see above).
MAX_JPEG_PIXELS = 25_000_000
#: A screenshot of a 4K screen (3840 x 2160): a PNG is decoded in full, so this bounds the work.
MAX_PNG_PIXELS = 3840 * 2160
MAX_PIXELS = {"JPEG": MAX_JPEG_PIXELS, "PNG": MAX_PNG_PIXELS}
#: A progressive JPEG from a camera or an editor has about 10 scans; each costs a pass over the
#: image however small it is decoded.
MAX_JPEG_SCANS = 100
ACCEPTED_FORMATS = ("JPEG", "PNG")
JPEG_QUALITY = 85

# Pillow's own guard, for every image this process opens: an error (not a warning) at 2x.
Image.MAX_IMAGE_PIXELS = max(MAX_PIXELS.values())

NOT_AN_IMAGE = "The photo must be a JPEG or PNG image"
TOO_BIG = "The photo must be smaller than 5 MB"
TOO_MANY_PIXELS = "The photo is too large: use a JPEG of up to 24 megapixels, or a PNG of up to 3840 by 2160 pixels"
TOO_MANY_SCANS = "The photo could not be read: save it again as an ordinary JPEG and try again"
UNREADABLE = "The photo could not be read: it may be damaged. Try another copy"


class PhotoRefused(ValueError):
    """The upload is not a photo the profile keeps; the message says why, for the form."""


def clean_photo(data: bytes) -> bytes:
    """The upload re-encoded as a metadata-free JPEG, or PhotoRefused."""
    image = decoded(opened(data))
    return _reencode(_guarded(lambda: _kept(image)))


def decoded(image: Image.Image) -> Image.Image:
    """An opened upload's pixels, decoded at no more than the kept size needs: a JPEG at 1/2,
    1/4 or 1/8 of its size where that still covers the kept size; a PNG in full (its cap keeps
    that small)."""
    def decode() -> Image.Image:
        if image.format == "JPEG":
            image.draft("RGB", _kept_size(image.size))  # libjpeg scales while decoding
        image.load()
        return image

    return _guarded(decode)


def _kept(image: Image.Image) -> Image.Image:
    """Upright and within MAX_SIDE a side."""
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        # Palette, 16-bit, CMYK: into a mode that resamples properly (alpha only where there is any).
        image = image.convert("RGBA" if image.has_transparency_data else "RGB")
    # A box reduction first, to within 1.5x of the kept size, then a fair resample: close to
    # resampling from the full image (Pillow's note on reducing_gap), for a fraction of the work.
    image.thumbnail((MAX_SIDE, MAX_SIDE), reducing_gap=1.5)
    return ImageOps.exif_transpose(image)


def _guarded(work):
    """Pillow's failures while decoding, as the refusal the form shows."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return work()
    except PhotoRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoRefused(TOO_MANY_PIXELS) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise PhotoRefused(UNREADABLE) from exc


def opened(data: bytes) -> Image.Image:
    """The upload opened (its header read, no pixel decoded) and checked: format, bytes, pixels,
    scans; or PhotoRefused."""
    if not data:
        raise PhotoRefused(NOT_AN_IMAGE)
    if len(data) > MAX_UPLOAD_BYTES:
        raise PhotoRefused(TOO_BIG)
    return _open(data)


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
    if width * height > MAX_PIXELS[image.format]:
        raise PhotoRefused(TOO_MANY_PIXELS)
    # Each scan starts with an SOS marker (FF DA), which cannot occur inside entropy-coded data
    # (an FF there is always followed by 00 or a restart number): counting them over-counts at
    # worst (an embedded thumbnail's), never under.
    if image.format == "JPEG" and data.count(b"\xff\xda") > MAX_JPEG_SCANS:
        raise PhotoRefused(TOO_MANY_SCANS)
    return image


def _kept_size(size: tuple[int, int]) -> tuple[int, int]:
    """The size a photo of `size` is kept at: within MAX_SIDE a side, its shape kept."""
    width, height = size
    scale = min(1.0, MAX_SIDE / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _reencode(image: Image.Image) -> bytes:
    """A new RGB image holding only the pixels (transparency laid on white)."""
    rgba = image.convert("RGBA")
    pixels = Image.new("RGB", rgba.size, "white")
    pixels.paste(rgba, mask=rgba.getchannel("A"))
    out = io.BytesIO()
    pixels.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()
