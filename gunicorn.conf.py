"""gunicorn settings for every way we run the web process: Procfile, Docker, systemd.

Read by ``gunicorn -c gunicorn.conf.py wsgi:app``; anything given on the command line
(``--bind`` in the Dockerfile and the systemd unit) wins over this file.
"""
from __future__ import annotations

import gc
import os
from pathlib import Path

#: Local only by default: nginx (or honcho in development) is what faces the network.
bind = [f"127.0.0.1:{os.environ.get('PORT') or 5000}"]

#: Sync workers, one request each: nginx buffers slow clients, so a worker is never held by one.
#: Two per core is a good start on a 2-core host; see README "Capacity".
workers = int(os.environ.get("WEB_CONCURRENCY") or 2)
worker_class = "sync"

#: A request running longer than this is killed (and logged); our pages answer in milliseconds.
timeout = 30
#: On SIGTERM, workers finish what they are doing for up to this long, then exit.
graceful_timeout = 25
#: nginx keeps upstream connections open (``keepalive`` in deploy/nginx/inkwell.conf).
keepalive = 5
#: Recycle workers now and then so a slow leak can never grow without bound, but rarely and far
#: apart: a new worker imports the whole app (about 1.5 s of CPU), and two workers recycling
#: within that time left none to answer (cached pages' p99 went from 10 ms to 950 ms in
#: ``make bench``). The jitter as wide as the limit spreads the workers' turns over 100-200k requests.
max_requests = 100000
max_requests_jitter = 100000

#: X-Forwarded-Proto is trusted from these addresses only (the app's own ProxyFix, PROXY_COUNT,
#: decides which X-Forwarded-For hop rate limits see). "*" inside a container network.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS") or "127.0.0.1,::1"

#: gunicorn 27 opens a control socket in ~/.gunicorn shared by every instance on the host: off.
control_socket_disable = True

#: Access log on stdout (journald / docker logs collect it), with the request id the app sets
#: (X-Request-ID, the same id as in the app's own log lines and nginx's log) and the time in ms.
accesslog = "-"
errorlog = "-"
loglevel = (os.environ.get("LOG_LEVEL") or "info").lower()
access_log_format = ('%(h)s [%({x-request-id}o)s] "%(r)s" %(s)s %(b)s %(M)sms '
                     '"%(f)s" "%(a)s" fwd="%({x-forwarded-for}i)s"')

#: Worker heartbeat files on tmpfs when there is one (a container's /tmp may be an overlay on disk).
if Path("/dev/shm").is_dir():
    worker_tmp_dir = "/dev/shm"


#: Cyclic garbage is looked for once 5,000 new objects are alive, not 700: a listing page keeps
#: more than 700 alive while it renders, so the youngest generation was searched on every request
#: (on the home page 0.25 ms of its 7-10 ms in-process). A request's objects are mostly gone when
#: it ends, so the search now runs every hundred or so requests, for ~2 ms.
GC_THRESHOLD = (5000, 10, 10)


def post_worker_init(worker) -> None:
    """Once a worker has imported the app, move everything alive to the collector's permanent
    generation. The app's modules, templates and mappers live as long as the worker, and a full
    collection walked all ~150,000 of them again every few hundred requests: a 90-440 ms pause
    (a post page's p99), 35-220 µs a request on average. Objects made later are collected as usual."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)
