#!/usr/bin/env python
"""Export benchmark: every open-data file and list download at 10,000 / 100,000 agreements,
anonymous and signed in — time to first byte, total time, megabytes and peak memory, against a
bare Flask generator streaming the same number of bytes in the same run.

    .venv/bin/python scripts/bench_exports.py                          # 10,000 and 100,000
    .venv/bin/python scripts/bench_exports.py --sizes 10000 --only iati,csv --rounds 3
    .venv/bin/python scripts/bench_exports.py --catalogue-dir /work/bench/me --markdown
    .venv/bin/python scripts/bench_exports.py --cold          # every request after a change
    .venv/bin/python scripts/bench_exports.py --after-change --sizes 100000 --rounds 1

Not run in CI; it prints numbers and ratios, it asserts nothing about speed.

The catalogues are ``scripts/bench_pages.py``'s (the demo's shape: ~75 % public, partners-only
and internal agreements, six languages), ``<catalogue-dir>/bench_pages-<n>.db``, built by it
when missing and migrated when kept. Each size gets one ``portal.create_app()`` (production
settings, rate limit off) driven through Flask's test client, as three readers: anonymous,
``partner@example.org`` (a member whose organisation has partners-only agreements) and
``staff@example.org``, logged in through the real form.

Per endpoint and size, ``--rounds`` requests (endpoints in a fresh random order each round, so
a noisy minute hits every one alike), each read chunk by chunk as a WSGI server would send it:

- **TTFB**: from the request to the first non-empty chunk of the body;
- **total**: to the last chunk; p50 and p95 over the rounds;
- **MB** of the body, and its **SQL statements**;
- **peak MB**: the peak of Python memory (``tracemalloc``) during one extra request, made alone;
- **× bare**: total p50 divided by the p50 of a bare Flask app streaming the same number of
  bytes in 64 KB chunks from a generator (the floor of sending that file through this stack).

By default the catalogue does not change during the run: files that are cached per catalogue
state are measured warm (sent from the export cache), after one untimed request that builds
them; ``--cold`` moves the catalogue token before every request (as a staff edit would), so
each request, the memory one included, builds its file from the database.

``--after-change`` measures the public files under /open-data/ on the first request after a
real catalogue change (an agreement's title edited and committed), three ways per round:
*built on the request* (``OPEN_DATA_PREBUILD`` off: what every version before issue 17's
fifth session did), *before the job* (on: the change queued a rebuild that has not run yet,
so the previous file is sent) and *after the job* (the worker's ``build_public_files`` ran —
its time per file is reported too — and the request is sent the new file from the cache).
The load average is printed at the start and the end.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import tracemalloc
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import bench_pages  # noqa: E402 - the catalogues, settings and load average are shared

DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 - the demo accounts' documented password
READERS = {"staff": "staff@example.org", "partner": "partner@example.org"}

# (label, path, reader): reader None is anonymous.
ENDPOINTS = [
    ("iati activities", "/open-data/iati/activities.xml", None),
    ("iati organisations", "/open-data/iati/organisations.xml", None),
    ("agreements.csv", "/open-data/agreements.csv", None),
    ("agreements.json", "/open-data/agreements.json", None),
    ("agreements.xlsx", "/open-data/agreements.xlsx", None),
    ("partners.csv", "/open-data/partners.csv", None),
    ("partners.json", "/open-data/partners.json", None),
    ("partners.xlsx", "/open-data/partners.xlsx", None),
    ("datapackage.json", "/open-data/datapackage.json", None),
    ("open-data index", "/open-data/", None),
    ("iati activities (staff)", "/open-data/iati/activities.xml", "staff"),
    ("list csv", "/agreements/?format=csv", None),
    ("list csv (partner)", "/agreements/?format=csv", "partner"),
    ("list csv (staff)", "/agreements/?format=csv", "staff"),
    ("list json (staff)", "/agreements/?format=json", "staff"),
    ("list xlsx (staff)", "/agreements/?format=xlsx", "staff"),
    ("filtered csv (staff)", "/agreements/?format=csv&sdg=11", "staff"),
    ("directory csv (staff)", "/partners/?format=csv", "staff"),
    ("api regions", "/api/v1/regions", None),
    ("api countries", "/api/v1/countries", None),
]
BARE = "bare generator"
BARE_CHUNK = 64 * 1024


@dataclass
class Result:
    path: str
    ttfb: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)
    statements: list[int] = field(default_factory=list)
    size: int = 0
    peak_mb: float | None = None
    errors: dict[int, int] = field(default_factory=dict)

    @staticmethod
    def pct(values: list[float], p: float) -> float:
        if not values:
            return float("nan")
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


def bare_app():
    """The floor: a bare Flask app streaming ``n`` bytes from a generator."""
    from flask import Flask, Response

    bare = Flask("bare")

    @bare.get("/<int:n>")
    def stream(n: int):
        chunk = b"x" * BARE_CHUNK

        def body():
            left = n
            while left > 0:
                yield chunk[: min(left, BARE_CHUNK)]
                left -= BARE_CHUNK

        return Response(body(), mimetype="application/octet-stream")

    return bare


def read(client, path: str) -> tuple[int, float, float, int]:
    """(status, seconds to the first body byte, seconds in all, bytes), read chunk by chunk."""
    started = time.perf_counter()
    response = client.get(path, buffered=False, headers={"Accept-Language": "en"})
    first = None
    size = 0
    for chunk in response.response:
        if chunk and first is None:
            first = time.perf_counter() - started
        size += len(chunk)
    response.close()
    total = time.perf_counter() - started
    return response.status_code, first if first is not None else total, total, size


class Site:
    """One catalogue size: its app, one test client per reader and a statement counter."""

    def __init__(self, agreements: int, database_url: str, **settings):
        from sqlalchemy import event

        from portal import create_app
        from portal.extensions import db

        self.agreements = agreements
        self.app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": database_url,
                "RATELIMIT_ENABLED": False,
                "WTF_CSRF_ENABLED": False,
                **settings,
            }
        )
        self.statements = 0

        def count(*_args):
            self.statements += 1

        with self.app.app_context():
            event.listen(db.engine, "before_cursor_execute", count)
        self.clients = {None: self.app.test_client()}
        for reader, email in READERS.items():
            client = self.app.test_client()
            answer = client.post("/account/login", data={"email": email, "password": DEMO_PASSWORD})
            if answer.status_code != 302:
                raise SystemExit(f"{email} could not log in ({answer.status_code})")
            self.clients[reader] = client

    def move_token(self) -> None:
        """What any committed catalogue change does: a new ``catalogue_state`` token."""
        from portal.agreements import catalogue_index
        from portal.extensions import db

        with self.app.app_context():
            catalogue_index.bump(db.session.connection())
            db.session.commit()

    def get(self, path: str, reader: str | None, result: Result) -> None:
        before = self.statements
        status, first, total, size = read(self.clients[reader], path)
        if status != 200:
            result.errors[status] = result.errors.get(status, 0) + 1
            return
        result.ttfb.append(first)
        result.total.append(total)
        result.statements.append(self.statements - before)
        result.size = size

    def peak(self, path: str, reader: str | None, cold: bool) -> float:
        if cold:
            self.move_token()
        tracemalloc.start()
        read(self.clients[reader], path)
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        return peak


# --after-change: the public files the worker rebuilds (portal.opendata.views.PUBLIC_FILES).
AFTER_CHANGE = [
    (label, path)
    for label, path, reader in ENDPOINTS
    if reader is None
    and path.startswith("/open-data/")
    and path not in ("/open-data/", "/open-data/datapackage.json")
]
WAYS = ("built on the request", "before the job (previous file)", "after the job")


def change_catalogue(site: Site, round_: int) -> None:
    """A real edit: one public agreement's title, committed (the token moves; with
    ``OPEN_DATA_PREBUILD`` on, a rebuild is queued in the same transaction)."""
    from sqlalchemy import select

    from portal.agreements.models import Agreement
    from portal.extensions import db

    with site.app.app_context():
        agreement = db.session.scalars(
            select(Agreement).where(Agreement.visibility == "public").order_by(Agreement.id)
        ).first()
        agreement.title = f"{agreement.title.split(' · ')[0]} · edit {round_}"
        db.session.commit()


def run_after_change(sizes: list[int], args) -> dict:
    import shutil

    from sqlalchemy import delete

    from portal.extensions import db
    from portal.opendata.models import OpenDataBuild
    from portal.opendata.prebuild import build_public_files

    labels = {path: label for label, path in AFTER_CHANGE}
    results: dict = {}
    jobs: dict = {}
    for agreements in sizes:
        url = f"sqlite:///{Path(args.catalogue_dir).resolve()}/bench_pages-{agreements}.db"
        database_url = bench_pages.ensure_catalogue(agreements, database_url=url)
        cache_dir = Path(args.catalogue_dir).resolve() / f"open-data-cache-{agreements}"
        shutil.rmtree(cache_dir, ignore_errors=True)
        site = Site(
            agreements,
            database_url,
            OPEN_DATA_CACHE_DIR=str(cache_dir),
            BASE_URL="http://localhost",  # the test client's address: the readers' keys
            OPEN_DATA_PREBUILD_DELAY=60.0,
        )
        for label, path in AFTER_CHANGE:
            for way in WAYS:
                results[(agreements, label, way)] = Result(path)
            jobs[(agreements, label)] = []
        with site.app.app_context():  # a first build: a previous file exists for every slot
            build_public_files()
        for number in range(1, args.rounds + 1):
            # Today's way: no rebuild queued, the first reader after the change builds.
            site.app.config["OPEN_DATA_PREBUILD"] = False
            change_catalogue(site, 2 * number)
            for label, path in AFTER_CHANGE:
                site.get(path, None, results[(agreements, label, WAYS[0])])
            # The change queues a rebuild; readers before it runs get the previous file.
            site.app.config["OPEN_DATA_PREBUILD"] = True
            change_catalogue(site, 2 * number + 1)
            for label, path in AFTER_CHANGE:
                response = site.clients[None].get(path)
                state = response.headers.get("X-Open-Data-State")
                response.close()
                if state != "previous":
                    print(f"warning: {label} was not sent its previous file ({state})")
                site.get(path, None, results[(agreements, label, WAYS[1])])
            with site.app.app_context():  # the worker's job: the same code, timed per file
                for built in build_public_files():
                    jobs[(agreements, labels[built.url.removeprefix("http://localhost")])].append(
                        built.seconds
                    )
                db.session.execute(delete(OpenDataBuild))
                db.session.commit()
            for label, path in AFTER_CHANGE:
                site.get(path, None, results[(agreements, label, WAYS[2])])
            print(f"{agreements:,}: round {number}/{args.rounds} done", file=sys.stderr, flush=True)
    return {"results": results, "jobs": jobs}


def print_after_change(run_: dict, sizes, markdown: bool) -> None:
    head = ["file", "agreements", "way", "TTFB p50 ms", "total p50 ms", "× built", "SQL", "job s"]
    lines = []
    for label, _path in AFTER_CHANGE:
        for size in sizes:
            built = Result.pct(run_["results"][(size, label, WAYS[0])].total, 50)
            for way in WAYS:
                r = run_["results"][(size, label, way)]
                total = Result.pct(r.total, 50)
                job = run_["jobs"][(size, label)]
                lines.append(
                    [
                        label,
                        f"{size:,}",
                        way,
                        f"{Result.pct(r.ttfb, 50):,.1f}",
                        f"{total:,.1f}",
                        f"{total / built:.4f}" if built else "-",
                        f"{max(r.statements)}" if r.statements else "-",
                        f"{sorted(job)[len(job) // 2]:.1f}" if way == WAYS[2] and job else "",
                    ]
                    + ([f"errors {r.errors}"] if r.errors else [])
                )
    bench_pages._print_grid(head, lines, markdown)


def run(sizes: list[int], endpoints, args) -> dict:
    sites = []
    for agreements in sizes:
        url = f"sqlite:///{Path(args.catalogue_dir).resolve()}/bench_pages-{agreements}.db"
        database_url = bench_pages.ensure_catalogue(agreements, database_url=url)
        sites.append(Site(agreements, database_url))
    results = {(s.agreements, label): Result(path) for s in sites for label, path, _ in endpoints}
    for site in sites:  # warm-up: imports, templates, the catalogue index, any cached file
        for label, path, reader in endpoints[:1] if args.cold else endpoints:
            warm = Result(path)
            site.get(path, reader, warm)
            if warm.errors:
                print(f"warning: {site.agreements:,} {label} answered {warm.errors}", flush=True)
    rng = random.Random(args.seed)
    order = [(s, label, path, reader) for s in sites for label, path, reader in endpoints]
    for number in range(1, args.rounds + 1):
        rng.shuffle(order)
        for site, label, path, reader in order:
            if args.cold:
                site.move_token()
            site.get(path, reader, results[(site.agreements, label)])
        print(f"round {number}/{args.rounds} done", file=sys.stderr, flush=True)
    bare = bare_app().test_client()
    bare_results = {}
    for key, result in results.items():
        floor = Result(f"/{result.size}")
        for _ in range(args.rounds):
            status, first, total, _size = read(bare, floor.path)
            floor.ttfb.append(first)
            floor.total.append(total)
        bare_results[key] = floor
    if not args.no_memory:
        for site in sites:
            for label, path, reader in endpoints:
                results[(site.agreements, label)].peak_mb = site.peak(path, reader, args.cold)
    return {"sites": sites, "results": results, "bare": bare_results}


def print_table(run_: dict, endpoints, sizes, markdown: bool) -> None:
    head = [
        "endpoint",
        "agreements",
        "TTFB p50 ms",
        "total p50 ms",
        "total p95 ms",
        "MB",
        "SQL",
        "peak MB",
        "bare p50 ms",
        "× bare",
    ]
    lines = []
    for label, _path, _reader in endpoints:
        for size in sizes:
            r = run_["results"][(size, label)]
            bare = run_["bare"][(size, label)]
            total = Result.pct(r.total, 50)
            floor = Result.pct(bare.total, 50)
            lines.append(
                [
                    label,
                    f"{size:,}",
                    f"{Result.pct(r.ttfb, 50):,.1f}",
                    f"{total:,.1f}",
                    f"{Result.pct(r.total, 95):,.1f}",
                    f"{r.size / 1e6:.2f}",
                    f"{max(r.statements)}" if r.statements else "-",
                    f"{r.peak_mb:.1f}" if r.peak_mb is not None else "-",
                    f"{floor:.1f}",
                    f"{total / floor:,.0f}" if floor else "-",
                ]
                + ([f"errors {r.errors}"] if r.errors else [])
            )
    bench_pages._print_grid(head, lines, markdown)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000 100000", help="agreements, comma-separated")
    parser.add_argument(
        "--catalogue-dir",
        default=str(ROOT / "instance"),
        help="where bench_pages-<n>.db are kept (default: instance/)",
    )
    parser.add_argument("--only", help="endpoints whose label contains any of these (comma list)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cold", action="store_true", help="move the catalogue token each time")
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc pass")
    parser.add_argument(
        "--after-change",
        action="store_true",
        help="public files after a change: built on the request, before and after the job",
    )
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    sizes = bench_pages.parse_sizes(args.sizes.replace(",", " "))
    endpoints = ENDPOINTS
    if args.only:
        wanted = [w.strip() for w in args.only.split(",") if w.strip()]
        endpoints = [e for e in ENDPOINTS if any(w in e[0] for w in wanted)]
    os.environ.update(bench_pages.bench_settings())  # before the portal's config is imported
    bench_pages.load_average("start")
    print(bench_pages.machine(), flush=True)
    started = datetime.now(UTC)
    if args.after_change:
        result = run_after_change(sizes, args)
        print(
            f"\npublic files after a catalogue change · {' / '.join(f'{n:,}' for n in sizes)} "
            f"agreements · {args.rounds} rounds · {started:%Y-%m-%d %H:%M} UTC\n"
        )
        print_after_change(result, sizes, args.markdown)
        bench_pages.load_average("end")
        return
    result = run(sizes, endpoints, args)
    print(
        f"\nexports in process · {' / '.join(f'{n:,}' for n in sizes)} agreements · "
        f"{args.rounds} rounds, {'cold (token moved before each request)' if args.cold else 'warm'}"
        f" · {started:%Y-%m-%d %H:%M} UTC\n"
    )
    print_table(result, endpoints, sizes, args.markdown)
    bench_pages.load_average("end")


if __name__ == "__main__":
    main()
