"""The profile's photo: only a real JPEG or PNG, re-encoded without its metadata, encrypted at
rest, and shown only to those who may see the profile, every read audited."""

from __future__ import annotations

import io

from PIL import Image
from sqlalchemy import select, text

from hub import db
from hub.missing import service
from hub.missing.profiles import photos
from hub.missing.profiles import service as profiles
from hub.models.audit import AuditEvent
from hub.models.auth import User
from hub.models.missing import PhilomenaProfile
from hub.models.roles import OrgKind, Role
from tests.factories import csrf_token, episode_details, make_org, make_user, sign_in

GPS_IFD = 0x8825


def _image(fmt: str, size=(64, 48), exif: bool = False) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    out = io.BytesIO()
    extra = {}
    if exif:
        meta = Image.Exif()
        meta[0x010F] = "PhoneMaker"                                      # Make
        meta[0x0132] = "2026:01:02 03:04:05"                            # DateTime
        meta.get_ifd(GPS_IFD).update({1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0)})
        extra["exif"] = meta.tobytes()
    image.save(out, format=fmt, **extra)
    return out.getvalue()


def _upload(client, child_id: int, data: bytes, filename: str, **fields):
    page = client.get(f"/missing/profile/{child_id}").get_data(as_text=True)
    form = {"csrf_token": csrf_token(page), "photo": (io.BytesIO(data), filename), **fields}
    return client.post(f"/missing/profile/{child_id}", data=form, content_type="multipart/form-data")


def _stored_token() -> str | None:
    return db.session().execute(text("SELECT photo FROM philomena_profile")).scalar()


def test_a_png_with_exif_and_gps_is_stored_re_encoded_without_them(team, client):
    original = _image("PNG", exif=True)
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)  # the upload does carry a position
    sign_in(client, team.worker, team.worker_secret)
    response = _upload(client, team.child.id, original, "holiday.png", physical_description="Tall")
    assert response.status_code == 302, response.get_data(as_text=True)
    stored = db.session().scalar(select(PhilomenaProfile)).photo
    kept = Image.open(io.BytesIO(stored))
    assert kept.format == "JPEG" and kept.size == (64, 48)
    assert not kept.getexif() and "exif" not in kept.info and "icc_profile" not in kept.info
    assert b"PhoneMaker" not in stored and b"Exif" not in stored


def test_a_large_photo_is_scaled_down(team):
    kept = Image.open(io.BytesIO(photos.clean_photo(_image("JPEG", size=(3000, 2000)))))
    assert max(kept.size) == photos.MAX_SIDE


def test_the_photo_is_encrypted_at_rest(team, client):
    sign_in(client, team.worker, team.worker_secret)
    _upload(client, team.child.id, _image("JPEG"), "me.jpg")
    token = _stored_token()
    assert token and token.startswith(("gAAAA", "ck1."))  # a Fernet token
    assert b"\xff\xd8\xff" not in token.encode() and "JFIF" not in token
    assert db.session().scalar(select(PhilomenaProfile)).photo.startswith(b"\xff\xd8\xff")


def _refused(client, child_id: int, data: bytes, filename: str, message: str) -> None:
    response = _upload(client, child_id, data, filename, physical_description="Tall")
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert db.session().scalar(select(PhilomenaProfile)) is None  # nothing stored, not even the text


def test_a_gif_a_renamed_file_and_an_oversized_image_are_refused_and_nothing_stored(team, client):
    sign_in(client, team.worker, team.worker_secret)
    _refused(client, team.child.id, _image("GIF"), "cat.gif", "The photo must be a JPEG or PNG image")
    _refused(client, team.child.id, _image("GIF"), "cat.jpg", "The photo must be a JPEG or PNG image")
    _refused(client, team.child.id, b"%PDF-1.7 not a photo at all" * 10, "photo.jpg",
             "The photo must be a JPEG or PNG image")
    too_big = _image("PNG") + b"\0" * photos.MAX_UPLOAD_BYTES
    _refused(client, team.child.id, too_big, "big.png", "The photo must be smaller than 5 MB")
    # A small file that claims enormous dimensions (a decompression bomb) is refused from its header.
    bomb = Image.new("1", (8000, 8000))
    out = io.BytesIO()
    bomb.save(out, format="PNG")
    assert len(out.getvalue()) < 100_000
    _refused(client, team.child.id, out.getvalue(), "bomb.png", "The photo is too large")


def _events(object_type: str, outcome: str) -> list[AuditEvent]:
    return list(db.session().scalars(select(AuditEvent).where(AuditEvent.object_type == object_type,
                                                               AuditEvent.outcome == outcome)))


def test_the_photo_route_refuses_who_may_not_see_the_profile_and_audits_who_may(team, client):
    sign_in(client, team.worker, team.worker_secret)
    _upload(client, team.child.id, _image("JPEG"), "me.jpg")
    url = f"/missing/profile/{team.child.id}/photo"
    shown = client.get(url)
    assert shown.status_code == 200 and shown.mimetype == "image/jpeg"
    assert shown.headers["Cache-Control"] == "no-store" and shown.data.startswith(b"\xff\xd8\xff")
    reads = _events("philomena-photo", "done")
    assert [(e.action, e.actor_user_id, e.child_id) for e in reads] == [("read", team.worker.id, team.child.id)]
    # The school, the police before release, and another authority's social worker: 404, audited.
    stranger, stranger_secret = make_user(make_org(OrgKind.childrens_social_care), Role.social_worker)
    for user, secret in ((team.dsl, team.dsl_secret), (team.officer, team.officer_secret), (stranger, stranger_secret)):
        other = client.application.test_client()
        sign_in(other, user, secret)
        assert other.get(url).status_code == 404
    refused = _events("philomena-photo", "refused")
    assert {e.actor_user_id for e in refused} == {team.dsl.id, team.officer.id, stranger.id}


def test_the_police_see_the_photo_once_the_profile_is_released_to_them(team, client):
    worker = db.session().get(User, team.worker.id)
    profiles.save_profile(worker, team.child.id, {}, profiles.PhotoChange(upload=_image("PNG")))
    episode = service.record_episode(db.session().get(User, team.officer.id), team.child.id, episode_details())
    profiles.release_profile(db.session().get(User, team.worker.id), episode.id)
    sign_in(client, team.officer, team.officer_secret)
    page = client.get(f"/missing/{episode.id}/profile").get_data(as_text=True)
    assert f'src="/missing/profile/{team.child.id}/photo"' in page
    assert client.get(f"/missing/profile/{team.child.id}/photo").status_code == 200
    assert [e.actor_user_id for e in _events("philomena-photo", "done")] == [team.officer.id]


# --- issue 19 item 22: no upload holds a web worker for long ------------------------------------

def _flat_png(size: tuple[int, int]) -> bytes:
    """A tiny file of many pixels: one colour compresses to almost nothing in PNG's zlib."""
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format="PNG", optimize=True)
    return out.getvalue()


def test_a_6000_by_6000_png_of_about_100_kb_is_refused_from_its_header_with_a_clear_message(team, client):
    upload = _flat_png((6000, 6000))
    assert len(upload) < 150_000  # the file the issue found: small on the wire, 36 megapixels to decode
    sign_in(client, team.worker, team.worker_secret)
    _refused(client, team.child.id, upload, "plain.png", "use a JPEG of up to 24 megapixels, or a PNG of up to "
                                                         "3840 by 2160 pixels")


def test_a_png_the_size_of_a_4k_screenshot_is_kept(team):
    kept = Image.open(io.BytesIO(photos.clean_photo(_flat_png((3840, 2160)))))
    assert kept.size == (1200, 675)
    try:
        photos.clean_photo(_flat_png((3841, 2160)))
    except photos.PhotoRefused as refused:
        assert str(refused) == photos.TOO_MANY_PIXELS
    else:
        raise AssertionError("a PNG over the cap was kept")


def test_a_24_megapixel_phone_jpeg_is_decoded_scaled_down_by_libjpeg_not_in_full(team):
    upload = _image("JPEG", size=(5712, 4284))
    # What libjpeg itself decoded, before any resampling: a quarter of each side, not 24 megapixels.
    assert photos.decoded(photos.opened(upload)).size == (1428, 1071)
    assert Image.open(io.BytesIO(photos.clean_photo(upload))).size == (1200, 900)


def test_a_jpeg_of_more_scans_than_any_camera_writes_is_refused(team):
    upload = _image("JPEG", size=(64, 48))
    end = upload.rindex(b"\xff\xd9")
    crafted = upload[:end] + b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" * (photos.MAX_JPEG_SCANS + 1) + upload[end:]
    try:
        photos.clean_photo(crafted)
    except photos.PhotoRefused as refused:
        assert str(refused) == photos.TOO_MANY_SCANS
    else:
        raise AssertionError("a JPEG of endless scans was decoded")
