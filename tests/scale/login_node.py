"""One "web node" for the shared rate-limit test: its own process, its own app, its own
limiter, the shared database and rate-limit storage given on the command line.

    python -m tests.scale.login_node DB_URL STORAGE_URI KEY_PREFIX ATTEMPTS

Posts ATTEMPTS failed logins from one client address and prints, as JSON, the status codes
and whether the limiter fell back to counting in memory.
"""

from __future__ import annotations

import json
import sys


def main(db_url: str, storage_uri: str, prefix: str, attempts: int) -> None:
    from portal import create_app
    from portal.extensions import db

    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": db_url,
            "RATELIMIT_STORAGE_URI": storage_uri,
            "RATELIMIT_KEY_PREFIX": prefix,
            # A moving hour, not a fixed minute: on a slow machine the nodes may start more
            # than a minute apart, or across a minute boundary, and the count would restart.
            "LOGIN_RATE_LIMIT": "3 per hour",
            "RATELIMIT_STRATEGY": "moving-window",
        }
    )
    with app.app_context():
        db.create_all()
    client = app.test_client()
    codes = []
    for _ in range(attempts):
        response = client.post(
            "/account/login",
            data={"email": "nobody@example.org", "password": "wrong password"},
            environ_base={"REMOTE_ADDR": "203.0.113.7"},
        )
        codes.append(response.status_code)
    from portal.extensions import limiter

    # Whether the limiter gave up on its storage and counted in memory (Redis unreachable).
    fallback = bool(getattr(limiter, "_storage_dead", False))
    print(json.dumps({"codes": codes, "fallback": fallback}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
