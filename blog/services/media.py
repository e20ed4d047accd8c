"""Uploaded images (avatars, post covers): checked by content on upload, resized and stripped of EXIF by the worker.

Avatars live under ``UPLOAD_FOLDER/avatars/``: the original ``<key>.<ext>`` and the
square variants ``<key>-256.webp`` and ``<key>-64.webp``.

Covers live under ``UPLOAD_FOLDER/covers/``. A cover's key is its original's file name,
``<name>.<ext>`` (the extension is in the key so that its URL needs no look at the disk);
the variants are ``<name>-og.jpg`` (1200×630, for Open Graph), ``<name>-1200.webp`` and
``<name>-800.webp`` (width-limited) and ``<name>-card.webp`` (400×225).

Names are random, so a new image always has new URLs; the variants can be made again from
the original.
"""
from __future__ import annotations

import logging
import os
import re
import secrets
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import IO

from flask import current_app
from flask import url_for
from PIL import Image
from PIL import ImageCms
from PIL import ImageOps
from PIL import JpegImagePlugin
from sqlalchemy import select
from sqlalchemy import update
from werkzeug.datastructures import FileStorage

from blog.extensions import db
from blog.models import Media
from blog.models import Post
from blog.models import User
from blog.models import media_usage
from blog.services import content
from blog.services.errors import Conflict
from blog.services.errors import Invalid
from blog.services.errors import NotFound

log = logging.getLogger(__name__)

#: Formats we accept, by what Pillow detects in the bytes; MPO is the JPEG many phones write.
EXTENSIONS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}
_OPENERS = ("JPEG", "PNG", "GIF", "WEBP")  # the only decoders Image.open may try (MPO comes via JPEG)
_SAVE_AS = {"jpg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WEBP"}
#: Square sizes of the avatar's WebP variants, in pixels.
SIZES = (256, 64)
#: Widths of a cover's WebP variants (never upscaled), and its two centre crops.
COVER_WIDTHS = (1200, 800)
COVER_OG_SIZE = (1200, 630)
COVER_CARD_SIZE = (400, 225)
#: A variant's name: its bytes never change, so it may be cached for good.
VARIANT = re.compile(r"(?:^|/)[0-9a-f]{32}-(?:\d+\.webp|og\.jpg|card\.webp)$")
_KEY = re.compile(r"[0-9a-f]{32}")
_COVER_KEY = re.compile(r"(?P<name>[0-9a-f]{32})\.(?P<ext>jpg|png|gif|webp)")
#: Image info that is not about the person or the camera; everything else (EXIF, XMP, comments, text) goes.
_KEEP_INFO = ("icc_profile", "transparency", "background")
_SRGB = ImageCms.createProfile("sRGB")
_WEBP_MAX_SIDE = 16383  # libwebp refuses anything longer

FORMATS_MESSAGE = "Upload a JPEG, PNG, GIF or WebP image."


@dataclass(frozen=True)
class _Kind:
    """One sort of uploaded image: its folder, its size limit and how a refusal reads."""

    folder: str
    max_bytes: str  # the config key
    field: str
    refusal: str


_AVATARS = _Kind("avatars", "AVATAR_MAX_BYTES", "avatar", "The avatar was not accepted.")
_COVERS = _Kind("covers", "COVER_MAX_BYTES", "cover", "The cover image was not accepted.")


# --- shared: checking uploads, writing files ----------------------------------------------------

def _refuse(kind: _Kind, message: str) -> Invalid:
    return Invalid(kind.refusal, fields={kind.field: [message]})


def _too_many_pixels(kind: _Kind, max_pixels: int) -> Invalid:
    return _refuse(kind, f"The image has too many pixels: at most {max_pixels / 1e6:g} megapixels.")


def _folder(kind: _Kind) -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"]) / kind.folder


def _write_atomically(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write through a temporary file and rename it, so ``path`` is never seen half written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(temporary, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _delete_files(kind: _Kind, name: str) -> None:
    """Remove the original and every variant called ``name`` (missing files are fine)."""
    for path in _folder(kind).glob(f"{name}[.-]*"):
        path.unlink(missing_ok=True)


def _read_at_most(upload: FileStorage, limit: int) -> bytes:
    """Up to ``limit + 1`` bytes of the upload: enough to tell it is too big without reading it all."""
    chunks, total = [], 0
    while total <= limit:
        chunk = upload.stream.read(limit + 1 - total)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _size_text(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.3g} MB"
    return f"{max(size // 1024, 1)} KB"


def _checked_format(kind: _Kind, data: bytes) -> str:
    """The Pillow format of ``data`` once it proved to be a whole, reasonably sized image.

    Raises:
        Invalid: not one of our formats, too many pixels, or damaged.
    """
    max_pixels = current_app.config["IMAGE_MAX_PIXELS"]
    # Pillow only warns between its own limit and twice that: make the warning a refusal too.
    # (Our check on the header below is the real guard; it is stricter than Pillow's default.)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(BytesIO(data), formats=_OPENERS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _too_many_pixels(kind, max_pixels) from None
        except Exception:  # any failure to parse untrusted bytes means "not an image we take"
            raise _refuse(kind, FORMATS_MESSAGE) from None
        with img:
            if img.format not in EXTENSIONS:
                raise _refuse(kind, FORMATS_MESSAGE)
            width, height = img.size
            if width * height > max_pixels:  # read from the header: nothing decoded yet
                raise _too_many_pixels(kind, max_pixels)
            try:
                img.load()  # decode it all: truncated or corrupt files fail here
            except Exception:
                raise _refuse(kind, "The image file is damaged or incomplete.") from None
            return img.format


def _accepted(kind: _Kind, upload: FileStorage) -> tuple[bytes, str]:
    """The bytes of ``upload`` and the extension they deserve, once they proved to be an image we take.

    Only the bytes decide: the file name and the browser's content type are ignored.

    Raises:
        Invalid: empty, too big, not one of our formats, too many pixels, or damaged.
    """
    limit = current_app.config[kind.max_bytes]
    data = _read_at_most(upload, limit)
    if not data:
        raise _refuse(kind, "Choose an image file to upload.")
    if len(data) > limit:
        raise _refuse(kind, f"The image is too big: at most {_size_text(limit)}.")
    return data, EXTENSIONS[_checked_format(kind, data)]


# --- shared: the worker's side ------------------------------------------------------------------

def _as_srgb(img: Image.Image) -> Image.Image:
    """``img`` as sRGB ``RGB`` or ``RGBA``, ready to be saved without a colour profile."""
    if img.mode in ("I", "I;16"):  # 16-bit greyscale PNG: scale to 8 bits, or every pixel clips to white
        img = img.convert("I").point(lambda value: value / 256).convert("L")
    mode = "RGBA" if img.has_transparency_data else "RGB"
    icc = img.info.get("icc_profile")
    if icc:
        # Phones tag photos with wide-gamut profiles: convert, or colours fade once the profile is dropped.
        try:
            source = img if img.mode == "CMYK" else img.convert(mode)
            return ImageCms.profileToProfile(source, ImageCms.ImageCmsProfile(BytesIO(icc)), _SRGB,
                                             outputMode=mode)
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # an odd or broken profile: plain conversion below
    return img.convert(mode)


def _rewrite_original(path: Path, img: Image.Image, upright: Image.Image) -> None:
    """Save ``upright`` over ``path`` in the same format, keeping no EXIF, XMP, comments or text chunks."""
    fmt = _SAVE_AS[path.suffix[1:]]
    upright.info = {k: v for k, v in upright.info.items() if k in _KEEP_INFO}
    options: dict = {}
    if upright.info.get("icc_profile"):
        options["icc_profile"] = upright.info["icc_profile"]
    if fmt == "JPEG":
        if upright.mode not in ("L", "RGB"):
            upright = _as_srgb(upright)  # CMYK: browsers show RGB JPEGs best
            options.pop("icc_profile", None)
        # The source's own quantisation tables: no visible loss, no growth in size.
        options.update(qtables=img.quantization, subsampling=JpegImagePlugin.get_sampling(img))
    elif fmt == "WEBP":
        options.update(quality=90)
    _write_atomically(path, lambda fh: upright.save(fh, format=fmt, **options))


def _make_variants(path: Path, make: Callable[[Image.Image], None], *, rewrite_original: bool) -> None:
    """Hand ``make`` the original at ``path`` turned upright, in sRGB, first frame only; then strip the original.

    ``rewrite_original`` is false once the original was rewritten: every re-encoding loses a little.
    """
    with Image.open(path, formats=_OPENERS) as img:
        img.load()
        upright = ImageOps.exif_transpose(img)  # a copy of the first frame, turned the way the camera was held
        make(_as_srgb(upright))
        if rewrite_original:
            _rewrite_original(path, img, upright)


def _save_variant(path: Path, img: Image.Image, fmt: str, **options) -> None:
    # Resized copies inherit the source's info, and Pillow writes a JPEG's "comment" from it: drop it all.
    img.info = {}
    _write_atomically(path, lambda fh: img.save(fh, format=fmt, **options))


# --- avatars ------------------------------------------------------------------------------------

def _check_key(key: str) -> None:
    # Keys come from our database, but a path is built from them: never let one escape the folder.
    if not _KEY.fullmatch(key or ""):
        raise ValueError(f"not an avatar key: {key!r}")


def _original(key: str) -> Path | None:
    """The stored original of avatar ``key``, whatever its extension; None when it is gone."""
    return next(iter(sorted(_folder(_AVATARS).glob(f"{key}.*"))), None)


def _variant(key: str, size: int) -> Path:
    return _folder(_AVATARS) / f"{key}-{size}.webp"


def save_avatar(user: User, upload: FileStorage) -> None:
    """Store ``upload`` as ``user``'s new avatar and queue its resizing; the previous avatar's files go.

    Only the bytes decide: the file name and the browser's content type are ignored.

    Raises:
        Invalid: not a JPEG, PNG, GIF or WebP image, too big, too many pixels, or damaged
            (``fields["avatar"]`` says which). Nothing is written then.
    """
    data, ext = _accepted(_AVATARS, upload)
    key = secrets.token_hex(16)
    path = _folder(_AVATARS) / f"{key}.{ext}"
    _write_atomically(path, lambda fh: fh.write(data))
    previous = user.avatar
    user.avatar, user.avatar_processed = key, False
    try:
        db.session.commit()
    except BaseException:
        db.session.rollback()
        path.unlink(missing_ok=True)
        raise
    if previous and previous != key:
        delete_avatar_files(previous)

    from blog import tasks  # late: blog.tasks builds the queue from the configuration on import

    try:
        tasks.process_avatar(user.id, key)
    except Exception:  # committed: ``avatar_processed`` is False, so the periodic job makes the variants
        log.warning("could not queue avatar %s of user %s; the periodic job will process it", key, user.id,
                    exc_info=True)


def process_avatar(user_id: int, key: str) -> None:
    """Make the square WebP variants of avatar ``key`` and strip its original of EXIF (the worker's job).

    Does nothing but clean up when the user is gone or has another avatar by now; safe to run twice.
    """
    _check_key(key)
    user = db.session.get(User, user_id)
    if user is None or user.avatar != key:
        delete_avatar_files(key)
        return
    if user.avatar_processed and all(_variant(key, size).exists() for size in SIZES):
        return
    path = _original(key)
    if path is None:
        raise FileNotFoundError(f"avatar {key} of user {user_id} has no original file")

    def squares(colour: Image.Image) -> None:
        for size in SIZES:
            square = ImageOps.fit(colour, (size, size), Image.Resampling.LANCZOS)  # centre crop, then resize
            _save_variant(_variant(key, size), square, "WEBP", quality=85)

    _make_variants(path, squares, rewrite_original=not user.avatar_processed)

    # Only if it is still this user's avatar: a new upload may have replaced it while we worked.
    done = db.session.execute(
        update(User).where(User.id == user_id, User.avatar == key).values(avatar_processed=True)
    ).rowcount
    db.session.commit()
    if not done:
        delete_avatar_files(key)


def process_pending_avatars() -> int:
    """Process every avatar still waiting for its variants (the queue or the worker was down); how many.

    Until then the EXIF-bearing original is what the site shows: this is what strips it.
    """
    pending = db.session.execute(
        select(User.id, User.avatar).where(User.avatar.is_not(None), User.avatar_processed.is_(False))
        .order_by(User.id).limit(500)
    ).all()
    return _catch_up(pending, process_avatar, "avatar of user")


def delete_avatar_files(key: str) -> None:
    """Remove the original and every variant of avatar ``key`` (missing files are fine)."""
    _check_key(key)
    _delete_files(_AVATARS, key)


def avatar_url(user: User, size: int = 256) -> str | None:
    """The URL of ``user``'s avatar at ``size`` pixels; the original (scaled by CSS) until the worker is done."""
    if size not in SIZES:
        raise ValueError(f"avatar sizes are {SIZES}, not {size}")
    if not user.avatar:
        return None
    if user.avatar_processed:
        return url_for("main.upload", filename=f"avatars/{user.avatar}-{size}.webp")
    original = _original(user.avatar)
    return url_for("main.upload", filename=f"avatars/{original.name}") if original else None


# --- covers -------------------------------------------------------------------------------------

def _cover_name(key: str) -> str:
    """The random part of cover ``key`` (``<name>.<ext>``), which its variants are named after."""
    # Keys come from our database, but a path is built from them: never let one escape the folder.
    match = _COVER_KEY.fullmatch(key or "")
    if match is None:
        raise ValueError(f"not a cover key: {key!r}")
    return match["name"]


def _cover_variants(name: str) -> list[str]:
    return [f"{name}-og.jpg", *(f"{name}-{width}.webp" for width in COVER_WIDTHS), f"{name}-card.webp"]


def _limited_to_width(img: Image.Image, width: int) -> Image.Image:
    """``img`` no wider than ``width`` (nor taller than WebP allows), aspect kept, never enlarged."""
    scale = min(1.0, width / img.width, _WEBP_MAX_SIDE / img.height)
    if scale == 1.0:
        return img.copy()
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    return img.resize(size, Image.Resampling.LANCZOS)


def _on_white(img: Image.Image) -> Image.Image:
    """``img`` without an alpha channel: JPEG has none, so transparent parts become white."""
    if img.mode != "RGBA":
        return img
    flat = Image.new("RGB", img.size, "white")
    flat.paste(img, mask=img.getchannel("A"))
    return flat


def _write_cover_variants(name: str, colour: Image.Image) -> None:
    folder = _folder(_COVERS)
    og = _on_white(ImageOps.fit(colour, COVER_OG_SIZE, Image.Resampling.LANCZOS))
    _save_variant(folder / f"{name}-og.jpg", og, "JPEG", quality=85, optimize=True)
    for width in COVER_WIDTHS:
        _save_variant(folder / f"{name}-{width}.webp", _limited_to_width(colour, width), "WEBP", quality=82)
    card = ImageOps.fit(colour, COVER_CARD_SIZE, Image.Resampling.LANCZOS)
    _save_variant(folder / f"{name}-card.webp", card, "WEBP", quality=80)


def store_cover(upload: FileStorage) -> str:
    """Store ``upload`` as a new cover's original and return its key; the database is the caller's.

    The caller sets ``post.cover_image = key`` and ``post.cover_processed = False``, commits, then
    calls :func:`cover_saved` (or :func:`discard_cover` if its commit failed).

    Raises:
        Invalid: not a JPEG, PNG, GIF or WebP image, too big, too many pixels, or damaged
            (``fields["cover"]`` says which). Nothing is written then.
    """
    data, ext = _accepted(_COVERS, upload)
    key = f"{secrets.token_hex(16)}.{ext}"
    _write_atomically(_folder(_COVERS) / key, lambda fh: fh.write(data))
    return key


def cover_saved(post_id: int, key: str | None, old_key: str | None) -> None:
    """After the commit that gave post ``post_id`` cover ``key``: remove ``old_key``'s files, queue the resizing.

    ``key`` None (the cover was removed) only removes the old files. When the queue is down the
    post stays saved: :func:`process_pending_covers` makes the variants once the worker runs.
    """
    if old_key and old_key != key:
        discard_cover(old_key)
    if not key:
        return
    from blog import tasks  # late: blog.tasks builds the queue from the configuration on import

    try:
        tasks.process_cover(post_id, key)
    except Exception:  # the post is saved; the periodic job makes the variants when the queue is back
        log.warning("could not queue cover %s of post %s; the periodic job will process it", key, post_id,
                    exc_info=True)


def discard_cover(key: str | None) -> None:
    """Remove the original and every variant of cover ``key``; None or missing files are fine."""
    if key:
        _delete_files(_COVERS, _cover_name(key))


def process_cover(post_id: int, key: str) -> None:
    """Make the Open Graph crop, card and WebP variants of cover ``key`` and strip its original (the worker's job).

    Does nothing but clean up when the post is gone or has another cover by now; safe to run twice.
    """
    name = _cover_name(key)
    row = db.session.execute(
        select(Post.cover_image, Post.cover_processed).where(Post.id == post_id)
    ).one_or_none()
    if row is None or row.cover_image != key:
        discard_cover(key)
        return
    folder = _folder(_COVERS)
    if row.cover_processed and all((folder / variant).exists() for variant in _cover_variants(name)):
        return
    path = folder / key
    if not path.exists():
        raise FileNotFoundError(f"cover {key} of post {post_id} has no original file")

    _make_variants(path, lambda colour: _write_cover_variants(name, colour),
                   rewrite_original=not row.cover_processed)

    # Only if it is still this post's cover: a new upload may have replaced it while we worked.
    # updated_at is set to itself: making thumbnails is not an edit of the post.
    done = db.session.execute(
        update(Post).where(Post.id == post_id, Post.cover_image == key)
        .values(cover_processed=True, updated_at=Post.updated_at)
    ).rowcount
    db.session.commit()
    if not done:
        discard_cover(key)


def process_pending_covers() -> int:
    """Process every cover still waiting for its variants (the worker was down, or the queue); return how many."""
    pending = db.session.execute(
        select(Post.id, Post.cover_image)
        .where(Post.cover_image.is_not(None), Post.cover_processed.is_(False))
        .order_by(Post.id)
    ).all()
    return _catch_up(pending, process_cover, "cover of post")


def cover_urls(post: Post) -> dict | None:
    """The URLs to show ``post``'s cover with, or None; the original everywhere until the worker is done.

    Reads only ``post.cover_image`` and ``post.cover_processed``: no look at the disk.
    """
    match = _COVER_KEY.fullmatch(post.cover_image or "")
    if match is None:
        return None
    name = match["name"]

    def url(filename: str) -> str:
        return url_for("main.upload", filename=f"covers/{filename}")

    alt = getattr(post, "cover_alt", None) or ""  # empty: decorative (alt="")
    if not post.cover_processed:
        original = url(post.cover_image)
        return {"src": original, "srcset": "", "og": original, "card": original, "processed": False, "alt": alt}
    large, small = url(f"{name}-1200.webp"), url(f"{name}-800.webp")
    return {"src": large, "srcset": f"{small} 800w, {large} 1200w", "og": url(f"{name}-og.jpg"),
            "card": url(f"{name}-card.webp"), "processed": True, "alt": alt}


# --- serving ------------------------------------------------------------------------------------

def cache_seconds(filename: str) -> int:
    """How long browsers may keep an uploaded file: a year for a variant, none for an original (rewritten once)."""
    return 31_536_000 if VARIANT.search(filename) else 0


# --- imported images (services.importers, services.export) ---------------------------------------

_MEDIA = _Kind("media", "COVER_MAX_BYTES", "file", "The image was not accepted.")
_MEDIA_NAME = re.compile(r"[0-9a-f]{32}\.(?:jpg|png|gif|webp)")


def store_imported_image(data: bytes, *, name: str | None = None) -> str:
    """Check ``data`` like an uploaded cover (by content, size, pixels) and store it under ``UPLOAD_FOLDER/media/``.

    Returns the stored file name: ``name`` when it is one of ours (``<32 hex>.<ext>`` with the
    extension the bytes deserve) and free, else a new random one. The database is the caller's:
    call :func:`discard_imported_image` if its commit fails.

    Raises:
        Invalid: not a JPEG, PNG, GIF or WebP image, too big, too many pixels, or damaged.
    """
    limit = current_app.config[_MEDIA.max_bytes]
    if not data:
        raise _refuse(_MEDIA, "The file is empty.")
    if len(data) > limit:
        raise _refuse(_MEDIA, f"The image is too big: at most {_size_text(limit)}.")
    ext = EXTENSIONS[_checked_format(_MEDIA, data)]
    folder = _folder(_MEDIA)
    if not (name and _MEDIA_NAME.fullmatch(name) and name.endswith(f".{ext}") and not (folder / name).exists()):
        name = f"{secrets.token_hex(16)}.{ext}"
    _write_atomically(folder / name, lambda fh: fh.write(data))
    return name


def store_imported_cover(data: bytes, *, key: str | None = None) -> str:
    """Check ``data`` as a cover and store it as a new cover original (keeping ``key`` when ours and free).

    Then it is a cover like any other: the caller commits and calls :func:`cover_saved`, or
    :func:`discard_cover` if its commit fails.
    """
    limit = current_app.config[_COVERS.max_bytes]
    if not data or len(data) > limit:
        raise _refuse(_COVERS, f"The image is empty or too big: at most {_size_text(limit)}.")
    ext = EXTENSIONS[_checked_format(_COVERS, data)]
    folder = _folder(_COVERS)
    if not (key and _COVER_KEY.fullmatch(key) and key.endswith(f".{ext}") and not (folder / key).exists()):
        key = f"{secrets.token_hex(16)}.{ext}"
    _write_atomically(folder / key, lambda fh: fh.write(data))
    return key


def discard_imported_image(name: str | None) -> None:
    """Remove an imported image (after a failed commit); None or a missing file is fine."""
    if name and _MEDIA_NAME.fullmatch(name):
        (_folder(_MEDIA) / name).unlink(missing_ok=True)


def imported_image_path(name: str) -> Path | None:
    """The file of imported image ``name``, if it exists (for the export)."""
    path = _folder(_MEDIA) / name
    return path if _MEDIA_NAME.fullmatch(name) and path.is_file() else None


def cover_original_path(key: str | None) -> Path | None:
    """The original file of cover ``key``, if it exists (for the export)."""
    if not key or not _COVER_KEY.fullmatch(key):
        return None
    path = _folder(_COVERS) / key
    return path if path.is_file() else None


def imported_image_url(name: str) -> str:
    """The site-relative URL of imported image ``name`` (built by hand: imports run outside any request)."""
    return f"/uploads/media/{name}"


def _catch_up(pending, process, what: str) -> int:
    """Run ``process(id, key)`` for each waiting row; one broken image must not hold up the others."""
    processed = 0
    for row_id, key in pending:
        try:
            process(row_id, key)
        except FileNotFoundError as exc:  # e.g. a database restored without its uploads: say it, don't shout
            db.session.rollback()
            log.warning("%s %s not processed: %s", what, row_id, exc)
        except Exception:
            db.session.rollback()
            log.exception("could not process the %s %s (%s)", what, row_id, key)
        else:
            processed += 1
    return processed


# --- images in post bodies (the editor's "Insert image", /my/media) ------------------------------
#
# Stored in UPLOAD_FOLDER/media/ like imported images, under the same kind of key
# (``<32 hex>.<ext>``), with WebP width variants ``<32 hex>-<width>.webp``. A ``Media`` row
# records the owner, the size (upright, as shown) and the alt text; ``media_usage`` which posts
# show it (rewritten on every save of a post).

#: Widths of an image's WebP variants; an image narrower than one gets a variant at its own width instead.
MEDIA_WIDTHS = (1600, 800, 400)
#: ``sizes`` of an image in a post body: the reading column (--measure, 44rem), as for covers.
MEDIA_SIZES = "(min-width: 44rem) 44rem, 100vw"
MAX_ALT = 300
_POST_IMAGES = _Kind("media", "MEDIA_MAX_BYTES", "image", "The image was not accepted.")
#: The path of one of our images in a post body.
MEDIA_PATH = re.compile(r"/uploads/media/(?P<key>[0-9a-f]{32}\.(?:jpg|png|gif|webp))")
_EXIF_ORIENTATION = 0x0112


def media_widths(width: int) -> list[int]:
    """The widths of the WebP variants of an image ``width`` pixels wide: never upscaled."""
    return sorted({min(limit, width, _WEBP_MAX_SIDE) for limit in MEDIA_WIDTHS})


def _media_name(key: str) -> str:
    # Keys come from our database, but a path is built from them: never let one escape the folder.
    if not _MEDIA_NAME.fullmatch(key or ""):
        raise ValueError(f"not a media key: {key!r}")
    return key.split(".")[0]


def _upright_size(data: bytes) -> tuple[int, int]:
    """The size the image is shown at: EXIF orientations 5-8 turn it a quarter (as the worker will)."""
    with Image.open(BytesIO(data), formats=_OPENERS) as img:
        width, height = img.size
        try:
            orientation = img.getexif().get(_EXIF_ORIENTATION, 1)
        except Exception:  # a broken EXIF block: the worker's exif_transpose ignores it too
            orientation = 1
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def clean_alt(alt: str | None) -> str:
    """The alt text as stored and written into Markdown: one line, no brackets that would end it."""
    return " ".join((alt or "").replace("[", "(").replace("]", ")").split())


def check_alt(alt: str | None, field: str = "image_alt") -> str:
    """``alt`` cleaned, or Invalid (on ``field``) when it is missing or too long."""
    text = clean_alt(alt)
    if not text:
        raise Invalid("The image needs a description.", fields={
            field: ["Describe the image for people who cannot see it (alt text is required)."]})
    if len(text) > MAX_ALT:
        raise Invalid("The description is too long.", fields={field: [f"Keep the alt text under {MAX_ALT} characters."]})
    return text


def save_image(user: User, upload: FileStorage | None, alt: str | None):
    """Store ``upload`` as a new image of ``user`` described by ``alt``; return its ``Media`` row.

    Only the bytes decide (file name and content type are ignored). The worker then makes the
    WebP variants and strips the EXIF (:func:`process_media`).

    Raises:
        Invalid: no alt text (``fields["image_alt"]``), or not a JPEG, PNG, GIF or WebP image,
            too big, too many pixels, or damaged (``fields["image"]``). Nothing is written then.
    """

    text = check_alt(alt)
    if upload is None:
        raise _refuse(_POST_IMAGES, "Choose an image file to upload.")
    data, ext = _accepted(_POST_IMAGES, upload)
    width, height = _upright_size(data)
    key = f"{secrets.token_hex(16)}.{ext}"
    path = _folder(_POST_IMAGES) / key
    _write_atomically(path, lambda fh: fh.write(data))
    row = Media(owner_id=user.id, key=key, original_name=(upload.filename or "")[-255:], width=width,
                height=height, bytes=len(data), alt=text, processed=False)
    try:
        db.session.add(row)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        path.unlink(missing_ok=True)
        raise
    from blog import tasks  # late: blog.tasks builds the queue from the configuration on import

    try:
        tasks.process_media(row.id, key)
    except Exception:  # committed: ``processed`` is False, so the periodic job makes the variants
        log.warning("could not queue image %s; the periodic job will process it", key, exc_info=True)
    return row


def record_imported_image(name: str, owner_id: int):
    """Give an imported image (stored by :func:`store_imported_image`) its ``Media`` row, in the caller's
    transaction: it then renders with its size and ``srcset`` and is listed in ``owner_id``'s /my/media.

    After the commit, :func:`queue_media` makes its variants. An image that has a row keeps it.
    """

    existing = db.session.scalar(select(Media).where(Media.key == name))
    if existing is not None:
        return existing
    _media_name(name)
    data = (_folder(_MEDIA) / name).read_bytes()
    width, height = _upright_size(data)
    row = Media(owner_id=owner_id, key=name, original_name=name, width=width, height=height, bytes=len(data),
                alt="", processed=False)
    db.session.add(row)
    db.session.flush()
    return row


def queue_media(media_id: int, key: str) -> None:
    """Ask the worker for image ``key``'s variants; when the queue is down the periodic job does it."""
    from blog import tasks

    try:
        tasks.process_media(media_id, key)
    except Exception:
        log.warning("could not queue image %s; the periodic job will process it", key, exc_info=True)


def image_markdown(row) -> str:
    """The Markdown that shows image ``row`` in a post body."""
    return f"![{clean_alt(row.alt)}]({imported_image_url(row.key)})"


def _media_variants(name: str, width: int) -> list[str]:
    return [f"{name}-{w}.webp" for w in media_widths(width)]


def process_media(media_id: int, key: str) -> None:
    """Make the WebP width variants of image ``key`` and strip its original of EXIF (the worker's job).

    Then the posts that show it are rendered again, so their pages get its ``srcset``.
    Does nothing when the row is gone (its files went with it); safe to run twice.
    """

    name = _media_name(key)
    row = db.session.execute(select(Media.key, Media.processed).where(Media.id == media_id)).one_or_none()
    if row is None or row.key != key:
        return
    folder = _folder(_POST_IMAGES)
    path = folder / key

    def widths(colour: Image.Image) -> None:
        for width in media_widths(colour.width):
            _save_variant(folder / f"{name}-{width}.webp", _limited_to_width(colour, width), "WEBP", quality=80)

    if not path.exists():
        raise FileNotFoundError(f"image {key} has no original file")
    if not row.processed:
        _make_variants(path, widths, rewrite_original=True)
    else:
        with Image.open(path, formats=_OPENERS) as img:
            if all((folder / v).exists() for v in _media_variants(name, ImageOps.exif_transpose(img).width)):
                return
        _make_variants(path, widths, rewrite_original=False)
    db.session.execute(update(Media).where(Media.id == media_id).values(processed=True))
    db.session.commit()
    rerender_users_of(media_id)


def rerender_users_of(media_id: int) -> int:
    """Render again the posts whose body shows image ``media_id`` (its ``srcset`` changed); how many."""
    done = 0
    rows = db.session.execute(
        select(Post.id, Post.body).join(media_usage, media_usage.c.post_id == Post.id)
        .where(media_usage.c.media_id == media_id)
    ).all()
    for post_id, body in rows:
        try:
            html = content.render_markdown(body)
        except Invalid:  # rendered once when saved; a budget miss on a loaded worker keeps that html
            continue
        # updated_at set to itself: new image sizes are not an edit of the post. The bulk UPDATE
        # bumps the page cache after the commit (pagecache._remember_bulk_changes).
        db.session.execute(update(Post).where(Post.id == post_id).values(html=html, updated_at=Post.updated_at))
        done += 1
    db.session.commit()
    return done


def process_pending_media() -> int:
    """Process every image still waiting for its variants (the queue or the worker was down); how many."""

    pending = db.session.execute(
        select(Media.id, Media.key).where(Media.processed.is_(False)).order_by(Media.id).limit(500)
    ).all()
    return _catch_up(pending, process_media, "image")


def image_rows(keys) -> dict[str, tuple[int, int, int, bool]]:
    """``{key: (id, width, height, processed)}`` of the images ``keys`` that have a row: one query."""

    keys = sorted(set(keys))
    if not keys:
        return {}
    rows = db.session.execute(
        select(Media.key, Media.id, Media.width, Media.height, Media.processed).where(Media.key.in_(keys))
    ).all()
    return {row.key: (row.id, row.width, row.height, row.processed) for row in rows}


def image_attributes(key: str, width: int, height: int, processed: bool) -> dict[str, str]:
    """The ``<img>`` attributes of one of our images in a post: size (no layout shift), lazy, ``srcset``."""
    attrs = {"width": str(width), "height": str(height), "loading": "lazy", "decoding": "async"}
    if processed:
        name = _media_name(key)
        urls = [(w, imported_image_url(f"{name}-{w}.webp")) for w in media_widths(width)]
        attrs["src"] = urls[-1][1]
        attrs["srcset"] = ", ".join(f"{url} {w}w" for w, url in urls)
        attrs["sizes"] = MEDIA_SIZES
    return attrs


def link_usage(post_id: int, media_ids) -> None:
    """Record that post ``post_id`` shows exactly the images ``media_ids`` (in the caller's transaction)."""

    db.session.execute(media_usage.delete().where(media_usage.c.post_id == post_id))
    ids = sorted(set(media_ids))
    if ids:
        db.session.execute(media_usage.insert(), [{"post_id": post_id, "media_id": i} for i in ids])


def library(user: User, page: int = 1, per_page: int = 20):
    """``user``'s images, newest first, one page (a 404 past the last one)."""

    query = select(Media).where(Media.owner_id == user.id).order_by(Media.created_at.desc(), Media.id.desc())
    return db.paginate(query, page=page, per_page=per_page, max_per_page=100)


def usage(media_ids) -> dict[int, list[tuple[str, str, str]]]:
    """``{media id: [(title, slug, kind), ...]}``: the posts that show each image, in one query."""

    ids = list(media_ids)
    found: dict[int, list[tuple[str, str, str]]] = {i: [] for i in ids}
    if ids:
        rows = db.session.execute(
            select(media_usage.c.media_id, Post.title, Post.slug, Post.kind)
            .join(Post, Post.id == media_usage.c.post_id)
            .where(media_usage.c.media_id.in_(ids)).order_by(Post.title)
        ).all()
        for row in rows:
            found[row.media_id].append((row.title, row.slug, row.kind))
    return found


def media_url(row, width: int | None = None) -> str:
    """The URL of image ``row`` (its variant ``width`` wide once processed, else the original)."""
    if width and row.processed:
        return imported_image_url(f"{_media_name(row.key)}-{min(media_widths(row.width), key=lambda w: abs(w - width))}.webp")
    return imported_image_url(row.key)


def delete_image(user: User, media_id: int) -> str:
    """Delete ``user``'s image ``media_id`` with its files, unless a post shows it; returns its alt text.

    Raises:
        NotFound: there is no such image, or it is someone else's (no hint that it exists).
        Conflict: a post's body still shows it.
    """

    row = db.session.get(Media, media_id)
    if row is None or row.owner_id != user.id:
        raise NotFound("There is no such image in your library.")
    used = usage([row.id])[row.id]
    if used:
        titles = ", ".join(f"“{title}”" for title, _slug, _kind in used[:3]) + (" …" if len(used) > 3 else "")
        raise Conflict(f"This image is used in {titles}: remove it from the post first, then delete it.")
    key, alt = row.key, row.alt
    db.session.delete(row)
    db.session.commit()
    _delete_files(_POST_IMAGES, _media_name(key))
    return alt
