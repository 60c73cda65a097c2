#!/usr/bin/env python
"""Mail throughput: the portal's outbox against a bare ``smtplib`` loop, same messages, same
SMTP server, same run. Not run in CI.

    .venv/bin/python scripts/bench_mail.py                    # 8,000 messages, 3 repetitions
    .venv/bin/python scripts/bench_mail.py --messages 2000 --repeat 5
    .venv/bin/python scripts/bench_mail.py --database postgresql+psycopg://portal:portal@127.0.0.1:5432/portal_bench_mail

The database (default: a SQLite file in a temporary directory) is emptied and re-created:
never point ``--database`` at real data.

What is measured, per repetition (bare and portal alternate in slices of ``--slice`` messages,
so a change in machine load hits both alike; the figure printed is the median over the
repetitions):

- **bare**: the N messages, fully built and serialised *before* the clock starts, sent with
  ``smtplib.SMTP.sendmail`` in a loop over one connection. Nothing is read from or written to
  a database: this is what the SMTP server and the loopback can take, the physical limit.
- **portal**: the same N messages (same recipients, subjects, text and HTML bodies,
  ``List-Unsubscribe`` link) queued in the outbox (bulk INSERT, not timed), then delivered
  exactly as ``flask --app portal mail send`` does: ``deliver_due`` batches (claim with one
  UPDATE … RETURNING, load, build each MIME message, send over one connection, record the
  batch in one commit) until nothing is due. Only the ``deliver_due`` calls are timed.

The SMTP server is aiosmtpd in a separate process (so it never competes with the sender for
the GIL); it counts messages and distinct Message-IDs, and the run fails unless every portal
message arrived exactly once.

The last line is ``portal X mails/s, bare Y mails/s, ratio Z``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import re
import smtplib
import socket
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SENDER = "Partnership Portal <no-reply@portal.localhost>"
MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- SMTP server (separate process) -------------------------------------------------------------


def _smtp_server(port: int, counter, duplicates, ready) -> None:
    from aiosmtpd.controller import Controller

    seen: set[bytes] = set()

    class Count:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
            match = MESSAGE_ID.search(envelope.original_content or envelope.content)
            key = match.group(1) if match else None
            with counter.get_lock():
                counter.value += 1
                if key is not None:
                    if key in seen:
                        duplicates.value += 1
                    seen.add(key)
            return "250 OK"

    controller = Controller(Count(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


# --- the messages -------------------------------------------------------------------------------


def message_fields(n: int, base_url: str) -> list[dict]:
    """Realistic review invitations: a personal greeting and link, ~1 KB text, ~2 KB HTML."""
    rows = []
    paragraph = (
        "The secretariat invites you to comment on the draft background paper for the World "
        "Urban Forum. Comments are open for three weeks; each paragraph can be commented on, "
        "and every comment receives an answer from the secretariat in the comment matrix. "
    )
    for i in range(n):
        name = f"Reviewer {i:05d}"
        link = f"{base_url}/reviews/r/{i:043d}"
        unsubscribe = f"{base_url}/notifications/unsubscribe/bench{i:06d}"
        text = f"Hello {name},\n\n{paragraph * 3}\n\n{link}\n\nUnsubscribe: {unsubscribe}\n"
        html = (
            '<!doctype html><html lang="en" dir="ltr"><body style="font-family: system-ui">'
            f"<p>Hello {name},</p><p>{paragraph * 3}</p>"
            f'<p><a href="{link}">{link}</a></p>'
            f'<p style="color:#5b6675"><a href="{unsubscribe}">Unsubscribe</a></p>'
            "</body></html>"
        )
        rows.append(
            {
                "to_address": f"reviewer{i:05d}@bench.example",
                "subject": "Invitation to review: World Urban Forum background paper",
                "body_text": text,
                "body_html": html,
                "unsubscribe_url": unsubscribe,
            }
        )
    return rows


def bare_messages(fields: list[dict], run: int) -> list[tuple[str, bytes]]:
    """The same messages, built and serialised up front (not timed)."""
    out = []
    for i, row in enumerate(fields):
        msg = EmailMessage()
        msg["From"] = SENDER
        msg["To"] = row["to_address"]
        msg["Subject"] = row["subject"]
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = f"<bare-{run}-{i}@portal.localhost>"
        msg["Auto-Submitted"] = "auto-generated"
        msg["List-Unsubscribe"] = f"<{row['unsubscribe_url']}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg.set_content(row["body_text"])
        msg.add_alternative(row["body_html"], subtype="html")
        out.append((row["to_address"], msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))))
    return out


def queue_portal(app, fields: list[dict]) -> None:
    """Queue the N messages in the outbox, as the invitation job does (one bulk INSERT)."""
    from sqlalchemy import delete, insert

    from portal.core.models import utcnow
    from portal.extensions import db
    from portal.notifications.models import OutgoingMail, new_message_token

    with app.app_context():
        db.session.execute(delete(OutgoingMail))
        now = utcnow()
        db.session.execute(
            insert(OutgoingMail),
            [
                {
                    **row,
                    "category": "bench",
                    "created_at": now,
                    "next_attempt_at": now,
                    "attempts": 0,
                    "message_token": new_message_token(),
                }
                for row in fields
            ],
        )
        db.session.commit()
        db.session.remove()


def run_once(app, port: int, fields: list[dict], run: int, batch: int, slice_size: int):
    """One repetition: bare and portal alternate in slices of ``slice_size`` messages, so a
    change in machine load hits both alike. Returns (bare seconds, portal seconds)."""
    from sqlalchemy import func, select

    from portal.extensions import db
    from portal.notifications.mailer import deliver_due
    from portal.notifications.models import OutgoingMail

    messages = bare_messages(fields, run)
    queue_portal(app, fields)
    bare_seconds = portal_seconds = 0.0
    conn = smtplib.SMTP("127.0.0.1", port, timeout=30)
    with app.app_context():
        position = 0
        portal_sent = 0
        while position < len(messages) or portal_sent < len(fields):
            chunk = messages[position : position + slice_size]
            started = time.perf_counter()
            for to, data in chunk:
                conn.sendmail("no-reply@portal.localhost", [to], data)
            bare_seconds += time.perf_counter() - started
            position += len(chunk)

            target = min(len(fields), portal_sent + slice_size)
            started = time.perf_counter()
            while portal_sent < target:  # what `flask --app portal mail send` does
                report = deliver_due(limit=target - portal_sent, batch=batch)
                portal_sent += report.sent
                if report.interrupted or not report:
                    break
            portal_seconds += time.perf_counter() - started
            if portal_sent < target:
                raise SystemExit(f"portal run stalled at {portal_sent} of {len(fields)}")
        waiting = db.session.scalar(
            select(func.count(OutgoingMail.id)).where(OutgoingMail.sent_at.is_(None))
        )
        if waiting:
            raise SystemExit(f"portal run left {waiting} message(s) unsent")
        db.session.remove()
    conn.quit()
    return bare_seconds, portal_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=8000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=None, help="deliver_due batch size")
    parser.add_argument(
        "--slice", type=int, default=200, help="messages per bare/portal alternation"
    )
    parser.add_argument("--database", default=None, help="scratch SQLAlchemy URL")
    args = parser.parse_args()

    from portal import create_app
    from portal.extensions import db
    from portal.notifications.mailer import DEFAULT_BATCH

    batch = args.batch or DEFAULT_BATCH
    port = free_port()
    ctx = multiprocessing.get_context("spawn")
    counter, duplicates, ready = ctx.Value("l", 0), ctx.Value("l", 0), ctx.Event()
    server = ctx.Process(target=_smtp_server, args=(port, counter, duplicates, ready), daemon=True)
    server.start()
    if not ready.wait(30):
        raise SystemExit("the SMTP server did not start")

    tmp = tempfile.mkdtemp(prefix="bench-mail-")
    url = args.database or f"sqlite:///{Path(tmp) / 'bench.db'}"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SMTP_URL": f"smtp://127.0.0.1:{port}",
            "MAIL_FROM": SENDER,
            "SECRET_KEY": "bench-mail",
        }
    )
    with app.app_context():
        db.drop_all()
        db.create_all()  # a scratch database: matches the models exactly
    fields = message_fields(args.messages, app.config["BASE_URL"].rstrip("/"))

    print(
        f"bench_mail: {args.messages} messages × {args.repeat} repetitions, batch {batch}, "
        f"{url.split(':', 1)[0]}, "
        f"Python {platform.python_version()}, {os.cpu_count()} CPU(s), "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    bare_rates, portal_rates = [], []
    for run in range(args.repeat):
        before, dup_before = counter.value, duplicates.value
        bare_s, portal_s = run_once(app, port, fields, run, batch, args.slice)
        _wait_count(counter, before + 2 * len(fields))
        arrived = counter.value - before
        if arrived != 2 * len(fields) or duplicates.value != dup_before:
            raise SystemExit(
                f"run {run + 1}: {arrived} of {2 * len(fields)} arrived, "
                f"{duplicates.value - dup_before} duplicate Message-ID(s)"
            )
        bare_rates.append(len(fields) / bare_s)
        portal_rates.append(len(fields) / portal_s)
        print(
            f"  run {run + 1}: bare {bare_rates[-1]:,.0f} mails/s, "
            f"portal {portal_rates[-1]:,.0f} mails/s (all {len(fields)} + {len(fields)} "
            "arrived, each Message-ID once)"
        )
    server.terminate()
    bare = statistics.median(bare_rates)
    portal = statistics.median(portal_rates)
    print(f"portal {portal:.0f} mails/s, bare {bare:.0f} mails/s, ratio {portal / bare:.2f}")


def _wait_count(counter, target: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while counter.value < target and time.monotonic() < deadline:
        time.sleep(0.01)


if __name__ == "__main__":
    main()
