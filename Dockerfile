# syntax=docker/dockerfile:1
# Inkwell's image: the web process by default (gunicorn, gunicorn.conf.py); the worker, migrations,
# backups and every other `flask` command run from the same image (see docker-compose.yml).

# --- build: compilers and headers, in case a pinned package has no wheel for this platform ---
FROM python:3.11-slim AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential libpq-dev \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install -r /tmp/requirements.txt

# --- final: the virtualenv and the code, no compilers ---
FROM python:3.11-slim
# tini runs as PID 1 and forwards signals to gunicorn (or huey_consumer), its child, and reaps
# zombies; postgresql-client gives `flask backup` its pg_dump (same major as the postgres:15 service).
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 inkwell \
    && useradd --system --uid 10001 --gid inkwell --home-dir /srv/inkwell --shell /usr/sbin/nologin inkwell \
    && mkdir -p /var/lib/inkwell/instance /var/lib/inkwell/uploads \
    && chown -R inkwell:inkwell /var/lib/inkwell
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    BLOG_ENV=production \
    INSTANCE_PATH=/var/lib/inkwell/instance \
    UPLOAD_FOLDER=/var/lib/inkwell/uploads \
    FORWARDED_ALLOW_IPS=*
WORKDIR /srv/inkwell
# The code belongs to root: the app's user can read it, not change it (.dockerignore keeps
# .env, instance/, .venv and the tests' leftovers out).
COPY . /srv/inkwell
USER inkwell
# The database file and queue (embedded stack), logs, and the uploads: data that outlives the container.
VOLUME ["/var/lib/inkwell/instance", "/var/lib/inkwell/uploads"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)" || exit 1
# SIGTERM (docker stop) reaches gunicorn through tini: workers finish their requests (graceful_timeout).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["gunicorn", "-c", "gunicorn.conf.py", "--bind", "0.0.0.0:8000", "wsgi:app"]
