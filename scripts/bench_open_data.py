#!/usr/bin/env python
"""Open-data benchmark: time and peak memory of each /open-data/ file at several catalogue sizes.

    .venv/bin/python scripts/bench_open_data.py                      # 5,000 and 20,000 agreements
    .venv/bin/python scripts/bench_open_data.py --sizes 10000,100000 --files iati,csv
    .venv/bin/python scripts/bench_open_data.py --database-url postgresql+psycopg://…/scratch

Each size gets a fresh database (a temporary SQLite file by default; a PostgreSQL URL is
DROPPED and re-created table by table: use a scratch database) with ``size`` public agreements
(parties, countries, regions, SDG targets) and ``size / 50`` partners, inserted in bulk. Each
file is then requested through the app (Flask test client) and its streamed body read chunk by
chunk, as a WSGI server would send it.

Printed per file and size: seconds, megabytes, rows per second and the peak of Python memory
allocated while the file was produced (``tracemalloc``, started just before the request). The
last column is that peak divided by the peak at the smallest size: a streamed file stays near
1.0 however large the catalogue grows (XLSX too: openpyxl's write-only mode spools rows to disk).
``tracemalloc`` slows Python down about twofold; ``--no-memory`` measures time alone.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FILES = {
    "iati": "/open-data/iati/activities.xml",
    "iati-orgs": "/open-data/iati/organisations.xml",
    "csv": "/open-data/agreements.csv",
    "json": "/open-data/agreements.json",
    "xlsx": "/open-data/agreements.xlsx",
    "partners-csv": "/open-data/partners.csv",
}
CHUNK = 5_000


def seed(size: int) -> None:
    from sqlalchemy import insert, select

    from portal.agreements.models import (
        AGREEMENT_STATUSES,
        AGREEMENT_TYPES,
        Agreement,
        AgreementParty,
        AgreementSdgTarget,
        agreement_countries,
        agreement_regions,
    )
    from portal.extensions import db
    from portal.partners.models import Organization

    partners = max(20, size // 50)
    db.session.execute(
        insert(Organization.__table__),
        [
            {
                "name": f"Partner {i}",
                "org_type": ("10", "22", "40", "80")[i % 4],
                "country_code": ("KE", "EC", "JO", "CN", "FR")[i % 5],
                "is_public": i % 10 != 0,
                "description": "Works on housing and basic services.",
                "website": f"https://partner{i}.example.org/",
            }
            for i in range(partners)
        ],
    )
    org_ids = db.session.scalars(select(Organization.id)).all()
    statuses, types = list(AGREEMENT_STATUSES), list(AGREEMENT_TYPES)
    for first in range(0, size, CHUNK):
        rows = []
        for i in range(first, min(size, first + CHUNK)):
            begin = date(2012, 1, 1) + timedelta(days=i % 5000)
            rows.append(
                {
                    "reference": f"UNH/{begin.year}/BENCH/{i:07d}",
                    "title": f"Upgrading informal settlements, phase {i}",
                    "summary": "Community-led upgrading of water, sanitation and housing.",
                    "agreement_type": types[i % len(types)],
                    "status": statuses[i % len(statuses)],
                    "signed_on": begin,
                    "start_on": begin,
                    "end_on": begin + timedelta(days=730),
                    "amount": Decimal(20_000 + i),
                    "currency": ("USD", "EUR", "KES")[i % 3],
                    "domain_of_change": 1 + i % 4,
                    "visibility": "public",
                }
            )
        db.session.execute(insert(Agreement.__table__), rows)
        ids = db.session.scalars(
            select(Agreement.id)
            .where(Agreement.id > 0)
            .order_by(Agreement.id.desc())
            .limit(len(rows))
        ).all()
        db.session.execute(
            insert(agreement_countries),
            [{"agreement_id": a, "country_code": ("KE", "UG", "EC")[a % 3]} for a in ids],
        )
        db.session.execute(
            insert(agreement_regions), [{"agreement_id": a, "region_code": "014"} for a in ids]
        )
        db.session.execute(
            insert(AgreementSdgTarget.__table__),
            [{"agreement_id": a, "target": t} for a in ids for t in ("11.1", "6.2")],
        )
        db.session.execute(
            insert(AgreementParty.__table__),
            [
                {"agreement_id": a, "organization_id": org_ids[a % len(org_ids)], "role": role}
                for a in ids
                for role in ("implementing", "funding")
            ],
        )
        db.session.commit()


def measure(client, path: str, memory: bool) -> tuple[float, int, float]:
    if memory:
        tracemalloc.start()
    started = time.perf_counter()
    resp = client.get(path, buffered=False)
    size = sum(len(chunk) for chunk in resp.response)
    resp.close()
    seconds = time.perf_counter() - started
    peak = 0.0
    if memory:
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
    return seconds, size, peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="5000,20000", help="agreement counts, comma-separated")
    parser.add_argument("--files", default=",".join(FILES), help=f"any of {', '.join(FILES)}")
    parser.add_argument("--database-url", help="scratch database (default: temporary SQLite)")
    parser.add_argument("--no-memory", action="store_true", help="time only, no tracemalloc")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    files = [f.strip() for f in args.files.split(",")]
    unknown = set(files) - set(FILES)
    if unknown:
        parser.error(f"unknown files: {', '.join(sorted(unknown))}")

    from portal import create_app
    from portal.extensions import db
    from portal.partners.reference import load_reference_data

    results: dict[tuple[str, int], tuple[float, int, float]] = {}
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            url = args.database_url or f"sqlite:///{tmp}/bench.db"
            app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "UPLOAD_DIR": tmp})
            with app.app_context():
                db.drop_all()
                db.create_all()
                load_reference_data(db.session)
                db.session.commit()
                started = time.perf_counter()
                seed(size)
                print(f"{size:>8,} agreements seeded in {time.perf_counter() - started:.1f} s")
                client = app.test_client()
                for name in files:
                    results[(name, size)] = measure(client, FILES[name], not args.no_memory)
                db.session.remove()
                db.drop_all()
                db.engine.dispose()

    print()
    print(f"{'file':<14}{'agreements':>12}{'seconds':>10}{'MB':>9}{'rows/s':>10}", end="")
    print("" if args.no_memory else f"{'peak MB':>10}{'× smallest':>12}")
    for name in files:
        base = results[(name, sizes[0])][2]
        for size in sizes:
            seconds, nbytes, peak = results[(name, size)]
            rows = size if not name.startswith(("partners", "iati-orgs")) else max(20, size // 50)
            line = (
                f"{name:<14}{size:>12,}{seconds:>10.2f}{nbytes / 1e6:>9.1f}{rows / seconds:>10,.0f}"
            )
            if not args.no_memory:
                line += f"{peak:>10.1f}{peak / base if base else 0:>12.2f}"
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
