"""Avatar images: checked by content on upload, resized and stripped of EXIF by the worker.

Files live under ``UPLOAD_FOLDER/avatars/``: the original ``<key>.<ext>`` and the
square variants ``<key>-256.webp`` and ``<key>-64.webp``. ``key`` is random, so a new
avatar always has new URLs; the variants can be made again from the original.
"""
from __future__ import annotations

import os
import re
import secrets
import warnings
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import IO

from flask import current_app
from flask import url_for
from PIL import Image
from PIL import ImageCms
from PIL import ImageOps
from PIL import JpegImagePlugin
from sqlalchemy import update
from werkzeug.datastructures import FileStorage

from blog.extensions import db
from blog.models import User
from blog.services.errors import Invalid

#: Formats we accept, by what Pillow detects in the bytes; MPO is the JPEG many phones write.
EXTENSIONS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}
_OPENERS = ("JPEG", "PNG", "GIF", "WEBP")  # the only decoders Image.open may try (MPO comes via JPEG)
_SAVE_AS = {"jpg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WEBP"}
#: Square sizes of the WebP variants, in pixels.
SIZES = (256, 64)
#: A variant's name: its bytes never change, so it may be cached for good.
VARIANT = re.compile(r"(?:^|/)[0-9a-f]{32}-\d+\.webp$")
_KEY = re.compile(r"[0-9a-f]{32}")
#: Image info that is not about the person or the camera; everything else (EXIF, XMP, comments, text) goes.
_KEEP_INFO = ("icc_profile", "transparency", "background")
_SRGB = ImageCms.createProfile("sRGB")

FORMATS_MESSAGE = "Upload a JPEG, PNG, GIF or WebP image."


def _refuse(message: str) -> Invalid:
    return Invalid("The avatar was not accepted.", fields={"avatar": [message]})


def _too_many_pixels(max_pixels: int) -> Invalid:
    return _refuse(f"The image has too many pixels: at most {max_pixels / 1e6:g} megapixels.")


def _folder() -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"]) / "avatars"


def _check_key(key: str) -> None:
    # Keys come from our database, but a path is built from them: never let one escape the folder.
    if not _KEY.fullmatch(key or ""):
        raise ValueError(f"not an avatar key: {key!r}")


def _original(key: str) -> Path | None:
    """The stored original of ``key``, whatever its extension; None when it is gone."""
    return next(iter(sorted(_folder().glob(f"{key}.*"))), None)


def _variant(key: str, size: int) -> Path:
    return _folder() / f"{key}-{size}.webp"


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


def _checked_format(data: bytes) -> str:
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
            raise _too_many_pixels(max_pixels) from None
        except Exception:  # any failure to parse untrusted bytes means "not an image we take"
            raise _refuse(FORMATS_MESSAGE) from None
        with img:
            if img.format not in EXTENSIONS:
                raise _refuse(FORMATS_MESSAGE)
            width, height = img.size
            if width * height > max_pixels:  # read from the header: nothing decoded yet
                raise _too_many_pixels(max_pixels)
            try:
                img.load()  # decode it all: truncated or corrupt files fail here
            except Exception:
                raise _refuse("The image file is damaged or incomplete.") from None
            return img.format


def save_avatar(user: User, upload: FileStorage) -> None:
    """Store ``upload`` as ``user``'s new avatar and queue its resizing; the previous avatar's files go.

    Only the bytes decide: the file name and the browser's content type are ignored.

    Raises:
        Invalid: not a JPEG, PNG, GIF or WebP image, too big, too many pixels, or damaged
            (``fields["avatar"]`` says which). Nothing is written then.
    """
    limit = current_app.config["AVATAR_MAX_BYTES"]
    data = _read_at_most(upload, limit)
    if not data:
        raise _refuse("Choose an image file to upload.")
    if len(data) > limit:
        raise _refuse(f"The image is too big: at most {_size_text(limit)}.")
    ext = EXTENSIONS[_checked_format(data)]

    key = secrets.token_hex(16)
    path = _folder() / f"{key}.{ext}"
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

    from blog import tasks

    tasks.process_avatar(user.id, key)


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

    with Image.open(path, formats=_OPENERS) as img:
        img.load()
        upright = ImageOps.exif_transpose(img)  # a copy, turned the way the camera was held
        colour = _as_srgb(upright)
        for size in SIZES:
            square = ImageOps.fit(colour, (size, size), Image.Resampling.LANCZOS)  # centre crop, then resize
            _write_atomically(_variant(key, size), lambda fh, im=square: im.save(fh, format="WEBP", quality=85))
        if not user.avatar_processed:  # rewritten once only: every re-encoding loses a little
            _rewrite_original(path, img, upright)

    # Only if it is still this user's avatar: a new upload may have replaced it while we worked.
    done = db.session.execute(
        update(User).where(User.id == user_id, User.avatar == key).values(avatar_processed=True)
    ).rowcount
    db.session.commit()
    if not done:
        delete_avatar_files(key)


def delete_avatar_files(key: str) -> None:
    """Remove the original and every variant of avatar ``key`` (missing files are fine)."""
    _check_key(key)
    for path in _folder().glob(f"{key}[.-]*"):
        path.unlink(missing_ok=True)


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


def cache_seconds(filename: str) -> int:
    """How long browsers may keep an uploaded file: a year for a variant, none for an original (rewritten once)."""
    return 31_536_000 if VARIANT.search(filename) else 0
