"""The deployment files, checked without a Docker engine or systemd running.

docker-compose.yml and the Dockerfile are parsed and every path, command and variable they use
is looked up: files in the repository, ``flask`` commands in the CLI, settings in .env.example.
gunicorn.conf.py is loaded by gunicorn; the systemd units go through ``systemd-analyze verify``
and the nginx site through ``nginx -t`` (each when installed), and nginx is then run for real
in front of gunicorn to see the caching, compression and size limits work.
"""
from __future__ import annotations

import fnmatch
import functools
import http.client
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
NGINX_SNIPPET = (ROOT / "deploy/nginx/inkwell-app.conf").read_text()
#: Variables of the base image and Python itself, not settings of ours.
NOT_OURS = {"PATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "PIP_NO_CACHE_DIR", "PIP_DISABLE_PIP_VERSION_CHECK"}


def _documented() -> set[str]:
    return set(re.findall(r"^([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))


def _example_value(key: str) -> str:
    return re.search(rf"^{key}=(.*)$", (ROOT / ".env.example").read_text(), re.M).group(1)


def _dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            pairs.append((word.upper(), rest.strip()))
    return pairs


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction, args in _dockerfile():
        if instruction == "FROM":
            stages.append([])
        stages[-1].append((instruction, args))
    return stages


def _dockerfile_env() -> dict[str, str]:
    env = {}
    for instruction, args in _stages()[-1]:
        if instruction == "ENV":
            env.update(dict(pair.split("=", 1) for pair in shlex.split(args)))
    return env


def _command(value) -> list[str]:
    return value if isinstance(value, list) else shlex.split(value)


def _json_or_shell(args: str) -> list[str]:
    import json

    return json.loads(args) if args.startswith("[") else shlex.split(args)


@functools.lru_cache
def _check_flask(args: tuple[str, ...]) -> None:
    """The flask command exists with these arguments (as `flask --app wsgi ... --help` would say)."""
    from click.testing import CliRunner
    from flask.cli import FlaskGroup

    from blog import create_app

    result = CliRunner().invoke(FlaskGroup(create_app=lambda: create_app("testing")), [*args, "--help"])
    assert result.exit_code == 0, f"flask {' '.join(args)}: {result.output}"


@functools.lru_cache
def _check_gunicorn(config: str, target: str) -> None:
    """gunicorn loads the config file and the app (``--check-config``)."""
    done = subprocess.run([str(BIN / "gunicorn"), "--check-config", "-c", config, target], cwd=ROOT,
                          env={**os.environ, "BLOG_ENV": "testing"}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{config} {target}: {done.stdout}{done.stderr}"


def _expand(arg: str) -> str:
    """``${VAR:-default}`` as its default, ``${VAR}`` as .env.example's value (what sh, compose, systemd do)."""
    return re.sub(r"\$\{(\w+)(?::-([^}]*))?\}", lambda m: m.group(2) if m.group(2) is not None
                  else _example_value(m.group(1)), arg)


def _check_command(argv: list[str]) -> None:
    """``argv`` (a compose or Dockerfile command) names a real program of ours with real arguments."""
    program = argv[0]
    if program == "flask":
        assert argv[1:3] == ["--app", "wsgi"] and re.search(r"^app = create_app\(\)", (ROOT / "wsgi.py").read_text(), re.M)
        _check_flask(tuple(argv[3:]))
    elif program == "gunicorn":
        config = argv[argv.index("-c") + 1]
        assert (ROOT / config).is_file(), config
        module, _, attribute = argv[-1].partition(":")
        assert (ROOT / f"{module}.py").is_file() and re.search(rf"^{attribute} = ", (ROOT / f"{module}.py").read_text(),
                                                             re.M), argv[-1]
        if "--bind" in argv:
            assert re.fullmatch(r"[0-9.]+:\d+", argv[argv.index("--bind") + 1]), argv
        _check_gunicorn(config, argv[-1])
    elif program == "huey_consumer":
        from huey.consumer_options import OptionParserHandler

        module, _, attribute = argv[1].partition(".")
        assert re.search(rf"^from blog.tasks import {attribute}\b", (ROOT / f"{module}.py").read_text(), re.M)
        options, args = OptionParserHandler().get_option_parser().parse_args(
            [_expand(arg) for arg in argv[2:]])
        assert not args and options.worker_type == "thread", argv
    else:
        pytest.fail(f"unexpected program in a command: {argv}")


# --- docker-compose.yml ------------------------------------------------------------------------------

def test_compose_has_the_five_services_and_a_migration_step():
    assert {"web", "worker", "postgres", "redis", "nginx", "migrate"} <= set(COMPOSE["services"])


def test_every_compose_command_exists_in_the_repository():
    for name, service in COMPOSE["services"].items():
        if "command" in service and "build" in service:
            _check_command(_command(service["command"]))
    assert _command(COMPOSE["services"]["migrate"]["command"]) == ["flask", "--app", "wsgi", "db", "upgrade"]


def test_every_compose_variable_and_setting_is_in_env_example():
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text))
    app_keys = set(COMPOSE["x-app"]["environment"])
    missing = (used | app_keys) - _documented()
    assert not missing, f"add to .env.example: {sorted(missing)}"
    assert COMPOSE["x-app"]["env_file"] == ".env" and (ROOT / ".env.example").is_file()
    assert ".env" in (ROOT / ".gitignore").read_text().split()  # the real one holds secrets


def test_compose_start_order_is_gated_on_health_and_migrations():
    services = COMPOSE["services"]
    for name in ("web", "worker"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["redis"]["condition"] == "service_healthy"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["nginx"]["depends_on"]["web"]["condition"] == "service_healthy"
    for name, service in services.items():  # whatever others wait on as "healthy" has a health check
        for needed, rule in (service.get("depends_on") or {}).items():
            if rule["condition"] == "service_healthy":
                has_own = "test" in (services[needed].get("healthcheck") or {})
                from_image = "build" in services[needed] and any(i == "HEALTHCHECK" for i, _ in _dockerfile())
                assert has_own or from_image, f"{name} waits for {needed} to be healthy, which has no health check"
    assert services["worker"]["healthcheck"] == {"disable": True}  # the image's /healthz check is the web's


def test_compose_paths_and_volumes_exist():
    declared = set(COMPOSE["volumes"])
    for name, service in COMPOSE["services"].items():
        for mount in service.get("volumes", []):
            source, target = mount.split(":")[:2]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which is not in the repository"
            else:
                assert source in declared, f"{name} uses volume {source}, not declared"
        if "build" in service:
            assert (ROOT / service["build"] / "Dockerfile").is_file()
    nginx = dict(mount.split(":")[:2][::-1] for mount in COMPOSE["services"]["nginx"]["volumes"])
    app = COMPOSE["x-app"]
    # nginx reads the uploads where the app writes them, and its config from where the site includes it.
    uploads = app["environment"]["UPLOAD_FOLDER"]
    assert nginx[uploads] == "uploads" and f"uploads:{uploads}" in app["volumes"]
    assert re.search(rf"location /uploads/ {{\s*root {re.escape(str(Path(uploads).parent))};", NGINX_SNIPPET)
    assert re.search(r"location /static/ {\s*root /srv/inkwell;", NGINX_SNIPPET) and nginx["/srv/inkwell/static"] == "./static"
    site = (ROOT / "deploy/nginx/docker.conf").read_text()
    assert f"include {[t for t, s in nginx.items() if s.endswith('inkwell-app.conf')][0]};" in site
    assert "server web:8000;" in site and "8000" in app.get("expose", COMPOSE["services"]["web"]["expose"])


def test_compose_stops_processes_gracefully():
    services = COMPOSE["services"]
    assert services["worker"]["stop_signal"] == "SIGINT"  # Huey's graceful stop
    grace = int(services["web"]["stop_grace_period"].rstrip("s"))
    assert grace > _gunicorn_settings()["graceful_timeout"]


# --- Dockerfile ---------------------------------------------------------------------------------------

def test_dockerfile_builds_in_two_stages_with_compilers_only_in_the_first():
    build, final = _stages()
    assert re.fullmatch(r"python:3\.11-slim AS build", build[0][1], re.I)
    assert final[0][1] == "python:3.11-slim"
    assert any("build-essential" in args for _, args in build)
    assert not any(word in args for _, args in final for word in ("build-essential", "gcc", "-dev "))
    copied_from = [args for instruction, args in final if instruction == "COPY" and "--from=" in args]
    assert copied_from and all("--from=build" in args for args in copied_from)


def test_dockerfile_runs_as_a_user_other_than_root_with_data_on_volumes():
    final = _stages()[-1]
    users = [args for instruction, args in final if instruction == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert re.search(rf"useradd .*\b{users[-1]}\b", " ".join(args for i, args in final if i == "RUN"))
    env = _dockerfile_env()
    volumes = _json_or_shell(next(args for instruction, args in final if instruction == "VOLUME"))
    assert env["INSTANCE_PATH"] in volumes and env["UPLOAD_FOLDER"] in volumes
    assert not (set(env) - NOT_OURS) - _documented()


def test_dockerfile_copies_only_what_exists_and_is_not_ignored():
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]

    def is_ignored(name: str) -> bool:
        verdict = False
        for pattern in ignored:
            negate = pattern.startswith("!")
            if fnmatch.fnmatch(name, pattern.lstrip("!")):
                verdict = not negate
        return verdict

    for instruction, args in _dockerfile():
        if instruction == "COPY" and "--from=" not in args:
            source = shlex.split(args)[0]
            assert (ROOT / source).exists(), source
            assert source == "." or not is_ignored(source), f"{source} is copied but .dockerignore drops it"
    for needed in ("requirements.txt", "gunicorn.conf.py", "wsgi.py", "config.py", "blog", "migrations",
                   "templates", "static"):
        assert not is_ignored(needed), needed
    for secret in (".env", "instance", ".venv", ".git"):
        assert is_ignored(secret), f".dockerignore must keep {secret} out of the image"


def test_dockerfile_command_healthcheck_and_signals():
    final = dict(_stages()[-1])
    command = _json_or_shell(final["CMD"])
    _check_command(command)
    bind = command[command.index("--bind") + 1]
    assert bind.startswith("0.0.0.0:")
    assert f"127.0.0.1:{bind.split(':')[1]}/healthz" in final["HEALTHCHECK"]
    assert _json_or_shell(final["ENTRYPOINT"])[0].endswith("tini")  # gunicorn is PID 1's child
    assert final["STOPSIGNAL"] == "SIGTERM"
    assert _command(COMPOSE["services"]["web"]["command"]) == command


# --- gunicorn.conf.py, Procfile, systemd ---------------------------------------------------------

@functools.lru_cache
def _gunicorn_settings(**env: str) -> dict:
    script = ("import json, sys; from gunicorn.config import Config; c = Config(); "
              "[c.set(k, v) for k, v in __import__('runpy').run_path('gunicorn.conf.py').items() if k in c.settings]; "
              "print(json.dumps({k: c.settings[k].get() for k in ('workers', 'timeout', 'graceful_timeout', "
              "'access_log_format', 'forwarded_allow_ips', 'control_socket_disable', 'bind', 'accesslog')}))")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=30,
                          env={**{k: v for k, v in os.environ.items() if k not in ("WEB_CONCURRENCY", "PORT")}, **env})
    assert done.returncode == 0, done.stderr
    import json

    return json.loads(done.stdout)


def test_gunicorn_conf_takes_workers_and_port_from_the_environment():
    default = _gunicorn_settings()
    assert default["workers"] == int(_example_value("WEB_CONCURRENCY"))
    assert default["bind"] == [f"127.0.0.1:{_example_value('PORT')}"]
    tuned = _gunicorn_settings(WEB_CONCURRENCY="5", PORT="8123", FORWARDED_ALLOW_IPS="10.0.0.2")
    assert tuned["workers"] == 5 and tuned["bind"] == ["127.0.0.1:8123"]
    assert tuned["forwarded_allow_ips"] == ["10.0.0.2"]
    assert "{x-request-id}o" in default["access_log_format"] and default["accesslog"] == "-"
    assert default["control_socket_disable"] is True
    # nginx waits a little longer than gunicorn lets a request run, so gunicorn's timeout is the one seen.
    read_timeout = int(re.search(r"proxy_read_timeout (\d+)s;", NGINX_SNIPPET).group(1))
    assert default["timeout"] < read_timeout
    assert default["graceful_timeout"] < default["timeout"]


def test_gunicorn_workers_freeze_the_loaded_app_out_of_garbage_collection():
    # gunicorn's own Config runs the hook, as a worker does once it has loaded the app.
    script = ("import gc, json, runpy; from gunicorn.config import Config; import wsgi; c = Config(); "
              "[c.set(k, v) for k, v in runpy.run_path('gunicorn.conf.py').items() if k in c.settings]; "
              "before = gc.get_freeze_count(); c.post_worker_init(None); "
              "print(json.dumps([before, gc.get_freeze_count(), gc.get_threshold()]))")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "BLOG_ENV": "testing"})
    assert done.returncode == 0, done.stderr
    import json

    before, after, threshold = json.loads(done.stdout.splitlines()[-1])
    assert before == 0 and after > 50_000  # the app's objects, not just the interpreter's
    assert threshold[0] == 5000


def test_procfile_uses_gunicorn_conf():
    lines = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    _check_command(shlex.split(lines["web"]))
    _check_command(shlex.split(lines["worker"]))


def _unit(name: str) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in (ROOT / "deploy/systemd" / name).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            values.setdefault(key, []).append(value)
    return values


@pytest.mark.parametrize("name", ["inkwell-web.service", "inkwell-worker@.service"])
def test_systemd_units_restart_read_an_environment_file_and_run_our_commands(name):
    unit = _unit(name)
    assert unit["Restart"] == ["on-failure"] and unit["EnvironmentFile"] == ["/etc/inkwell/inkwell.env"]
    command = shlex.split(unit["ExecStart"][0])
    assert command[0].startswith("/srv/inkwell/.venv/bin/")
    _check_command([Path(command[0]).name, *command[1:]])
    for variable in re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", unit["ExecStart"][0]):
        assert variable in _documented()
        assert any(value.startswith(f"{variable}=") for value in unit.get("Environment", [])), variable
    stop = int(unit["TimeoutStopSec"][0])
    assert stop > _gunicorn_settings()["graceful_timeout"]
    assert unit["KillSignal"] == (["SIGTERM"] if "web" in name else ["SIGINT"])


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_systemd_units_pass_systemd_analyze_verify(tmp_path):
    # The units as installed, pointed at this checkout, this venv and .env.example, run as root here.
    for name in ("inkwell-web.service", "inkwell-worker@.service"):
        text = (ROOT / "deploy/systemd" / name).read_text()
        text = (text.replace("/srv/inkwell/.venv/bin/", f"{BIN}/").replace("/srv/inkwell", str(ROOT))
                .replace("/etc/inkwell/inkwell.env", str(ROOT / ".env.example"))
                .replace("User=inkwell", "User=root").replace("Group=inkwell", "Group=root"))
        (tmp_path / name).write_text(text)
    for name in ("inkwell-web.service", "inkwell-worker@1.service"):
        done = subprocess.run(["systemd-analyze", "verify", str(tmp_path / name)], capture_output=True, text=True,
                              timeout=60, cwd=tmp_path)
        output = "\n".join(line for line in (done.stdout + done.stderr).splitlines()
                           if "Failed to connect" not in line and line.strip())
        assert done.returncode == 0 and not output, output


# --- nginx ----------------------------------------------------------------------------------------------

def test_nginx_body_limit_matches_max_content_length():
    from config import Config

    megabytes = int(re.search(r"client_max_body_size (\d+)m;", NGINX_SNIPPET).group(1))
    assert megabytes * 1024 * 1024 == int(_example_value("MAX_CONTENT_LENGTH")) == Config.MAX_CONTENT_LENGTH


def test_nginx_caches_for_a_year_exactly_the_uploads_the_app_calls_variants():
    from blog.services.media import VARIANT

    pattern = re.search(r'location ~ "([^"]+)" {\s*add_header Cache-Control "public, max-age=31536000', NGINX_SNIPPET)
    nginx_variant = re.compile(pattern.group(1))
    key = secrets.token_hex(16)
    names = [f"avatars/{key}-256.webp", f"avatars/{key}-64.webp", f"covers/{key}-og.jpg", f"covers/{key}-card.webp",
             f"covers/{key}-1200.webp", f"avatars/{key}.png", f"covers/{key}.jpg", f"covers/{key}-og.png",
             f"avatars/x{key}-256.webp", f"covers/{key}-256.webp.bak"]
    for name in names:
        assert bool(nginx_variant.search("/uploads/" + name)) == bool(VARIANT.search(name)), name


def _nginx_conf(tmp: Path, upstream: str, uploads_root: Path) -> Path:
    """A whole nginx.conf in ``tmp`` around the site files, with this machine's paths and ports."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(tmp / "key.pem"),
                    "-out", str(tmp / "cert.pem"), "-days", "1", "-subj", "/CN=blog.example.com"],
                   check=True, capture_output=True, timeout=60)
    snippet = NGINX_SNIPPET.replace("root /srv/inkwell;", f"root {ROOT};").replace(
        "root /var/lib/inkwell;", f"root {uploads_root};")
    (tmp / "inkwell-app.conf").write_text(snippet)
    ports = {"http": _free_port(), "https": _free_port()}
    sites = []
    for name in ("inkwell.conf", "docker.conf"):
        text = (ROOT / "deploy/nginx" / name).read_text()
        text = (text.replace("/etc/nginx/snippets/inkwell-app.conf", str(tmp / "inkwell-app.conf"))
                .replace("/etc/letsencrypt/live/blog.example.com/fullchain.pem", str(tmp / "cert.pem"))
                .replace("/etc/letsencrypt/live/blog.example.com/privkey.pem", str(tmp / "key.pem"))
                .replace("/var/cache/nginx/inkwell", str(tmp / f"cache-{name}"))
                .replace("server 127.0.0.1:8000;", f"server {upstream};").replace("server web:8000;", f"server {upstream};")
                .replace("listen [::]:80;", "").replace("listen [::]:443 ssl http2;", ""))
        if name == "inkwell.conf":
            text = text.replace("listen 80;", f"listen 127.0.0.1:{_free_port()};").replace(
                "listen 443 ssl http2;", f"listen 127.0.0.1:{ports['https']} ssl http2;")
        else:  # the same zone and upstream names: the two sites are alternatives, test one at a time
            text = text.replace("listen 80 default_server;", f"listen 127.0.0.1:{ports['http']} default_server;")
        (tmp / name).write_text(text)
        sites.append(tmp / name)
    for site in sites:
        conf = tmp / f"nginx-{site.stem}.conf"
        # As root (CI's containers), workers would drop to "nobody", who cannot enter pytest's temp dirs.
        user = "user root;" if os.geteuid() == 0 else ""
        conf.write_text(f"""
{user}
pid {tmp}/nginx-{site.stem}.pid;
error_log {tmp}/error.log;
daemon off;
events {{}}
http {{
    include /etc/nginx/mime.types;
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy; fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
    include {site};
}}
""")
    return ports


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


needs_nginx = pytest.mark.skipif(not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists())
                                 or not shutil.which("openssl"), reason="nginx or openssl is not installed")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@needs_nginx
def test_nginx_sites_pass_nginx_t(tmp_path):
    _nginx_conf(tmp_path, "127.0.0.1:8000", tmp_path)
    for site in ("inkwell", "docker"):
        done = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(tmp_path / f"nginx-{site}.conf")],
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        assert "[warn]" not in done.stderr and "[emerg]" not in done.stderr, done.stderr


@pytest.fixture(scope="module")
def nginx_in_front(tmp_path_factory):
    """nginx (deploy/nginx/docker.conf) in front of gunicorn (gunicorn.conf.py) on the embedded stack."""
    tmp_path = tmp_path_factory.mktemp("nginx")
    env = {key: value for key, value in os.environ.items() if not key.startswith("TEST_")}
    env.update(BLOG_ENV="development", INSTANCE_PATH=str(tmp_path / "instance"), SECRET_KEY=secrets.token_hex(16),
               DATABASE_URL=f"sqlite:///{tmp_path / 'instance' / 'blog.db'}", REDIS_URL="", MAIL_SERVER="",
               UPLOAD_FOLDER=str(tmp_path / "uploads"), LOG_FILE="", PROXY_COUNT="1", LOG_LEVEL="WARNING",
               WEB_CONCURRENCY="1",
               # The micro-cache honours the app's s-maxage: one second, so the test sees entries expire.
               HTTP_S_MAXAGE="1", HTTP_STALE_WHILE_REVALIDATE="0")
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    app_port = _free_port()
    ports = _nginx_conf(tmp_path, f"127.0.0.1:{app_port}", tmp_path)
    procs = []
    with open(tmp_path / "gunicorn.log", "wb") as log:
        procs.append(subprocess.Popen([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--bind",
                                       f"127.0.0.1:{app_port}", "wsgi:app"], cwd=ROOT, env=env, stdout=log,
                                      stderr=subprocess.STDOUT))
    with open(tmp_path / "nginx.out", "wb") as log:
        procs.append(subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx-docker.conf")],
                                      stdout=log, stderr=subprocess.STDOUT))
    url = f"127.0.0.1:{ports['http']}"
    try:
        deadline = time.monotonic() + 30
        while _get(url, "/healthz")[0] != 200:
            logs = "".join(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}\n"
                           for log in (tmp_path / "gunicorn.log", tmp_path / "nginx.out", tmp_path / "error.log")
                           if log.exists())
            for proc in procs:
                if proc.poll() is not None:
                    pytest.fail(f"{proc.args[0]} exited:\n{logs}")
            if time.monotonic() > deadline:
                pytest.fail(f"nginx + gunicorn did not answer /healthz in 30 s:\n{logs}")
            time.sleep(0.2)
        yield url, tmp_path
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM if proc.args[0] != NGINX else signal.SIGQUIT)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def _get(host: str, path: str, method: str = "GET", headers: dict | None = None) -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection(host, timeout=10)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        headers: dict[str, str] = {}
        for key, value in response.getheaders():  # repeated headers (Vary, Cache-Control) joined, as HTTP allows
            headers[key.lower()] = f"{headers[key.lower()]}, {value}" if key.lower() in headers else value
        return response.status, headers, response.read()
    except OSError:
        return 0, {}, b""
    finally:
        connection.close()


@needs_nginx
def test_nginx_in_front_of_gunicorn_serves_files_compresses_micro_caches_and_limits_bodies(nginx_in_front):
    url, tmp = nginx_in_front
    gzip = {"Accept-Encoding": "gzip"}

    # Static files come from nginx (no X-Request-ID: the app never saw them), compressed, kept an hour.
    status, headers, _ = _get(url, "/static/css/site.css", headers=gzip)
    assert status == 200 and headers["content-encoding"] == "gzip" and "x-request-id" not in headers
    assert "max-age=3600" in headers["cache-control"]

    # Uploads: content-named variants for a year, originals revalidated, half-written dot files hidden.
    key = secrets.token_hex(16)
    (tmp / "uploads" / "avatars").mkdir(parents=True, exist_ok=True)
    for name in (f"{key}-256.webp", f"{key}.png", f".{key}.png.1a2b.tmp"):
        (tmp / "uploads" / "avatars" / name).write_bytes(b"\x89PNG fake image bytes")
    status, headers, _ = _get(url, f"/uploads/avatars/{key}-256.webp")
    assert status == 200 and "immutable" in headers["cache-control"] and "max-age=31536000" in headers["cache-control"]
    assert headers["x-content-type-options"] == "nosniff"
    status, headers, _ = _get(url, f"/uploads/avatars/{key}.png")
    assert status == 200 and headers["cache-control"] == "no-cache"
    assert _get(url, f"/uploads/avatars/.{key}.png.1a2b.tmp")[0] == 404

    # Guest responses: one second in the micro-cache; the request id nginx made reaches the app and its log.
    page = _get(url, "/", headers=gzip)
    assert page[0] == 200 and page[1]["content-encoding"] == "gzip" and "accept-encoding" in page[1]["vary"].lower()
    first = _get(url, "/feed.xml")
    second = _get(url, "/feed.xml")
    assert first[0] == second[0] == 200
    assert first[1]["x-cache-status"] in ("MISS", "EXPIRED") and second[1]["x-cache-status"] == "HIT"
    assert re.fullmatch(r"[0-9a-f]{32}", first[1]["x-request-id"])
    # gunicorn writes the access line after the response has gone out: give it a moment.
    deadline = time.monotonic() + 5
    while f"[{first[1]['x-request-id']}]" not in (log := (tmp / "gunicorn.log").read_text()) \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    assert f"[{first[1]['x-request-id']}]" in log
    time.sleep(2.1)  # "1s" is counted in whole seconds of nginx's clock: an entry lives 1 to 2 s
    assert _get(url, "/feed.xml")[1]["x-cache-status"] in ("EXPIRED", "MISS")
    # htmx requests are cached apart; signed-in visitors and tokens skip the cache.
    assert _get(url, "/feed.xml")[1]["x-cache-status"] == "HIT"
    assert _get(url, "/feed.xml", headers={"HX-Request": "true"})[1]["x-cache-status"] == "MISS"
    assert _get(url, "/feed.xml", headers={"Cookie": "session=abc"})[1]["x-cache-status"] == "BYPASS"
    assert _get(url, "/api/v1/posts", headers={"Authorization": "Bearer x"})[1]["x-cache-status"] == "BYPASS"
    # Our Cache-Control is honoured: no-store and responses that set a cookie are never stored
    # (a guest's page that hands out a session cookie must never be shared with the next guest).
    assert "set-cookie" in _get(url, "/auth/login")[1]
    for path in ("/healthz", "/auth/login"):
        _get(url, path)
        assert _get(url, path)[1]["x-cache-status"] == "MISS", path


    # A body over MAX_CONTENT_LENGTH gets nginx's 413 before it reaches a worker.
    connection = http.client.HTTPConnection(url, timeout=10)
    connection.putrequest("POST", "/auth/login")
    connection.putheader("Content-Type", "application/x-www-form-urlencoded")
    connection.putheader("Content-Length", str(16 * 1024 * 1024 + 1))
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413 and "x-request-id" not in {k.lower() for k, _ in response.getheaders()}
    connection.close()
    assert _get(url, "/auth/login", method="POST", headers={"Content-Length": "0"})[0] in (400, 422)  # the app's answer
