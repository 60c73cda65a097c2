#!/usr/bin/env python
"""The portal's public catalogue pages against Datasette serving the same public data.

    scripts/bootstrap test,bench                 # once: Datasette comes from uv.lock
    .venv/bin/python scripts/bench_datasette.py                      # 10,000 agreements
    .venv/bin/python scripts/bench_datasette.py --agreements 100000 --markdown
    .venv/bin/python scripts/bench_datasette.py --agreements 1000 --rounds 3 --requests 10

Not run in CI; it prints numbers and ratios, it asserts nothing about speed.

1. The catalogue is the one ``scripts/bench_pages.py`` builds and keeps
   (``instance/bench_pages-<n>.db``: the demo generator at a larger size, one organisation per
   8 agreements); ``bench_pages.py --datasette --sizes 10000,100000`` runs this comparison at
   each size.
2. The *public* part of it — what an anonymous visitor may see: public, non-archived agreements;
   public organisations; parties only when the organisation is public — is exported to a second
   SQLite file for Datasette, denormalised the way a Datasette publisher would do it: one
   ``agreements`` table with JSON-array columns for its countries, regions (every M49 region above
   them included, so "in Africa" is one ``arraycontains``), SDG goals and targets and party names,
   an FTS5 index on title and summary, ``organizations`` with ``agreement_parties`` pointing at
   both tables. Indexes on every faceted scalar column.
3. Equivalent views, same data, same answer size (25 rows):

   ============================  =============================  ==================================
   view                          portal                         Datasette
   ============================  =============================  ==================================
   agreement list with facets    ``/agreements/``               ``/agreements?_facet=…`` (8 facets)
   filtered list (SDG 11)        ``/agreements/?sdg=11``        ``…&sdg_goals__arraycontains=11``
   organisation page             ``/partners/<id>``             ``/organizations/<id>`` (row page)
   region page (Africa)          ``/regions/002``               ``…?regions__arraycontains=002``
   directory                     ``/partners/``                 ``/organizations?_facet=…``
   full-text search              ``/search/?q=housing``         ``/agreements?_search=housing``
   ============================  =============================  ==================================

   Datasette's facet and SQL time limits are raised (60 s) so it computes every facet instead of
   silently dropping the slow ones — a fair comparison of the same work.
4. Both servers run at once: the portal under gunicorn (``--workers`` sync workers, with a bare
   Flask "hello" in the same workers as the floor), Datasette under its own uvicorn. Every round
   requests every (server, view) pair in a fresh random order, ``--requests`` requests from
   ``--concurrency`` keep-alive connections, so a noisy minute of a shared machine hits both.
   Printed per view: req/s, p50, p95 for each side, and portal req/s ÷ Datasette req/s (≥ 1.0
   means the portal serves more).
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_pages as bp  # noqa: E402  (the catalogue builder, gunicorn app and HTTP client)

ROOT = bp.ROOT
DATASETTE_DB = "public"  # the database's name in Datasette's URLs: /public/agreements

AGREEMENT_FACETS = (
    "_facet=agreement_type&_facet=status&_facet=year&_facet=domain_of_change"
    "&_facet_array=countries&_facet_array=regions&_facet_array=sdg_goals&_facet_array=parties"
)
LIST = f"/{DATASETTE_DB}/agreements?{AGREEMENT_FACETS}&_sort_desc=signed_on&_size=25"

# (label, portal path, Datasette path); {partner} is the second busiest public partner.
VIEWS = [
    ("agreement list with facets", "/agreements/", LIST),
    ("filtered list (SDG 11)", "/agreements/?sdg=11", LIST + "&sdg_goals__arraycontains=11"),
    ("organisation page", "/partners/{partner}", f"/{DATASETTE_DB}/organizations/{{partner}}"),
    ("region page (Africa)", "/regions/002", LIST + "&regions__arraycontains=002"),
    (
        "directory",
        "/partners/",
        f"/{DATASETTE_DB}/organizations?_facet=org_type&_facet=stakeholder_group"
        "&_facet=country_code&_sort=name&_size=25",
    ),
    ("full-text search", "/search/?q=housing", f"/{DATASETTE_DB}/agreements?_search=housing"),
]


# --------------------------------------------------------------------------- the public export


def export_public(database_url: str, target: Path) -> dict[str, int]:
    """Write the anonymous visitor's view of the catalogue to ``target`` for Datasette."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    target.unlink(missing_ok=True)
    out = sqlite3.connect(target)
    with engine.connect() as conn:
        parent = dict(conn.execute(text("select code, parent_code from regions")).all())

        def with_ancestors(codes):
            seen: set[str] = set()
            for code in codes:
                while code and code not in seen:
                    seen.add(code)
                    code = parent.get(code)
            return sorted(seen)

        country_region = dict(conn.execute(text("select code, region_code from countries")).all())
        orgs = conn.execute(
            text(
                "select id, name, acronym, org_type, stakeholder_group, country_code, website, "
                "description, partner_since from organizations "
                "where is_public and archived_at is null"
            )
        ).all()
        public_org = {row[0]: row[1] for row in orgs}
        agreements = conn.execute(
            text(
                "select id, reference, title, summary, agreement_type, status, signed_on, "
                "start_on, end_on, amount, currency, domain_of_change from agreements "
                "where visibility = 'public' and archived_at is null"
            )
        ).all()
        public_ids = {row[0] for row in agreements}
        links = defaultdict(lambda: defaultdict(list))
        for agreement_id, code in conn.execute(
            text("select agreement_id, country_code from agreement_countries")
        ):
            if agreement_id in public_ids:
                links[agreement_id]["countries"].append(code)
        for agreement_id, code in conn.execute(
            text("select agreement_id, region_code from agreement_regions")
        ):
            if agreement_id in public_ids:
                links[agreement_id]["regions"].append(code)
        for agreement_id, target_code in conn.execute(
            text("select agreement_id, target from agreement_sdg_targets")
        ):
            if agreement_id in public_ids:
                links[agreement_id]["targets"].append(target_code)
        parties = []
        for party_id, agreement_id, org_id, role in conn.execute(
            text("select id, agreement_id, organization_id, role from agreement_parties")
        ):
            if agreement_id in public_ids and org_id in public_org:
                links[agreement_id]["parties"].append(public_org[org_id])
                parties.append((party_id, agreement_id, org_id, role))
    engine.dispose()

    out.executescript(
        """
        create table organizations (
            id integer primary key, name text, acronym text, org_type text,
            stakeholder_group text, country_code text, website text, description text,
            partner_since text);
        create table agreements (
            id integer primary key, reference text, title text, summary text,
            agreement_type text, status text, signed_on text, year integer, start_on text,
            end_on text, amount real, currency text, domain_of_change integer,
            countries text, regions text, sdg_goals text, sdg_targets text, parties text);
        create table agreement_parties (
            id integer primary key,
            agreement_id integer references agreements(id),
            organization_id integer references organizations(id), role text);
        """
    )
    out.executemany(
        "insert into organizations values (?,?,?,?,?,?,?,?,?)",
        [tuple(str(v) if v is not None and i == 8 else v for i, v in enumerate(r)) for r in orgs],
    )
    rows = []
    for r in agreements:
        link = links[r[0]]
        regions = with_ancestors(
            [*link["regions"], *(country_region.get(c) for c in link["countries"])]
        )
        goals = sorted({t.split(".")[0] for t in link["targets"]}, key=int)
        signed = str(r[6]) if r[6] is not None else None
        rows.append(
            (
                r[0], r[1], r[2], r[3], r[4], r[5], signed,
                int(signed[:4]) if signed else None,
                str(r[7]) if r[7] else None, str(r[8]) if r[8] else None,
                float(r[9]) if r[9] is not None else None, r[10], r[11],
                json.dumps(sorted(link["countries"])), json.dumps(regions),
                json.dumps(goals), json.dumps(sorted(link["targets"])),
                json.dumps(sorted(set(link["parties"]))),
            )
        )  # fmt: skip
    out.executemany("insert into agreements values (" + ",".join("?" * 18) + ")", rows)  # noqa: S608 - a fixed count of placeholders
    out.executemany("insert into agreement_parties values (?,?,?,?)", parties)
    out.executescript(
        """
        create index agreements_type on agreements(agreement_type);
        create index agreements_status on agreements(status);
        create index agreements_year on agreements(year);
        create index agreements_domain on agreements(domain_of_change);
        create index agreements_signed on agreements(signed_on);
        create index parties_agreement on agreement_parties(agreement_id);
        create index parties_org on agreement_parties(organization_id);
        create index organizations_type on organizations(org_type);
        create index organizations_group on organizations(stakeholder_group);
        create index organizations_country on organizations(country_code);
        create index organizations_name on organizations(name);
        create virtual table agreements_fts using fts5(
            title, summary, content='agreements', content_rowid='id');
        insert into agreements_fts(rowid, title, summary) select id, title, summary from agreements;
        analyze;
        """
    )
    out.commit()
    out.close()
    return {"agreements": len(rows), "organizations": len(orgs), "parties": len(parties)}


def datasette_metadata(path: Path) -> None:
    path.write_text(
        json.dumps(
            {
                "databases": {
                    DATASETTE_DB: {
                        "tables": {"agreements": {"fts_table": "agreements_fts", "fts_pk": "id"}}
                    }
                }
            }
        )
    )


# --------------------------------------------------------------------------- measuring


def wait_for(port: int, path: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            if bp.fetch(conn, path)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"no answer on port {port} for {path}")


def measure(targets, rounds: int, requests: int, concurrency: int, seed: int):
    """``targets``: {(label, side): (port, path)}. Interleaved rounds, fresh order each round."""
    results = {key: bp.Result(path) for key, (_port, path) in targets.items()}
    rng = random.Random(seed)
    for port, path in targets.values():  # warm-up: templates, page cache, facets
        bp.run_batch(port, bp.Result(path), concurrency, concurrency)
    for number in range(1, rounds + 1):
        order = list(targets)
        rng.shuffle(order)
        for key in order:
            port, _path = targets[key]
            bp.run_batch(port, results[key], requests, concurrency)
        print(f"round {number}/{rounds} done", file=sys.stderr, flush=True)
    return results


def table(results, labels) -> list[dict]:
    out = []
    for label in labels:
        portal, peer = results[(label, "portal")], results[(label, "datasette")]
        out.append(
            {
                "view": label,
                "portal_path": portal.url,
                "datasette_path": peer.url,
                "portal": _figures(portal),
                "datasette": _figures(peer),
                "ratio_req_per_s": round(portal.rps / peer.rps, 2) if peer.rps else None,
            }
        )
    return out


def _figures(r: bp.Result) -> dict:
    return {
        "requests": r.requests,
        "errors": r.errors,
        "req_per_s": round(r.rps, 1),
        "p50_ms": round(r.pct(50), 1),
        "p95_ms": round(r.pct(95), 1),
        "kb": round(r.size / 1024, 1),
    }


def print_table(rows: list[dict], hello: bp.Result, markdown: bool) -> None:
    head = [
        "view",
        "portal req/s",
        "p50",
        "p95 ms",
        "Datasette req/s",
        "p50",
        "p95 ms",
        "portal ÷ Datasette",
        "errors",
    ]
    lines = []
    for row in rows:
        p, d = row["portal"], row["datasette"]
        errors = {**{f"portal {k}": v for k, v in p["errors"].items()}}
        errors.update({f"datasette {k}": v for k, v in d["errors"].items()})
        lines.append(
            [
                row["view"],
                f"{p['req_per_s']:,.1f}",
                f"{p['p50_ms']:,.1f}",
                f"{p['p95_ms']:,.1f}",
                f"{d['req_per_s']:,.1f}",
                f"{d['p50_ms']:,.1f}",
                f"{d['p95_ms']:,.1f}",
                f"×{row['ratio_req_per_s']:.2f}" if row["ratio_req_per_s"] else "—",
                ", ".join(f"{k}: {v}" for k, v in errors.items()) or "0",
            ]
        )
    floor = f"hello (bare Flask, same gunicorn): {hello.rps:,.1f} req/s, p50 {hello.pct(50):.1f} ms"
    if markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
        for line in lines:
            print("| " + " | ".join(line) + " |")
        print(f"\n{floor}")
        return
    widths = [max(len(str(x)) for x in column) for column in zip(head, *lines, strict=False)]
    for line in [head, *lines]:
        print(
            "  ".join(
                str(x).ljust(w) if i == 0 else str(x).rjust(w)
                for i, (x, w) in enumerate(zip(line, widths, strict=True))
            )
        )
    print(floor)


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agreements", type=int, default=10_000)
    parser.add_argument("--partners", type=int, default=None, help="default: agreements ÷ 8")
    parser.add_argument("--db", help="the portal's SQLite file (default: per size, kept)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--concurrency", type=int, default=2, help="client connections")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=15, help="per view per side per round")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    bp.load_average("start")
    record = run(
        args.agreements,
        partners=args.partners,
        db=args.db,
        workers=args.workers,
        concurrency=args.concurrency,
        rounds=args.rounds,
        requests=args.requests,
        seed=args.seed,
        markdown=args.markdown,
    )
    bp.load_average("end")
    if args.json:
        Path(args.json).write_text(json.dumps(record, indent=2))


def run(
    agreements: int,
    *,
    partners: int | None = None,
    db: str | None = None,
    workers: int = 2,
    concurrency: int = 2,
    rounds: int = 3,
    requests: int = 15,
    seed: int = 17,
    markdown: bool = False,
) -> dict:
    """One comparison at one catalogue size (``scripts/bench_pages.py --datasette`` calls this
    for each of its sizes); prints the table and returns the record."""
    datasette = bp.VENV_BIN / "datasette"
    if not datasette.exists():
        raise SystemExit("Datasette is not installed: run `scripts/bootstrap test,bench` first")
    # The catalogue bench_pages builds and keeps (instance/bench_pages-<n>.db).
    database_url = bp.ensure_catalogue(
        agreements, partners, f"sqlite:///{Path(db).resolve()}" if db else None
    )
    db_path = Path(database_url.removeprefix("sqlite:///"))
    have = bp.agreement_count(database_url)

    public_db = db_path.parent / f"bench_datasette-{agreements}" / f"{DATASETTE_DB}.db"
    public_db.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    counts = export_public(database_url, public_db)
    print(
        f"catalogue: {have:,} agreements; public export for Datasette: "
        f"{counts['agreements']:,} agreements, {counts['organizations']:,} organisations, "
        f"{counts['parties']:,} party rows ({time.perf_counter() - started:.0f} s)",
        flush=True,
    )
    metadata = public_db.parent / "metadata.json"
    datasette_metadata(metadata)
    partner = bp.fill_placeholders(["{partner}"], database_url)[0]

    portal_port, peer_port = bp.free_port(), bp.free_port()
    portal = subprocess.Popen(  # noqa: S603
        [
            str(bp.VENV_BIN / "gunicorn"),
            "--workers", str(workers),
            "--bind", f"127.0.0.1:{portal_port}",
            "--chdir", str(ROOT / "scripts"),
            "--log-level", "warning",
            "--timeout", "300",
            "bench_pages:served_app()",
        ],
        env=bp.app_env(database_url),
        cwd=ROOT,
    )  # fmt: skip
    peer = subprocess.Popen(  # noqa: S603
        [
            str(datasette), "serve", str(public_db),
            "--host", "127.0.0.1", "--port", str(peer_port),
            "--metadata", str(metadata),
            "--immutable", str(public_db),
            "--setting", "facet_time_limit_ms", "60000",
            "--setting", "sql_time_limit_ms", "60000",
            "--setting", "default_page_size", "25",
        ],
        cwd=public_db.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(portal_port, bp.HELLO)
        wait_for(peer_port, f"/{DATASETTE_DB}")
        targets = {}
        for label, portal_path, peer_path in VIEWS:
            targets[(label, "portal")] = (portal_port, portal_path.format(partner=partner))
            targets[(label, "datasette")] = (peer_port, peer_path.format(partner=partner))
        targets[("hello", "portal")] = (portal_port, bp.HELLO)
        when = datetime.now(UTC)
        results = measure(targets, rounds, requests, concurrency, seed)
    finally:
        for process in (portal, peer):
            process.terminate()
        for process in (portal, peer):
            process.wait(timeout=30)

    labels = [label for label, _p, _d in VIEWS]
    rows = table(results, labels)
    print(
        f"\n{have:,} agreements ({counts['agreements']:,} public) · portal: gunicorn "
        f"{workers} sync workers · Datasette {_datasette_version(datasette)} (uvicorn) · "
        f"{concurrency} client connections · {rounds} rounds × {requests} "
        f"requests per view and side, interleaved · {bp.machine()} · {when:%Y-%m-%d %H:%M} UTC\n"
    )
    print_table(rows, results[("hello", "portal")], markdown)
    hello = results[("hello", "portal")]
    return {
        "agreements": have,
        "public_agreements": counts["agreements"],
        "workers": workers,
        "concurrency": concurrency,
        "rounds": rounds,
        "requests": requests,
        "machine": bp.machine(),
        "started": when.isoformat(),
        "hello": {"req_per_s": round(hello.rps, 1), "p50_ms": round(hello.pct(50), 1)},
        "views": rows,
    }


def _datasette_version(datasette: Path) -> str:
    out = subprocess.run(  # noqa: S603
        [str(datasette), "--version"], capture_output=True, text=True, check=False
    )
    return out.stdout.strip().rsplit(" ", 1)[-1] or "?"


if __name__ == "__main__":
    main()
