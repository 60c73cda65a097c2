"""Queueing e-mail, and sending it soon after the request that queued it commits.

How mail leaves (the simple, robust path):

1. ``queue_mail`` adds an ``OutgoingMail`` row to the session. Nothing is sent yet, and nothing
   is committed: the row is saved with the change that caused it, or not at all.
2. A session ``after_flush`` listener notes the new row ids; ``after_commit`` hands them to the
   request (``g``). A rollback forgets them.
3. An ``after_request`` hook asks Werkzeug to call the sender when the response is closed, i.e.
   after it has been handed to the client. The sender opens a fresh app context (so a fresh
   database session), and delivers those ids only, bounded by ``MAIL_SEND_LIMIT`` messages and
   ``MAIL_SEND_SECONDS`` seconds. Any error is logged, never raised.
4. Whatever is left (SMTP down, more than the limit, a crash) stays due in the outbox and the
   worker (``flask --app portal mail worker`` or ``mail send``) sends it with backoff.

Sending from an ``after_commit`` listener directly is not possible (no SQL allowed there), and a
mail sent before commit could describe a change that is then rolled back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from flask import Flask, current_app, g, has_request_context
from flask_sqlalchemy.session import Session as FlaskSqlaSession
from sqlalchemy import event

from portal.extensions import db
from portal.notifications.models import OutgoingMail, OutgoingMailAttachment

log = logging.getLogger(__name__)
_PENDING = "portal.new_outgoing_mail_ids"


def queue_mail(
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    category: str = "",
    attachments: Iterable[tuple[str, str, bytes]] = (),
    unsubscribe_url: str | None = None,
) -> OutgoingMail:
    """Add an e-mail to the outbox in the current transaction (never commits).

    ``attachments``: (filename, content type, bytes) — small files only (an .ics), kept with
    the mail until it is sent. ``unsubscribe_url``: for non-essential mail, the signed link
    sent as ``List-Unsubscribe`` (RFC 8058 one-click); None for mail that must always go out.
    """
    mail = OutgoingMail(
        to_address=to.strip(),
        subject=" ".join(str(subject).split())[:300],  # no newlines: header injection
        body_text=text,
        body_html=html,
        category=category[:100],
        unsubscribe_url=unsubscribe_url,
        attachments=[
            OutgoingMailAttachment(filename=name, content_type=ctype, content=content)
            for name, ctype, content in attachments
        ],
    )
    db.session.add(mail)
    return mail


@event.listens_for(FlaskSqlaSession, "after_flush")
def _note_new_mail(session, _flush_context) -> None:
    ids = [obj.id for obj in session.new if isinstance(obj, OutgoingMail)]
    if ids:
        session.info.setdefault(_PENDING, []).extend(ids)


@event.listens_for(FlaskSqlaSession, "after_commit")
def _hand_committed_mail_to_request(session) -> None:
    ids = session.info.pop(_PENDING, None)
    if ids and has_request_context():
        g.setdefault("mail_to_send", []).extend(ids)


@event.listens_for(FlaskSqlaSession, "after_rollback")
def _forget_rolled_back_mail(session) -> None:
    session.info.pop(_PENDING, None)


def deliver_in_fresh_context(app: Flask, ids: list[int]) -> None:
    from portal.notifications.mailer import deliver_due

    with app.app_context():
        try:
            deliver_due(
                limit=int(app.config.get("MAIL_SEND_LIMIT", 20)),
                time_budget=float(app.config.get("MAIL_SEND_SECONDS", 5)),
                only=ids,
            )
        except Exception:  # never let delivery trouble surface anywhere near a user
            db.session.rollback()
            log.exception("Sending mail after the request failed; the worker will retry")


def init_mail(app: Flask) -> None:
    @app.after_request
    def _send_committed_mail(response):
        ids = g.pop("mail_to_send", None)
        if ids and current_app.config.get("MAIL_SEND_AFTER_REQUEST", True):
            real_app = current_app._get_current_object()
            response.call_on_close(lambda: deliver_in_fresh_context(real_app, ids))
        return response
