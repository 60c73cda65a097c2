"""One "web node" for the shared rate-limit test: its own process, its own app, its own
limiter, the shared database and rate-limit storage given on the command line.

    python -m tests.scale.login_node DB_URL STORAGE_URI KEY_PREFIX ATTEMPTS

Posts ATTEMPTS failed logins from one client address and prints the status codes as JSON.
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
            "LOGIN_RATE_LIMIT": "3 per minute",
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
    print(json.dumps(codes))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
