"""The embedded default cache: one SQLite file every process shares."""
from __future__ import annotations

import time

from blog.sqlitecache import SQLiteCache


def test_two_instances_on_one_file_see_each_others_writes(tmp_path):
    path = str(tmp_path / "cache.db")
    first, second = SQLiteCache(path), SQLiteCache(path)  # two processes' view
    first.set("gen:listings", "a", timeout=0)
    assert second.get("gen:listings") == "a"
    second.set_many({"gen:listings": "b", "gen:site": "c"}, timeout=0)
    assert first.get_many("gen:site", "missing", "gen:listings") == ["c", None, "b"]
    first.delete("gen:site")
    assert second.get("gen:site") is None
    second.clear()
    assert first.get("gen:listings") is None


def test_entries_expire_but_timeout_zero_lives_on(tmp_path):
    cache = SQLiteCache(str(tmp_path / "cache.db"))
    cache.set("short", 1, timeout=1)
    cache.set("forever", 2, timeout=0)
    cache.set("page", {"body": b"\x1f\x8b"}, timeout=60)
    assert cache.get("short") == 1 and cache.get("page") == {"body": b"\x1f\x8b"}
    time.sleep(1.1)
    assert cache.get("short") is None and cache.get_many("short", "forever") == [None, 2]
    assert not cache.add("forever", 3) and cache.add("short", 4) and cache.get("short") == 4


def test_the_sweep_keeps_the_table_under_its_threshold_and_spares_generations(tmp_path):
    cache = SQLiteCache(str(tmp_path / "cache.db"), threshold=10)
    cache.set("gen:site", "token", timeout=0)
    for n in range(600):  # passes a sweep (every 500 writes)
        cache.set(f"page:{n}", n, timeout=300)
    rows = cache._db().execute("SELECT count(*) FROM cache").fetchone()[0]
    assert rows < 150 and cache.get("gen:site") == "token"  # 601 written, swept down to 10 at the 500th
