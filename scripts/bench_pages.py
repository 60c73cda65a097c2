#!/usr/bin/env python
"""Catalogue page benchmark at 1,000 / 10,000 / 100,000 agreements: in process, served, and
against Datasette — every figure next to a bare Flask "hello" measured in the same run.

    .venv/bin/python scripts/bench_pages.py --build-only              # the three catalogues
    .venv/bin/python scripts/bench_pages.py --in-process --markdown   # server time per page
    .venv/bin/python scripts/bench_pages.py --sizes 10000,100000      # gunicorn (served)
    .venv/bin/python scripts/bench_pages.py --datasette --sizes 10000,100000
    .venv/bin/python scripts/bench_pages.py --sizes 10000 --url /insights/?region=002
    .venv/bin/python scripts/bench_pages.py --sizes 2000 --database-url postgresql+psycopg://…

Not run in CI; it prints numbers and ratios, it asserts nothing about speed.

1. Catalogues (not timed, built once and kept): ``instance/bench_pages-<n>.db`` for every size
   in ``--sizes`` (default 1,000, 10,000 and 100,000 agreements), made by the demo generator
   (portal/demo/seed.py) at a larger size, so the data has the demo's shape: every M49 region,
   the six UN languages, ~75 % public / 15 % partners-only / 10 % internal, fifteen currencies,
   SDG targets, parties with IATI roles. Partners scale with the catalogue: one organisation per
   8 agreements (125 / 1,250 / 12,500, plus the demo's real actors); ``--partners`` overrides it
   for a single size. The load is bulk INSERTs in one transaction, in chunks of 5,000 agreements
   behind a progress bar, then ``ANALYZE`` (the planner's statistics, as the importers do). A
   kept file is reused when it holds exactly that many agreements, and migrated first so it
   follows the code. A PostgreSQL ``--database-url`` (one size only) must name a SCRATCH
   database: its tables are dropped and re-created by ``db upgrade`` from empty.
2. ``--in-process``: *server time* per page, with no HTTP server and no client threads. One
   ``portal.create_app()`` per size in this process (production settings), and a bare Flask
   "hello" app, all driven through Flask's test client. After one warm-up request per page,
   ``--rounds`` rounds; in each, every (size, page) pair and hello — in a fresh random order,
   so a noisy minute of a shared machine hits every size alike — gets ``--requests``
   sequential requests. Per page and size: p50 / p95 of the request's wall time, the SQL
   statements one request runs, the page's KB; per page: the p95 ratio to the 1,000-agreement
   figure and the issue-17 target (p95 ≤ 50 ms at 100,000 agreements and ≤ 1.5 × its 1,000
   figure). The catalogue index build (the first request after a change pays it) is timed per
   size too.
3. Served (the default): one ``gunicorn`` (``--workers`` sync workers, loopback) per size serves
   a WSGI dispatcher: ``/__hello__`` is a bare Flask app returning "hello", everything else is
   ``portal.create_app()``. ``--rounds`` rounds; in each, every URL (in a fresh random order)
   gets ``--requests`` requests from ``--concurrency`` keep-alive client threads. Per URL:
   req/s, p50 / p95 latency, bytes, and the ratios to hello.
4. ``--datasette``: runs ``scripts/bench_datasette.py`` (the portal and Datasette on the same
   public data, equivalent views, interleaved) for every size, on these same catalogues.

Any non-200 response is counted and printed; URLs that answer 404 on the first try are skipped
with a note. Anonymous requests only: the public's pages are the ones that take traffic. The
load average is printed at the start and the end: read every figure with it in mind.
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
SIZES = (1_000, 10_000, 100_000)
AGREEMENTS_PER_PARTNER = 8
LOAD_CHUNK = 5_000  # agreements per bulk load step (the progress bar's unit)
TARGET_P95_MS = 50.0  # issue 17: server time per catalogue page at 100,000 agreements …
TARGET_GROWTH = 1.5  # … and within 1.5 × its 1,000-agreement figure

# {agreement} / {partner} / {busiest} / {typical} / {country} are filled from the catalogue.
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

# In process: (label, path, counts for the issue-17 acceptance line).
IN_PROCESS_PAGES = [
    ("list", "/agreements/", True),
    ("filtered list (SDG 11)", "/agreements/?sdg=11", True),
    ("directory", "/partners/", True),
    ("directory by value", "/partners/?sort=value", False),
    ("region (Africa)", "/regions/002", True),
    ("country (busiest)", "/regions/country/{country}", False),
    ("home", "/", True),
    ("partner (busiest)", "/partners/{busiest}", True),
    ("partner (typical)", "/partners/{typical}", True),
    ("insights", "/insights/", False),
]


def partners_for(agreements: int) -> int:
    """Organisations for a catalogue of ``agreements``: one per 8 (1,250 at 10,000)."""
    return max(1, agreements // AGREEMENTS_PER_PARTNER)


def machine() -> str:
    return (
        f"{os.cpu_count()} cores, {platform.machine()}, {platform.system()}, "
        f"Python {platform.python_version()}"
    )


def load_average(when: str) -> str:
    one, five, fifteen = os.getloadavg()
    now = datetime.now(UTC)
    line = f"load average ({when}, {now:%H:%M:%S} UTC): {one:.2f}, {five:.2f}, {fifteen:.2f}"
    print(line, flush=True)
    return line


# --------------------------------------------------------------------------- the served app


def served_app():
    """gunicorn entry point (``bench_pages:served_app()``): hello + the portal in one WSGI app."""
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    from portal import create_app

    return DispatcherMiddleware(create_app(), {HELLO.rstrip("/"): hello_app()})


def hello_app():
    """The floor: a bare Flask app answering "hello"."""
    from flask import Flask

    hello = Flask("hello")

    @hello.get("/")
    def say_hello():
        return "hello"

    return hello


# --------------------------------------------------------------------------- the catalogue


def app_env(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(bench_settings())
    env.update({"PORTAL_DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)})
    return env


def bench_settings() -> dict[str, str]:
    """What the portal runs with here, served or in process: production settings, no search
    engine (the catalogue pages never ask one), a throw-away key."""
    return {
        "PORTAL_SECRET_KEY": SECRET,
        "PORTAL_ENV": "production",
        "PORTAL_SECURE_COOKIES": "0",
        "PORTAL_SEARCH_URL": "database",
    }


def catalogue_path(agreements: int) -> Path:
    return ROOT / "instance" / f"bench_pages-{agreements}.db"


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


def ensure_catalogue(
    agreements: int, partners: int | None = None, database_url: str | None = None
) -> str:
    """The database URL of a catalogue of exactly ``agreements`` agreements, built if needed."""
    if database_url is None:
        path = catalogue_path(agreements)
        path.parent.mkdir(parents=True, exist_ok=True)
        database_url = f"sqlite:///{path.resolve()}"
    have = agreement_count(database_url)
    if have != agreements:
        if have:
            print(f"catalogue: {have:,} agreements, not {agreements:,}: rebuilding", flush=True)
            _drop_everything(database_url)
        build_catalogue(database_url, agreements, partners or partners_for(agreements))
    else:
        try:
            migrate(database_url)
        except subprocess.CalledProcessError as error:  # already current, or a migration bug
            last = (error.stderr or b"").decode(errors="replace").strip().splitlines()[-1:]
            print(f"warning: db upgrade failed on the kept catalogue: {last}", flush=True)
    return database_url


def _drop_everything(database_url: str) -> None:
    if database_url.startswith("sqlite:///"):
        Path(database_url.removeprefix("sqlite:///")).unlink(missing_ok=True)
        return
    from sqlalchemy import MetaData, create_engine

    engine = create_engine(database_url)
    metadata = MetaData()
    metadata.reflect(engine)
    metadata.drop_all(engine)
    engine.dispose()


def build_catalogue(database_url: str, agreements: int, partners: int) -> dict:
    """Migrate, then load the demo generator's data at the requested size in one transaction
    (chunks of LOAD_CHUNK agreements behind a progress bar), then ANALYZE. Prints and returns
    the time of each step."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    times: dict[str, float] = {}
    started = time.perf_counter()
    migrate(database_url)
    times["migrate_s"] = time.perf_counter() - started

    from portal import create_app
    from portal.core.sqlite import refresh_statistics
    from portal.demo import seed
    from portal.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with app.app_context(), Progress(*columns, transient=False) as progress:
        seed.GENERATED_AGREEMENTS = max(0, agreements - len(seed.data.REAL_AGREEMENTS))
        seed.GENERATED_PARTNERS = max(50, partners - len(seed.data.REAL_ACTORS))
        step = time.perf_counter()
        generating = progress.add_task(f"generating {agreements:,} agreements", total=1)
        demo = seed.build_demo_set(seed.country_region_codes())
        progress.update(generating, completed=1)
        times["generate_s"] = time.perf_counter() - step

        step = time.perf_counter()
        loading = progress.add_task("loading (one transaction)", total=len(demo.agreements))
        organizations = loaded = 0
        for start in range(0, max(1, len(demo.agreements)), LOAD_CHUNK):
            chunk = seed.DemoSet(
                organizations=demo.organizations,
                agreements=demo.agreements[start : start + LOAD_CHUNK],
            )
            report = seed.load_demo(chunk)
            organizations += report.organizations
            loaded += report.agreements
            progress.advance(loading, len(chunk.agreements))
        db.session.commit()
        times["load_s"] = time.perf_counter() - step

        # As `flask seed-demo` and the importers do after a bulk load: the planner's
        # statistics (without them SQLite probes organisations × agreements).
        step = time.perf_counter()
        analysing = progress.add_task("ANALYZE", total=1)
        refresh_statistics(db.session)
        db.session.commit()
        progress.update(analysing, completed=1)
        times["analyze_s"] = time.perf_counter() - step
    with app.app_context():
        db.engine.dispose()
    times["total_s"] = time.perf_counter() - started
    print(
        f"catalogue: {organizations:,} organisations, {loaded:,} agreements — migrate "
        f"{times['migrate_s']:.1f} s, generate {times['generate_s']:.1f} s, load "
        f"{times['load_s']:.1f} s ({loaded / max(times['load_s'], 1e-9):,.0f} agreements/s), "
        f"ANALYZE {times['analyze_s']:.1f} s; total {times['total_s']:.1f} s",
        flush=True,
    )
    return times


PLACEHOLDER_SQL = {
    "agreement": "select a.id from agreements a "
    "where a.visibility = 'public' and a.archived_at is null order by a.id limit 1",
    # The second busiest public partner (the busiest is the organisation itself).
    "partner": "select p.organization_id from agreement_parties p "
    "join agreements a on a.id = p.agreement_id "
    "join organizations o on o.id = p.organization_id "
    "where a.visibility = 'public' and a.archived_at is null and o.is_public "
    "group by p.organization_id order by count(*) desc, p.organization_id limit 1 offset 1",
    "busiest": "select p.organization_id from agreement_parties p "
    "join agreements a on a.id = p.agreement_id "
    "join organizations o on o.id = p.organization_id "
    "where a.visibility = 'public' and a.archived_at is null and o.is_public "
    "group by p.organization_id order by count(*) desc, p.organization_id limit 1",
    "country": "select c.country_code from agreement_countries c "
    "join agreements a on a.id = c.agreement_id "
    "where a.visibility = 'public' and a.archived_at is null "
    "group by c.country_code order by count(*) desc, c.country_code limit 1",
}
# The typical partner: the median of the public partners by public agreements.
TYPICAL_SQL = (
    "select p.organization_id, count(*) from agreement_parties p "
    "join agreements a on a.id = p.agreement_id "
    "join organizations o on o.id = p.organization_id "
    "where a.visibility = 'public' and a.archived_at is null and o.is_public "
    "group by p.organization_id order by count(*), p.organization_id"
)


def placeholders(database_url: str) -> dict[str, object]:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    with engine.connect() as conn:
        values = {name: conn.execute(text(sql)).scalar() for name, sql in PLACEHOLDER_SQL.items()}
        ranked = conn.execute(text(TYPICAL_SQL)).all()
    engine.dispose()
    values["typical"] = ranked[len(ranked) // 2][0] if ranked else None
    values["typical_agreements"] = ranked[len(ranked) // 2][1] if ranked else 0
    values["busiest_agreements"] = ranked[-1][1] if ranked else 0
    return values


def fill_placeholders(urls: list[str], database_url: str) -> list[str]:
    values = placeholders(database_url)
    return [url.format(**values) for url in urls]


# --------------------------------------------------------------------------- measuring


@dataclass
class Result:
    url: str
    latencies: list[float] = field(default_factory=list)  # seconds
    wall: float = 0.0  # seconds spent in this URL's batches
    errors: dict[int, int] = field(default_factory=dict)
    size: int = 0
    statements: list[int] = field(default_factory=list)  # in process: per request
    first: float = 0.0  # in process: the warm-up request, seconds

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


# --------------------------------------------------------------------------- in process


class InProcessSite:
    """One catalogue size: its app, test client, statement counter and pages."""

    def __init__(self, agreements: int, database_url: str, pages: list[tuple[str, str, bool]]):
        from sqlalchemy import event

        from portal import create_app
        from portal.extensions import db

        self.agreements = agreements
        self.database_url = database_url
        self.app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
        self.client = self.app.test_client()
        self.statements = 0

        def count(*_args):
            self.statements += 1

        with self.app.app_context():
            event.listen(db.engine, "before_cursor_execute", count)
        self.values = placeholders(database_url)
        self.pages = [(label, path.format(**self.values), target) for label, path, target in pages]

    def build_index(self) -> float:
        """The catalogue index's build, timed (what the first request after a change pays)."""
        from portal.agreements import catalogue_index

        with self.app.test_request_context("/"):
            catalogue_index.snapshot()  # the first one also pays imports and mapper set-up
        self.app.extensions["catalogue_index"].snapshot = None
        with self.app.test_request_context("/"):
            started = time.perf_counter()
            catalogue_index.snapshot()
            return time.perf_counter() - started

    def get(self, path: str, result: Result) -> None:
        before = self.statements
        started = time.perf_counter()
        response = self.client.get(path, headers={"Accept-Language": "en"})
        body = response.get_data()
        elapsed = time.perf_counter() - started
        if response.status_code == 200:
            result.latencies.append(elapsed)
            result.statements.append(self.statements - before)
            result.size = len(body)
        else:
            result.errors[response.status_code] = result.errors.get(response.status_code, 0) + 1


class HelloSite:
    def __init__(self):
        self.client = hello_app().test_client()

    def get(self, path: str, result: Result) -> None:
        started = time.perf_counter()
        response = self.client.get(path)
        body = response.get_data()
        elapsed = time.perf_counter() - started
        result.latencies.append(elapsed)
        result.statements.append(0)
        result.size = len(body)


def run_in_process(sizes, urls, pages, args) -> dict:
    sites = []
    for agreements in sizes:
        database_url = ensure_catalogue(agreements, args.partners, args.database_url)
        site = InProcessSite(agreements, database_url, pages)
        if urls:  # --url: extra pages, measured like the rest
            site.pages += [(url, url.format(**site.values), False) for url in urls]
        sites.append(site)
    hello = HelloSite()
    index_build = {site.agreements: site.build_index() for site in sites}
    for agreements, seconds in index_build.items():
        print(f"catalogue index build at {agreements:,} agreements: {seconds * 1000:,.0f} ms")
    results: dict[tuple, Result] = {("hello", "hello"): Result("/")}
    targets: dict[tuple, tuple] = {("hello", "hello"): (hello, "/")}
    for site in sites:
        for label, path, _target in site.pages:
            results[(site.agreements, label)] = Result(path)
            targets[(site.agreements, label)] = (site, path)
    for key, (site, path) in targets.items():  # warm-up: templates, reference data, caches
        warm = Result(path)
        started = time.perf_counter()
        site.get(path, warm)
        results[key].first = time.perf_counter() - started
        if warm.errors:
            print(f"warning: {key[0]} {path} answered {warm.errors}", flush=True)
    rng = random.Random(args.seed)
    when = datetime.now(UTC)
    for number in range(1, args.rounds + 1):
        order = list(targets)
        rng.shuffle(order)
        for key in order:
            site, path = targets[key]
            for _ in range(args.requests):
                site.get(path, results[key])
        print(f"round {number}/{args.rounds} done", file=sys.stderr, flush=True)
    return {
        "sites": sites,
        "results": results,
        "index_build": index_build,
        "started": when,
    }


def in_process_rows(run: dict) -> list[dict]:
    sites, results = run["sites"], run["results"]
    sizes = [site.agreements for site in sites]
    base, top = min(sizes), max(sizes)
    rows = []
    for label, _path, target in sites[0].pages:
        row = {"page": label, "acceptance": target, "sizes": {}}
        for site in sites:
            r = results[(site.agreements, label)]
            row["sizes"][site.agreements] = {
                "path": r.url,
                "requests": r.requests,
                "errors": r.errors,
                "p50_ms": round(r.pct(50), 1),
                "p95_ms": round(r.pct(95), 1),
                "first_ms": round(r.first * 1000, 1),
                "statements": max(r.statements) if r.statements else None,
                "statements_vary": len(set(r.statements)) > 1,
                "kb": round(r.size / 1024, 1),
            }
        base_p95 = row["sizes"][base]["p95_ms"]
        row["p95_ratio_to_base"] = {
            n: round(figures["p95_ms"] / base_p95, 2) if base_p95 else None
            for n, figures in row["sizes"].items()
        }
        top_p95 = row["sizes"][top]["p95_ms"]
        ratio = row["p95_ratio_to_base"][top]
        if top >= 100_000 and base <= 1_000:
            row["target_met"] = bool(
                top_p95 <= TARGET_P95_MS and ratio is not None and ratio <= TARGET_GROWTH
            )
        else:
            row["target_met"] = None
        rows.append(row)
    return rows


def print_in_process(run: dict, rows: list[dict], markdown: bool) -> None:
    sizes = [site.agreements for site in run["sites"]]
    base = min(sizes)
    short = {n: f"{n // 1000:,}k" if n % 1000 == 0 else f"{n:,}" for n in sizes}
    head = ["page"]
    head += [f"{short[n]} p50 / p95 ms" for n in sizes]
    head += [f"p95 ÷ {short[base]} at {short[n]}" for n in sizes if n != base]
    head += ["statements " + " / ".join(short[n] for n in sizes)]
    head += ["KB " + " / ".join(short[n] for n in sizes)]
    head += ["target"]
    lines = []
    for row in rows:
        figures = row["sizes"]
        line = [row["page"] + (" *" if row["acceptance"] else "")]
        for n in sizes:
            f = figures[n]
            cell = f"{f['p50_ms']:,.1f} / {f['p95_ms']:,.1f}"
            if f["errors"]:
                cell += " (errors: " + ", ".join(f"{k}: {v}" for k, v in f["errors"].items()) + ")"
            line.append(cell)
        line += [f"×{row['p95_ratio_to_base'][n]:.2f}" for n in sizes if n != base]
        line.append(
            " / ".join(
                f"{figures[n]['statements']}{'~' if figures[n]['statements_vary'] else ''}"
                for n in sizes
            )
        )
        line.append(" / ".join(f"{figures[n]['kb']:,.0f}" for n in sizes))
        met = row["target_met"]
        line.append("—" if met is None else ("met" if met else "NOT met"))
        lines.append(line)
    hello = run["results"][("hello", "hello")]
    _print_grid(head, lines, markdown)
    builds = ", ".join(
        f"{short[n]} {seconds * 1000:,.0f} ms" for n, seconds in run["index_build"].items()
    )
    print(
        f"\nhello (bare Flask through the same test client, interleaved): p50 "
        f"{hello.pct(50):.2f} ms, p95 {hello.pct(95):.2f} ms · catalogue index build: {builds}\n"
        f"* = on the issue-17 acceptance line (p95 ≤ {TARGET_P95_MS:.0f} ms at 100k and ≤ "
        f"{TARGET_GROWTH}× its 1k figure); statements per request (~ = varied, the largest shown)"
    )


def _print_grid(head: list[str], lines: list[list[str]], markdown: bool) -> None:
    if markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
        for line in lines:
            print("| " + " | ".join(line) + " |")
        return
    widths = [max(len(str(x)) for x in column) for column in zip(head, *lines, strict=False)]
    for line in [head, *lines]:
        print(
            "  ".join(
                str(x).ljust(w) if i == 0 else str(x).rjust(w)
                for i, (x, w) in enumerate(zip(line, widths, strict=True))
            )
        )


# --------------------------------------------------------------------------- served


def run_served(agreements: int, args) -> dict:
    database_url = ensure_catalogue(agreements, args.partners, args.database_url)
    have = agreement_count(database_url)
    print(f"catalogue: {have:,} agreements ({database_url.split(':', 1)[0]})", flush=True)
    urls = fill_placeholders(args.url or DEFAULT_URLS, database_url)
    port = free_port()
    server = subprocess.Popen(  # noqa: S603
        [
            str(VENV_BIN / "gunicorn"),
            "--workers", str(args.workers),
            "--bind", f"127.0.0.1:{port}",
            "--chdir", str(ROOT / "scripts"),
            "--log-level", "warning",
            "--timeout", "300",
            "bench_pages:served_app()",
        ],
        env=app_env(database_url),
        cwd=ROOT,
    )  # fmt: skip
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
    table = served_rows(results)
    print(
        f"\n{have:,} agreements · gunicorn {args.workers} sync workers · {args.concurrency} "
        f"client connections · {args.rounds} rounds × {args.requests} requests per URL · "
        f"{machine()} · {started:%Y-%m-%d %H:%M} UTC\n"
    )
    print_served(table, args.markdown)
    return {
        "agreements": have,
        "database": database_url.split(":", 1)[0],
        "started": started.isoformat(),
        "results": table,
    }


def served_rows(results: dict[str, Result]) -> list[dict]:
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


def print_served(table: list[dict], markdown: bool) -> None:
    head = ["url", "req/s", "p50 ms", "p95 ms", "KB", "p50 × hello", "req/s ÷ hello", "errors"]
    lines = []
    for row in table:
        errors = ", ".join(f"{code or 'conn'}: {n}" for code, n in row["errors"].items()) or "0"
        share = row["throughput_share_of_hello"]
        lines.append(
            [
                f"`{row['url']}`" if markdown else row["url"],
                f"{row['req_per_s']:,.1f}",
                f"{row['p50_ms']:,.1f}",
                f"{row['p95_ms']:,.1f}",
                f"{row['kb']:,.1f}",
                f"×{row['p50_vs_hello']:,.1f}" if row["p50_vs_hello"] is not None else "—",
                f"{share * 100:.2f} %" if share is not None else "—",
                errors,
            ]
        )
    _print_grid(head, lines, markdown)


# --------------------------------------------------------------------------- main


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(part.replace("_", "").replace(",", "")) for part in text.split()})
    except ValueError:
        raise SystemExit(f"--sizes: whole numbers separated by spaces, not {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise SystemExit("--sizes: at least one positive size")
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default="1000 10000 100000",
        help="catalogue sizes in agreements, space- or comma-separated "
        "(default: 1000 10000 100000)",
    )
    parser.add_argument("--agreements", type=int, help="one size (same as --sizes N)")
    parser.add_argument("--partners", type=int, help="organisations (one size only; default n ÷ 8)")
    parser.add_argument("--database-url", help="a SCRATCH PostgreSQL database (one size only)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--in-process", action="store_true", help="server time per page")
    mode.add_argument("--datasette", action="store_true", help="run bench_datasette per size")
    mode.add_argument("--build-only", action="store_true", help="build the catalogues, stop")
    parser.add_argument(
        "--url",
        action="append",
        help="a path to measure (repeat); served default: the catalogue, /insights and the map, "
        "the IATI file; in process: added to the catalogue pages",
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--concurrency", type=int, default=2, help="client connections")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=10, help="per URL (and size) per round")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()

    sizes = [args.agreements] if args.agreements else parse_sizes(args.sizes.replace(",", " "))
    if (args.partners or args.database_url) and len(sizes) > 1:
        raise SystemExit("--partners and --database-url take one size (--sizes N)")
    os.environ.update(bench_settings())  # before the portal's config is imported
    load_start = load_average("start")
    print(machine(), flush=True)
    record: dict = {"machine": machine(), "sizes": sizes, "load_average_start": load_start}

    if args.build_only:
        for agreements in sizes:
            url = ensure_catalogue(agreements, args.partners, args.database_url)
            print(f"{agreements:,} agreements: {url}", flush=True)
    elif args.datasette:
        sys.path.insert(0, str(ROOT / "scripts"))
        import bench_datasette

        record["datasette"] = [
            bench_datasette.run(
                agreements,
                partners=args.partners,
                workers=args.workers,
                concurrency=args.concurrency,
                rounds=args.rounds,
                requests=args.requests,
                seed=args.seed,
                markdown=args.markdown,
            )
            for agreements in sizes
        ]
    elif args.in_process:
        run = run_in_process(sizes, args.url or [], IN_PROCESS_PAGES, args)
        rows = in_process_rows(run)
        print(
            f"\nin process (Flask test client) · {' / '.join(f'{n:,}' for n in sizes)} "
            f"agreements · {args.rounds} rounds × {args.requests} requests per page and size, "
            f"interleaved · {machine()} · {run['started']:%Y-%m-%d %H:%M} UTC\n"
        )
        print_in_process(run, rows, args.markdown)
        hello = run["results"][("hello", "hello")]
        record["in_process"] = {
            "started": run["started"].isoformat(),
            "rounds": args.rounds,
            "requests": args.requests,
            "hello_p50_ms": round(hello.pct(50), 2),
            "hello_p95_ms": round(hello.pct(95), 2),
            "index_build_ms": {n: round(s * 1000, 1) for n, s in run["index_build"].items()},
            "partners": {
                site.agreements: {
                    "busiest": site.values["busiest"],
                    "busiest_agreements": site.values["busiest_agreements"],
                    "typical": site.values["typical"],
                    "typical_agreements": site.values["typical_agreements"],
                }
                for site in run["sites"]
            },
            "pages": rows,
        }
    else:
        record["served"] = [run_served(agreements, args) for agreements in sizes]
        record.update(workers=args.workers, concurrency=args.concurrency)
    record["load_average_end"] = load_average("end")
    if args.json:
        Path(args.json).write_text(json.dumps(record, indent=2, default=str))


if __name__ == "__main__":
    main()
