#!/usr/bin/env python
"""Page benchmark: any list of portal URLs against a bare Flask "hello", same gunicorn, same run.

    .venv/bin/python scripts/bench_pages.py                  # 10,000 agreements, SQLite
    .venv/bin/python scripts/bench_pages.py --agreements 2000 --rounds 3 --requests 20
    .venv/bin/python scripts/bench_pages.py --url /insights/?region=002 --url /agreements/?sdg=11
    .venv/bin/python scripts/bench_pages.py --database-url postgresql+psycopg://…/portal_bench_pages
    .venv/bin/python scripts/bench_pages.py --markdown --json results.json

Not run in CI; it prints numbers and ratios, it asserts nothing about speed.

1. Catalogue (not timed): a database with ``--agreements`` agreements (default 10,000) and
   ``--partners`` organisations, made by the demo generator (portal/demo/seed.py) at a larger
   size, so the data has the demo's shape: every M49 region, ~75 % public / 15 % partners-only /
   10 % internal, several currencies, SDG targets, parties with IATI roles. The SQLite file is
   kept (``--db``) and reused when it already holds that many agreements; a PostgreSQL URL must
   name a SCRATCH database (its tables are dropped and re-created by ``db upgrade`` from empty).
2. One ``gunicorn`` (``--workers``, sync workers, loopback) serves a WSGI dispatcher: ``/__hello__``
   is a bare Flask app returning "hello", everything else is ``portal.create_app()``. Both run
   in the same worker processes, so the hello figure is the floor of this server on this machine.
3. Measurement: ``--rounds`` rounds; in each, every URL (in a fresh random order) gets
   ``--requests`` requests from ``--concurrency`` keep-alive client threads. Rounds interleave
   the URLs so that a slow minute of a shared machine hits all of them alike. Per URL: req/s
   (requests ÷ wall time of its batches), p50 / p95 latency, bytes, and the ratios to hello
   (latency ×, and what share of hello's throughput the page reaches).
4. Any non-200 response is counted and printed (a page that 404s is reported, not timed as if
   it worked). URLs that answer 404 on the first try are skipped with a note — so the default
   list can name pages that other branches add (the IATI file) and stay usable without them.

Issue 17 will extend the URL list (Datasette, more pages); add them with ``--url`` or in
``DEFAULT_URLS``. Anonymous requests only: the public's pages are the ones that take traffic.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VENV_BIN = Path(sys.executable).parent
HELLO = "/__hello__/"
SECRET = "bench-pages-throwaway-secret-key-on-loopback-only"  # noqa: S105

# {agreement} / {partner} / {country} are filled from the catalogue (the busiest of each).
DEFAULT_URLS = [
    "/insights/",
    "/insights/?region=002",
    "/insights/map",
    "/insights/map.svg",
    "/",
    "/partners/",
    "/partners/?sort=value",
    "/partners/{partner}",
    "/agreements/",
    "/agreements/?sdg=11",
    "/agreements/{agreement}",
    "/regions/",
    "/regions/002",
    "/regions/country/{country}",
    "/open-data/iati/activities.xml",
]


# --------------------------------------------------------------------------- the served app


def served_app():
    """gunicorn entry point (``bench_pages:served_app()``): hello + the portal in one WSGI app."""
    from flask import Flask
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    from portal import create_app

    hello = Flask("hello")

    @hello.get("/")
    def say_hello():
        return "hello"

    return DispatcherMiddleware(create_app(), {HELLO.rstrip("/"): hello})


# --------------------------------------------------------------------------- the catalogue


def app_env(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "PORTAL_DATABASE_URL": database_url,
            "PORTAL_SECRET_KEY": SECRET,
            "PORTAL_ENV": "production",
            "PORTAL_SECURE_COOKIES": "0",
            "PORTAL_SEARCH_URL": "database",
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


def agreement_count(database_url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("select count(*) from agreements")).scalar_one()
    except Exception:  # noqa: BLE001 - no table yet: an empty database
        return 0
    finally:
        engine.dispose()


def migrate(database_url: str) -> None:
    """``flask db upgrade``: a kept catalogue follows the code's newer migrations too."""
    subprocess.run(  # noqa: S603
        [str(VENV_BIN / "flask"), "--app", "portal", "db", "upgrade"],
        env=app_env(database_url),
        cwd=ROOT,
        check=True,
        capture_output=True,
    )


def build_catalogue(database_url: str, agreements: int, partners: int) -> None:
    """Migrate, then load the demo generator's data at the requested size (not timed)."""
    migrate(database_url)
    from portal import create_app
    from portal.demo import seed
    from portal.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        seed.GENERATED_AGREEMENTS = max(0, agreements - len(seed.data.REAL_AGREEMENTS))
        seed.GENERATED_PARTNERS = max(50, partners - len(seed.data.REAL_ACTORS))
        started = time.perf_counter()
        demo = seed.build_demo_set(seed.country_region_codes())
        report = seed.load_demo(demo)
        db.session.commit()
        # As `flask seed-demo` and the importers do after a bulk load: the planner's
        # statistics (without them SQLite probes organisations × agreements).
        from portal.core.sqlite import refresh_statistics

        refresh_statistics(db.session)
        db.session.commit()
        print(
            f"catalogue: {report.organizations:,} organisations, {report.agreements:,} "
            f"agreements loaded in {time.perf_counter() - started:.0f} s",
            flush=True,
        )


def fill_placeholders(urls: list[str], database_url: str) -> list[str]:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    queries = {
        "agreement": "select a.id from agreements a "
        "where a.visibility = 'public' and a.archived_at is null order by a.id limit 1",
        # The second busiest public partner (the busiest is the organisation itself).
        "partner": "select p.organization_id from agreement_parties p "
        "join agreements a on a.id = p.agreement_id "
        "join organizations o on o.id = p.organization_id "
        "where a.visibility = 'public' and a.archived_at is null and o.is_public "
        "group by p.organization_id order by count(*) desc limit 1 offset 1",
        "country": "select c.country_code from agreement_countries c "
        "join agreements a on a.id = c.agreement_id "
        "where a.visibility = 'public' and a.archived_at is null "
        "group by c.country_code order by count(*) desc limit 1",
    }
    with engine.connect() as conn:
        values = {name: conn.execute(text(sql)).scalar() for name, sql in queries.items()}
    engine.dispose()
    return [url.format(**values) for url in urls]


# --------------------------------------------------------------------------- measuring


@dataclass
class Result:
    url: str
    latencies: list[float] = field(default_factory=list)  # seconds
    wall: float = 0.0  # seconds spent in this URL's batches
    errors: dict[int, int] = field(default_factory=dict)
    size: int = 0

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        return self.requests / self.wall if self.wall else 0.0

    def pct(self, p: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(conn: http.client.HTTPConnection, url: str) -> tuple[int, int]:
    conn.request("GET", url, headers={"Accept-Language": "en"})
    response = conn.getresponse()
    body = response.read()
    return response.status, len(body)


def run_batch(port: int, result: Result, requests: int, concurrency: int) -> None:
    """``requests`` GETs of one URL from ``concurrency`` keep-alive connections."""
    remaining = [requests]
    lock = threading.Lock()

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                if remaining[0] <= 0:
                    break
                remaining[0] -= 1
            started = time.perf_counter()
            try:
                status, size = fetch(conn, result.url)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                status, size = 0, 0
            elapsed = time.perf_counter() - started
            with lock:
                if status == 200:
                    result.latencies.append(elapsed)
                    result.size = size
                else:
                    result.errors[status] = result.errors.get(status, 0) + 1
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.wall += time.perf_counter() - started


def wait_for_http(port: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            if fetch(conn, HELLO)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit("gunicorn did not start")


def measure(port: int, urls: list[str], rounds: int, requests: int, concurrency: int, seed: int):
    results = {url: Result(url) for url in [HELLO, *urls]}
    rng = random.Random(seed)
    # Warm-up: one request per URL per worker connection (templates, caches, the map file).
    for url in results:
        run_batch(port, Result(url), concurrency, concurrency)
    for number in range(1, rounds + 1):
        order = list(results)
        rng.shuffle(order)
        for url in order:
            run_batch(port, results[url], requests, concurrency)
        print(f"round {number}/{rounds} done", file=sys.stderr, flush=True)
    return results


# --------------------------------------------------------------------------- reporting


def rows(results: dict[str, Result]) -> list[dict]:
    hello = results[HELLO]
    out = []
    for url, r in results.items():
        out.append(
            {
                "url": url,
                "requests": r.requests,
                "errors": r.errors,
                "req_per_s": round(r.rps, 1),
                "p50_ms": round(r.pct(50), 1),
                "p95_ms": round(r.pct(95), 1),
                "kb": round(r.size / 1024, 1),
                "p50_vs_hello": round(r.pct(50) / hello.pct(50), 1) if hello.requests else None,
                "throughput_share_of_hello": round(r.rps / hello.rps, 4) if hello.rps else None,
            }
        )
    return out


def print_table(table: list[dict], markdown: bool) -> None:
    head = ["url", "req/s", "p50 ms", "p95 ms", "KB", "p50 × hello", "req/s ÷ hello", "errors"]
    lines = []
    for row in table:
        errors = ", ".join(f"{code or 'conn'}: {n}" for code, n in row["errors"].items()) or "0"
        share = row["throughput_share_of_hello"]
        lines.append(
            [
                row["url"],
                f"{row['req_per_s']:,.1f}",
                f"{row['p50_ms']:,.1f}",
                f"{row['p95_ms']:,.1f}",
                f"{row['kb']:,.1f}",
                f"×{row['p50_vs_hello']:,.1f}" if row["p50_vs_hello"] is not None else "—",
                f"{share * 100:.2f} %" if share is not None else "—",
                errors,
            ]
        )
    if markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
        for line in lines:
            print("| `" + line[0] + "` | " + " | ".join(line[1:]) + " |")
        return
    widths = [max(len(str(x)) for x in column) for column in zip(head, *lines, strict=False)]
    for line in [head, *lines]:
        print(
            "  ".join(
                str(x).ljust(w) if i == 0 else str(x).rjust(w)
                for i, (x, w) in enumerate(zip(line, widths, strict=True))
            )
        )


def machine() -> str:
    return (
        f"{os.cpu_count()} cores, {platform.machine()}, {platform.system()}, "
        f"Python {platform.python_version()}"
    )


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agreements", type=int, default=10_000)
    parser.add_argument("--partners", type=int, default=1_200)
    parser.add_argument(
        "--db",
        default=str(ROOT / "instance" / "bench_pages.db"),
        help="SQLite file for the catalogue (kept and reused)",
    )
    parser.add_argument("--database-url", help="a SCRATCH PostgreSQL database instead of --db")
    parser.add_argument(
        "--url",
        action="append",
        help="a path to measure (repeat); "
        "default: the catalogue, /insights and the map, the IATI file",
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument(
        "--concurrency", type=int, default=2, help="client connections (default: = workers)"
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=20, help="per URL per round")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()

    Path(args.db).parent.mkdir(parents=True, exist_ok=True)
    database_url = args.database_url or f"sqlite:///{Path(args.db).resolve()}"
    have = agreement_count(database_url)
    if have < args.agreements:
        if have and not args.database_url:
            Path(args.db).unlink()
        build_catalogue(database_url, args.agreements, args.partners)
    else:
        try:
            migrate(database_url)
        except subprocess.CalledProcessError as error:  # already current, or a migration bug
            last = (error.stderr or b"").decode(errors="replace").strip().splitlines()[-1:]
            print(f"warning: db upgrade failed on the kept catalogue: {last}", flush=True)
    have = agreement_count(database_url)
    print(f"catalogue: {have:,} agreements ({database_url.split(':', 1)[0]})", flush=True)

    urls = fill_placeholders(args.url or DEFAULT_URLS, database_url)
    port = free_port()
    env = app_env(database_url)
    server = subprocess.Popen(  # noqa: S603
        [
            str(VENV_BIN / "gunicorn"),
            "--workers",
            str(args.workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--chdir",
            str(ROOT / "scripts"),
            "--log-level",
            "warning",
            "--timeout",
            "300",
            "bench_pages:served_app()",
        ],
        env=env,
        cwd=ROOT,
    )
    try:
        wait_for_http(port)
        present = []
        for url in urls:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            status, _size = fetch(conn, url)
            conn.close()
            if status == 404:
                print(f"skipped (404 on this branch): {url}", flush=True)
            else:
                present.append(url)
        started = datetime.now(UTC)
        results = measure(port, present, args.rounds, args.requests, args.concurrency, args.seed)
    finally:
        server.terminate()
        server.wait(timeout=30)
    table = rows(results)
    print(
        f"\n{have:,} agreements · gunicorn {args.workers} sync workers · {args.concurrency} "
        f"client connections · {args.rounds} rounds × {args.requests} requests per URL · "
        f"{machine()} · {started:%Y-%m-%d %H:%M} UTC\n"
    )
    print_table(table, args.markdown)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "agreements": have,
                    "database": database_url.split(":", 1)[0],
                    "workers": args.workers,
                    "concurrency": args.concurrency,
                    "rounds": args.rounds,
                    "requests": args.requests,
                    "machine": machine(),
                    "started": started.isoformat(),
                    "results": table,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
