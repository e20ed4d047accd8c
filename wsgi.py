"""Entry points: ``app`` for gunicorn and the flask CLI, ``huey`` for huey_consumer."""
from blog import create_app
from blog.tasks import huey  # noqa: F401  (huey_consumer wsgi.huey)

app = create_app()
