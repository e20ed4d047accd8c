"""Images in posts (issue 14): an author inserts one image with the "Insert image" control and pastes
another into the body; both land at the cursor and show in the live preview; /my/media lists them.
Without JavaScript the same control posts the whole editor and keeps everything typed."""
from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page
from playwright.sync_api import expect


def picture(tmp_path: Path, name: str, color) -> Path:
    path = tmp_path / name
    Image.new("RGB", (1200, 600), color).save(path, "PNG")
    return path


def png_bytes(color) -> list[int]:
    buffer = BytesIO()
    Image.new("RGB", (640, 320), color).save(buffer, "PNG")
    return list(buffer.getvalue())


def test_insert_one_image_and_paste_another_into_the_body(open_page, audit, tmp_path: Path) -> None:
    page: Page = open_page("author")
    page.goto("/blog/create")
    expect(page.get_by_role("heading", name="New post")).to_be_visible()
    page.get_by_label("Title").fill("A post with two pictures")
    body = page.get_by_label("Body (Markdown)")
    body.fill("First paragraph.\n\nLast paragraph.")
    body.evaluate("el => el.setSelectionRange(17, 17)")  # between the two paragraphs
    preview = page.get_by_role("region", name="Preview")

    # 1. The control: a file and its (required) alt text, inserted at the cursor.
    page.get_by_label("Image to insert").set_input_files(str(picture(tmp_path, "sea.png", (20, 60, 200))))
    page.get_by_role("button", name="Insert image").click()
    status = page.get_by_role("status", name="Image insert")
    expect(status).to_contain_text("alt text is required")
    expect(page.get_by_label("Image description (alt text)")).to_be_focused()
    page.get_by_label("Image description (alt text)").fill("A blue sea")
    page.get_by_role("button", name="Insert image").click()
    expect(status).to_contain_text("Inserted “A blue sea”")
    expect(body).to_have_value(re.compile(
        r"^First paragraph\.\n\n!\[A blue sea\]\(/uploads/media/[0-9a-f]{32}\.png\)\n\nLast paragraph\.$"))
    expect(preview.get_by_role("img", name="A blue sea")).to_be_visible()

    # 2. Paste: the image waits in the file field and the focus moves to its alt text.
    body.evaluate("el => { el.focus(); el.setSelectionRange(0, 0); }")
    body.evaluate("""(el, bytes) => {
        const file = new File([new Uint8Array(bytes)], "pasted.png", {type: "image/png"});
        const data = new DataTransfer();
        data.items.add(file);
        el.dispatchEvent(new ClipboardEvent("paste", {clipboardData: data, bubbles: true, cancelable: true}));
    }""", png_bytes((200, 30, 30)))
    alt = page.get_by_label("Image description (alt text)")
    expect(alt).to_be_focused()
    expect(status).to_contain_text("ready: describe it")
    audit(page, "editor, pasted image waiting for its alt text")
    alt.fill("A red square")
    alt.press("Enter")  # inserts; does not save the post
    expect(status).to_contain_text("Inserted “A red square”")
    expect(preview.get_by_role("img", name="A red square")).to_be_visible()
    expect(body).to_have_value(re.compile(r"^!\[A red square\]\(/uploads/media/[0-9a-f]{32}\.png\)\n\nFirst"))
    expect(page.get_by_role("heading", name="New post")).to_be_visible()  # nothing saved yet

    page.get_by_role("button", name="Save", exact=True).click()
    # A saved draft is found among the writer's drafts, and previewed from there.
    expect(page.get_by_role("heading", level=1)).to_have_text("My posts")
    page.get_by_role("link", name="Preview “A post with two pictures”").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("A post with two pictures")
    article = page.get_by_role("article")
    for name in ("A blue sea", "A red square"):
        image = article.get_by_role("img", name=name)
        expect(image).to_be_visible()
        expect(image).to_have_attribute("loading", "lazy")
        expect(image).to_have_attribute("srcset", re.compile(r"-400\.webp 400w"))
    audit(page, "post with two inserted images")

    page.goto("/my/media")
    table = page.get_by_role("table")
    expect(table.get_by_role("img", name="A blue sea")).to_be_visible()
    expect(table.get_by_role("link", name="A post with two pictures")).to_have_count(2)
    audit(page, "my media")


@pytest.mark.browser_context_args(java_script_enabled=False)
def test_without_javascript_insert_image_appends_it_and_keeps_the_typed_text(open_page, audit, tmp_path: Path) -> None:
    page: Page = open_page("author", js=False)
    page.goto("/blog/create")
    page.get_by_label("Title").fill("No script, one picture")
    page.get_by_label("Body (Markdown)").fill("Typed before inserting.")
    page.get_by_label("Summary").fill("Kept too.")
    page.get_by_label("Image to insert").set_input_files(str(picture(tmp_path, "green.png", (20, 160, 40))))
    page.get_by_role("button", name="Insert image").click()
    expect(page.get_by_label("Image description (alt text)")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Title")).to_have_value("No script, one picture")
    page.get_by_label("Image to insert").set_input_files(str(picture(tmp_path, "green.png", (20, 160, 40))))
    page.get_by_label("Image description (alt text)").fill("A green field")
    page.get_by_role("button", name="Insert image").click()
    expect(page.get_by_label("Body (Markdown)")).to_have_value(re.compile(
        r"^Typed before inserting\.\n\n!\[A green field\]\(/uploads/media/[0-9a-f]{32}\.png\)\s*$"))
    expect(page.get_by_label("Summary")).to_have_value("Kept too.")
    expect(page.get_by_role("region", name="Preview").get_by_role("img", name="A green field")).to_be_visible()
    audit(page, "editor after a no-JS image insert")
    page.get_by_role("button", name="Save", exact=True).click()
    # A saved draft is found among the writer's drafts, and previewed from there.
    expect(page.get_by_role("heading", level=1)).to_have_text("My posts")
    page.get_by_role("link", name="Preview “No script, one picture”").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("No script, one picture")
    expect(page.get_by_role("article").get_by_role("img", name="A green field")).to_be_visible()


def test_a_dropped_image_waits_for_its_alt_text_then_lands_at_the_cursor(open_page) -> None:
    page: Page = open_page("author")
    page.goto("/blog/create")
    body = page.get_by_label("Body (Markdown)")
    body.fill("Before.\n\nAfter.")
    body.evaluate("el => { el.focus(); el.setSelectionRange(9, 9); }")
    body.evaluate("""(el, bytes) => {
        const data = new DataTransfer();
        data.items.add(new File([new Uint8Array(bytes)], "dropped.png", {type: "image/png"}));
        el.dispatchEvent(new DragEvent("dragover", {dataTransfer: data, bubbles: true, cancelable: true}));
        el.dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true, cancelable: true}));
    }""", png_bytes((30, 160, 30)))
    alt = page.get_by_label("Image description (alt text)")
    expect(alt).to_be_focused()
    alt.fill("A dropped green square")
    page.get_by_role("button", name="Insert image").click()
    expect(body).to_have_value(re.compile(r"^Before\.\n\n!\[A dropped green square\]\(/uploads/media/[0-9a-f]{32}\.png\)\n\nAfter\.$"))
    expect(page.get_by_role("region", name="Preview").get_by_role("img", name="A dropped green square")).to_be_visible()
