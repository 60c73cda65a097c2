"""Background jobs of reviews: sending a round's invitations, and deadline reminders.

Opening a round only queues a ``BackgroundJob`` (kind ``review-invitations``) on the job queue
(``JOBS_QUEUE``, portal.core.queue); the worker (``flask --app portal worker`` or ``reviews
run-jobs [--loop]``) claims it — a 15-minute lease, renewed after every batch — and does the work
in batches of ``BATCH_SIZE``, one transaction each: insert the batch's invitations (one multi-row
INSERT), queue one e-mail per reviewer (one multi-row INSERT into the mail outbox), move the
progress counter, renew the lease, commit. A crash loses at most the batch in flight: the lease
runs out and another worker takes the job over; re-running skips addresses already invited, so
nobody gets two invitations. SIGTERM: the batch in hand is finished and the job handed back. A
failing job is retried with the queue's backoff; the third failure is final (``failed``).

Personal links carry a token derived from the round and the address with the app's secret
(HMAC), and only its SHA-256 is stored. Deriving it (rather than storing a random one) lets a
reminder repeat the same personal link and its unsubscribe link without keeping the raw token.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import timedelta

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import exists, func, insert, select, update

from portal.accounts.models import User
from portal.core import queue
from portal.core.models import as_utc, utcnow
from portal.extensions import db
from portal.notifications.links import absolute_url
from portal.notifications.models import NotificationPreference, OutgoingMail, new_message_token
from portal.reviews.audience import resolve_audience
from portal.reviews.forms import JoinForm
from portal.reviews.models import (
    JOBS_QUEUE,
    BackgroundJob,
    Comment,
    ReviewInvitation,
    ReviewRound,
    RoundStatus,
)
from portal.reviews.services import INVITATION_JOB
from portal.reviews.times import format_round_time, reader_timezones

log = logging.getLogger(__name__)
BATCH_SIZE = 500


def invitation_token(round_id: int, email: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, f"review-invitation:{round_id}:{email.lower()}".encode(), hashlib.sha256)
    return digest.hexdigest()[:43]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def find_invitation(token: str) -> ReviewInvitation | None:
    if not token or len(token) > 100:
        return None
    return db.session.scalar(
        select(ReviewInvitation).where(ReviewInvitation.token_hash == token_hash(token))
    )


# --- Claiming and running jobs ---------------------------------------------------------------


def _claim_next_job() -> BackgroundJob | None:
    """Take one due job (queued, retried, or abandoned by a dead worker: its lease ran out)."""
    claimed = queue.claim(
        db.session, JOBS_QUEUE, 1, where=[BackgroundJob.kind == INVITATION_JOB], commit=False
    )
    if not claimed:
        # End the read transaction: an idle worker must not hold locks (or a snapshot) open.
        db.session.rollback()
        return None
    now = utcnow()
    db.session.execute(
        update(BackgroundJob)
        .where(BackgroundJob.id == claimed[0].id)
        .values(status="running", started_at=func.coalesce(BackgroundJob.started_at, now))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return db.session.get(BackgroundJob, claimed[0].id, populate_existing=True)


def run_pending_jobs(max_jobs: int | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Run due jobs until none is left (or ``max_jobs`` ran, or SIGTERM); returns how many ran."""
    from portal.core.worker import stop_requested

    ran = 0
    while (max_jobs is None or ran < max_jobs) and not stop_requested():
        job = _claim_next_job()
        if job is None:
            break
        job_id, attempts = job.id, job.attempts or 0
        try:
            run_invitation_job(job, batch_size=batch_size)
        except Exception as exc:  # record and keep the worker alive; retried with backoff
            db.session.rollback()
            log.exception("Review job %s failed", job_id)
            error = f"{type(exc).__name__}: {exc}"
            dead = queue.fail(db.session, JOBS_QUEUE, [(job_id, attempts)], error)
            values = {"status": "failed", "finished_at": utcnow()} if dead else {"status": "queued"}
            db.session.execute(
                update(BackgroundJob).where(BackgroundJob.id == job_id).values(**values)
            )
            db.session.commit()
        ran += 1
    return ran


def _mail_rows(
    round_: ReviewRound,
    batch: list[tuple[int | None, str]],
    users: dict[int, User],
    kind: str,
    default_locale: str | None = None,
) -> list[dict]:
    """Render one e-mail per reviewer (the personal link differs), in their language
    (``default_locale`` for an address without an account: the portal's default, or the
    language a visitor was reading in when they asked for the link)."""
    document = round_.version.document
    default_locale = default_locale or current_app.config["BABEL_DEFAULT_LOCALE"]
    rows = []
    now = utcnow()
    zones = reader_timezones(uid for uid, _email in batch)
    for user_id, email in batch:
        user = users.get(user_id) if user_id else None
        locale = (user.locale if user else None) or default_locale
        with force_locale(locale):  # the deadline in the reader's words and time zone
            deadline = format_round_time(round_, round_.closes_at, zones.get(user_id))
        token = invitation_token(round_.id, email)
        context = {
            "lang": locale,
            "rtl": locale == "ar",
            "name": user.name if user else None,
            "round": round_,
            "document": document,
            "deadline": deadline,
            "link": absolute_url("reviews.follow_invitation", token=token),
            "unsubscribe": absolute_url("reviews.unsubscribe", token=token),
            "has_account": bool(user and user.password_hash),
        }
        with force_locale(locale):
            if kind == "join":
                # A visitor asked for this link on a public round's page (``joining``).
                invitation = db.session.scalar(
                    select(ReviewInvitation).where(
                        ReviewInvitation.round_id == round_.id, ReviewInvitation.email == email
                    )
                )
                expires = invitation.link_expires_at if invitation is not None else None
                context["expires"] = (
                    format_round_time(round_, expires, zones.get(user_id)) if expires else None
                )
                context["terms"] = str(JoinForm.accept_terms.args[0])
                subject = _("Confirm your address to comment on “%(title)s”", title=document.title)
            elif kind == "invitation":
                subject = _("Invitation to review: %(title)s", title=document.title)
            else:
                subject = _(
                    "Reminder: comments on %(title)s close %(when)s",
                    title=document.title,
                    when=deadline,
                )
            text = render_template(f"mail/review_{kind}.txt", **context)
            html = render_template(f"mail/review_{kind}.html", **context)
        rows.append(
            {
                "to_address": email,
                "subject": " ".join(str(subject).split())[:300],
                "body_text": text,
                "body_html": html,
                "category": f"review-{kind}:{round_.id}",
                # Bulk mail: RFC 8058 one-click unsubscribe (this round's reminders).
                "unsubscribe_url": context["unsubscribe"],
                "message_token": new_message_token(),
                "created_at": now,
                "next_attempt_at": now,
                "attempts": 0,
            }
        )
    return rows


def run_invitation_job(job: BackgroundJob, batch_size: int = BATCH_SIZE) -> None:
    from portal.core.worker import stop_requested

    round_id = (job.params or {}).get("round_id")
    round_ = db.session.get(ReviewRound, round_id) if round_id else None
    if round_ is None:  # nothing a retry could fix: straight to the dead letter
        now = utcnow()
        queue.complete(
            db.session,
            JOBS_QUEUE,
            [job.id],
            status="failed",
            error="round not found",
            finished_at=now,
            dead_at=now,
        )
        db.session.commit()
        return
    recipients = resolve_audience(round_.audience_kind, round_.audience or {})
    already = set(
        db.session.scalars(
            select(ReviewInvitation.email).where(ReviewInvitation.round_id == round_.id)
        )
    )
    to_invite = [(uid, email) for uid, email in recipients if email not in already]
    job.total = len(already) + len(to_invite)
    job.done = len(already)
    db.session.commit()
    for start in range(0, len(to_invite), batch_size):
        batch = to_invite[start : start + batch_size]
        user_ids = [uid for uid, _email in batch if uid]
        users = (
            {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(user_ids)))}
            if user_ids
            else {}
        )
        now = utcnow()
        db.session.execute(
            insert(ReviewInvitation),
            [
                {
                    "round_id": round_.id,
                    "user_id": uid,
                    "email": email,
                    "token_hash": token_hash(invitation_token(round_.id, email)),
                    "created_at": now,
                    "mail_queued_at": now,
                }
                for uid, email in batch
            ],
        )
        db.session.execute(insert(OutgoingMail), _mail_rows(round_, batch, users, "invitation"))
        job.done = len(already) + start + len(batch)
        queue.extend(db.session, JOBS_QUEUE, [job.id])  # the heartbeat: still working
        db.session.commit()
        if stop_requested() and start + batch_size < len(to_invite):
            # SIGTERM: this batch is in; hand the rest back to any worker, at once.
            queue.release(db.session, JOBS_QUEUE, [job.id])
            db.session.commit()
            return
    queue.complete(db.session, JOBS_QUEUE, [job.id], status="done", finished_at=utcnow())
    db.session.commit()
    db.session.refresh(job)


# --- Reminders -------------------------------------------------------------------------------


def send_reminders(now=None, batch_size: int = BATCH_SIZE) -> int:
    """Remind invitees of open rounds closing within the round's ``reminder_days`` who have
    not commented yet and have not unsubscribed. Each invitation is reminded at most once."""
    now = now or utcnow()
    sent = 0
    rounds = db.session.scalars(
        select(ReviewRound).where(
            ReviewRound.status == RoundStatus.OPEN.value,
            ReviewRound.closes_at > now,
            ReviewRound.reminder_days > 0,
        )
    ).all()
    for round_ in rounds:
        if (
            as_utc(round_.closes_at) - timedelta(days=round_.reminder_days) > now
            or as_utc(round_.opens_at) > now
        ):
            continue
        commented = exists().where(
            Comment.round_id == round_.id,
            Comment.author_id.is_not(None),
            Comment.author_id == ReviewInvitation.user_id,
        )
        commented_by_email = exists().where(
            Comment.round_id == round_.id,
            Comment.author_id == User.id,
            User.email == ReviewInvitation.email,
        )
        while True:
            batch = db.session.execute(
                select(ReviewInvitation.id, ReviewInvitation.user_id, ReviewInvitation.email)
                .where(
                    ReviewInvitation.round_id == round_.id,
                    ReviewInvitation.reminded_at.is_(None),
                    ReviewInvitation.unsubscribed_at.is_(None),
                    ~commented,
                    ~commented_by_email,
                )
                .order_by(ReviewInvitation.id)
                .limit(batch_size)
            ).all()
            if not batch:
                break
            user_ids = [uid for _id, uid, _e in batch if uid]
            users = (
                {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(user_ids)))}
                if user_ids
                else {}
            )
            # People with an account who chose no "closing soon" mail are marked, not mailed.
            declined = set(
                db.session.scalars(
                    select(NotificationPreference.user_id).where(
                        NotificationPreference.user_id.in_(list(users)),
                        NotificationPreference.kind == "round-closing",
                        NotificationPreference.delivery == "never",
                    )
                )
            )
            wanted = [(uid, email) for _id, uid, email in batch if uid not in declined]
            if wanted:
                db.session.execute(
                    insert(OutgoingMail), _mail_rows(round_, wanted, users, "reminder")
                )
            db.session.execute(
                update(ReviewInvitation)
                .where(ReviewInvitation.id.in_([i for i, _u, _e in batch]))
                .values(reminded_at=now)
            )
            db.session.commit()
            sent += len(batch)
    return sent
