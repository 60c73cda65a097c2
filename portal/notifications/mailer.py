"""SMTP delivery of the outbox.

``deliver_due`` claims due rows one at a time (an UPDATE that only one process can win), sends
them over one SMTP connection, and records success or a retry time. It commits per message, so
a crash half-way never sends a message twice nor loses one.
"""

from __future__ import annotations

import logging
import smtplib
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from urllib.parse import unquote, urlsplit

from flask import current_app
from sqlalchemy import select, update

from portal.core.models import utcnow
from portal.extensions import db
from portal.notifications.models import OutgoingMail

log = logging.getLogger(__name__)

SMTP_TIMEOUT = 10  # seconds per SMTP operation
# A claimed row is hidden from other senders this long; a sender that dies mid-send frees it then.
CLAIM_LEASE = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=1)
FIRST_BACKOFF = timedelta(minutes=1)


@dataclass
class SmtpSettings:
    host: str
    port: int
    mode: str  # "plain", "starttls" or "ssl"
    username: str | None = None
    password: str | None = None


def parse_smtp_url(url: str) -> SmtpSettings:
    """``smtp://[user:pass@]host:port``, ``smtp+starttls://…`` or ``smtps://…`` (implicit TLS)."""
    parts = urlsplit(url)
    modes = {"smtp": "plain", "smtp+starttls": "starttls", "smtps": "ssl", "smtp+ssl": "ssl"}
    if parts.scheme not in modes or not parts.hostname:
        raise ValueError(f"Unsupported SMTP URL: {url!r} (use smtp://host:port)")
    mode = modes[parts.scheme]
    default_port = {"plain": 25, "starttls": 587, "ssl": 465}[mode]
    return SmtpSettings(
        host=parts.hostname,
        port=parts.port or default_port,
        mode=mode,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def open_connection(settings: SmtpSettings, timeout: float = SMTP_TIMEOUT) -> smtplib.SMTP:
    if settings.mode == "ssl":
        conn: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port, timeout=timeout)
    else:
        conn = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
    try:
        if settings.mode == "starttls":
            conn.starttls()
        if settings.username:
            conn.login(settings.username, settings.password or "")
    except BaseException:
        _close_quietly(conn)
        raise
    return conn


def _close_quietly(conn: smtplib.SMTP | None) -> None:
    if conn is None:
        return
    try:
        conn.quit()
    except (smtplib.SMTPException, OSError):
        conn.close()


def build_message(mail: OutgoingMail, sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = mail.to_address
    msg["Subject"] = mail.subject
    msg["Date"] = formatdate(usegmt=True)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "portal.localhost"
    msg["Message-ID"] = make_msgid(idstring=f"mail{mail.id}", domain=domain)
    msg.set_content(mail.body_text)
    if mail.body_html:
        msg.add_alternative(mail.body_html, subtype="html")
    for attachment in mail.attachments:
        ctype, params = _split_content_type(attachment.content_type)
        maintype, _, subtype = ctype.partition("/")
        msg.add_attachment(
            attachment.content,
            maintype=maintype,
            subtype=subtype,
            filename=attachment.filename,
            params=params,
        )
    return msg


def _split_content_type(value: str) -> tuple[str, dict[str, str]]:
    """ "text/calendar; method=PUBLISH" → ("text/calendar", {"method": "PUBLISH"})."""
    ctype, *rest = (part.strip() for part in value.split(";"))
    params = dict(part.split("=", 1) for part in rest if "=" in part)
    return ctype or "application/octet-stream", params


def backoff(attempts: int) -> timedelta:
    """1 min, 2, 4, … capped at an hour, so a long outage costs one try per hour per message."""
    if attempts <= 1:
        return FIRST_BACKOFF
    return min(FIRST_BACKOFF * (2 ** min(attempts - 1, 16)), MAX_BACKOFF)


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.sent or self.failed)


def _claim(mail_id: int, now: datetime) -> bool:
    result = db.session.execute(
        update(OutgoingMail)
        .where(
            OutgoingMail.id == mail_id,
            OutgoingMail.sent_at.is_(None),
            OutgoingMail.next_attempt_at <= now,
        )
        .values(next_attempt_at=now + CLAIM_LEASE)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def due_ids(limit: int, only: list[int] | None = None) -> list[int]:
    stmt = (
        select(OutgoingMail.id)
        .where(OutgoingMail.sent_at.is_(None), OutgoingMail.next_attempt_at <= utcnow())
        .order_by(OutgoingMail.next_attempt_at, OutgoingMail.id)
        .limit(limit)
    )
    if only is not None:
        stmt = stmt.where(OutgoingMail.id.in_(only))
    return list(db.session.scalars(stmt))


def deliver_due(
    limit: int = 100, time_budget: float | None = None, only: list[int] | None = None
) -> DeliveryReport:
    """Send up to ``limit`` due messages (optionally only the given ids) within ``time_budget``
    seconds. Never raises for SMTP trouble: failures are recorded on the row and retried later.

    A connection-level failure (server down, refused, timed out) ends the batch: the next
    message would only fail the same way and make the caller wait again.
    """
    report = DeliveryReport()
    settings = parse_smtp_url(current_app.config["SMTP_URL"])
    sender = current_app.config["MAIL_FROM"]
    deadline = time.monotonic() + time_budget if time_budget is not None else None
    # A hanging server must not hold a request much longer than its budget.
    timeout = min(SMTP_TIMEOUT, max(1.0, time_budget)) if time_budget is not None else SMTP_TIMEOUT
    conn: smtplib.SMTP | None = None
    try:
        for mail_id in due_ids(limit, only):
            if deadline is not None and time.monotonic() > deadline:
                break
            now = utcnow()
            if not _claim(mail_id, now):
                continue  # another sender got it first
            mail = db.session.get(OutgoingMail, mail_id)
            mail.attempts = (mail.attempts or 0) + 1
            connection_failed = False
            try:
                if conn is None:
                    conn = open_connection(settings, timeout)
                conn.send_message(build_message(mail, sender))
            except (
                smtplib.SMTPRecipientsRefused,
                smtplib.SMTPDataError,
                smtplib.SMTPSenderRefused,
            ) as exc:
                error = f"{type(exc).__name__}: {exc}"
            except (smtplib.SMTPException, OSError) as exc:
                error = f"{type(exc).__name__}: {exc}"
                connection_failed = True
            else:
                error = None
            if error is None:
                mail.sent_at = utcnow()
                mail.last_error = None
                report.sent += 1
            else:
                mail.last_error = error[:2000]
                mail.next_attempt_at = utcnow() + backoff(mail.attempts)
                report.failed += 1
                report.errors.append(f"#{mail.id} to {mail.to_address}: {error}")
                log.warning("Mail #%s to %s not sent: %s", mail.id, mail.to_address, error)
            db.session.commit()
            if connection_failed:
                _close_quietly(conn)
                conn = None
                break
    finally:
        _close_quietly(conn)
    return report
