"""PostgreSQL going away under the app: a killed connection, a restart. Pooled connections are
checked before use (blog/pool.py), so only requests made while the server is down can fail."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy import text

from blog.extensions import db
from tests.factories import make_post
from tests.faults.conftest import PG_BIN
from tests.faults.conftest import make_live_app
from tests.conftest import free_port

pytestmark = pytest.mark.slow


def _engine_options(name: str) -> dict:
    # The app's own options, plus a name on every connection so the test kills only this app's backends.
    from config import Config

    return {**Config.SQLALCHEMY_ENGINE_OPTIONS, "pool_size": 5, "connect_args": {"application_name": name}}


def _terminate(url: str, name: str) -> int:
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            return len(conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :name"),
                {"name": name}).all())
    finally:
        admin.dispose()


def _warm_pool(app, count: int = 5) -> None:
    """Open ``count`` pooled connections at once (so that several go stale together)."""
    connections = [db.engine.connect() for _ in range(count)]
    for conn in connections:
        conn.execute(text("SELECT 1"))
        conn.close()


def test_a_killed_connection_costs_no_5xx(tmp_path):
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL)")
    name = f"faults-{uuid.uuid4().hex[:8]}"
    app = make_live_app(tmp_path, SQLALCHEMY_ENGINE_OPTIONS=_engine_options(name))
    with app.app_context():
        db.drop_all()
        db.create_all()
        try:
            make_post(slug="post")
            _warm_pool(app)
            assert _terminate(url, name) >= 1
            client = app.test_client()
            statuses = [client.get(path).status_code for path in ("/", "/blog/post", "/healthz") * 3]
            assert statuses == [200] * 9
        finally:
            db.session.remove()
            db.drop_all()
            db.engine.dispose()


class OwnPostgres:
    """A PostgreSQL cluster of the test's own (initdb in a temporary folder, its own port)."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="pg-faults-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        shutil.chown(self.folder, "postgres")

    def _run(self, *args: str) -> None:
        command = [str(PG_BIN / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["su", "postgres", "-c", " ".join(f"'{part}'" for part in command)]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-w", "-l", str(self.folder / "log"),
                  "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def restart(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-w", "-m", "fast", "restart")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-w", "-m", "immediate", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def own_postgres():
    if not (PG_BIN / "initdb").exists():
        pytest.skip("PostgreSQL server binaries are not installed")
    if os.geteuid() == 0 and shutil.which("su") is None:
        pytest.skip("cannot run initdb as the postgres user")
    server = OwnPostgres()
    try:
        server.init()
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, LookupError) as error:
        shutil.rmtree(server.folder, ignore_errors=True)
        pytest.skip(f"could not start a PostgreSQL of our own: {error}")
    try:
        yield server
    finally:
        server.stop()


def test_a_restart_costs_no_5xx_once_the_server_answers_again(tmp_path, own_postgres):
    app = make_live_app(tmp_path, SQLALCHEMY_DATABASE_URI=own_postgres.url,
                        SQLALCHEMY_ENGINE_OPTIONS=_engine_options("restart"))
    results: list[tuple[float, int]] = []
    stop = threading.Event()
    with app.app_context():
        db.create_all()
        make_post(slug="post")
        _warm_pool(app)

        def load() -> None:
            client = app.test_client()
            while not stop.is_set():
                started = time.monotonic()
                results.append((started, client.get("/blog/post").status_code))

        threads = [threading.Thread(target=load) for _ in range(3)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        own_postgres.restart()  # -m fast: every connection is cut; -w: returns once it accepts again
        answered = time.monotonic()
        time.sleep(1.0)
        stop.set()
        for thread in threads:
            thread.join()
        db.session.remove()
        db.engine.dispose()

    after = [status for started, status in results if started >= answered]
    before = [status for started, status in results if started < answered - 0.05]
    assert len(after) >= 5 and before  # the load really ran across the restart
    assert all(status == 200 for status in after), after
