"""Profile photo uploads: the work `hub.missing.profiles.photos.clean_photo` does in a web request.

Issue 19 item 22: a 105 KB, 6000 x 6000 PNG held a web worker for 7 s. Each upload below goes
through clean_photo (median of --runs, in this process, CPU only: no HTTP, no database), against
the baseline of the same run: a 12-megapixel phone JPEG (4032 x 3024), the everyday upload. The
6000 x 6000 PNG is also decoded the way the hub did before (every pixel, then converted and scaled)
to show what the refusal saves. Goal: every upload < 1 s of a worker (2 shared cores).
"""

from __future__ import annotations

import argparse
import io
import statistics
import time

from PIL import Image

from hub.missing.profiles import photos

GOAL_S = 1.0


def _png(mode: str, size: tuple[int, int], fill) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, fill).save(out, format="PNG", optimize=True)
    return out.getvalue()


def _noisy_png(size: tuple[int, int]) -> bytes:
    """The costliest PNG at the cap: RGBA with as much noise as still fits the 5 MB cap."""
    for sigma in (16, 8, 4, 2, 1):
        out = io.BytesIO()
        noise = Image.effect_noise(size, sigma)
        Image.merge("RGBA", [noise, noise, noise, noise]).save(out, format="PNG", compress_level=9)
        if len(out.getvalue()) <= photos.MAX_UPLOAD_BYTES:
            break
    return out.getvalue()


def _jpeg(size: tuple[int, int], progressive: bool = False, quality: int = 85) -> bytes:
    out = io.BytesIO()
    Image.effect_noise(size, 20).convert("RGB").save(out, format="JPEG", quality=quality, progressive=progressive)
    return out.getvalue()


def _largest_jpeg(size: tuple[int, int], progressive: bool) -> bytes:
    """The highest quality of a noisy JPEG that still fits the 5 MB cap."""
    for quality in (95, 85, 75, 60, 40, 20):
        data = _jpeg(size, progressive, quality)
        if len(data) <= photos.MAX_UPLOAD_BYTES:
            return data
    return data


def _old_pipeline(data: bytes) -> None:
    """What clean_photo did before: decode every pixel, convert, lay on white, then scale."""
    Image.MAX_IMAGE_PIXELS = None  # this is the upload the hub used to accept (under 40 MP)
    image = Image.open(io.BytesIO(data))
    image.load()
    rgba = image.convert("RGBA")
    pixels = Image.new("RGB", rgba.size, "white")
    pixels.paste(rgba, mask=rgba.getchannel("A"))
    pixels.thumbnail((photos.MAX_SIDE, photos.MAX_SIDE))


def _clean(data: bytes) -> str:
    try:
        photos.clean_photo(data)
        return "kept"
    except photos.PhotoRefused:
        return "refused"


def _median_s(work, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench photo_upload", description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    cap = (3840, 2160)
    uploads = {
        "6000x6000 PNG, one colour (the issue's file)": _png("RGB", (6000, 6000), (200, 30, 30)),
        "PNG at the cap, 3840x2160 RGB": _png("RGB", cap, (200, 30, 30)),
        "PNG at the cap, 3840x2160 RGBA noise": _noisy_png(cap),
        "PNG at the cap, 3840x2160 16-bit grey": _png("I;16", cap, 300),
        "PNG at the cap, 3840x2160 palette": _png("P", cap, 3),
        "JPEG 24 MP (5712x4284) baseline, <= 5 MB": _largest_jpeg((5712, 4284), False),
        "JPEG 24 MP (5712x4284) progressive, <= 5 MB": _largest_jpeg((5712, 4284), True),
    }
    baseline_upload = _jpeg((4032, 3024))
    baseline = _median_s(lambda: photos.clean_photo(baseline_upload), args.runs)
    print(f"baseline: 12 MP phone JPEG ({len(baseline_upload) // 1024} KB) {baseline * 1000:.0f} ms")
    worst = 0.0
    for label, data in uploads.items():
        seconds = _median_s(lambda data=data: _clean(data), args.runs)
        worst = max(worst, seconds)
        print(f"{label}: {len(data) // 1024} KB, {_clean(data)}, {seconds * 1000:.0f} ms, "
              f"{seconds / baseline:.2f}x baseline")
    issue = uploads["6000x6000 PNG, one colour (the issue's file)"]
    before = _median_s(lambda: _old_pipeline(issue), max(1, args.runs // 2))
    Image.MAX_IMAGE_PIXELS = max(photos.MAX_PIXELS.values())
    print(f"the issue's PNG decoded in full as before: {before * 1000:.0f} ms ({before / baseline:.2f}x baseline)")
    print(f"slowest upload {worst * 1000:.0f} ms: goal < {GOAL_S * 1000:.0f} ms "
          f"{'met' if worst < GOAL_S else 'short'}")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
