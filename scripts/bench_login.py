"""Time a login request (POST /auth/login) at a bcrypt cost, through the app: hashing dominates.

    .venv/bin/python scripts/bench_login.py [--rounds 12] [--requests 20]
"""
from __future__ import annotations

import argparse
import statistics
import time

from benchkit import bench_app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12, help="bcrypt cost (production: 12)")
    parser.add_argument("--requests", type=int, default=20)
    options = parser.parse_args()
    app = bench_app(BCRYPT_LOG_ROUNDS=str(options.rounds))

    from blog.extensions import limiter
    from blog.services import accounts

    app.config.update(WTF_CSRF_ENABLED=False)
    limiter.enabled = False  # measuring the login itself, not the limit on failed tries
    with app.app_context():
        accounts.create_user("bench", "bench@example.com", "a benchmark password", email_confirmed=True)
        client = app.test_client()
        timings = {"right password": [], "wrong password": [], "unknown email": []}
        cases = {"right password": ("bench@example.com", "a benchmark password"),
                 "wrong password": ("bench@example.com", "not the password!"),
                 "unknown email": ("nobody@example.com", "not the password!")}
        for _ in range(options.requests):
            for label, (email, password) in cases.items():
                client.post("/auth/logout")
                started = time.perf_counter()
                client.post("/auth/login", data={"email": email, "password": password})
                timings[label].append((time.perf_counter() - started) * 1000)
            # wrong passwords lock the account after five: reset between rounds
            from blog.extensions import db
            from blog.models import User
            db.session.query(User).update({"failed_logins": 0, "locked_until": None})
            db.session.commit()
        print(f"bcrypt cost {options.rounds}, {options.requests} requests each")
        for label, values in timings.items():
            print(f"  {label:<15} median {statistics.median(values):6.1f} ms   max {max(values):6.1f} ms")


if __name__ == "__main__":
    main()
