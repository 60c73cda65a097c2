"""Background jobs of reviews: sending a round's invitations, and deadline reminders.

Opening a round only queues a ``BackgroundJob`` (kind ``review-invitations``); the worker
(``flask --app portal reviews run-jobs [--loop]``) does the work in batches of ``BATCH_SIZE``,
one transaction each: insert the batch's invitations (one multi-row INSERT), queue one e-mail per
reviewer (one multi-row INSERT into the mail outbox), move the progress counter, commit. A crash
loses at most the batch in flight; re-running skips addresses already invited, so nobody gets
two invitations.

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
from sqlalchemy import exists, insert, select, update

from portal.accounts.models import User
from portal.core.models import as_utc, utcnow
from portal.extensions import db
from portal.notifications.links import absolute_url
from portal.notifications.models import NotificationPreference, OutgoingMail, new_message_token
from portal.reviews.audience import resolve_audience
from portal.reviews.models import (
    BackgroundJob,
    Comment,
    ReviewInvitation,
    ReviewRound,
    RoundStatus,
)
from portal.reviews.services import INVITATION_JOB, format_round_time, reader_timezones

log = logging.getLogger(__name__)
BATCH_SIZE = 500
# A job "running" for longer than this without progress was left by a dead worker.
STALE_AFTER = timedelta(minutes=15)


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
    """Take one queued (or abandoned) job. The conditional UPDATE makes the claim atomic, so
    two workers never run the same job."""
    now = utcnow()
    candidates = db.session.scalars(
        select(BackgroundJob)
        .where(
            BackgroundJob.kind == INVITATION_JOB, BackgroundJob.status.in_(("queued", "running"))
        )
        .order_by(BackgroundJob.id)
        .limit(20)
    ).all()
    for job in candidates:
        if (
            job.status == "running"
            and job.started_at
            and as_utc(job.started_at) > now - STALE_AFTER
        ):
            continue
        same_start = (
            BackgroundJob.started_at.is_(None)
            if job.started_at is None
            else BackgroundJob.started_at == job.started_at
        )
        claimed = db.session.execute(
            update(BackgroundJob)
            .where(BackgroundJob.id == job.id, BackgroundJob.status == job.status, same_start)
            .values(status="running", started_at=now)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        if claimed.rowcount == 1:
            db.session.refresh(job)
            return job
    # End the read transaction: an idle worker must not hold locks (or a snapshot) open.
    db.session.rollback()
    return None


def run_pending_jobs(max_jobs: int | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Run queued jobs until none is left (or ``max_jobs`` ran); returns how many ran."""
    ran = 0
    while max_jobs is None or ran < max_jobs:
        job = _claim_next_job()
        if job is None:
            break
        try:
            run_invitation_job(job, batch_size=batch_size)
        except Exception as exc:  # record and keep the worker alive; the job can be re-queued
            db.session.rollback()
            log.exception("Review job %s failed", job.id)
            db.session.execute(
                update(BackgroundJob)
                .where(BackgroundJob.id == job.id)
                .values(status="failed", error=str(exc)[:2000], finished_at=utcnow())
            )
            db.session.commit()
        ran += 1
    return ran


def _mail_rows(
    round_: ReviewRound, batch: list[tuple[int | None, str]], users: dict[int, User], kind: str
) -> list[dict]:
    """Render one e-mail per reviewer (the personal link differs), in their language."""
    document = round_.version.document
    default_locale = current_app.config["BABEL_DEFAULT_LOCALE"]
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
            if kind == "invitation":
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
    round_id = (job.params or {}).get("round_id")
    round_ = db.session.get(ReviewRound, round_id) if round_id else None
    if round_ is None:
        job.status, job.error, job.finished_at = "failed", "round not found", utcnow()
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
        db.session.commit()
    job.status = "done"
    job.finished_at = utcnow()
    db.session.commit()


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
