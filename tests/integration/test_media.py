"""Avatars: checked by content, stored under random names, resized and stripped of EXIF, served from /uploads/."""
from __future__ import annotations

import functools
import random
import struct
import zlib
from io import BytesIO
from pathlib import Path

import pytest
from flask import Flask
from PIL import ExifTags
from PIL import Image
from PIL import ImageCms
from PIL import ImageFile
from sqlalchemy import update
from werkzeug.datastructures import FileStorage

from blog import tasks
from blog.extensions import db
from blog.models import User
from blog.services import media
from blog.services.errors import Invalid
from tests.factories import make_user

RED, BLUE = (220, 20, 20), (20, 20, 220)


@pytest.fixture
def uploads(app: Flask, tmp_path: Path) -> Path:
    """An empty upload folder of the test's own (inside tmp_path, so traversal has somewhere to go)."""
    folder = tmp_path / "uploads"
    app.config["UPLOAD_FOLDER"] = str(folder)
    return folder


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """Record process_avatar tasks instead of running them, to see the avatar before the worker's turn."""
    calls: list[tuple] = []
    monkeypatch.setattr(tasks, "process_avatar", lambda *args: calls.append(args))
    return calls


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (300, 200), mode: str = "RGB", color=RED,
                **options) -> bytes:
    buffer = BytesIO()
    Image.new(mode, size, color).save(buffer, fmt, **options)
    return buffer.getvalue()


def two_halves(fmt: str = "JPEG", **options) -> bytes:
    """A 200×100 image, red on the left and blue on the right."""
    img = Image.new("RGB", (200, 100), RED)
    img.paste(BLUE, (100, 0, 200, 100))
    buffer = BytesIO()
    img.save(buffer, fmt, **options)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A valid-looking PNG that claims ``width``×``height`` but holds a few bytes of pixels (a bomb's shape)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b""))


def upload(data: bytes, filename: str = "me.png", content_type: str = "image/png") -> FileStorage:
    return FileStorage(stream=BytesIO(data), filename=filename, content_type=content_type)


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def opened(path: Path) -> Image.Image:
    img = Image.open(path)
    img.load()
    return img


def close_to(pixel, color, tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], color))


# --- accepted -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "ext"), [
    (image_bytes("PNG"), "png"),
    (image_bytes("JPEG"), "jpg"),
    (image_bytes("GIF", mode="P", color=3), "gif"),
    (image_bytes("WEBP"), "webp"),
], ids=["png", "jpeg", "gif", "webp"])
def test_image_is_stored_and_resized_into_square_webp_variants(app, uploads, data, ext):
    user = make_user()
    media.save_avatar(user, upload(data))

    key = user.avatar
    assert len(key) == 32 and user.avatar_processed is True  # the immediate queue ran the task inline
    assert files(uploads) == sorted([f"{key}.{ext}", f"{key}-256.webp", f"{key}-64.webp"])
    for size in (256, 64):
        variant = opened(uploads / "avatars" / f"{key}-{size}.webp")
        assert (variant.format, variant.size) == ("WEBP", (size, size))


def test_the_bytes_decide_the_type_not_the_name_or_the_browser(app, uploads):
    user = make_user()
    media.save_avatar(user, upload(image_bytes("JPEG"), filename="holiday.gif", content_type="text/plain"))
    assert (uploads / "avatars" / f"{user.avatar}.jpg").exists()


def test_phone_jpeg_with_several_pictures_is_taken_as_jpeg(app, uploads):
    buffer = BytesIO()
    Image.new("RGB", (120, 80), RED).save(buffer, "MPO", save_all=True, append_images=[Image.new("RGB", (120, 80))])
    user = make_user()
    media.save_avatar(user, upload(buffer.getvalue()))
    assert opened(uploads / "avatars" / f"{user.avatar}.jpg").format == "JPEG"
    assert close_to(opened(uploads / "avatars" / f"{user.avatar}-64.webp").getpixel((32, 32)), RED)


def test_transparency_is_kept_in_the_variants(app, uploads):
    user = make_user()
    media.save_avatar(user, upload(image_bytes("PNG", mode="RGBA", color=(0, 0, 0, 0))))
    variant = opened(uploads / "avatars" / f"{user.avatar}-64.webp")
    assert variant.mode == "RGBA" and variant.getpixel((32, 32))[3] == 0


def test_variants_are_a_centre_crop(app, uploads):
    # 300×100: a blue square in the middle third, red on both sides.
    img = Image.new("RGB", (300, 100), RED)
    img.paste(BLUE, (100, 0, 200, 100))
    buffer = BytesIO()
    img.save(buffer, "PNG")
    user = make_user()
    media.save_avatar(user, upload(buffer.getvalue()))
    variant = opened(uploads / "avatars" / f"{user.avatar}-64.webp")
    assert all(close_to(variant.getpixel(xy), BLUE) for xy in [(2, 2), (61, 61), (32, 32)])


def test_exif_is_removed_everywhere_and_the_orientation_applied(app, uploads):
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # the camera was turned: show it rotated 90° clockwise
    exif[ExifTags.Base.Model] = "SecretCam 3000"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef], gps[ExifTags.GPS.GPSLatitude] = "N", (51.0, 30.0, 0.0)
    data = two_halves("JPEG", quality=95, exif=exif, comment=b"at home", xmp=b"<x:xmpmeta>GPS 51.5</x:xmpmeta>")
    assert b"SecretCam" in data and b"at home" in data and b"GPS 51.5" in data

    user = make_user()
    media.save_avatar(user, upload(data))

    folder = uploads / "avatars"
    original = opened(folder / f"{user.avatar}.jpg")
    assert original.size == (100, 200)  # turned upright: the red left half is now on top
    assert close_to(original.getpixel((50, 20)), RED) and close_to(original.getpixel((50, 180)), BLUE)
    for path in folder.iterdir():
        img = opened(path)
        raw = path.read_bytes()
        assert len(img.getexif()) == 0 and not {"exif", "xmp", "comment"} & img.info.keys(), path.name
        assert b"SecretCam" not in raw and b"at home" not in raw and b"GPS 51.5" not in raw and b"Exif" not in raw
    variant = opened(folder / f"{user.avatar}-256.webp")
    assert close_to(variant.getpixel((128, 10)), RED) and close_to(variant.getpixel((128, 245)), BLUE)


def test_png_text_and_exif_chunks_are_removed_but_the_colour_profile_kept_on_the_original(app, uploads):
    from PIL import PngImagePlugin

    text = PngImagePlugin.PngInfo()
    text.add_text("Author", "Jane Secret")
    exif = Image.Exif()
    exif[ExifTags.Base.Model] = "SecretCam 3000"
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    user = make_user()
    media.save_avatar(user, upload(image_bytes("PNG", pnginfo=text, exif=exif, icc_profile=srgb)))

    folder = uploads / "avatars"
    original = opened(folder / f"{user.avatar}.png")
    assert "Author" not in original.info and len(original.getexif()) == 0
    assert original.info.get("icc_profile") == srgb
    assert b"Jane Secret" not in (folder / f"{user.avatar}.png").read_bytes()
    assert "icc_profile" not in opened(folder / f"{user.avatar}-256.webp").info


def test_cmyk_jpeg_gives_rgb_variants_and_an_rgb_original(app, uploads):
    user = make_user()
    media.save_avatar(user, upload(image_bytes("JPEG", mode="CMYK", color=(0, 255, 255, 0))))
    assert opened(uploads / "avatars" / f"{user.avatar}.jpg").mode == "RGB"
    assert close_to(opened(uploads / "avatars" / f"{user.avatar}-64.webp").getpixel((32, 32)), (255, 0, 0), 60)


def test_sixteen_bit_greyscale_keeps_its_shade(app, uploads):
    user = make_user()
    media.save_avatar(user, upload(image_bytes("PNG", mode="I;16", color=32768)))
    assert close_to(opened(uploads / "avatars" / f"{user.avatar}-64.webp").getpixel((32, 32)), (128, 128, 128), 4)


# --- refused ------------------------------------------------------------------------------------

def noise_png(side: int = 64) -> bytes:
    rng = random.Random(0)
    buffer = BytesIO()
    Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3)).save(buffer, "PNG")
    return buffer.getvalue()


@functools.cache
def small_bomb() -> bytes:
    """8000×8000 black-and-white pixels (64 megapixels) in a few kilobytes."""
    buffer = BytesIO()
    Image.new("1", (8000, 8000)).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


REFUSED = {
    "text named x.png": (b"Just some text, not a picture.\n", {}, "JPEG, PNG, GIF or WebP"),
    "empty": (b"", {}, "Choose an image"),
    "svg": (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>',
            {}, "JPEG, PNG, GIF or WebP"),
    "tiff": (image_bytes("TIFF"), {}, "JPEG, PNG, GIF or WebP"),
    "bmp": (image_bytes("BMP"), {}, "JPEG, PNG, GIF or WebP"),
    "ico": (image_bytes("ICO", size=(32, 32)), {}, "JPEG, PNG, GIF or WebP"),
    "truncated png": (noise_png()[:6000], {}, "damaged or incomplete"),
    "truncated jpeg": (two_halves("JPEG")[:-400], {}, "damaged or incomplete"),
    "over the byte limit": (noise_png(), {"AVATAR_MAX_BYTES": 1000}, "at most 1 KB"),
    "over the pixel limit": (image_bytes("PNG", size=(20, 20)), {"IMAGE_MAX_PIXELS": 100}, "too many pixels"),
    "small-on-disk bomb": (small_bomb(), {}, "at most 40 megapixels"),
    "bomb Pillow refuses": (png_header_only(50_000, 50_000), {"IMAGE_MAX_PIXELS": 10**12}, "too many pixels"),
    "bomb Pillow warns about": (png_header_only(10_000, 10_000), {"IMAGE_MAX_PIXELS": 10**12}, "too many pixels"),
}


@pytest.mark.parametrize(("data", "settings", "message"), REFUSED.values(), ids=REFUSED.keys())
def test_refused_upload_leaves_no_file_and_the_user_unchanged(app, uploads, queued, data, settings, message):
    app.config.update(settings)
    user = make_user()
    with pytest.raises(Invalid) as refused:
        media.save_avatar(user, upload(data, filename="x.png", content_type="image/png"))
    assert message in refused.value.fields["avatar"][0]
    assert files(uploads) == [] and queued == []
    db.session.expire_all()
    assert (user.avatar, user.avatar_processed) == (None, False)


def test_the_small_bomb_really_is_small():
    assert len(small_bomb()) < 20_000


@pytest.mark.parametrize(("data", "max_pixels"), [
    (small_bomb(), 40_000_000),
    (png_header_only(50_000, 50_000), 10**12),
    (png_header_only(10_000, 10_000), 10**12),
], ids=["over our limit", "Pillow's error", "Pillow's warning"])
def test_bombs_are_refused_without_decoding_a_pixel(app, uploads, monkeypatch, data, max_pixels):
    app.config["IMAGE_MAX_PIXELS"] = max_pixels
    decoded = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda img: decoded.append(img) or real_load(img))
    with pytest.raises(Invalid):
        media.save_avatar(make_user(), upload(data))
    assert decoded == []


def test_no_more_than_the_limit_is_read_whatever_the_browser_claims(app, uploads):
    app.config["AVATAR_MAX_BYTES"] = 1000
    stream = BytesIO(b"\xff\xd8" + b"\0" * 5_000_000)
    with pytest.raises(Invalid):
        media.save_avatar(make_user(), FileStorage(stream=stream, filename="a.jpg", content_length=10))
    assert stream.tell() <= 1001


def test_a_refused_upload_keeps_the_current_avatar(app, uploads):
    user = make_user()
    media.save_avatar(user, upload(image_bytes()))
    before = files(uploads)
    with pytest.raises(Invalid):
        media.save_avatar(user, upload(b"not an image"))
    db.session.expire_all()
    assert files(uploads) == before and user.avatar_processed and before[0].startswith(user.avatar)


def test_a_failed_commit_removes_the_new_file_and_raises(app, uploads, monkeypatch):
    user = make_user()
    media.save_avatar(user, upload(image_bytes()))
    old_key, old_files = user.avatar, files(uploads)

    def broken_commit():
        raise RuntimeError("database went away")

    queued = []
    monkeypatch.setattr(tasks, "process_avatar", lambda *args: queued.append(args))
    monkeypatch.setattr(db.session, "commit", broken_commit)
    with pytest.raises(RuntimeError):
        media.save_avatar(user, upload(image_bytes("JPEG")))
    monkeypatch.undo()
    assert files(uploads) == old_files and len(old_files) == 3 and queued == []
    assert user.avatar == old_key


# --- replacing, processing, URLs ----------------------------------------------------------------

def test_a_new_avatar_removes_every_file_of_the_old_one(app, uploads):
    user = make_user()
    media.save_avatar(user, upload(image_bytes("PNG")))
    old = user.avatar
    media.save_avatar(user, upload(image_bytes("JPEG")))
    assert user.avatar != old
    assert files(uploads) == sorted([f"{user.avatar}.jpg", f"{user.avatar}-256.webp", f"{user.avatar}-64.webp"])


def test_the_task_for_a_replaced_avatar_only_removes_its_files(app, uploads, queued):
    user = make_user()
    media.save_avatar(user, upload(image_bytes("PNG")))
    first = user.avatar
    (uploads / "avatars" / f"{first}.png").rename(uploads / "keep.png")  # as if the worker were slow
    media.save_avatar(user, upload(image_bytes("JPEG")))
    (uploads / "keep.png").rename(uploads / "avatars" / f"{first}.png")

    media.process_avatar(user.id, first)
    assert files(uploads) == [f"{user.avatar}.jpg"]
    assert user.avatar_processed is False

    media.process_avatar(user.id, user.avatar)
    assert user.avatar_processed is True and len(files(uploads)) == 3


def test_the_task_for_a_deleted_user_removes_the_files(app, uploads, queued):
    user = make_user()
    media.save_avatar(user, upload(image_bytes()))
    key = user.avatar
    db.session.delete(user)
    db.session.commit()
    media.process_avatar(user.id, key)
    assert files(uploads) == []


def test_an_avatar_replaced_while_the_worker_resizes_is_not_marked_done(app, uploads, queued, monkeypatch):
    user = make_user()
    media.save_avatar(user, upload(image_bytes()))
    key, newer = user.avatar, "f" * 32
    real = media._as_srgb

    def meanwhile_a_new_upload(img):
        db.session.execute(update(User).where(User.id == user.id).values(avatar=newer, avatar_processed=False))
        db.session.commit()
        return real(img)

    monkeypatch.setattr(media, "_as_srgb", meanwhile_a_new_upload)
    media.process_avatar(user.id, key)
    db.session.expire_all()
    assert (user.avatar, user.avatar_processed) == (newer, False)
    assert files(uploads) == []  # the stale key's original and variants are gone


def test_processing_twice_changes_nothing_and_lost_variants_are_made_again(app, uploads):
    user = make_user()
    media.save_avatar(user, upload(two_halves("JPEG")))
    folder = uploads / "avatars"
    snapshot = {p.name: p.read_bytes() for p in folder.iterdir()}
    media.process_avatar(user.id, user.avatar)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == snapshot

    (folder / f"{user.avatar}-64.webp").unlink()
    media.process_avatar(user.id, user.avatar)
    assert {p.name: p.read_bytes() for p in folder.iterdir()}.keys() == snapshot.keys()
    assert (folder / f"{user.avatar}.jpg").read_bytes() == snapshot[f"{user.avatar}.jpg"]  # not re-encoded


def test_delete_avatar_files_refuses_what_is_not_a_key(app, uploads):
    with pytest.raises(ValueError):
        media.delete_avatar_files("../../etc")


def test_avatar_url_shows_the_original_until_the_variants_exist(app, uploads, queued):
    user = make_user()
    with app.test_request_context():
        assert media.avatar_url(user) is None
        media.save_avatar(user, upload(image_bytes()))
        assert queued == [(user.id, user.avatar)]
        assert media.avatar_url(user) == media.avatar_url(user, 64) == f"/uploads/avatars/{user.avatar}.png"

        media.process_avatar(user.id, user.avatar)
        assert media.avatar_url(user) == f"/uploads/avatars/{user.avatar}-256.webp"
        assert media.avatar_url(user, 64) == f"/uploads/avatars/{user.avatar}-64.webp"
        with pytest.raises(ValueError):
            media.avatar_url(user, 100)


# --- serving ------------------------------------------------------------------------------------

def test_variants_are_served_as_webp_and_cached_for_a_year(app, client, uploads):
    user = make_user()
    media.save_avatar(user, upload(image_bytes()))
    with app.test_request_context():
        url = media.avatar_url(user, 64)
    response = client.get(url)
    assert response.status_code == 200 and response.mimetype == "image/webp"
    assert Image.open(BytesIO(response.data)).size == (64, 64)
    cache = response.cache_control
    assert cache.public and cache.max_age == 31_536_000 and cache.immutable


def test_originals_are_served_with_their_type_but_revalidated(app, client, uploads):
    # The worker rewrites an original in place (without EXIF): caches must not keep the first bytes.
    user = make_user()
    media.save_avatar(user, upload(image_bytes("JPEG")))
    response = client.get(f"/uploads/avatars/{user.avatar}.jpg")
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert response.cache_control.no_cache and not response.cache_control.immutable
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", [
    "/uploads/avatars/" + "0" * 32 + "-64.webp",
    "/uploads/../secret.txt",
    "/uploads/avatars/../../secret.txt",
    "/uploads/%2e%2e/secret.txt",
    "/uploads/..%2fsecret.txt",
])
def test_missing_files_and_paths_outside_the_folder_are_404(app, client, uploads, path):
    uploads.mkdir()
    (uploads.parent / "secret.txt").write_text("top secret")
    response = client.get(path)
    assert response.status_code == 404
    assert b"top secret" not in response.data


def test_a_profile_with_a_new_avatar_saves_when_the_queue_is_down_and_the_catch_up_strips_it(
        app, client, uploads, monkeypatch):
    """The enqueue after the commit used to raise: bio and links lost behind a 500, the EXIF-bearing
    original left public with no task ever coming for it."""
    from tests.factories import login_as

    def down(*args, **kwargs):
        raise ConnectionError("queue unreachable")

    user = make_user(username="ada")
    login_as(client, user)
    monkeypatch.setattr(tasks.huey, "enqueue", down)
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Phone"
    response = client.post("/auth/profile", data={
        "bio": "New bio", "avatar": (BytesIO(image_bytes("JPEG", exif=exif)), "me.jpg"),
    }, content_type="multipart/form-data")
    assert response.status_code == 303
    db.session.expire_all()
    saved = db.session.get(User, user.id)
    assert saved.bio == "New bio" and saved.avatar and saved.avatar_processed is False
    assert opened(uploads / "avatars" / f"{saved.avatar}.jpg").getexif()  # still the camera's original

    monkeypatch.undo()
    assert tasks.process_pending_avatars.call_local() == 1  # what the every-minute task does
    db.session.expire_all()
    saved = db.session.get(User, user.id)
    assert saved.avatar_processed is True
    assert not opened(uploads / "avatars" / f"{saved.avatar}.jpg").getexif()
    assert tasks.process_pending_avatars.call_local() == 0
