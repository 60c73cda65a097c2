#!/usr/bin/env python
"""Review benchmark: 8,000 invited reviewers, the invitation job, and 200 concurrent reviewers
posting 20,000 comments over HTTP to gunicorn on PostgreSQL. Not run in CI.

    .venv/bin/python scripts/bench_review.py                        # full size
    .venv/bin/python scripts/bench_review.py --reviewers 2000 --comments 4000 --concurrency 50
    .venv/bin/python scripts/bench_review.py postgresql+psycopg://portal:portal@127.0.0.1:5432/x

The database (default: ``scripts/services/postgres.sh url`` with the database name replaced by
``portal_bench_review``) is DROPPED and re-created: never point it at real data.

What happens, and what is measured:

1. Seed (in this process, not timed as part of any figure): reference data, a staff user,
   organisations in every M49 sub-region, ``--reviewers`` partner users (one bulk INSERT), a
   40-paragraph draft imported from Markdown, published, and a round for "all partners" —
   which queues the invitation job exactly as the staff form does.
2. Invitation job: ``flask --app portal reviews run-jobs`` (the worker), timed → invitations/s.
3. Mail: ``--mail-senders`` parallel ``flask --app portal mail send`` processes deliver the
   queued invitations to a local aiosmtpd server (a separate process that counts messages),
   timed → mails/s. Every queued invitation must arrive.
4. ``gunicorn -w 4 'portal:create_app()'`` on a free loopback port. ``--concurrency`` client
   threads each log one reviewer in through the login form (CSRF token from the form), fetch
   the comment form once for its CSRF token, then post comments through the same form a
   person uses (``POST /reviews/rounds/<id>/comment`` → 302). Latency per post → p50/p95/p99;
   comments/s over the whole phase.
5. Checks: comment rows in the database == successful posts (zero lost), zero 5xx.
   Then one staff XLSX export of the whole comment matrix is timed.

Login throttling is raised for the run (``PORTAL_LOGIN_RATE_LIMIT``): 200 log-ins from one
loopback address in a minute are a benchmark, not an attack.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import platform
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VENV_BIN = Path(sys.executable).parent
BENCH_DB = "portal_bench_review"
PASSWORD = "bench-review-password"  # noqa: S105 - throwaway accounts in a scratch database
SECRET = "bench-review-secret-key"  # noqa: S105
MIXED_TEXT = "请补充数据; يرجى إضافة بيانات"  # comments in several UN languages


# --- helpers ------------------------------------------------------------------------------------


def default_url() -> str:
    out = subprocess.run(  # noqa: S603
        [str(ROOT / "scripts" / "services" / "postgres.sh"), "url"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    parts = urllib.parse.urlsplit(out)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{BENCH_DB}"))


def recreate_database(url: str) -> None:
    import psycopg

    parts = urllib.parse.urlsplit(url.replace("postgresql+psycopg://", "postgresql://"))
    name = parts.path.lstrip("/")
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise SystemExit(f"Refusing odd database name {name!r}")
    admin = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


# --- SMTP sink (separate process, so it never competes with us for the GIL) ---------------------


def _smtp_sink(port: int, counter, ready) -> None:
    from aiosmtpd.controller import Controller

    class Count:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
            with counter.get_lock():
                counter.value += 1
            return "250 OK"

    controller = Controller(Count(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


# --- seeding ------------------------------------------------------------------------------------


def _markdown_draft(paragraphs: int = 40) -> str:
    sections = ["Introduction", "Partnerships", "Regions", "Knowledge", "Advocacy", "Next steps"]
    lines = ["# World Urban Forum background paper (benchmark)", ""]
    n = 0
    for index, heading in enumerate(sections):
        lines += [f"## {'ABCDEF'[index]}. {heading}", ""]
        per = paragraphs // len(sections) + (1 if index < paragraphs % len(sections) else 0)
        for _ in range(per):
            n += 1
            lines += [
                f"{n}. Paragraph {n} of the draft: partners in every region contribute to "
                f"the New Urban Agenda through {heading.lower()} (伙伴关系 {n}; الشراكات {n}).",
                "",
            ]
    return "\n".join(lines)


def seed(url: str, reviewers: int) -> dict:
    from argon2 import PasswordHasher
    from sqlalchemy import insert, select

    from portal import create_app
    from portal.accounts.models import Role, User
    from portal.extensions import db
    from portal.partners.models import STAKEHOLDER_GROUPS, Country, Organization
    from portal.partners.reference import load_reference_data
    from portal.reviews import services
    from portal.reviews.importing import parse_markdown
    from portal.search.registry import get_backend

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET})
    with app.app_context():
        # A throwaway database: create_all matches the models exactly, even before the lead
        # regenerates the migration (production uses `flask db upgrade`).
        db.create_all()
        load_reference_data(db.session)
        get_backend(app).ensure_ready()
        db.session.commit()
        password_hash = PasswordHasher().hash(PASSWORD)  # one hash, shared by every account
        staff = User(email="staff@bench.example", name="Bench Staff", role=Role.STAFF.value)
        staff.password_hash = password_hash
        db.session.add(staff)
        countries = db.session.scalars(
            select(Country).where(Country.region_code.is_not(None)).order_by(Country.code)
        ).all()
        groups = list(STAKEHOLDER_GROUPS)
        org_rows = [
            {
                "name": f"Bench partner {i:04d}",
                "org_type": random.choice(["21", "22", "23", "80", "11", "70"]),  # noqa: S311
                "country_code": countries[i % len(countries)].code,
                "stakeholder_group": groups[i % len(groups)],
                "description": "",
                "is_public": True,
                "created_at": datetime.now(UTC),
                "updated_at": datetime.now(UTC),
            }
            for i in range(max(1, reviewers // 20))
        ]
        db.session.execute(insert(Organization), org_rows)
        org_ids = db.session.scalars(select(Organization.id).order_by(Organization.id)).all()
        now = datetime.now(UTC)
        user_rows = [
            {
                "email": f"reviewer{i:05d}@bench.example",
                "name": f"Reviewer {i:05d}",
                "password_hash": password_hash,
                "role": Role.PARTNER.value,
                "organization_id": org_ids[i % len(org_ids)],
                "active": True,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(reviewers)
        ]
        for start in range(0, len(user_rows), 2000):
            db.session.execute(insert(User), user_rows[start : start + 2000])
        db.session.flush()
        document = services.create_document(
            "World Urban Forum background paper (benchmark)", "", "en", None
        )
        version = services.add_version(
            document,
            parse_markdown(_markdown_draft()),
            source_format="md",
            source_filename="bench.md",
            changelog="Benchmark draft",
            actor=None,
        )
        services.publish_version(version, None)
        round_ = services.open_round(
            version,
            title="Benchmark review round",
            audience_kind="all-partners",
            audience={},
            opens_at=now - timedelta(hours=1),
            closes_at=now + timedelta(days=14),
            timezone="UTC",
            instructions="",
            reviewers_see_each_other=False,
            allow_anonymous=True,
            actor=None,
        )
        db.session.commit()
        anchors = [p.anchor for p in version.paragraphs]
        return {"round_id": round_.id, "anchors": anchors}


# --- processes ----------------------------------------------------------------------------------


def app_env(url: str, smtp_port: int, instance: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "PORTAL_DATABASE_URL": url,
            "PORTAL_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
            "PORTAL_SECRET_KEY": SECRET,
            "PORTAL_INSTANCE_DIR": instance,
            "PORTAL_LOGIN_RATE_LIMIT": "100000 per minute",
            "PORTAL_BASE_URL": "http://127.0.0.1",
            "PORTAL_ENV": "development",
        }
    )
    return env


def flask_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603
        [str(VENV_BIN / "flask"), "--app", "portal", *args],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )


def count_rows(url: str, sql: str) -> int:
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain) as conn:
        return conn.execute(sql).fetchone()[0]


# --- HTTP client --------------------------------------------------------------------------------

_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


class Browser:
    """One reviewer's connection: keeps cookies, reconnects when gunicorn closes the socket."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | None = None):
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in range(3):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A sync worker closed the idle keep-alive socket: reconnect and resend once.
                self.conn.close()
                if attempt == 2:
                    raise
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        if response.getheader("Connection", "").lower() == "close":
            self.conn.close()
        return response.status, data.decode("utf-8", "replace")

    def csrf(self, path: str) -> str:
        status, html = self.request("GET", path)
        found = _CSRF.search(html)
        if status != 200 or not found:
            raise RuntimeError(f"No CSRF token on {path} (HTTP {status})")
        return found.group(1)


@dataclass
class Results:
    latencies: list[float] = field(default_factory=list)
    ok: int = 0
    client_errors: int = 0
    server_errors: int = 0
    other: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def reviewer_thread(
    port: int, index: int, count: int, round_id: int, anchors: list[str], results: Results, barrier
):
    """Log in and fetch the form (untimed), wait for every reviewer, then post ``count``."""
    browser = Browser(port)
    email = f"reviewer{index:05d}@bench.example"
    token = None
    try:
        login_token = browser.csrf("/account/login")
        status, _ = browser.request(
            "POST",
            "/account/login",
            {"csrf_token": login_token, "email": email, "password": PASSWORD},
        )
        if status != 302:
            raise RuntimeError(f"login {email}: HTTP {status}")
        token = browser.csrf(f"/reviews/rounds/{round_id}/comment?p={anchors[0]}")
    except Exception as exc:
        with results.lock:
            results.other.append(f"{type(exc).__name__}: {exc}")
    finally:
        barrier.wait()  # everyone starts posting together, logged in or not
    if token is None:
        return
    rng = random.Random(index)  # noqa: S311
    for i in range(count):
        anchor = rng.choice(anchors)
        form = {
            "csrf_token": token,
            "paragraph": anchor,
            "reply_to": "",
            "quote": "",
            "quote_start": "",
            "quote_end": "",
            "comment_type": rng.choice(["general", "technical", "editorial"]),
            "body": f"Comment {i} from reviewer {index}: please add data ({MIXED_TEXT}).",
            "proposed_change": "Add a table with regional figures." if i % 3 == 0 else "",
        }
        t0 = time.perf_counter()
        try:
            status, body = browser.request("POST", f"/reviews/rounds/{round_id}/comment", form)
        except Exception as exc:  # a dropped connection is a failure to report, not a crash
            with results.lock:
                results.other.append(f"{type(exc).__name__}: {exc}")
            continue
        elapsed = time.perf_counter() - t0
        with results.lock:
            results.latencies.append(elapsed)
            if status == 302:
                results.ok += 1
            elif status >= 500:
                results.server_errors += 1
            else:
                results.client_errors += 1
                if len(results.other) < 20:
                    results.other.append(f"HTTP {status}: {body[:200]!r}")


def wait_for_http(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/account/login")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("gunicorn did not start")


# --- main ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", nargs="?", help="SQLAlchemy URL of a SCRATCH PostgreSQL database")
    parser.add_argument("--reviewers", type=int, default=8000)
    parser.add_argument("--comments", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--mail-senders", type=int, default=2, help="parallel `mail send`")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()
    url = args.url or default_url()
    concurrency = min(args.concurrency, args.reviewers)
    print(f"Database: {url}")
    recreate_database(url)

    t0 = time.perf_counter()
    seeded = seed(url, args.reviewers)
    print(f"Seeded {args.reviewers} reviewers in {time.perf_counter() - t0:.1f}s")

    ctx = multiprocessing.get_context("spawn")
    counter, ready = ctx.Value("i", 0), ctx.Event()
    smtp_port = free_port()
    sink = ctx.Process(target=_smtp_sink, args=(smtp_port, counter, ready), daemon=True)
    sink.start()
    ready.wait(20)
    instance = tempfile.mkdtemp(prefix="bench-review-")
    env = app_env(url, smtp_port, instance)
    report: dict = {
        "date": datetime.now(UTC).date().isoformat(),
        "machine": f"{os.cpu_count()} cores, {platform.platform()}",
        "reviewers": args.reviewers,
    }
    gunicorn = None
    try:
        # 2. The invitation job (the worker): invitation rows + one queued e-mail each.
        t0 = time.perf_counter()
        flask_cli(env, "reviews", "run-jobs")
        job_seconds = time.perf_counter() - t0
        invited = count_rows(url, "select count(*) from review_invitations")
        queued = count_rows(url, "select count(*) from outgoing_mail")
        print(
            f"Invitation job: {invited} invitations, {queued} mails queued in {job_seconds:.1f}s "
            f"({invited / job_seconds:.0f} invitations/s)"
        )

        # 3. Delivery to the local SMTP server: parallel senders, repeated until the outbox is
        # empty (a sender stops early when another one claimed part of its batch).
        t0 = time.perf_counter()
        while True:
            before = counter.value
            senders = [
                subprocess.Popen(  # noqa: S603
                    [str(VENV_BIN / "flask"), "--app", "portal", "mail", "send", "--batch", "200"],
                    env=env,
                    cwd=ROOT,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for _ in range(args.mail_senders)
            ]
            for proc in senders:
                out, err = proc.communicate()
                if proc.returncode:
                    print(out, err, file=sys.stderr)
            unsent = count_rows(url, "select count(*) from outgoing_mail where sent_at is null")
            if unsent == 0 or counter.value == before:
                break
        mail_seconds = time.perf_counter() - t0
        delivered = counter.value
        print(
            f"Mail: {delivered} of {queued} delivered in {mail_seconds:.1f}s "
            f"({delivered / mail_seconds:.0f} mails/s, {args.mail_senders} senders)"
        )
        report.update(
            invitations=invited,
            invitation_job_seconds=round(job_seconds, 2),
            invitations_per_second=round(invited / job_seconds, 1),
            mails_delivered=delivered,
            mails_queued=queued,
            mail_seconds=round(mail_seconds, 2),
            mails_per_second=round(delivered / mail_seconds, 1),
        )

        # 4. Concurrent reviewers over HTTP.
        port = free_port()
        gunicorn = subprocess.Popen(  # noqa: S603
            [
                str(VENV_BIN / "gunicorn"),
                "-w",
                str(args.workers),
                "-b",
                f"127.0.0.1:{port}",
                "--backlog",
                "2048",
                "--timeout",
                "120",
                "portal:create_app()",
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for_http(port)
        results = Results()
        barrier = threading.Barrier(concurrency + 1)
        per_thread = [args.comments // concurrency] * concurrency
        for i in range(args.comments % concurrency):
            per_thread[i] += 1
        threads = [
            threading.Thread(
                target=reviewer_thread,
                args=(port, i, n, seeded["round_id"], seeded["anchors"], results, barrier),
            )
            for i, n in enumerate(per_thread)
        ]
        t0 = time.perf_counter()
        for thread in threads:
            thread.start()
        barrier.wait()  # every reviewer has logged in and holds a form token
        login_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        for thread in threads:
            thread.join()
        post_seconds = time.perf_counter() - t0
        rows = count_rows(url, "select count(*) from review_comments")
        lat = results.latencies
        print(f"Log-ins and form fetches for {concurrency} reviewers: {login_seconds:.1f}s")
        print(
            f"Comments: {results.ok} posted (302), {results.client_errors} 4xx, "
            f"{results.server_errors} 5xx, {len(results.other)} other problems, in "
            f"{post_seconds:.1f}s → {results.ok / post_seconds:.0f} comments/s"
        )
        print(
            f"Latency per post: p50 {percentile(lat, 50) * 1000:.0f} ms, "
            f"p95 {percentile(lat, 95) * 1000:.0f} ms, p99 {percentile(lat, 99) * 1000:.0f} ms, "
            f"mean {statistics.fmean(lat) * 1000 if lat else float('nan'):.0f} ms"
        )
        print(f"Rows in review_comments: {rows} (successful posts: {results.ok})")
        for problem in results.other[:10]:
            print("  ", problem)
        report.update(
            concurrency=concurrency,
            gunicorn_workers=args.workers,
            comments_requested=args.comments,
            comments_posted=results.ok,
            comment_rows=rows,
            http_4xx=results.client_errors,
            http_5xx=results.server_errors,
            other_errors=len(results.other),
            post_seconds=round(post_seconds, 2),
            comments_per_second=round(results.ok / post_seconds, 1),
            p50_ms=round(percentile(lat, 50) * 1000, 1),
            p95_ms=round(percentile(lat, 95) * 1000, 1),
            p99_ms=round(percentile(lat, 99) * 1000, 1),
        )

        # 5. One staff export of the whole matrix.
        staff = Browser(port)
        token = staff.csrf("/account/login")
        staff.request(
            "POST",
            "/account/login",
            {"csrf_token": token, "email": "staff@bench.example", "password": PASSWORD},
        )
        staff_pages = {}
        rid = seeded["round_id"]
        for label, path in (
            ("matrix.xlsx", f"/reviews/rounds/{rid}/matrix.xlsx"),
            ("matrix.csv", f"/reviews/rounds/{rid}/matrix.csv"),
            ("matrix.docx", f"/reviews/rounds/{rid}/matrix.docx"),
            ("comments page", f"/reviews/rounds/{rid}/comments"),
            (
                "comments page, filtered",
                f"/reviews/rounds/{rid}/comments?region=002&status=unanswered",
            ),
            ("round dashboard", f"/reviews/rounds/{rid}/dashboard"),
            ("what we heard, page 1", f"/reviews/rounds/{rid}/heard"),
        ):
            t0 = time.perf_counter()
            status, _ = staff.request("GET", path)
            seconds = time.perf_counter() - t0
            staff_pages[label] = {"status": status, "seconds": round(seconds, 2)}
            print(f"Staff {label} with {rows} comments: HTTP {status} in {seconds:.2f}s")
        report["staff_pages"] = staff_pages
        export_failed = any(v["status"] != 200 for v in staff_pages.values())

        lost = results.ok - rows
        ok = (
            lost == 0
            and results.server_errors == 0
            and not results.other
            and delivered == queued
            and not export_failed
        )
        report["verdict"] = "ok" if ok else "FAILED"
        print(f"Verdict: {report['verdict']} (lost {lost}, 5xx {results.server_errors})")
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2))
        if not ok:
            raise SystemExit(1)
    finally:
        if gunicorn is not None:
            gunicorn.terminate()
            try:
                gunicorn.wait(timeout=20)
            except subprocess.TimeoutExpired:
                gunicorn.kill()
        sink.terminate()


if __name__ == "__main__":
    main()
