#!/usr/bin/env python
"""A staff save on an external search engine (Meilisearch by default): how long the save's
response takes when the engine is written inside the request (the old behaviour,
``SEARCH_ENGINE_WRITES=in-request``) against after the response (``after-response``, the
default), interleaved in the same run. Not run in CI.

    scripts/services/meilisearch.sh start
    .venv/bin/python scripts/bench_save.py                  # 40 saves per mode
    .venv/bin/python scripts/bench_save.py --saves 100 --search-url 'elasticsearch+http://127.0.0.1:9200'

In process (Flask's test client, no network between client and app), on a scratch SQLite
database and uniquely prefixed engine indexes (dropped at the end). Each save is a real
``POST /agreements/<id>/edit`` by a staff member changing the title; the clock stops when the
response is returned to the client. The response is then closed (untimed), which is when the
after-response mode writes the engine — so both modes leave the engine current before the next
save. After the run, ``search check`` must find index and database equal.

A third mode, ``no engine``, makes the same save on the database backend alone: the floor a save
costs on this machine. Prints p50/p95/max per mode and the ratios of the p95s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MEILI_KEY = os.environ.get("PORTAL_TEST_MEILI_KEY", "portal-dev-master-key-0123456789")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--saves", type=int, default=40, help="saves per mode")
    parser.add_argument(
        "--search-url", default=f"meilisearch+http://127.0.0.1:7700?key={MEILI_KEY}"
    )
    args = parser.parse_args()

    from portal import create_app
    from portal.accounts.models import Role
    from portal.extensions import db
    from portal.partners.reference import load_reference_data
    from portal.search.registry import get_backend
    from tests import factories
    from tests.conftest import login
    from tests.search.test_engine_outage import agreement_form

    prefix = f"bench_save_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "TESTING": True,
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(tmp) / 'save.db'}",
                "UPLOAD_DIR": tmp,
                "SEARCH_URL": args.search_url,
                "SEARCH_INDEX_PREFIX": prefix,
                "SMTP_URL": "smtp://127.0.0.1:1",
                "PORTAL_STRICT_SAFE_METHODS": False,
            }
        )
        times: dict[str, list[float]] = {"no engine": [], "in-request": [], "after-response": []}
        with app.app_context():
            db.create_all()
            load_reference_data(db.session)
            engine = get_backend(app)
            engine.ensure_ready()
            staff = factories.make_user(Role.STAFF)
            party = factories.make_org("Lusaka City Council", country="ZM", regions=("202",))
            db.session.commit()
            client = app.test_client()
            assert login(client, staff.email).status_code == 302
            resp = client.post("/agreements/new", data=agreement_form(party))
            assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
            resp.close()
            location = resp.headers["Location"]
            agreement_id = int(location.rstrip("/").split("/")[-1])
            try:
                for n in range(args.saves):
                    for mode in times:
                        # "no engine": the same save on the database backend alone — the floor.
                        app.config["SEARCH_URL"] = (
                            "database" if mode == "no engine" else args.search_url
                        )
                        app.config["SEARCH_ENGINE_WRITES"] = mode
                        form = agreement_form(party, title=f"Cholera preparedness {mode} {n}")
                        started = time.perf_counter()
                        resp = client.post(f"/agreements/{agreement_id}/edit", data=form)
                        elapsed = time.perf_counter() - started
                        resp.close()  # after-response: the engine is written now
                        assert resp.status_code == 302, resp.status_code
                        times[mode].append(elapsed)
                check = app.test_cli_runner().invoke(args=["search", "check"])
                print(check.output.strip())
            finally:
                try:
                    from portal.search.backends.meilisearch import MeilisearchBackend
                    from tests.search.engines import (
                        drop_elasticsearch_indexes,
                        drop_meilisearch_indexes,
                    )

                    if isinstance(engine, MeilisearchBackend):
                        drop_meilisearch_indexes(engine)
                    else:
                        drop_elasticsearch_indexes(engine)
                except Exception as err:  # a benchmark's cleanup never hides its figures
                    print(f"(cleanup: {err})")
    print(f"\nbench_save: {args.saves} staff saves per mode on {args.search_url.split('?')[0]}")
    print(f"  {'mode':<15} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    p95 = {}
    for mode, values in times.items():
        ms = [v * 1000 for v in values]
        p95[mode] = percentile(ms, 0.95)
        print(f"  {mode:<15} {statistics.median(ms):>8.1f} {p95[mode]:>8.1f} {max(ms):>8.1f}")
    print(
        f"after-response p95 {p95['after-response']:.1f} ms, in-request p95 "
        f"{p95['in-request']:.1f} ms, ratio {p95['after-response'] / p95['in-request']:.2f}; "
        f"no engine p95 {p95['no engine']:.1f} ms, "
        f"after-response / no engine {p95['after-response'] / p95['no engine']:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
