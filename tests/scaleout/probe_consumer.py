"""``huey_consumer`` with a probe: every publication and every run of the publishing task is logged.

The scale-out test starts two of these instead of plain ``huey_consumer wsgi.huey`` and reads
``SCALEOUT_PROBE`` afterwards: one line ``published <post id> <pid>`` each time the
``post_published`` signal fires in a consumer, and ``ran publish_scheduled_posts <pid>`` each time
that task finished. Everything else is the real consumer, with its real arguments.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # as huey_consumer run from the repository root has it


def _append(line: str) -> None:
    # O_APPEND: lines from both consumers and all their threads land whole in one file.
    with open(os.environ["SCALEOUT_PROBE"], "a") as probe:
        probe.write(f"{line} {os.getpid()}\n")


def main() -> None:
    from huey.bin.huey_consumer import consumer_main
    from huey.signals import SIGNAL_COMPLETE

    from blog import signals
    from wsgi import huey

    def published(sender, post, **extra) -> None:
        _append(f"published {post.id}")

    def completed(signal, task, *args, **kwargs) -> None:
        _append(f"ran {task.name}")

    signals.post_published.connect(published, weak=False)
    huey.signal(SIGNAL_COMPLETE)(completed)
    sys.argv = ["huey_consumer", *sys.argv[1:]]
    consumer_main()


if __name__ == "__main__":
    main()
