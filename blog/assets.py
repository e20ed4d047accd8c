"""Fingerprinted, pre-compressed static files, built once at start and served by WhiteNoise.

``build`` copies every file of ``static/`` to ``<name>.<hash>.<ext>`` (the hash of its bytes)
with gzip and Brotli variants beside it, in a folder of ``instance/`` named after all of the
hashes; ``url_for('static', filename=...)`` then gives the fingerprinted name, which may be
cached for a year (``immutable``): new bytes get a new name. WhiteNoise picks the variant the
browser accepts and answers conditional requests; files asked for by their plain name still work
(with a short max-age), for links that cannot be fingerprinted (``/favicon.ico``).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from flask import Flask
from whitenoise import WhiteNoise
from whitenoise.compress import Compressor

#: A fingerprinted file's URL may be cached this long (one year, the longest browsers honour).
IMMUTABLE_SECONDS = 31_536_000
#: The plain-named copies: browsers check again after a minute.
PLAIN_MAX_AGE = 60


def _fingerprint(relative: str, data: bytes) -> str:
    stem, dot, ext = relative.rpartition(".")
    digest = hashlib.blake2b(data, digest_size=6).hexdigest()
    return f"{stem}.{digest}.{ext}" if dot and "/" not in ext else f"{relative}.{digest}"


def build(source: Path, instance: Path) -> tuple[Path, dict[str, str]]:
    """Build (or reuse) the fingerprinted copy of ``source``; returns its folder and {plain: fingerprinted}."""
    manifest: dict[str, str] = {}
    contents: dict[str, bytes] = {}
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        relative = path.relative_to(source).as_posix()
        contents[relative] = data = path.read_bytes()
        manifest[relative] = _fingerprint(relative, data)
    version = hashlib.blake2b("\n".join(manifest.values()).encode(), digest_size=8).hexdigest()
    target = instance / "static" / version
    if not target.is_dir():
        # Built aside and renamed into place: workers starting together never serve a half-written file.
        (instance / "static").mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".build-", dir=instance / "static"))
        compressor = Compressor(quiet=True)
        for relative, name in manifest.items():
            out = scratch / name
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(contents[relative])
            if compressor.should_compress(str(out)):
                for _ in compressor.compress(str(out)):
                    pass
        try:
            os.rename(scratch, target)
        except OSError:  # another process got there first: its copy is the same
            shutil.rmtree(scratch, ignore_errors=True)
    return target, manifest


def init_app(app: Flask) -> None:
    """Serve ``static/`` through WhiteNoise, fingerprinted and compressed; ``url_for`` names the fingerprints."""
    assert app.static_folder is not None
    source = Path(app.static_folder)
    built, manifest = build(source, Path(app.instance_path))
    prefix = (app.static_url_path or "/static").rstrip("/") + "/"
    immutable = {prefix + name for name in manifest.values()}
    whitenoise = WhiteNoise(app.wsgi_app, max_age=PLAIN_MAX_AGE,
                            immutable_file_test=lambda _path, url: url in immutable)
    whitenoise.FOREVER = IMMUTABLE_SECONDS
    whitenoise.add_files(str(source), prefix=prefix)
    whitenoise.add_files(str(built), prefix=prefix)
    app.wsgi_app = whitenoise  # type: ignore[method-assign]
    app.extensions["static_manifest"] = manifest

    @app.url_defaults
    def _fingerprinted(endpoint: str, values: dict) -> None:
        if endpoint == "static" and "filename" in values:
            values["filename"] = manifest.get(values["filename"], values["filename"])
