#!/usr/bin/env python3
"""The multi-node test (issue 16): two web nodes and two workers sharing PostgreSQL, Redis,
an S3-compatible store and Elasticsearch, set up the way docs/deployment.md says; reviewers
post comments and staff upload documents through both nodes while one node and one worker are
killed with SIGKILL and restarted. Then it counts what was lost.

    .venv/bin/python scripts/test_cluster.py            # scripts/test runs it after pytest

The shared servers must be running (scripts/test starts them; or `scripts/services/<name>.sh
start` for postgres, redis, elasticsearch and s3). The run uses its own database, search index
prefix, bucket and rate-limit key prefix, removed at the end, so it can share the servers with
anything else. Mail goes to an SMTP catcher inside this script, which counts every message.

Prints: requests accepted, comments stored, comments indexed, invitation mails and duplicate
mails, uploads readable from both nodes, login throttling across nodes, lost items. Exits 1 on
any loss, any duplicate mail, or a throttle that counts per node.
"""

# ruff: noqa: S603, S310 - runs our own programs and requests our own loopback nodes
from __future__ import annotations

import argparse
import hashlib
import http.cookiejar
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv" / "bin"
SERVICES = ROOT / "scripts" / "services"
PASSWORD = "cluster test password 2026"  # noqa: S105 - accounts of a throw-away database
LOGIN_LIMIT = 6  # per client address per hour, across every node
# When a dead worker's claim is free again (PORTAL_QUEUE_LEASE_SECONDS; production default 5
# min): shorter here so the run does not wait out 5 minutes, long enough for any batch.
QUEUE_LEASE_SECONDS = 45


def say(message: str) -> None:
    print(f"[cluster {time.strftime('%H:%M:%S')}] {message}", flush=True)


def service(name: str, command: str) -> str:
    out = subprocess.run(
        [str(SERVICES / f"{name}.sh"), command], capture_output=True, text=True, cwd=ROOT
    )
    if out.returncode != 0:
        sys.exit(
            f"{name} is not running ({out.stdout.strip() or out.stderr.strip()}); start it "
            f"with scripts/services/{name}.sh start (scripts/test does)."
        )
    return out.stdout.strip()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- the mail catcher


class MailCatcher:
    """An SMTP server that keeps (recipient, subject) of every message it accepts."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.received: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        catcher = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802
                import email

                message = email.message_from_bytes(envelope.content)
                with catcher.lock:
                    for rcpt in envelope.rcpt_tos:
                        catcher.received.append((rcpt.lower(), str(message["Subject"])))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    def to(self, addresses: set[str]) -> Counter:
        with self.lock:
            return Counter(r for r, _s in self.received if r in addresses)


# --------------------------------------------------------------------------- an HTTP client


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class NodeDown(Exception):
    """The connection was refused: the request never reached a node."""


class Browser:
    """One person's cookies, sent to whichever node; X-Forwarded-For as nginx would add it."""

    def __init__(self, address: str):
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirect()
        )
        self.address = address

    def request(self, url: str, data: bytes | None = None, content_type: str | None = None):
        headers = {"X-Forwarded-For": self.address, "X-Request-ID": secrets.token_hex(8)}
        if content_type:
            headers["Content-Type"] = content_type
        req = urllib.request.Request(url, data=data, headers=headers)
        try:
            with self.opener.open(req, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()
        except urllib.error.URLError as err:
            if isinstance(err.reason, ConnectionRefusedError):
                raise NodeDown(url) from err
            raise

    def csrf(self, url: str) -> str:
        status, body = self.request(url)
        match = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', body)
        if status != 200 or not match:
            raise RuntimeError(f"GET {url}: {status}, no form")
        return match.group(1).decode()

    def post_form(self, url: str, fields: dict[str, str], form_url: str | None = None):
        fields = {"csrf_token": self.csrf(form_url or url), **fields}
        data = urllib.parse.urlencode(fields).encode()
        return self.request(url, data, "application/x-www-form-urlencoded")

    def post_file(self, url: str, fields: dict[str, str], name: str, content: bytes):
        fields = {"csrf_token": self.csrf(url), **fields}
        boundary = secrets.token_hex(16)
        parts = []
        for key, value in fields.items():
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'
                f"{value}\r\n".encode()
            )
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: application/pdf\r\n\r\n".encode()
            + content
            + b"\r\n"
        )
        parts.append(f"--{boundary}--\r\n".encode())
        return self.request(url, b"".join(parts), f"multipart/form-data; boundary={boundary}")

    def login(self, node: str, email: str, password: str = PASSWORD) -> int:
        status, _ = self.post_form(f"{node}/account/login", {"email": email, "password": password})
        return status


# --------------------------------------------------------------------------- processes


class Proc:
    """A web node or a worker: its own process group, so SIGKILL takes all its processes."""

    def __init__(self, name: str, argv: list[str], env: dict, log: Path):
        self.name, self.argv, self.env, self.log = name, argv, env, log
        self.popen: subprocess.Popen | None = None

    def start(self) -> None:
        out = open(self.log, "ab")  # noqa: SIM115 - owned by the child
        self.popen = subprocess.Popen(
            self.argv, env=self.env, cwd=ROOT, stdout=out, stderr=out, start_new_session=True
        )

    def kill(self) -> None:
        if self.popen and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()

    def stop(self) -> None:
        if self.popen and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_ready(node: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{node}/readyz", timeout=5) as r:  # noqa: S310
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{node} did not become ready in {timeout:.0f}s")


def flask(env: dict, *args: str) -> str:
    out = subprocess.run(
        [str(VENV / "flask"), "--app", "portal", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        sys.exit(f"flask {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    return out.stdout


SEED = r"""
import json, sys
from datetime import UTC, datetime, timedelta
from portal import create_app
from portal.core.transaction import committing
from portal.extensions import db
from portal.accounts.models import Role, User
from portal.reviews import services
from tests import factories

spec = json.loads(sys.argv[1])
app = create_app()
with app.app_context(), committing():
    def user(email, role=Role.PARTNER):
        u = User(email=email, name=email.split("@")[0], role=str(role), active=True)
        u.set_password(spec["password"])
        db.session.add(u)
        return u
    staff = user(spec["staff"], Role.STAFF)
    reviewers = [user(e) for e in spec["reviewers"]]
    invitees = [user(e) for e in spec["invitees"]]
    db.session.flush()
    org = factories.make_org("Cluster Test Partner")
    agreement = factories.make_agreement("Cluster test agreement", parties=[org])
    version = factories.make_review_version(
        [f"Paragraph {i} of the cluster test draft." for i in range(1, 9)]
    )
    round_ = factories.make_review_round(version, invited=reviewers, title="Cluster comments")
    now = datetime.now(UTC)
    invite_round = services.open_round(
        version, title="Cluster invitations", audience_kind="emails",
        audience={"emails": spec["invitees"]}, opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(days=7), timezone="UTC", instructions="",
        reviewers_see_each_other=False, allow_anonymous=False, actor=staff,
    )
    db.session.flush()
    out = {"round": round_.id, "agreement": agreement.id,
           "anchors": [p.anchor for p in version.paragraphs]}
print(json.dumps(out))
"""


# --------------------------------------------------------------------------- the run


@dataclass
class Tally:
    accepted_comments: dict[str, str] = field(default_factory=dict)  # marker → reviewer
    accepted_uploads: dict[str, str] = field(default_factory=dict)  # title → sha256
    refused_node_down: int = 0  # connection refused: never reached a node (retried elsewhere)
    in_doubt: int = 0  # the node died with the request in flight: no answer either way
    rejected: Counter = field(default_factory=Counter)  # other statuses
    lock: threading.Lock = field(default_factory=threading.Lock)


def reviewer_load(i, email, nodes, spec, tally: Tally, progress: threading.Event, run_id):
    browser = Browser(f"198.51.100.{10 + i}")
    node = nodes[i % 2]
    for attempt in range(20):
        try:
            if browser.login(node, email) in (302, 303):
                break
        except NodeDown:
            pass
        node = nodes[(i + attempt + 1) % 2]
        time.sleep(0.5)
    for k in range(spec["comments"]):
        marker = f"{run_id}-r{i}-c{k}"
        anchor = spec["anchors"][(i + k) % len(spec["anchors"])]
        url_path = f"/reviews/rounds/{spec['round']}/comment?p={anchor}"
        for hop in range(10):
            node = nodes[(i + k + hop) % 2]
            try:
                status, _ = browser.post_form(
                    f"{node}{url_path}",
                    {"body": f"Comment {marker}", "comment_type": "general", "paragraph": anchor},
                )
            except NodeDown:
                with tally.lock:
                    tally.refused_node_down += 1
                time.sleep(0.3)
                continue  # nothing reached the node: safe to send to the other one
            except (OSError, urllib.error.URLError, RuntimeError):
                with tally.lock:
                    tally.in_doubt += 1
                break
            with tally.lock:
                if status in (302, 303):
                    tally.accepted_comments[marker] = email
                else:
                    tally.rejected[f"comment {status}"] += 1
            break
        progress.set()


def staff_uploads(nodes, spec, tally: Tally, run_id):
    browser = Browser("198.51.100.250")
    for attempt in range(20):
        try:
            if browser.login(nodes[attempt % 2], spec["staff"]) in (302, 303):
                break
        except NodeDown:
            time.sleep(0.5)
    for j in range(spec["uploads"]):
        content = b"%PDF-1.4\n" + os.urandom(200_000 + j * 1000) + b"\n%%EOF\n"
        title = f"{run_id} upload {j}"
        for hop in range(10):
            node = nodes[(j + hop) % 2]
            try:
                status, _ = browser.post_file(
                    f"{node}/agreements/{spec['agreement']}/documents/new",
                    {"title": title},
                    f"upload-{j}.pdf",
                    content,
                )
            except NodeDown:
                with tally.lock:
                    tally.refused_node_down += 1
                time.sleep(0.3)
                continue
            except (OSError, urllib.error.URLError, RuntimeError):
                with tally.lock:
                    tally.in_doubt += 1
                break
            with tally.lock:
                if status in (302, 303):
                    tally.accepted_uploads[title] = hashlib.sha256(content).hexdigest()
                else:
                    tally.rejected[f"upload {status}"] += 1
            break


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reviewers", type=int, default=12)
    parser.add_argument("--comments", type=int, default=8, help="per reviewer")
    parser.add_argument("--uploads", type=int, default=12)
    parser.add_argument("--invitees", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep the work directory and data")
    args = parser.parse_args()
    started = time.monotonic()
    run_id = f"cluster{os.getpid()}x{secrets.token_hex(2)}"
    work = Path(tempfile.mkdtemp(prefix=f"portal-{run_id}-"))
    say(f"run {run_id}; logs in {work}")

    # --- the shared servers (docs/deployment.md §1–3 and "S3"), each with this run's names
    pg_base = service("postgres", "url")
    db_name = f"portal_{run_id}"
    import psycopg

    admin_url = pg_base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE \"{db_name}\" TEMPLATE template0 ENCODING 'UTF8'")
    db_url = pg_base.rsplit("/", 1)[0] + f"/{db_name}"
    with psycopg.connect(db_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        conn.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    redis_url = service("redis", "url")
    es_url = service("elasticsearch", "url")
    s3_env = dict(
        re.findall(r"export (\w+)='([^']*)'", service("s3", "env"))
    )  # PORTAL_STORAGE_URL and its keys
    from portal.storage import storage_from_url

    base_storage = storage_from_url(s3_env["PORTAL_STORAGE_URL"])
    bucket = run_id.lower()
    storage_url = f"s3://{bucket}?endpoint={base_storage.endpoint}&region={base_storage.region}"
    storage = storage_from_url(
        storage_url,
        access_key_id=s3_env["PORTAL_STORAGE_ACCESS_KEY_ID"],
        secret_access_key=s3_env["PORTAL_STORAGE_SECRET_ACCESS_KEY"],
    )
    storage.client().create_bucket(Bucket=bucket)
    mail = MailCatcher()

    # --- /etc/portal/portal.env, as in docs/deployment.md §4 (loopback addresses)
    ports = [free_port(), free_port()]
    nodes = [f"http://127.0.0.1:{p}" for p in ports]
    portal_env = {
        "PORTAL_ENV": "production",
        "PORTAL_SECRET_KEY": secrets.token_hex(32),
        "PORTAL_DATABASE_URL": db_url,
        "PORTAL_SEARCH_URL": es_url,
        "PORTAL_SEARCH_INDEX_PREFIX": run_id,
        "PORTAL_RATELIMIT_STORAGE_URI": redis_url,
        "PORTAL_RATELIMIT_KEY_PREFIX": run_id,
        "PORTAL_LOGIN_RATE_LIMIT": f"{LOGIN_LIMIT} per hour",
        "PORTAL_STORAGE_URL": storage_url,
        "PORTAL_STORAGE_ACCESS_KEY_ID": s3_env["PORTAL_STORAGE_ACCESS_KEY_ID"],
        "PORTAL_STORAGE_SECRET_ACCESS_KEY": s3_env["PORTAL_STORAGE_SECRET_ACCESS_KEY"],
        "PORTAL_SMTP_URL": f"smtp://127.0.0.1:{mail.port}",
        "PORTAL_MAIL_FROM": "Partnership Portal <no-reply@portal.example.org>",
        "PORTAL_BASE_URL": nodes[0],
        "PORTAL_INSTANCE_DIR": str(work / "instance"),
        "PORTAL_TRUSTED_PROXIES": "1",
        "PORTAL_LOG_FORMAT": "json",
        "PORTAL_WEB_WORKERS": "1",  # one process per node: the test machine has 2 CPUs
        "PORTAL_QUEUE_LEASE_SECONDS": str(QUEUE_LEASE_SECONDS),
        # The one difference from production: plain http on loopback, no TLS proxy in front,
        # so the session cookie may not be marked Secure (a browser would not send it back).
        "PORTAL_SECURE_COOKIES": "0",
        "PORTAL_HSTS": "0",
    }
    (work / "portal.env").write_text("".join(f"{k}={v}\n" for k, v in portal_env.items()))
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env = {**base_env, **portal_env, "PYTHONPATH": str(ROOT)}

    procs: list[Proc] = []
    try:
        # --- §1 migrations once, §2 the index once, §S3 the storage answers
        say("flask db upgrade; flask search rebuild; flask storage status")
        flask(env, "db", "upgrade")
        flask(env, "search", "rebuild")
        say(flask(env, "storage", "status").strip().replace("\n", "; "))

        reviewers = [f"reviewer{i}@cluster.example.org" for i in range(args.reviewers)]
        invitees = [f"invitee{i}@cluster.example.org" for i in range(args.invitees)]
        spec = {
            "password": PASSWORD,
            "staff": "staff@cluster.example.org",
            "reviewers": reviewers,
            "invitees": invitees,
        }
        seeded = subprocess.run(
            [str(VENV / "python"), "-c", SEED, json.dumps(spec)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if seeded.returncode != 0:
            sys.exit(f"seeding failed:\n{seeded.stderr}")
        spec.update(json.loads(seeded.stdout.strip().splitlines()[-1]))
        spec.update(comments=args.comments, uploads=args.uploads)

        # --- §4 two web nodes, §5 two workers
        for n, port in enumerate(ports, 1):
            node_env = {
                **env,
                "PORTAL_BIND": f"127.0.0.1:{port}",
                "PROMETHEUS_MULTIPROC_DIR": str(work / f"metrics-web{n}"),
            }
            procs.append(
                Proc(
                    f"web{n}",
                    [
                        str(VENV / "gunicorn"),
                        "-c",
                        "python:portal.ops.gunicorn_conf",
                        "portal:create_app()",
                    ],
                    node_env,
                    work / f"web{n}.log",
                )
            )
        for n in (1, 2):
            procs.append(
                Proc(
                    f"worker{n}",
                    [str(VENV / "flask"), "--app", "portal", "worker", "--interval", "1"],
                    env,
                    work / f"worker{n}.log",
                )
            )
        web1, web2, worker1, worker2 = procs
        for proc in procs:
            proc.start()
        for node in nodes:
            wait_ready(node)
        say(f"2 web nodes ready ({', '.join(nodes)}), 2 workers running")

        # --- the load, with one node and one worker killed mid-run
        tally = Tally()
        progress = threading.Event()
        threads = [
            threading.Thread(
                target=reviewer_load,
                args=(i, email, nodes, spec, tally, progress, run_id),
                daemon=True,
            )
            for i, email in enumerate(reviewers)
        ]
        threads.append(
            threading.Thread(target=staff_uploads, args=(nodes, spec, tally, run_id), daemon=True)
        )
        for t in threads:
            t.start()
        target = args.reviewers * args.comments // 3
        deadline = time.monotonic() + 60
        while len(tally.accepted_comments) < target and time.monotonic() < deadline:
            time.sleep(0.1)
        say(f"{len(tally.accepted_comments)} comments accepted: SIGKILL web1 and worker1")
        web1.kill()
        worker1.kill()
        killed_at = time.monotonic()
        time.sleep(3)
        web1.start()
        worker1.start()
        wait_ready(nodes[0])
        say("web1 and worker1 restarted")
        for t in threads:
            t.join(timeout=120)

        # --- login throttling: one address, attempts alternating between the nodes
        attacker = Browser("203.0.113.66")
        codes = []
        for a in range(LOGIN_LIMIT + 4):
            codes.append(
                attacker.login(nodes[a % 2], "nobody@cluster.example.org", "wrong password")
            )
        allowed = sum(1 for c in codes if c != 429)
        throttled_across = allowed == LOGIN_LIMIT and codes[LOGIN_LIMIT:] == [429] * 4

        # --- wait for the workers: every stored comment indexed, every invitation mailed
        # A killed process's claimed queue rows come back when their lease runs out (the job
        # queue's 5 minutes): wait that long after the kill if something is still missing.
        lease_end = killed_at + QUEUE_LEASE_SECONDS + 30 - time.monotonic()
        result = settle(env, spec, tally, mail, set(invitees), run_id, timeout=max(90, lease_end))

        # --- every accepted upload, from both nodes
        staff = Browser("198.51.100.251")
        staff.login(nodes[1], spec["staff"])
        readable = 0
        for doc_id, title in result["uploads"]:
            digests = set()
            for node in nodes:
                status, body = staff.request(
                    f"{node}/agreements/{spec['agreement']}/documents/{doc_id}"
                )
                digests.add(hashlib.sha256(body).hexdigest() if status == 200 else None)
            if digests == {tally.accepted_uploads.get(title)}:
                readable += 1
        accepted_uploads = len(tally.accepted_uploads)
        stored_titles = {t for _i, t in result["uploads"]}
        lost_uploads = len(set(tally.accepted_uploads) - stored_titles) + (
            len(stored_titles & set(tally.accepted_uploads)) - readable
        )

        accepted = len(tally.accepted_comments) + accepted_uploads
        lost = (
            result["lost_comments"]
            + result["not_indexed"]
            + lost_uploads
            + result["invitees_without_mail"]
        )
        print()
        print(f"requests accepted: {accepted}")
        print(f"  comments accepted: {len(tally.accepted_comments)}")
        print(f"  uploads accepted: {accepted_uploads}")
        print(
            f"  refused while a node was down (sent to the other node): {tally.refused_node_down}"
        )
        print(f"  in flight when a node died (no answer): {tally.in_doubt}")
        if tally.rejected:
            print(f"  rejected: {dict(tally.rejected)}")
        print(f"comments stored: {result['stored']} (duplicates: {result['duplicate_comments']})")
        print(f"comments indexed: {result['indexed']}")
        print(f"invitation mails: {result['mailed']} of {len(invitees)} invitees")
        print(f"duplicate mails: {result['duplicate_mails']}")
        print(f"uploads readable from both nodes: {readable} of {accepted_uploads}")
        print(
            f"login throttling counted across nodes: {'yes' if throttled_across else 'NO'} "
            f"({allowed} attempts let through of {len(codes)}, limit {LOGIN_LIMIT} per address)"
        )
        print(f"lost items: {lost}")
        print(f"elapsed: {time.monotonic() - started:.0f}s")
        failed = (
            lost
            or result["duplicate_mails"]
            or result["duplicate_comments"]
            or not throttled_across
            or not tally.accepted_comments
            or not accepted_uploads
        )
        print("cluster test: " + ("FAILED" if failed else "passed"))
        return 1 if failed else 0
    finally:
        for proc in procs:
            proc.stop()
        mail.stop()
        cleanup(storage, bucket, admin_url, db_name, es_url, run_id, work, args.keep)


def settle(env, spec, tally: Tally, mail: MailCatcher, invitees: set, run_id, timeout):
    """Poll until the queues have done their work (or the timeout): read the outcome from the
    database, the index and the mail catcher — not from queue tables, whose shape may change."""
    import sqlalchemy as sa
    from elasticsearch import Elasticsearch

    engine = sa.create_engine(env["PORTAL_DATABASE_URL"])
    es = Elasticsearch(env["PORTAL_SEARCH_URL"].split("+", 1)[1])
    alias = f"{run_id}-docs"
    deadline = time.monotonic() + timeout
    while True:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT id, body FROM review_comments WHERE round_id = :r"),
                {"r": spec["round"]},
            ).all()
            uploads = conn.execute(
                sa.text("SELECT id, title FROM agreement_documents WHERE agreement_id = :a"),
                {"a": spec["agreement"]},
            ).all()
        markers = Counter(b.removeprefix("Comment ") for _i, b in rows)
        ids = [i for i, _b in rows]
        indexed = 0
        if ids:
            found = es.mget(index=alias, ids=[f"comment:{i}" for i in ids])
            indexed = sum(1 for d in found["docs"] if d.get("found"))
        mails = mail.to(invitees)
        done = indexed == len(ids) and set(mails) == invitees
        if done or time.monotonic() > deadline:
            break
        time.sleep(1)
    engine.dispose()
    stored = sum(1 for m in tally.accepted_comments if markers.get(m))
    return {
        "stored": len(rows),
        "lost_comments": len(tally.accepted_comments) - stored,
        "duplicate_comments": sum(c - 1 for c in markers.values() if c > 1),
        "indexed": indexed,
        "not_indexed": len(ids) - indexed,
        "mailed": len(mails),
        "duplicate_mails": sum(c - 1 for c in mails.values() if c > 1),
        "invitees_without_mail": len(invitees - set(mails)),
        "uploads": [(i, t) for i, t in uploads],
    }


def cleanup(storage, bucket, admin_url, db_name, es_url, run_id, work, keep):
    if keep:
        say(f"kept: database {db_name}, bucket {bucket}, index {run_id}-docs, {work}")
        return
    try:
        for name in list(storage.names()):
            storage.delete(name)
        storage.client().delete_bucket(Bucket=bucket)
    except Exception as err:  # noqa: BLE001 - best effort
        say(f"could not remove bucket {bucket}: {err}")
    try:
        from elasticsearch import Elasticsearch

        es = Elasticsearch(es_url.split("+", 1)[1])
        for name in es.indices.get(index=f"{run_id}-docs*"):  # by name: no wildcard delete
            es.indices.delete(index=name)
    except Exception as err:  # noqa: BLE001
        say(f"could not remove index {run_id}-docs: {err}")
    try:
        import psycopg

        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
    except Exception as err:  # noqa: BLE001
        say(f"could not drop database {db_name}: {err}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
