"""Time import-posts: a generated WordPress export of N posts (and, if present, the theme test data).

    .venv/bin/python scripts/bench_import.py [--posts 10000] [--comments 2]

Writes a WXR file with N published posts (classic-editor HTML with headings, lists, a table,
code, a [caption] shortcode and ``<!--more-->``), 20 categories in a tree, 50 tags and threaded
comments, then runs ``flask import-posts`` on it against a throw-away SQLite database, and
reports the wall time and the peak memory (RSS) of that process. Re-runs it to time the
idempotent update path too.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
THEME = ROOT.parent / "shared" / "data" / "wordpress" / "themeunittestdata.wordpress.xml"

BODY = """<h2>Section {n}</h2>
Paragraph one of post {n} with a <a href="https://example.org/{n}">link</a>.
A second line.

<!--more-->
<ul><li>first<ul><li>nested {n}</li></ul></li><li>second</li></ul>
<table><tr><th>a</th><th>b</th></tr><tr><td>{n}</td><td>x</td></tr></table>
<pre>code line {n}
    indented</pre>
[caption id="c{n}" width="300"]<img src="https://old.example/wp-content/uploads/2020/01/pic{n}.jpg" alt="pic"> Caption {n}[/caption]
<blockquote>Quoted {n}</blockquote>"""


def make_wxr(path: Path, posts: int, comments: int) -> None:
    with open(path, "w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
                  'xmlns:excerpt="http://wordpress.org/export/1.2/excerpt/" '
                  'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
                  'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:wp="http://wordpress.org/export/1.2/">\n'
                  "<channel><title>Bench</title><link>https://old.example</link>"
                  "<wp:base_blog_url>https://old.example</wp:base_blog_url>\n"
                  "<wp:author><wp:author_login>writer</wp:author_login>"
                  "<wp:author_email>writer@old.example</wp:author_email></wp:author>\n")
        for c in range(20):
            parent = f"cat-{c // 4}" if c >= 5 else ""
            out.write(f"<wp:category><wp:category_nicename>cat-{c}</wp:category_nicename>"
                      f"<wp:category_parent>{parent}</wp:category_parent><wp:cat_name>Cat {c}</wp:cat_name></wp:category>\n")
        for t in range(50):
            out.write(f"<wp:tag><wp:tag_slug>tag-{t}</wp:tag_slug><wp:tag_name>Tag {t}</wp:tag_name></wp:tag>\n")
        for n in range(1, posts + 1):
            day = 1 + n % 28
            out.write(f"<item><title>Post {n}</title><link>https://old.example/2020/01/{day:02d}/post-{n}/</link>"
                      f"<dc:creator>writer</dc:creator><content:encoded><![CDATA[{BODY.format(n=n)}]]></content:encoded>"
                      f"<wp:post_id>{n}</wp:post_id><wp:post_date>2020-01-{day:02d} 10:00:00</wp:post_date>"
                      f"<wp:post_date_gmt>2020-01-{day:02d} 09:00:00</wp:post_date_gmt><wp:post_name>post-{n}</wp:post_name>"
                      f"<wp:status>publish</wp:status><wp:post_type>post</wp:post_type>"
                      f'<category domain="category" nicename="cat-{n % 20}">Cat</category>'
                      f'<category domain="post_tag" nicename="tag-{n % 50}">Tag</category>')
            for c in range(1, comments + 1):
                out.write(f"<wp:comment><wp:comment_id>{n * 10 + c}</wp:comment_id><wp:comment_author>Guest {c}</wp:comment_author>"
                          f"<wp:comment_date_gmt>2020-02-01 10:00:00</wp:comment_date_gmt>"
                          f"<wp:comment_content>Comment {c} on {n}</wp:comment_content><wp:comment_approved>1</wp:comment_approved>"
                          f"<wp:comment_parent>{n * 10 + c - 1 if c > 1 else 0}</wp:comment_parent></wp:comment>")
            out.write("</item>\n")
        out.write("</channel></rss>\n")


def run(args: list[str], env: dict) -> tuple[float, float, str]:
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, check=True)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return time.perf_counter() - started, max(peak, before) / 1024, result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--comments", type=int, default=2)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "BLOG_ENV": "development", "DATABASE_URL": f"sqlite:///{tmp}/bench.db",
               "UPLOAD_FOLDER": f"{tmp}/uploads"}
        subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env,
                       capture_output=True, check=True)
        subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "create-admin", "--username", "admin",
                        "--email", "admin@example.com", "--password", "bench-password-123"], cwd=ROOT, env=env,
                       capture_output=True, check=True)
        if THEME.is_file():
            seconds, peak, output = run(["import-posts", str(THEME)], env)
            print(f"theme test data: {seconds:.1f}s wall, peak RSS {peak:.0f} MB")
            print("\n".join(output.splitlines()[:12]))
        wxr = Path(tmp) / "bench.xml"
        make_wxr(wxr, options.posts, options.comments)
        print(f"generated {options.posts} posts: {wxr.stat().st_size / 1e6:.1f} MB")
        for label in ("first import", "re-import (updates)"):
            seconds, peak, output = run(["import-posts", str(wxr)], env)
            print(f"{label}: {seconds:.1f}s wall ({options.posts / seconds:.0f} posts/s), peak RSS {peak:.0f} MB")
            print("\n".join(output.splitlines()[1:9]))


if __name__ == "__main__":
    main()
