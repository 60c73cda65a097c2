"""Notification events: the one place where domains tell people what happened.

A domain use case calls ``notify(recipients, Notice(...))`` after its change is flushed. For
each recipient the person's choice for that kind decides: a mail now (in their language, with
a one-click unsubscribe link), a line in their next daily or weekly digest, or nothing.
``Notice.key`` names the event; each person receives an event once, however often it is
raised (a retried request, two workers, a re-saved identical answer).

Nothing here commits: events and mail are saved with the change that caused them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, select

from portal.accounts.models import User
from portal.core.models import as_utc, utcnow
from portal.extensions import db
from portal.notifications.kinds import DIGESTS, KINDS, Delivery
from portal.notifications.links import absolute_url
from portal.notifications.models import NotificationEvent, NotificationPreference
from portal.notifications.services import queue_mail

# Local hour at which digests go out, in each recipient's own time zone.
DIGEST_HOUR = 7
DIGEST_WEEKDAY = 0  # Monday
DIGEST_KIND = "digest"


@dataclass
class Notice:
    """What happened, for everyone it concerns. ``subject`` and ``summary`` are called inside
    each recipient's locale, so they are translated per person; ``recipient()`` tells them who
    that person is (for their time zone, say)."""

    kind: str
    key: str
    subject: Callable[[], str]
    summary: Callable[[], str]
    template: str  # templates/mail/<template>.txt and .html
    link: str | None = None
    group_key: str = ""
    group_title: str = ""
    context: dict = field(default_factory=dict)
    # Per-recipient attachments (e.g. an .ics naming that attendee): user → [(name, type, bytes)]
    attachments: Callable[[User], list[tuple[str, str, bytes]]] | None = None


_RECIPIENT: ContextVar[User | None] = ContextVar("notice_recipient", default=None)


def recipient() -> User | None:
    """The person a notice's texts are being written for (inside ``notify``), else None."""
    return _RECIPIENT.get()


def delivery_for(user: User, kind: str) -> str:
    pref = db.session.get(NotificationPreference, (user.id, kind))
    return pref.delivery if pref is not None else str(KINDS[kind].default)


def preferences_of(user: User) -> dict[str, str]:
    stored = dict(
        db.session.execute(
            select(NotificationPreference.kind, NotificationPreference.delivery).where(
                NotificationPreference.user_id == user.id
            )
        ).all()
    )
    return {key: stored.get(key, str(kind.default)) for key, kind in KINDS.items()}


def set_preference(user: User, kind: str, delivery: str) -> None:
    if kind not in KINDS or delivery not in {d.value for d in Delivery}:
        raise ValueError(f"unknown notification kind or delivery: {kind!r}, {delivery!r}")
    pref = db.session.get(NotificationPreference, (user.id, kind))
    if pref is None:
        db.session.add(NotificationPreference(user_id=user.id, kind=kind, delivery=delivery))
    else:
        pref.delivery = delivery
    db.session.flush()


def _locale(user: User) -> str:
    return user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]


def notify(recipients: Iterable[User | None], notice: Notice, *, exclude=None) -> int:
    """Raise ``notice`` for each recipient (None, inactive and ``exclude`` — usually the
    person who acted — are skipped). Returns how many were notified now or queued for a
    digest."""
    from portal.consultations.services.mail import link_context

    excluded_id = getattr(exclude, "id", None)
    seen: set[int] = set()
    people = []
    for user in recipients:
        if user is None or user.id in seen or user.id == excluded_id:
            continue
        seen.add(user.id)
        if user.is_active and user.email:
            people.append(user)
    if not people:
        return 0
    already = set(
        db.session.scalars(
            select(NotificationEvent.user_id).where(
                NotificationEvent.dedup_key == notice.key[:200],
                NotificationEvent.user_id.in_([u.id for u in people]),
            )
        )
    )
    count = 0
    with link_context():
        for user in people:
            if user.id in already:
                continue
            delivery = delivery_for(user, notice.kind)
            if delivery == Delivery.NEVER.value:
                continue
            token = _RECIPIENT.set(user)
            try:
                with force_locale(_locale(user)):
                    event = NotificationEvent(
                        user_id=user.id,
                        kind=notice.kind,
                        dedup_key=notice.key[:200],
                        delivery=delivery,
                        group_key=notice.group_key[:100],
                        group_title=notice.group_title[:300],
                        summary=str(notice.summary()),
                        link=notice.link,
                    )
                    if delivery == Delivery.IMMEDIATE.value:
                        event.mail = _queue_notice_mail(user, notice)
                        event.digested_at = utcnow()  # never part of a digest
            finally:
                _RECIPIENT.reset(token)
            db.session.add(event)
            count += 1
    db.session.flush()
    return count


def _queue_notice_mail(user: User, notice: Notice):
    locale = _locale(user)
    unsubscribe = unsubscribe_url(user, notice.kind)
    context = {
        "lang": locale,
        "rtl": locale == "ar",
        "user": user,
        "name": user.name,
        "link": notice.link,
        "unsubscribe": unsubscribe,
        "preferences": absolute_url("notifications.preferences"),
        "kind_label": KINDS[notice.kind].label,
        **notice.context,
    }
    # Texts that must be translated are passed as functions, called in the recipient's locale.
    for key in [k for k in context if k.endswith("_fn")]:
        context[key[:-3]] = context.pop(key)()
    return queue_mail(
        user.email,
        str(notice.subject()),
        render_template(f"mail/{notice.template}.txt", **context),
        html=render_template(f"mail/{notice.template}.html", **context),
        category=f"{notice.kind}:{notice.key}"[:100],
        attachments=notice.attachments(user) if notice.attachments else (),
        unsubscribe_url=unsubscribe,
    )


# --------------------------------------------------------------------------- unsubscribe


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="notification-unsubscribe")


def unsubscribe_token(user: User, kind: str) -> str:
    """Signed (user, kind): works without a session, for as long as the mail is kept."""
    return _serializer().dumps({"u": user.id, "k": kind})


def unsubscribe_url(user: User, kind: str) -> str:
    return absolute_url("notifications.unsubscribe_link", token=unsubscribe_token(user, kind))


def read_unsubscribe_token(token: str) -> tuple[User, str] | None:
    if not token or len(token) > 500:
        return None
    try:
        payload = _serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("u"), int):
        return None
    kind = payload.get("k")
    if kind not in KINDS and kind not in (f"{DIGEST_KIND}:{d}" for d in DIGESTS):
        return None
    user = db.session.get(User, payload["u"])
    if user is None:
        return None
    return user, kind


def kinds_covered(user: User, kind: str) -> list[str]:
    """The kinds an unsubscribe link turns off: its own, or — for a digest's link — every
    kind the person receives in that digest."""
    if kind.startswith(f"{DIGEST_KIND}:"):
        cadence = kind.split(":", 1)[1]
        return [k for k, d in preferences_of(user).items() if d == cadence]
    return [kind]


def unsubscribe(user: User, kind: str) -> list[str]:
    """Turn the link's kinds off. Returns the kinds that were on."""
    turned_off = kinds_covered(user, kind)
    for key in turned_off:
        set_preference(user, key, Delivery.NEVER.value)
    return turned_off


# --------------------------------------------------------------------------- digests


def _zone(user: User):
    from portal.consultations.services.preferences import viewer_timezone
    from portal.consultations.timezones import zone

    return zone(viewer_timezone(user))


def digest_boundary(cadence: str, now: datetime, tz) -> datetime:
    """The latest moment a digest of this cadence became due, in UTC: today's (or, weekly,
    this Monday's) DIGEST_HOUR in the person's zone, or the one before if not reached yet."""
    local = as_utc(now).astimezone(tz)
    boundary = local.replace(hour=DIGEST_HOUR, minute=0, second=0, microsecond=0)
    if cadence == Delivery.WEEKLY.value:
        boundary -= timedelta(days=(local.weekday() - DIGEST_WEEKDAY) % 7)
        if boundary > local:
            boundary -= timedelta(days=7)
    elif boundary > local:
        boundary -= timedelta(days=1)
    return as_utc(boundary.astimezone(as_utc(now).tzinfo))


def send_digests(now: datetime | None = None) -> int:
    """Queue one digest mail per person and cadence whose digest is due: some event waits
    from before the latest digest time (07:00 local; weekly: Monday 07:00). Idempotent:
    events in a digest are marked, and a person gets at most one digest per period."""
    from portal.consultations.services.mail import link_context

    now = now or utcnow()
    pending = db.session.execute(
        select(NotificationEvent.user_id, NotificationEvent.delivery)
        .where(NotificationEvent.digested_at.is_(None), NotificationEvent.delivery.in_(DIGESTS))
        .group_by(NotificationEvent.user_id, NotificationEvent.delivery)
    ).all()
    sent = 0
    with link_context():
        for user_id, cadence in pending:
            user = db.session.get(User, user_id)
            if user is None:
                continue
            tz = _zone(user)
            boundary = digest_boundary(cadence, now, tz)
            oldest = db.session.scalar(
                select(func.min(NotificationEvent.created_at)).where(
                    NotificationEvent.user_id == user.id,
                    NotificationEvent.delivery == cadence,
                    NotificationEvent.digested_at.is_(None),
                )
            )
            if oldest is None or as_utc(oldest) >= boundary:
                continue  # everything waiting happened after the last digest time
            last = db.session.scalar(
                select(func.max(NotificationEvent.digested_at)).where(
                    NotificationEvent.user_id == user.id,
                    NotificationEvent.delivery == cadence,
                    NotificationEvent.mail_id.is_not(None),
                )
            )
            if last is not None and as_utc(last) >= boundary:
                continue  # this period's digest has gone out already
            events = db.session.scalars(
                select(NotificationEvent)
                .where(
                    NotificationEvent.user_id == user.id,
                    NotificationEvent.delivery == cadence,
                    NotificationEvent.digested_at.is_(None),
                )
                .order_by(NotificationEvent.created_at, NotificationEvent.id)
            ).all()
            if not user.is_active or not user.email:
                for event in events:
                    event.digested_at = now
                continue
            mail = _queue_digest(user, cadence, events, tz)
            for event in events:
                event.digested_at = now
                event.mail = mail
            sent += 1
        db.session.flush()
    return sent


def _queue_digest(user: User, cadence: str, events: list[NotificationEvent], tz):
    from babel.dates import format_datetime

    locale = _locale(user)
    groups: dict[str, dict] = {}
    for event in events:
        group = groups.setdefault(event.group_key or "", {"title": event.group_title, "events": []})
        when = as_utc(event.created_at).astimezone(tz)
        group["events"].append(
            {
                "event": event,
                "when": when,
                "when_text": format_datetime(when, "short", tzinfo=tz, locale=locale),
                "link": event.link,
            }
        )
    # Named groups first (in order of their first event), then the ungrouped ones.
    ordered = [g for key, g in groups.items() if key] + [g for key, g in groups.items() if not key]
    unsubscribe = unsubscribe_url(user, f"{DIGEST_KIND}:{cadence}")
    with force_locale(locale):
        if cadence == Delivery.DAILY.value:
            subject = _("Your daily summary: %(n)d update(s)", n=len(events))
        else:
            subject = _("Your weekly summary: %(n)d update(s)", n=len(events))
        context = {
            "lang": locale,
            "rtl": locale == "ar",
            "name": user.name,
            "groups": ordered,
            "cadence": cadence,
            "tz_name": str(tz.key),
            "unsubscribe": unsubscribe,
            "preferences": absolute_url("notifications.preferences"),
        }
        return queue_mail(
            user.email,
            subject,
            render_template("mail/notification_digest.txt", **context),
            html=render_template("mail/notification_digest.html", **context),
            category=f"digest:{cadence}",
            unsubscribe_url=unsubscribe,
        )
