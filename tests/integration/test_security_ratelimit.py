"""Rate limits that hold on every stack: shared between processes, and no 500 when Redis is down.

Finding 4 of issue 11: on the embedded stack limits were counted per gunicorn worker.
"""
from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from blog import create_app
from blog.extensions import db
from blog.extensions import limiter
from blog.ratelimit import SQLiteStorage
from config import TestingConfig
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]

#: One process of the site: N failed logins against the storage at argv[1]; prints the statuses.
WORKER = """
import os, sys
os.environ["BLOG_ENV"] = "testing"
sys.path.insert(0, {root!r})
from blog import create_app
from blog.extensions import db
from config import TestingConfig

class Worker(TestingConfig):
    RATELIMIT_STORAGE_URI = sys.argv[1]
    SQLALCHEMY_DATABASE_URI = "sqlite://"

app = create_app(Worker)
with app.app_context():
    db.create_all()
    client = app.test_client()
    codes = [client.post("/auth/login", data={{"email": "who@example.com", "password": "wrong guess"}}).status_code
             for _ in range(int(sys.argv[2]))]
print(" ".join(map(str, codes)))
"""


def run_worker(uri: str, attempts: int) -> list[int]:
    result = subprocess.run([sys.executable, "-c", WORKER.format(root=str(ROOT)), uri, str(attempts)],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return [int(code) for code in result.stdout.split()]


def test_finding_4_login_limit_is_shared_by_every_process_on_the_embedded_stack(tmp_path):
    uri = f"sqlite:///{tmp_path / 'ratelimit.db'}"
    first = run_worker(uri, 4)
    second = run_worker(uri, 4)  # another process (a second gunicorn worker) sees the same counters
    assert first == [422] * 4
    assert second == [422] + [429] * 3


def test_the_embedded_default_is_the_shared_sqlite_file_not_memory():
    from config import Config
    from config import DevelopmentConfig

    if not Config.RATELIMIT_STORAGE_URI.startswith("redis"):
        assert Config.RATELIMIT_STORAGE_URI.startswith("sqlite:///")
        assert Config.RATELIMIT_STORAGE_URI.endswith("ratelimit.db")
    assert DevelopmentConfig.RATELIMIT_SWALLOW_ERRORS and DevelopmentConfig.RATELIMIT_IN_MEMORY_FALLBACK_ENABLED


def test_sqlite_storage_counts_windows_and_expires_them(tmp_path):
    storage = SQLiteStorage(f"sqlite:///{tmp_path / 'r.db'}")
    assert storage.incr("k", 1) == 1 and storage.incr("k", 1) == 2 and storage.get("k") == 2
    assert storage.get_expiry("k") > time.time()
    time.sleep(1.1)
    assert storage.get("k") == 0 and storage.incr("k", 1) == 1  # a new window
    storage.clear("k")
    assert storage.get("k") == 0 and storage.check()
    storage.incr("a", 60)
    assert storage.reset() == 1
    with pytest.raises(ValueError):
        SQLiteStorage("sqlite:///:memory:")


@pytest.fixture
def app_on(request):
    """An app whose rate-limit storage is ``uri``; the shared limiter is put back afterwards."""
    apps = []

    def build(uri: str):
        class Config(TestingConfig):
            RATELIMIT_STORAGE_URI = uri

        app = create_app(Config)
        context = app.app_context()
        context.push()
        db.create_all()
        apps.append(context)
        return app

    yield build
    for context in apps:
        db.session.remove()
        context.pop()
    # The limiter is one object for every app: leave it healthy for the next test.
    limiter._storage_dead = False
    if limiter._fallback_storage is not None:
        limiter._fallback_storage.reset()


def failed_login(client):
    return client.post("/auth/login", data={"email": "who@example.com", "password": "wrong guess"})


def test_redis_down_means_no_500_and_limits_counted_in_memory_meanwhile(app_on, caplog):
    app = app_on(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="flask-limiter"):
        codes = [failed_login(client).status_code for _ in range(6)]
        assert client.get("/").status_code == 200
    assert 500 not in codes
    assert codes[:5] == [422] * 5 and codes[5] == 429  # the in-memory fallback still limits
    assert "falling back to in-memory storage" in caplog.text


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_a_redis_that_stops_mid_test_causes_no_500(app_on, tmp_path, caplog):
    port = free_port()
    server = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no",
                               "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import redis

        connection = redis.Redis(port=port)
        for _ in range(50):
            try:
                connection.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.1)
        app = app_on(f"redis://127.0.0.1:{port}/0")
        client = app.test_client()
        assert [failed_login(client).status_code for _ in range(2)] == [422, 422]
        assert connection.dbsize() > 0  # counted in Redis
        server.terminate()
        server.wait(timeout=10)
        with caplog.at_level(logging.WARNING, logger="flask-limiter"):
            codes = [failed_login(client).status_code for _ in range(6)]
            assert client.get("/").status_code == 200
        assert 500 not in codes and codes[-1] == 429
        assert "falling back to in-memory storage" in caplog.text
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=10)
