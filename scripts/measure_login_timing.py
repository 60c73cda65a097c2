#!/usr/bin/env python3
"""Issue 15 (S3): does the time a failed login takes tell whether the address has an account?

Serves the app in-process on a throw-away SQLite database with production password hashing
(argon2 defaults), and times failed logins for a known address (wrong password), an unknown
address, and a successful login, through the real login form. Prints medians and the ratio
unknown/known (1.0 means no oracle); no thresholds.

    .venv/bin/python scripts/measure_login_timing.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portal import create_app  # noqa: E402
from portal.accounts.models import User  # noqa: E402
from portal.extensions import db  # noqa: E402

PASSWORD = "violet kettle drums at noon"  # noqa: S105 - a throw-away account


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "TESTING": True,
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/timing.db",
                "RATELIMIT_ENABLED": False,
                "LOGIN_ACCOUNT_MAX_FAILURES": 10**6,
            }
        )
        with app.app_context():
            db.create_all()
            user = User(email="known@example.org", name="Known", role="staff")
            user.set_password(PASSWORD)
            db.session.add(user)
            db.session.commit()
        client = app.test_client()

        def timed(email: str, password: str) -> float:
            start = time.perf_counter()
            client.post("/account/login", data={"email": email, "password": password})
            elapsed = time.perf_counter() - start
            client.post("/account/logout")
            return elapsed * 1000

        timed("known@example.org", "warm up the hasher")  # first request: imports, dummy hash
        samples: dict[str, list[float]] = {"known, wrong password": [], "unknown address": []}
        samples["known, right password"] = []
        for n in range(args.rounds):  # interleaved, so drift affects all three alike
            samples["known, wrong password"].append(timed("known@example.org", f"wrong {n}"))
            samples["unknown address"].append(timed(f"nobody{n}@example.org", f"wrong {n}"))
            samples["known, right password"].append(timed("known@example.org", PASSWORD))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    for name, value in medians.items():
        print(f"{name:24s} median {value:7.1f} ms over {args.rounds} logins")
    ratio = medians["unknown address"] / medians["known, wrong password"]
    print(f"ratio unknown / known-wrong: {ratio:.2f} (1.00 = no timing oracle; before: 0.05)")


if __name__ == "__main__":
    main()
