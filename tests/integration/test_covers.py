"""Post covers: checked by content, stored under random names, cropped and resized without EXIF, served."""
from __future__ import annotations

import logging
from io import BytesIO
from pathlib import Path

import pytest
from flask import Flask
from PIL import ExifTags
from PIL import Image
from PIL import ImageFile
from PIL import PngImagePlugin
from sqlalchemy import select
from sqlalchemy import update

from blog import tasks
from blog.extensions import db
from blog.models import Post
from blog.services import media
from blog.services.errors import Invalid
from tests.factories import make_post
from tests.integration.test_media import BLUE
from tests.integration.test_media import RED
from tests.integration.test_media import close_to
from tests.integration.test_media import files
from tests.integration.test_media import image_bytes
from tests.integration.test_media import noise_png
from tests.integration.test_media import opened
from tests.integration.test_media import png_header_only
from tests.integration.test_media import small_bomb
from tests.integration.test_media import two_halves
from tests.integration.test_media import upload

GREEN = (20, 200, 20)


@pytest.fixture
def covers(app: Flask) -> Path:
    """The covers folder inside the test's own upload folder (created by the first upload)."""
    return Path(app.config["UPLOAD_FOLDER"]) / "covers"


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """Record process_cover tasks instead of running them, to see the cover before the worker's turn."""
    calls: list[tuple] = []
    monkeypatch.setattr(tasks, "process_cover", lambda *args: calls.append(args))
    return calls


def give_cover(post: Post, data: bytes) -> str:
    """Do what the posts service does: store, point the post at the new key, commit, then cover_saved."""
    key = media.store_cover(upload(data))
    old = post.cover_image
    post.cover_image, post.cover_processed = key, False
    db.session.commit()
    media.cover_saved(post.id, key, old)
    return key


def all_files(key: str) -> list[str]:
    name = key.split(".")[0]
    return sorted([key, f"{name}-og.jpg", f"{name}-1200.webp", f"{name}-800.webp", f"{name}-card.webp"])


def sizes(folder: Path, key: str) -> dict[str, tuple[str, tuple[int, int]]]:
    name = key.split(".")[0]
    return {suffix: (lambda img: (img.format, img.size))(opened(folder / f"{name}-{suffix}"))
            for suffix in ("og.jpg", "1200.webp", "800.webp", "card.webp")}


def striped(size: tuple[int, int], colors=(RED, BLUE, RED), fmt: str = "PNG") -> bytes:
    """Vertical stripes of equal width, left to right."""
    img = Image.new("RGB", size)
    width = size[0] // len(colors)
    for i, color in enumerate(colors):
        img.paste(color, (i * width, 0, size[0] if i == len(colors) - 1 else (i + 1) * width, size[1]))
    buffer = BytesIO()
    img.save(buffer, fmt)
    return buffer.getvalue()


# --- accepted -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("fmt", "options", "ext"), [
    ("PNG", {}, "png"),
    ("JPEG", {}, "jpg"),
    ("GIF", {"mode": "P", "color": 3}, "gif"),
    ("WEBP", {}, "webp"),
], ids=["png", "jpeg", "gif", "webp"])
def test_cover_is_stored_and_made_into_every_variant_at_its_exact_size(app, covers, fmt, options, ext):
    post = make_post()
    key = give_cover(post, image_bytes(fmt, size=(1600, 1000), **options))

    assert key.endswith(f".{ext}") and len(key) == 32 + 1 + len(ext)
    assert post.cover_processed is True  # the immediate queue ran the task inline
    assert files(covers) == all_files(key)
    assert sizes(covers, key) == {
        "og.jpg": ("JPEG", (1200, 630)),
        "1200.webp": ("WEBP", (1200, 750)),  # width-limited, aspect kept
        "800.webp": ("WEBP", (800, 500)),
        "card.webp": ("WEBP", (400, 225)),
    }


def test_a_small_cover_is_not_enlarged_but_its_crops_have_their_size(app, covers):
    post = make_post()
    key = give_cover(post, image_bytes("JPEG", size=(500, 300)))
    assert sizes(covers, key) == {
        "og.jpg": ("JPEG", (1200, 630)),
        "1200.webp": ("WEBP", (500, 300)),
        "800.webp": ("WEBP", (500, 300)),
        "card.webp": ("WEBP", (400, 225)),
    }


def test_a_tall_cover_keeps_its_aspect_in_the_width_limited_variants(app, covers):
    post = make_post()
    key = give_cover(post, image_bytes("PNG", size=(1000, 3000)))
    found = sizes(covers, key)
    assert found["1200.webp"][1] == (1000, 3000) and found["800.webp"][1] == (800, 2400)


def test_the_bytes_decide_the_type_not_the_name_or_the_browser(app, covers):
    key = media.store_cover(upload(image_bytes("JPEG"), filename="holiday.gif", content_type="text/plain"))
    assert key.endswith(".jpg") and opened(covers / key).format == "JPEG"


def test_store_cover_writes_the_original_and_leaves_the_database_alone(app, covers, count_queries, queued):
    data = image_bytes("PNG")
    with count_queries() as q:
        key = media.store_cover(upload(data))
    assert q.count == 0 and queued == []
    assert files(covers) == [key] and (covers / key).read_bytes() == data
    assert key != media.store_cover(upload(data))  # a new random name every time


def test_crops_are_taken_from_the_centre(app, covers):
    # 4500×600: red | blue | red, and the middle third is wider than either crop's shape needs.
    post = make_post()
    key = give_cover(post, striped((4500, 600)))
    name = key.split(".")[0]
    og, card = opened(covers / f"{name}-og.jpg"), opened(covers / f"{name}-card.webp")
    assert all(close_to(og.getpixel(xy), BLUE) for xy in [(5, 5), (600, 315), (1194, 624)])
    assert all(close_to(card.getpixel(xy), BLUE) for xy in [(2, 2), (200, 112), (397, 222)])
    wide = opened(covers / f"{name}-1200.webp")  # not cropped: all three stripes are there
    assert wide.size == (1200, 160)
    assert close_to(wide.getpixel((100, 80)), RED) and close_to(wide.getpixel((600, 80)), BLUE)


def test_transparency_is_kept_in_webp_and_becomes_white_in_the_open_graph_jpeg(app, covers):
    post = make_post()
    key = give_cover(post, image_bytes("PNG", size=(800, 450), mode="RGBA", color=(0, 0, 0, 0)))
    name = key.split(".")[0]
    for suffix in ("1200.webp", "800.webp", "card.webp"):
        variant = opened(covers / f"{name}-{suffix}")
        assert variant.mode == "RGBA" and variant.getpixel((10, 10))[3] == 0, suffix
    og = opened(covers / f"{name}-og.jpg")
    assert og.mode == "RGB" and close_to(og.getpixel((600, 315)), (255, 255, 255), 4)


def test_only_the_first_frame_of_an_animation_is_used(app, covers):
    frames = [Image.new("RGB", (640, 360), color) for color in (GREEN, RED, BLUE)]
    buffer = BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    post = make_post()
    key = give_cover(post, buffer.getvalue())
    name = key.split(".")[0]
    for suffix in ("og.jpg", "1200.webp", "800.webp", "card.webp"):
        variant = opened(covers / f"{name}-{suffix}")
        assert getattr(variant, "n_frames", 1) == 1 and close_to(variant.getpixel((50, 50)), GREEN), suffix


def _jpeg_with_metadata() -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # the camera was turned: show it rotated 90° clockwise
    exif[ExifTags.Base.Model] = "SecretCam 3000"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef], gps[ExifTags.GPS.GPSLatitude] = "N", (51.0, 30.0, 0.0)
    return two_halves("JPEG", quality=95, exif=exif, comment=b"at home", xmp=b"<x:xmpmeta>GPS 51.5</x:xmpmeta>")


def _png_with_metadata() -> bytes:
    text = PngImagePlugin.PngInfo()
    text.add_text("Author", "at home")
    exif = Image.Exif()
    exif[ExifTags.Base.Model] = "SecretCam 3000"
    return two_halves("PNG", pnginfo=text, exif=exif)


def _webp_with_metadata() -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Model] = "SecretCam 3000"
    return two_halves("WEBP", exif=exif, xmp=b"<x:xmpmeta>GPS 51.5 at home</x:xmpmeta>")


@pytest.mark.parametrize("make", [_jpeg_with_metadata, _png_with_metadata, _webp_with_metadata],
                         ids=["jpeg", "png", "webp"])
def test_exif_gps_and_text_are_removed_from_every_variant_and_the_original(app, covers, make):
    data = make()
    assert b"SecretCam" in data and b"at home" in data

    post = make_post()
    give_cover(post, data)

    assert len(files(covers)) == 5
    for path in covers.iterdir():
        img = opened(path)
        raw = path.read_bytes()
        assert len(img.getexif()) == 0, path.name
        assert not {"exif", "xmp", "XML:com.adobe.xmp", "comment", "Author"} & img.info.keys(), path.name
        assert b"SecretCam" not in raw and b"at home" not in raw and b"GPS 51.5" not in raw, path.name


def test_the_camera_orientation_is_applied_to_every_variant(app, covers):
    post = make_post()
    key = give_cover(post, _jpeg_with_metadata())  # 200×100, red left: upright it is 100×200, red on top
    name = key.split(".")[0]
    original = opened(covers / key)
    assert original.size == (100, 200) and close_to(original.getpixel((50, 20)), RED)
    assert opened(covers / f"{name}-1200.webp").size == (100, 200)
    og = opened(covers / f"{name}-og.jpg")  # the centre of a portrait: red above, blue below
    assert close_to(og.getpixel((600, 40)), RED) and close_to(og.getpixel((600, 590)), BLUE)


def test_cmyk_jpeg_gives_rgb_variants(app, covers):
    post = make_post()
    key = give_cover(post, image_bytes("JPEG", mode="CMYK", color=(0, 255, 255, 0)))
    name = key.split(".")[0]
    for suffix in ("og.jpg", "card.webp"):
        variant = opened(covers / f"{name}-{suffix}")
        assert variant.mode == "RGB" and close_to(variant.getpixel((20, 20)), (255, 0, 0), 60), suffix


# --- refused ------------------------------------------------------------------------------------

REFUSED = {
    "text named x.png": (b"Just some text, not a picture.\n", {}, "JPEG, PNG, GIF or WebP"),
    "empty": (b"", {}, "Choose an image"),
    "svg": (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>',
            {}, "JPEG, PNG, GIF or WebP"),
    "tiff": (image_bytes("TIFF"), {}, "JPEG, PNG, GIF or WebP"),
    "truncated png": (noise_png()[:6000], {}, "damaged or incomplete"),
    "truncated jpeg": (two_halves("JPEG")[:-400], {}, "damaged or incomplete"),
    "over the byte limit": (noise_png(), {"COVER_MAX_BYTES": 1000}, "at most 1 KB"),
    "over the pixel limit": (image_bytes("PNG", size=(20, 20)), {"IMAGE_MAX_PIXELS": 100}, "too many pixels"),
    "small-on-disk bomb": (small_bomb(), {}, "at most 40 megapixels"),
    "bomb Pillow refuses": (png_header_only(50_000, 50_000), {"IMAGE_MAX_PIXELS": 10**12}, "too many pixels"),
    "bomb Pillow warns about": (png_header_only(10_000, 10_000), {"IMAGE_MAX_PIXELS": 10**12}, "too many pixels"),
}


@pytest.mark.parametrize(("data", "settings", "message"), REFUSED.values(), ids=REFUSED.keys())
def test_refused_cover_leaves_no_file(app, covers, queued, data, settings, message):
    app.config.update(settings)
    with pytest.raises(Invalid) as refused:
        media.store_cover(upload(data, filename="x.png", content_type="image/png"))
    assert refused.value.message == "The cover image was not accepted."
    assert list(refused.value.fields) == ["cover"] and message in refused.value.fields["cover"][0]
    assert files(covers.parent) == [] and queued == []


def test_covers_have_their_own_byte_limit(app, covers):
    app.config.update(AVATAR_MAX_BYTES=1000, COVER_MAX_BYTES=8 * 1024 * 1024)
    assert media.store_cover(upload(noise_png())).endswith(".png")
    app.config["COVER_MAX_BYTES"] = 1000
    with pytest.raises(Invalid) as refused:
        media.store_cover(upload(noise_png()))
    assert "at most 1 KB" in refused.value.fields["cover"][0]


def test_a_bomb_is_refused_without_decoding_a_pixel(app, covers, monkeypatch):
    decoded = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda img: decoded.append(img) or real_load(img))
    with pytest.raises(Invalid):
        media.store_cover(upload(small_bomb()))
    assert decoded == []


# --- replacing, removing, processing ------------------------------------------------------------

def test_a_new_cover_removes_every_file_of_the_old_one(app, covers):
    post = make_post()
    old = give_cover(post, image_bytes("PNG"))
    new = give_cover(post, image_bytes("JPEG"))
    assert new != old and post.cover_image == new and post.cover_processed
    assert files(covers) == all_files(new)


def test_saving_the_same_cover_again_keeps_its_files(app, covers):
    post = make_post()
    key = give_cover(post, image_bytes())
    media.cover_saved(post.id, key, key)
    assert files(covers) == all_files(key)


def test_a_removed_or_discarded_cover_leaves_no_file(app, covers):
    post = make_post()
    key = give_cover(post, image_bytes())
    other = media.store_cover(upload(image_bytes("JPEG")))  # as if the post's commit had failed
    media.discard_cover(other)
    assert files(covers) == all_files(key)

    post.cover_image, post.cover_processed = None, False
    db.session.commit()
    media.cover_saved(post.id, None, key)
    assert files(covers) == []
    media.discard_cover(None)  # nothing to do, no error


def test_discard_cover_refuses_what_is_not_a_key(app, covers):
    for key in ("../../etc/passwd", "0" * 32, "0" * 32 + ".svg", "../" + "0" * 32 + ".png"):
        with pytest.raises(ValueError):
            media.discard_cover(key)


def test_a_queue_that_is_down_does_not_lose_the_cover(app, covers, monkeypatch, caplog):
    def queue_down(*args):
        raise ConnectionError("Redis is not running")

    post = make_post()
    old = give_cover(post, image_bytes("PNG"))
    monkeypatch.setattr(tasks, "process_cover", queue_down)
    with caplog.at_level(logging.WARNING, logger="blog.services.media"):
        new = give_cover(post, image_bytes("JPEG"))
    assert "could not queue cover" in caplog.text
    assert files(covers) == [new] and post.cover_processed is False  # the old files went all the same

    monkeypatch.undo()
    assert media.process_pending_covers() == 1  # what the periodic task does once the worker runs
    db.session.expire_all()
    assert post.cover_processed is True and files(covers) == all_files(new)


def test_the_task_for_a_replaced_cover_only_removes_its_files(app, covers, queued):
    post = make_post()
    first = give_cover(post, image_bytes("PNG"))
    (covers / first).rename(covers.parent / "keep.png")  # as if the worker were slow: cover_saved removes it
    second = give_cover(post, image_bytes("JPEG"))
    (covers.parent / "keep.png").rename(covers / first)

    media.process_cover(post.id, first)
    assert files(covers) == [second] and post.cover_processed is False

    media.process_cover(post.id, second)
    assert post.cover_processed is True and files(covers) == all_files(second)


def test_the_task_for_a_deleted_post_removes_the_files(app, covers, queued):
    post = make_post()
    key = give_cover(post, image_bytes())
    post_id = post.id
    db.session.delete(post)
    db.session.commit()
    media.process_cover(post_id, key)
    assert files(covers) == []


def test_a_cover_replaced_while_the_worker_resizes_is_not_marked_done(app, covers, queued, monkeypatch):
    post = make_post()
    key = give_cover(post, image_bytes())
    newer = "f" * 32 + ".png"
    real = media._as_srgb

    def meanwhile_a_new_upload(img):
        db.session.execute(update(Post).where(Post.id == post.id).values(cover_image=newer, cover_processed=False))
        db.session.commit()
        return real(img)

    monkeypatch.setattr(media, "_as_srgb", meanwhile_a_new_upload)
    media.process_cover(post.id, key)
    db.session.expire_all()
    assert (post.cover_image, post.cover_processed) == (newer, False)
    assert files(covers) == []  # the stale key's original and variants are gone


def test_processing_twice_changes_nothing_and_lost_variants_are_made_again(app, covers):
    post = make_post()
    key = give_cover(post, _jpeg_with_metadata())
    snapshot = {p.name: p.read_bytes() for p in covers.iterdir()}
    media.process_cover(post.id, key)
    assert {p.name: p.read_bytes() for p in covers.iterdir()} == snapshot

    (covers / f"{key.split('.')[0]}-og.jpg").unlink()
    media.process_cover(post.id, key)
    assert {p.name for p in covers.iterdir()} == snapshot.keys()
    assert (covers / key).read_bytes() == snapshot[key]  # the original is not re-encoded


def test_processing_is_not_an_edit_of_the_post(app, covers, queued):
    post = make_post()
    key = give_cover(post, image_bytes())
    before = db.session.scalar(select(Post.updated_at).where(Post.id == post.id))
    media.process_cover(post.id, key)
    assert db.session.scalar(select(Post.updated_at).where(Post.id == post.id)) == before


def test_process_pending_covers_picks_up_what_the_worker_never_did(app, covers, queued, caplog):
    waiting = [make_post(), make_post()]
    keys = [give_cover(post, image_bytes()) for post in waiting]
    done = make_post()
    done_key = give_cover(done, image_bytes())
    media.process_cover(done.id, done_key)
    make_post()  # no cover at all
    lost = make_post()
    lost_key = give_cover(lost, image_bytes())
    (covers / lost_key).unlink()  # a database restored without its uploads
    assert len(queued) == 4

    with caplog.at_level(logging.WARNING, logger="blog.services.media"):
        assert media.process_pending_covers() == 2
    assert f"cover of post {lost.id} not processed" in caplog.text
    db.session.expire_all()
    assert [post.cover_processed for post in waiting] == [True, True] and lost.cover_processed is False
    assert files(covers) == sorted(all_files(keys[0]) + all_files(keys[1]) + all_files(done_key))
    assert media.process_pending_covers() == 0  # only the lost one is still waiting, and it fails quietly


# --- URLs and serving ---------------------------------------------------------------------------

def test_cover_urls_show_the_original_until_the_variants_exist(app, covers, queued):
    post = make_post()
    with app.test_request_context():
        assert media.cover_urls(post) is None
        key = give_cover(post, image_bytes("PNG"))
        name = key.split(".")[0]
        assert queued == [(post.id, key)]
        original = f"/uploads/covers/{key}"
        assert media.cover_urls(post) == {"src": original, "srcset": "", "og": original, "card": original,
                                          "processed": False, "alt": ""}

        media.process_cover(post.id, key)
        assert media.cover_urls(post) == {
            "src": f"/uploads/covers/{name}-1200.webp",
            "srcset": f"/uploads/covers/{name}-800.webp 800w, /uploads/covers/{name}-1200.webp 1200w",
            "og": f"/uploads/covers/{name}-og.jpg",
            "card": f"/uploads/covers/{name}-card.webp",
            "processed": True,
            "alt": "",
        }


def test_cover_urls_read_only_the_post(app, covers, count_queries, monkeypatch):
    post = make_post()
    give_cover(post, image_bytes())
    post = db.session.get(Post, post.id)
    monkeypatch.setattr(Path, "exists", lambda self: pytest.fail("cover_urls looked at the disk"))
    monkeypatch.setattr(Path, "glob", lambda self, pattern: pytest.fail("cover_urls looked at the disk"))
    with app.test_request_context(), count_queries() as q:
        assert media.cover_urls(post)["processed"] is True
    assert q.count == 0


def test_the_open_graph_jpeg_is_served_and_cached_for_a_year(app, client, covers):
    post = make_post()
    give_cover(post, image_bytes("PNG", size=(1600, 1000)))
    with app.test_request_context():
        urls = media.cover_urls(post)
    response = client.get(urls["og"])
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert Image.open(BytesIO(response.data)).size == (1200, 630)
    cache = response.cache_control
    assert cache.public and cache.max_age == 31_536_000 and cache.immutable

    card = client.get(urls["card"])
    assert card.mimetype == "image/webp" and card.cache_control.immutable


def test_the_original_cover_is_served_but_revalidated(app, client, covers, queued):
    # The worker rewrites an original in place (without EXIF): caches must not keep the first bytes.
    post = make_post()
    give_cover(post, image_bytes("PNG"))
    with app.test_request_context():
        url = media.cover_urls(post)["src"]
    response = client.get(url)
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.cache_control.no_cache and not response.cache_control.immutable
    assert response.headers["X-Content-Type-Options"] == "nosniff"
