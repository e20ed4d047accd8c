"""Images in post bodies, the parts that need no database: variant widths, <img> attributes,
alt text cleaning, and the pipeline's handling of remote images and our own image paths."""
from __future__ import annotations

import pytest

from blog.services import content
from blog.services import media

KEY = "0123456789abcdef0123456789abcdef.png"


@pytest.mark.parametrize(("width", "widths"), [
    (3000, [400, 800, 1600]), (1600, [400, 800, 1600]), (1000, [400, 800, 1000]), (500, [400, 500]),
    (400, [400]), (120, [120]),
])
def test_variant_widths_are_never_wider_than_the_image(width, widths):
    assert media.media_widths(width) == widths


def test_image_attributes_before_and_after_the_worker():
    assert media.image_attributes(KEY, 1000, 500, False) == {
        "width": "1000", "height": "500", "loading": "lazy", "decoding": "async"}
    done = media.image_attributes(KEY, 1000, 500, True)
    name = KEY.split(".")[0]
    assert done["src"] == f"/uploads/media/{name}-1000.webp"
    assert done["srcset"] == (f"/uploads/media/{name}-400.webp 400w, /uploads/media/{name}-800.webp 800w, "
                              f"/uploads/media/{name}-1000.webp 1000w")
    assert done["sizes"] == media.MEDIA_SIZES and done["width"] == "1000"


def test_a_key_that_could_escape_the_folder_is_refused():
    for bad in ("../../etc/passwd", "0123.png", KEY.replace(".png", ".svg"), ""):
        with pytest.raises(ValueError):
            media.image_attributes(bad, 10, 10, True)


@pytest.mark.parametrize(("alt", "clean"), [
    ("  A  red\nsquare ", "A red square"), ("[x](y)", "(x)(y)"), ("", ""), (None, ""),
])
def test_alt_text_is_one_line_that_cannot_end_the_markdown(alt, clean):
    assert media.clean_alt(alt) == clean


def test_image_markdown():
    row = type("Row", (), {"alt": "A [red] square", "key": KEY})()
    assert media.image_markdown(row) == f"![A (red) square](/uploads/media/{KEY})"


def test_without_a_database_our_images_still_load_lazily():
    html = content.render_markdown(f"![x](/uploads/media/{KEY})")
    assert f'src="/uploads/media/{KEY}"' in html and 'loading="lazy"' in html and "srcset" not in html


def test_remote_images_are_listed_once_and_code_is_not_an_image():
    rendered = content.render_post("![a](https://x.example/a.png) ![b](//x.example/b.png) ![a](https://x.example/a.png)\n\n"
                                   "    ![not](https://in.code/block.png)\n\n<img src=\"http://raw.example/c.gif\">")
    assert rendered.remote_images == ("https://x.example/a.png", "//x.example/b.png", "https://x.example/a.png",
                                      "http://raw.example/c.gif")
    assert rendered.remote_message.count("https://x.example/a.png") == 1
    assert "<img" not in rendered.html and rendered.media_ids == ()


def test_local_images_are_not_remote():
    assert content.render_post("![logo](/static/logo.png)").remote_images == ()
