#!/usr/bin/env python
"""A staff save on every search engine, against a bare SQL UPDATE, interleaved in one run.

    .venv/bin/python scripts/bench_save.py                           # SQLite, 10,000 agreements
    .venv/bin/python scripts/bench_save.py --saves 100 --modes bare,database,meilisearch
    .venv/bin/python scripts/bench_save.py --database-url \\
        postgresql+psycopg://portal:portal@127.0.0.1:5432/portal_bench_save   # a SCRATCH db
    .venv/bin/python scripts/bench_save.py --modes bare,database,meilisearch-in-request

Not run in CI; it prints numbers and ratios, it asserts nothing about speed.

1. Catalogue (not timed): ``--agreements`` agreements (default 10,000) made by the demo
   generator, as ``scripts/bench_pages.py`` builds them — kept in ``--db`` (SQLite) and reused,
   or loaded into ``--database-url`` (PostgreSQL; its tables are replaced). The database search
   index is rebuilt when it does not hold every document, and every engine mode's index is
   built once (uniquely prefixed, dropped at the end).
2. Modes, one save of each in turn (``--modes``; a fresh order every round, so no mode is
   always first after another's work):

   - ``bare``: the same title change as one SQL ``UPDATE`` and a commit on the same database —
     the floor a write costs on this machine at this moment;
   - ``database``: ``POST /agreements/<id>/edit`` by a staff member, ``SEARCH_URL=database``
     (SQLite FTS5 or PostgreSQL, whichever the catalogue is on);
   - ``elasticsearch`` / ``meilisearch``: the same save with that engine configured — the
     database index is written in the request (read-your-writes), the engine after the
     response (``SEARCH_ENGINE_WRITES=after-response``, the default);
   - ``elasticsearch-in-request`` / ``meilisearch-in-request``: the old behaviour, the engine
     written inside the request (for comparison).

   Each save changes a different agreement's title (round-robin over ``--agreements-used``
   public agreements) through the real form, in process (Flask's test client); the clock stops
   when the response is returned. The response is then closed (untimed): that is when the
   after-response modes write the engine, so every mode leaves its index current before the
   next save. A few untimed saves per mode warm the process up first.
3. Output: p50 / p95 / max per mode, the ratio of each p95 to the bare UPDATE's, the load
   average before and after; then ``search check`` for every engine: index and database agree.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

MEILI_KEY = os.environ.get("PORTAL_TEST_MEILI_KEY", "portal-dev-master-key-0123456789")
ES_URL = os.environ.get("PORTAL_TEST_ES_URL", "http://127.0.0.1:9200")
MEILI_URL = os.environ.get("PORTAL_TEST_MEILI_URL", "http://127.0.0.1:7700")
ENGINE_URLS = {
    "elasticsearch": f"elasticsearch+{ES_URL}",
    "meilisearch": f"meilisearch+{MEILI_URL}?key={MEILI_KEY}",
}
ALL_MODES = (
    "bare",
    "database",
    "elasticsearch",
    "meilisearch",
    "elasticsearch-in-request",
    "meilisearch-in-request",
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def engine_of(mode: str) -> str | None:
    name = mode.removesuffix("-in-request")
    return name if name in ENGINE_URLS else None


def prepare_catalogue(database_url: str, agreements: int) -> None:
    import bench_pages

    if bench_pages.agreement_count(database_url) < agreements:
        bench_pages.build_catalogue(database_url, agreements, max(1_200, agreements // 8))
    else:
        bench_pages.migrate(database_url)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--saves", type=int, default=40, help="timed saves per mode")
    parser.add_argument("--agreements", type=int, default=10_000, help="catalogue size")
    parser.add_argument("--agreements-used", type=int, default=50, help="agreements edited")
    parser.add_argument(
        "--db",
        default=str(Path(tempfile.gettempdir()) / "portal-bench-save.db"),
        help="SQLite catalogue file (kept and reused)",
    )
    parser.add_argument("--database-url", help="a SCRATCH PostgreSQL database instead of --db")
    parser.add_argument(
        "--modes",
        default="bare,database,elasticsearch,meilisearch",
        help=f"comma-separated subset of {','.join(ALL_MODES)}",
    )
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for mode in modes:
        if mode not in ALL_MODES:
            parser.error(f"unknown mode {mode!r}")

    database_url = args.database_url or f"sqlite:///{Path(args.db).resolve()}"
    prepare_catalogue(database_url, args.agreements)

    from sqlalchemy import select, text

    from portal import create_app
    from portal.accounts.models import Role, User
    from portal.agreements.models import Agreement
    from portal.extensions import db
    from portal.search.documents import count_docs
    from portal.search.registry import database_backend_for, get_backend
    from tests import factories
    from tests.conftest import TEST_PASSWORD, login
    from tests.search.test_engine_outage import agreement_form

    prefix = f"bench_save_{uuid.uuid4().hex[:8]}"
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SEARCH_URL": "database",
            "SEARCH_INDEX_PREFIX": prefix,
            "SMTP_URL": "smtp://127.0.0.1:1",
            "PORTAL_STRICT_SAFE_METHODS": False,
            "RATELIMIT_ENABLED": False,
        }
    )
    engines = sorted({e for m in modes if (e := engine_of(m))})
    times: dict[str, list[float]] = {mode: [] for mode in modes}
    with app.app_context():
        # The database index must hold the catalogue (a save rewrites one document of it).
        local = database_backend_for(app)
        local.ensure_ready()
        if sum(1 for _ in local.ids()) != count_docs(db.session):
            print("… rebuilding the database search index", file=sys.stderr, flush=True)
            app.test_cli_runner().invoke(args=["search", "rebuild"])
        email = "bench-save-staff@example.org"
        staff = db.session.scalar(select(User).where(User.email == email))
        if staff is None:
            staff = factories.make_user(Role.STAFF, email=email)
        staff.set_password(TEST_PASSWORD)
        rows = db.session.execute(
            select(Agreement.id, Agreement.reference)
            .where(Agreement.visibility == "public", Agreement.archived_at.is_(None))
            .order_by(Agreement.id)
            .limit(args.agreements_used)
        ).all()
        from portal.partners.models import Organization

        party_id = db.session.scalar(
            select(Organization.id).where(Organization.archived_at.is_(None)).limit(1)
        )
        party = SimpleNamespace(id=party_id)  # all agreement_form needs
        db.session.commit()
        for engine in engines:  # each engine's index holds the catalogue, as in production
            app.config["SEARCH_URL"] = ENGINE_URLS[engine]
            print(f"… loading {engine}", file=sys.stderr, flush=True)
            backend = get_backend(app)
            backend.ensure_ready()
            from portal.search.documents import all_docs

            backend.rebuild(all_docs(db.session))
            db.session.rollback()
        app.config["SEARCH_URL"] = "database"

        client = app.test_client()
        assert login(client, email).status_code == 302
        counter = 0

        def save(mode: str) -> float:
            nonlocal counter
            counter += 1
            agreement_id, reference = rows[counter % len(rows)]
            title = f"Cholera preparedness, revision {counter}"
            if mode == "bare":
                started = time.perf_counter()
                with db.engine.begin() as conn:
                    conn.execute(
                        text("UPDATE agreements SET title = :t WHERE id = :i"),
                        {"t": title, "i": agreement_id},
                    )
                return time.perf_counter() - started
            engine = engine_of(mode)
            app.config["SEARCH_URL"] = ENGINE_URLS[engine] if engine else "database"
            app.config["SEARCH_ENGINE_WRITES"] = (
                "in-request" if mode.endswith("-in-request") else "after-response"
            )
            form = agreement_form(party, title=title, reference=reference)
            started = time.perf_counter()
            resp = client.post(f"/agreements/{agreement_id}/edit", data=form)
            elapsed = time.perf_counter() - started
            resp.close()  # after-response: the engine is written now (untimed)
            if resp.status_code != 302:
                raise SystemExit(
                    f"{mode}: the save answered {resp.status_code}:"
                    f" {resp.get_data(as_text=True)[:800]}"
                )
            return elapsed

        for mode in modes:  # warm-up, untimed
            for _ in range(3):
                save(mode)
        rng = random.Random(args.seed)
        load_before = os.getloadavg()
        for _n in range(args.saves):
            order = list(modes)
            rng.shuffle(order)
            for mode in order:
                times[mode].append(save(mode) * 1000)
        load_after = os.getloadavg()
        checks = []
        for engine in [None, *engines]:
            app.config["SEARCH_URL"] = ENGINE_URLS[engine] if engine else "database"
            check = app.test_cli_runner().invoke(args=["search", "check"])
            checks.append(" | ".join(check.output.strip().splitlines()))
        from tests.search.engines import drop_elasticsearch_indexes, drop_meilisearch_indexes

        for engine in engines:
            app.config["SEARCH_URL"] = ENGINE_URLS[engine]
            try:
                backend = get_backend(app)
                if engine == "meilisearch":
                    drop_meilisearch_indexes(backend)
                else:
                    drop_elasticsearch_indexes(backend)
            except Exception as err:  # a benchmark's cleanup never hides its figures
                print(f"(cleanup: {err})")
        dialect = db.engine.dialect.name

    print(
        f"\nbench_save: {args.saves} saves per mode, interleaved; {dialect} catalogue of"
        f" {args.agreements:,} agreements; load average {load_before[0]:.2f} before,"
        f" {load_after[0]:.2f} after"
    )
    p95 = {mode: percentile(values, 0.95) for mode, values in times.items()}
    base = p95.get("bare")
    print(f"  {'mode':<26}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'p95 ÷ bare':>12}")
    for mode, values in times.items():
        ratio = f"{p95[mode] / base:>11.1f}×" if base else ""
        print(
            f"  {mode:<26}{statistics.median(values):>9.1f}{p95[mode]:>9.1f}"
            f"{max(values):>9.1f}{ratio}"
        )
    print("search check:\n  " + "\n  ".join(checks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
