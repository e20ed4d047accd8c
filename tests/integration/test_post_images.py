"""Images in posts (issue 14): upload by content, WebP width variants, srcset in the Markdown
pipeline, remote images refused, the editor's no-JS "Insert image", /my/media and cover alt text."""
from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path

import pytest
from flask import Flask
from PIL import ExifTags
from PIL import Image
from sqlalchemy import func
from sqlalchemy import select

from blog import tasks
from blog.extensions import db
from blog.models import Media
from blog.models import Post
from blog.models import media_usage
from blog.services import content
from blog.services import media
from blog.services import posts
from blog.services.errors import Conflict
from blog.services.errors import Invalid
from blog.services.errors import NotFound
from tests.conftest import HX
from tests.factories import login_as
from tests.factories import make_post
from tests.factories import make_user
from tests.integration.test_media import files
from tests.integration.test_media import image_bytes
from tests.integration.test_media import noise_png
from tests.integration.test_media import opened
from tests.integration.test_media import png_header_only
from tests.integration.test_media import small_bomb
from tests.integration.test_media import upload


@pytest.fixture
def folder(app: Flask) -> Path:
    return Path(app.config["UPLOAD_FOLDER"]) / "media"


@pytest.fixture
def author(client):
    user = make_user(role="author", username="writer")
    login_as(client, user)
    return user


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    calls: list[tuple] = []
    monkeypatch.setattr(tasks, "process_media", lambda *args: calls.append(args))
    return calls


def editor_form(**fields) -> dict:
    data = {"title": "Pictures", "body": "Some text I typed.", "summary": "A summary", "tags": "photos",
            "category_id": "", "status": "draft", "publish_at": "", "comments_enabled": "y"}
    data.update(fields)
    return data


def count(table) -> int:
    return db.session.scalar(select(func.count()).select_from(table))


# --- the service --------------------------------------------------------------------------------

def test_an_image_is_stored_with_its_size_and_made_into_webp_width_variants(app, folder):
    user = make_user()
    row = media.save_image(user, upload(image_bytes("JPEG", size=(2000, 1000)), filename="beach.jpg"), "  A  beach ")
    name = row.key.split(".")[0]
    assert row.key.endswith(".jpg") and (row.width, row.height, row.alt) == (2000, 1000, "A beach")
    assert row.original_name == "beach.jpg" and row.owner_id == user.id and row.processed  # immediate queue
    assert files(folder) == sorted([row.key, f"{name}-1600.webp", f"{name}-800.webp", f"{name}-400.webp"])
    for width in (1600, 800, 400):
        variant = opened(folder / f"{name}-{width}.webp")
        assert (variant.format, variant.size) == ("WEBP", (width, width // 2))


def test_a_small_image_is_never_upscaled(app, folder):
    row = media.save_image(make_user(), upload(image_bytes("PNG", size=(500, 300))), "Small")
    name = row.key.split(".")[0]
    assert files(folder) == sorted([row.key, f"{name}-500.webp", f"{name}-400.webp"])
    assert opened(folder / f"{name}-500.webp").size == (500, 300)


def test_exif_is_stripped_and_a_turned_photo_gets_its_upright_size(app, folder):
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # held sideways: shown 90° turned
    exif[ExifTags.Base.Model] = "Secret phone"
    row = media.save_image(make_user(), upload(image_bytes("JPEG", size=(600, 400), exif=exif.tobytes())), "Turned")
    assert (row.width, row.height) == (400, 600)
    name = row.key.split(".")[0]
    assert opened(folder / f"{name}-400.webp").size == (400, 600)
    for path in folder.iterdir():
        assert ExifTags.Base.Model not in opened(path).getexif()


@pytest.mark.parametrize(("data", "message"), [
    (b"Just some text, not a picture.\n", "JPEG, PNG, GIF or WebP"),
    (b"", "Choose an image"),
    (image_bytes("PNG")[:-40], "damaged or incomplete"),
    (png_header_only(20000, 20000), "too many pixels"),
], ids=["text", "empty", "truncated", "header-bomb"])
def test_a_bad_file_is_refused_and_nothing_is_left(app, folder, data, message):
    with pytest.raises(Invalid) as refused:
        media.save_image(make_user(), upload(data), "Described")
    assert message in refused.value.fields["image"][0]
    assert count(Media) == 0 and (not folder.exists() or files(folder) == [])


def test_a_decompression_bomb_and_an_oversized_file_are_refused(app, folder):
    with pytest.raises(Invalid) as bomb:
        media.save_image(make_user(), upload(small_bomb()), "Bomb")
    assert "too many pixels" in bomb.value.fields["image"][0]
    app.config["MEDIA_MAX_BYTES"] = 1000
    with pytest.raises(Invalid) as big:
        media.save_image(make_user(), upload(noise_png()), "Noise")
    assert "at most 1 KB" in big.value.fields["image"][0]
    assert count(Media) == 0 and (not folder.exists() or files(folder) == [])


def test_alt_text_is_required_before_anything_is_written(app, folder):
    for alt in ("", "   ", None):
        with pytest.raises(Invalid) as refused:
            media.save_image(make_user(), upload(image_bytes()), alt)
        assert "alt text is required" in refused.value.fields["image_alt"][0]
    with pytest.raises(Invalid):
        media.save_image(make_user(), upload(image_bytes()), "x" * 301)
    assert count(Media) == 0 and not folder.exists()


def test_a_failed_commit_leaves_no_file(app, folder, monkeypatch):
    def broken():
        raise RuntimeError("database gone")

    monkeypatch.setattr(db.session, "commit", broken)
    with pytest.raises(RuntimeError):
        media.save_image(make_user(), upload(image_bytes()), "Gone")
    assert files(folder) == []


def test_the_catch_up_processes_images_the_queue_missed(app, folder, queued):
    row = media.save_image(make_user(), upload(image_bytes(size=(900, 300))), "Late")
    assert queued == [(row.id, row.key)] and not row.processed
    assert media.process_pending_media() == 1
    db.session.refresh(row)
    assert row.processed and (folder / f"{row.key.split('.')[0]}-800.webp").exists()
    assert media.process_pending_media() == 0


# --- the Markdown pipeline ----------------------------------------------------------------------

def test_our_images_render_with_srcset_size_and_lazy_loading(app, count_queries):
    row = media.save_image(make_user(), upload(image_bytes(size=(2000, 1000))), "A wide chart")
    name = row.key.split(".")[0]
    with count_queries() as q:
        html = content.render_markdown(f"![A wide chart](/uploads/media/{row.key}) and again "
                                       f"![again](/uploads/media/{row.key})")
    assert q.count == 1  # one look-up for every image of the body
    assert html.count('width="2000" height="1000"') == 2 and 'loading="lazy"' in html
    assert (f'srcset="/uploads/media/{name}-400.webp 400w, /uploads/media/{name}-800.webp 800w, '
            f'/uploads/media/{name}-1600.webp 1600w"') in html
    assert f'src="/uploads/media/{name}-1600.webp"' in html and f'sizes="{media.MEDIA_SIZES}"' in html


def test_an_unprocessed_image_shows_its_original_with_its_size(app, queued):
    row = media.save_image(make_user(), upload(image_bytes(size=(640, 480))), "Fresh")
    html = content.render_markdown(f"![Fresh](/uploads/media/{row.key})")
    assert f'src="/uploads/media/{row.key}"' in html and 'width="640" height="480"' in html
    assert "srcset" not in html


def test_a_body_without_our_images_costs_no_query_and_writers_cannot_add_srcset(app, count_queries):
    with count_queries() as q:
        html = content.render_markdown('<img src="/x.png" srcset="/evil.png 1w" sizes="1px" alt="x"> text')
    assert q.count == 0 and "srcset" not in html and "sizes" not in html


def test_remote_images_are_reported_and_render_as_links(app):
    rendered = content.render_post("![chart](https://cdn.example/c.png)\n\n`![code](https://in.code/x.png)`")
    assert rendered.remote_images == ("https://cdn.example/c.png",)
    assert "Upload the image instead; images from other sites are blocked" in rendered.remote_message
    assert '<a href="https://cdn.example/c.png" rel="nofollow noopener">chart</a>' in rendered.html
    assert "<img" not in rendered.html


def test_saving_refuses_new_remote_images_but_keeps_old_posts_editable(app):
    user = make_user()
    data = posts.PostInput(title="Remote", body="![chart](https://cdn.example/c.png)", status="published")
    with pytest.raises(Invalid) as refused:
        posts.save(data, by=user)
    assert "images from other sites are blocked" in refused.value.fields["body"][0]
    assert count(Post) == 0
    old = make_post(author=user, body="Old ![chart](https://cdn.example/c.png)")  # stored before this rule
    data = posts.PostInput(title="Renamed", body=old.body + " more", status="published")
    saved = posts.save(data, by=user, post=old)
    assert saved.title == "Renamed" and 'href="https://cdn.example/c.png"' in saved.html


def test_the_worker_re_renders_posts_saved_before_the_variants_existed(app, queued):
    user = make_user()
    row = media.save_image(user, upload(image_bytes(size=(1000, 500))), "Early")
    post = posts.save(posts.PostInput(title="Early", body=f"![Early](/uploads/media/{row.key})",
                                      status="published"), by=user)
    assert "srcset" not in post.html
    version = post.version
    media.process_media(row.id, row.key)
    db.session.refresh(post)
    assert "srcset" in post.html and post.version == version  # not an edit: no conflict with the editor


# --- usage and deleting -------------------------------------------------------------------------

def test_usage_follows_the_body_on_every_save_and_a_used_image_cannot_be_deleted(app, folder):
    user = make_user()
    row = media.save_image(user, upload(image_bytes()), "Used")
    post = posts.save(posts.PostInput(title="Uses it", body=f"![Used](/uploads/media/{row.key})"), by=user)
    assert media.usage([row.id]) == {row.id: [("Uses it", post.slug, "post")]}
    with pytest.raises(Conflict) as refused:
        media.delete_image(user, row.id)
    assert "“Uses it”" in refused.value.message and (folder / row.key).exists()
    posts.save(posts.PostInput(title="Uses it", body="No image any more."), by=user, post=post)
    assert media.usage([row.id]) == {row.id: []}
    media.delete_image(user, row.id)
    assert count(Media) == 0 and files(folder) == []


def test_deleting_a_post_frees_its_images(app):
    user = make_user()
    row = media.save_image(user, upload(image_bytes()), "Freed")
    post = posts.save(posts.PostInput(title="Goes", body=f"![Freed](/uploads/media/{row.key})"), by=user)
    posts.delete(post, by=user)
    assert count(media_usage) == 0
    media.delete_image(user, row.id)


def test_someone_elses_image_is_not_found(app):
    row = media.save_image(make_user(), upload(image_bytes()), "Mine")
    with pytest.raises(NotFound):
        media.delete_image(make_user(role="admin"), row.id)
    assert count(Media) == 1


# --- HTTP: the upload, the no-JS insert, /my/media ------------------------------------------------

def test_upload_answers_the_editor_script_with_markdown(client, author):
    response = client.post("/my/media", data={"image": (BytesIO(image_bytes()), "a.png"), "image_alt": "Red square"},
                           headers={"Accept": "application/json"})
    assert response.status_code == 201
    row = db.session.scalar(select(Media))
    assert response.json["markdown"] == f"![Red square](/uploads/media/{row.key})"


@pytest.mark.parametrize(("data", "alt", "field", "message"), [
    (b"not an image", "x", "image", "JPEG, PNG, GIF or WebP"),
    (image_bytes()[:-40], "x", "image", "damaged or incomplete"),
    (small_bomb(), "x", "image", "too many pixels"),
    (image_bytes(), "", "image_alt", "alt text is required"),
    (None, "no file", "image", "Choose an image"),
], ids=["non-image", "truncated", "bomb", "no-alt", "no-file"])
def test_a_refused_upload_says_why_as_json_and_as_a_page(client, author, app, data, alt, field, message):
    def form() -> dict:
        return {"image_alt": alt, **({"image": (BytesIO(data), "a.png")} if data is not None else {})}

    json_answer = client.post("/my/media", data=form(), headers={"Accept": "application/json"})
    assert json_answer.status_code == 422 and message in json_answer.json["fields"][field][0]
    page = client.post("/my/media", data=form())
    assert page.status_code == 422 and message in page.text and 'aria-invalid="true"' in page.text
    assert count(Media) == 0 and files(Path(app.config["UPLOAD_FOLDER"])) == []


def test_an_oversized_upload_is_refused(client, author, app):
    app.config["MEDIA_MAX_BYTES"] = 1000
    response = client.post("/my/media", data={"image": (BytesIO(noise_png()), "n.png"), "image_alt": "Noise"},
                           headers={"Accept": "application/json"})
    assert response.status_code == 422 and "too big" in response.json["fields"]["image"][0]
    assert count(Media) == 0


def test_no_js_insert_image_keeps_everything_typed_and_saves_no_post(client, author):
    response = client.post("/blog/create", data=editor_form(
        action="insert_image", image=(BytesIO(image_bytes(size=(800, 400))), "pic.png"), image_alt="My picture"))
    assert response.status_code == 200
    row = db.session.scalar(select(Media))
    assert count(Post) == 0 and row.alt == "My picture"
    html = response.text
    textarea = re.search(r'<textarea[^>]*name="body"[^>]*>(.*?)</textarea>', html, re.S).group(1)
    assert textarea.strip() == f"Some text I typed.\n\n![My picture](/uploads/media/{row.key})"
    assert 'value="Pictures"' in html and "A summary</textarea>" in html and 'value="photos"' in html
    assert "Inserted “My picture”" in html
    assert 'width="800" height="400"' in html  # the preview shows it
    saved = client.post("/blog/create", data=editor_form(body=textarea.strip(), status="published"))
    assert saved.status_code == 303
    post = db.session.scalar(select(Post))
    assert media.usage([row.id])[row.id] == [("Pictures", post.slug, "post")]


def test_no_js_insert_image_without_alt_text_says_so_and_keeps_no_file(client, author, app):
    response = client.post("/blog/create", data=editor_form(
        action="insert_image", image=(BytesIO(image_bytes()), "pic.png"), image_alt=""))
    assert response.status_code == 422 and "alt text is required" in response.text
    assert "Some text I typed." in response.text and count(Post) == 0 and count(Media) == 0
    assert files(Path(app.config["UPLOAD_FOLDER"])) == []


def test_the_editor_has_the_insert_image_control_and_its_script(client, author):
    html = client.get("/blog/create").text
    assert 'name="action" value="insert_image"' in html and 'name="image"' in html
    assert '<label for="image_alt">Image description (alt text)</label>' in html
    assert 'data-upload-url="/my/media"' in html and "editor-images" in html
    assert 'for="cover_alt"' in html


def test_preview_refuses_remote_images_with_a_clear_message(client, author):
    response = client.post("/blog/preview", data={"body": "![chart](https://cdn.example/c.png)"})
    assert "Upload the image instead; images from other sites are blocked" in response.text
    saved = client.post("/blog/create", data=editor_form(body="![chart](https://cdn.example/c.png)"))
    assert saved.status_code == 422 and "images from other sites are blocked" in saved.text and count(Post) == 0


def test_my_media_lists_my_images_with_usage_and_deletes_unused_ones(client, author, app, count_queries):
    other = make_user(username="other")
    theirs = media.save_image(other, upload(image_bytes()), "Theirs")
    rows = [media.save_image(author, upload(image_bytes()), f"Mine {i}") for i in range(3)]
    post = posts.save(posts.PostInput(title="Showcase", body=f"![x](/uploads/media/{rows[0].key})"), by=author)
    client.get("/my/media")  # warm the header's memoised menu: a post's save leaves it alone
    with count_queries() as few:
        page = client.get("/my/media")
    more = [media.save_image(author, upload(image_bytes()), f"More {i}") for i in range(10)]
    posts.save(posts.PostInput(title="Second", body=f"![y](/uploads/media/{more[0].key})"), by=author)
    client.get("/my/media")  # and again: a bulk change among those writes moves every generation
    with count_queries() as many:
        client.get("/my/media")
    assert many.count == few.count
    html = page.text
    assert "Mine 0" in html and "Theirs" not in html and f'href="/blog/{post.slug}"' in html and "Not used" in html
    assert client.get("/my/media", headers=HX).text.lstrip().startswith('<div id="media-library"')
    refused = client.post(f"/my/media/{rows[0].id}/delete")
    assert refused.status_code == 409 and "used in “Showcase”" in refused.text
    assert client.post(f"/my/media/{theirs.id}/delete").status_code == 404
    done = client.post(f"/my/media/{rows[1].id}/delete")
    assert done.status_code == 303
    assert {row.alt for row in db.session.scalars(select(Media))} == {"Theirs", "Mine 0", "Mine 2"} | {m.alt for m in more}
    assert "Deleted the image “Mine 1”" in client.get("/my/media").text


def test_my_media_is_paginated(client, author):
    for i in range(21):
        media.save_image(author, upload(image_bytes(size=(10, 10))), f"Tiny {i}")
    first, second = client.get("/my/media").text, client.get("/my/media?page=2").text
    assert "Tiny 20" in first and "Tiny 0" not in first and "Tiny 0" in second
    assert client.get("/my/media?page=3").status_code == 404


def test_post_page_with_images_runs_a_fixed_number_of_queries(client, app, count_queries):
    user = make_user()
    row = media.save_image(user, upload(image_bytes(size=(1200, 600))), "One")
    one = posts.save(posts.PostInput(title="One image", body=f"![One](/uploads/media/{row.key})",
                                     status="published"), by=user)
    rows = [media.save_image(user, upload(image_bytes(size=(1200, 600))), f"Img {i}") for i in range(8)]
    body = "\n\n".join(f"![Img {i}](/uploads/media/{r.key})" for i, r in enumerate(rows))
    many = posts.save(posts.PostInput(title="Eight images", body=body, status="published"), by=user)
    for post in (one, many):  # warm the memoised parts (navigation, each post's neighbours)
        client.get(f"/blog/{post.slug}")
    with count_queries() as q1:
        page = client.get(f"/blog/{one.slug}")
    with count_queries() as q8:
        page8 = client.get(f"/blog/{many.slug}")
    assert page.status_code == page8.status_code == 200
    assert q1.count == q8.count and page8.text.count("srcset=") >= 8 and page8.text.count('loading="lazy"') >= 8


def test_variants_are_cached_for_good_and_originals_not(client, app):
    row = media.save_image(make_user(), upload(image_bytes(size=(500, 300))), "Cached")
    name = row.key.split(".")[0]
    variant = client.get(f"/uploads/media/{name}-400.webp")
    assert variant.status_code == 200 and "immutable" in variant.headers["Cache-Control"]
    assert "immutable" not in client.get(f"/uploads/media/{row.key}").headers.get("Cache-Control", "")


# --- cover alt text -----------------------------------------------------------------------------

def test_cover_alt_text_is_saved_and_shown_on_the_post_page_and_in_open_graph(client, author):
    response = client.post("/blog/create", data=editor_form(
        status="published", cover=(BytesIO(image_bytes(size=(1200, 630))), "c.png"),
        cover_alt="A lighthouse at dusk"))
    assert response.status_code == 303
    post = db.session.scalar(select(Post))
    assert post.cover_alt == "A lighthouse at dusk"
    html = client.get(f"/blog/{post.slug}").text
    assert 'alt="A lighthouse at dusk"' in html
    assert '<meta property="og:image:alt" content="A lighthouse at dusk">' in html
    assert 'value="A lighthouse at dusk"' in client.get(f"/blog/{post.slug}/edit").text


def test_a_cover_without_alt_text_is_named_for_its_post_in_the_social_card(client, author):
    response = client.post("/blog/create", data=editor_form(
        status="published", title="Harbour <lights>", cover=(BytesIO(image_bytes(size=(1200, 630))), "c.png")))
    assert response.status_code == 303
    post = db.session.scalar(select(Post))
    html = client.get(f"/blog/{post.slug}").text
    alt = "Cover image of “Harbour &lt;lights&gt;”"
    assert f'<meta property="og:image:alt" content="{alt}">' in html
    assert f'<meta name="twitter:image:alt" content="{alt}">' in html
    image = re.search(r'<meta property="og:image" content="([^"]+)">', html)[1]
    assert image.startswith("http") and "/uploads/covers/" in image


def test_a_deleted_writers_images_go_to_whoever_takes_their_posts(app):
    from blog.services import users

    admin, writer, heir = make_user(role="admin"), make_user(), make_user()
    row = media.save_image(writer, upload(image_bytes()), "Inherited")
    users.delete(writer, by=admin, posts="reassign", reassign_to=heir)
    assert db.session.get(Media, row.id).owner_id == heir.id
    other = make_user()
    kept = media.save_image(other, upload(image_bytes()), "To the admin")
    users.delete(other, by=admin, posts="delete")
    assert db.session.get(Media, kept.id).owner_id == admin.id


def test_no_js_insert_image_asks_for_a_chosen_cover_again_rather_than_dropping_it_silently(client, author, app):
    # A file input cannot be filled again by the server: the cover chosen beside the image is lost
    # with the reload, so the editor says so at the cover field (and keeps no cover file).
    response = client.post("/blog/create", data=editor_form(
        action="insert_image", image=(BytesIO(image_bytes()), "pic.png"), image_alt="My picture",
        cover=(BytesIO(image_bytes(size=(1200, 600))), "cover.png")))
    assert response.status_code == 200 and count(Post) == 0
    assert "Choose the cover image again" in response.text and "cover.png" in response.text
    assert not list((Path(app.config["UPLOAD_FOLDER"]) / "covers").glob("*"))
    # Without a cover chosen, nothing is said about it.
    plain = client.post("/blog/create", data=editor_form(
        action="insert_image", image=(BytesIO(image_bytes()), "pic.png"), image_alt="My picture"))
    assert "Choose the cover image again" not in plain.text
