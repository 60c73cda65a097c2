"""Demo consultations and reviews for ``flask seed-demo``.

What it builds (content in engagement_data.py):

- the public **Stakeholder Advisory Group** (12 member accounts ``member1@example.org`` …
  ``member12@example.org``, password ``demo-password-2026``, plus the demo staff user as
  secretariat and the demo partner and reviewer as members) and a private **World Urban Forum
  preparatory working group**;
- six **held monthly meetings** with agendas, invitations and RSVPs, an attendance register,
  published minutes (one in French, one with a Chinese passage) and recommendations / action
  items with owners, due dates, statuses and progress notes; two **upcoming meetings** (one
  hybrid with a capacity and a waiting list) with invitations and answers;
- the seed report **HSP/EB.2022/8** imported as a draft (portal/demo/seed_report.py) under an
  **open review round** for the advisory group, with ~30 comments, half of them answered;
- the **World Urban Forum background paper**: a closed round on version 1 with every comment
  answered, and version 2 published with the comments carried over ("what we heard").

Dates. The content is written against the demo's fixed "today" (``seed.TODAY``); at seed time
the whole record moves by whole months (``align_calendar``) so that the monthly series has no
gap: the two upcoming meetings fall on the next two second Thursdays after the real date, the
last held meeting on the month before, and every fixed date of the content (due dates, progress
notes) moves with it. The open review round closes three weeks after seeding, and two action
items are due on the upcoming meetings' dates. Items due on past dates and still open therefore
show as overdue, as intended.

Services. Everything goes through the domain services (they validate), as the demo staff user
or, where the rule is about the person (RSVP, progress notes, comments, the chair's approval
of minutes), as that person. Services stamp the real time; afterwards ``_stamp`` back-dates the
timestamps (created, answered, recorded, approved, published) to the meeting's or round's own
calendar with plain UPDATEs, so histories read in order. Two things the services cannot do for
past events are written directly: invitations to meetings that have already taken place (the
invite service refuses ended meetings), and review-round invitations (the invitation job would
e-mail everyone).

No e-mail. Demo addresses are made up, so nothing may wait in the mail outbox: while seeding,
``mail_suppressed`` drops every ``OutgoingMail`` the services queue before it is flushed, the
review invitation job is marked done without running, and demo meetings and rounds have
reminders switched off (``reminder_days = 0``; staff may switch them on).

Search. Minutes, agenda items, outcomes, paragraphs and comments reach the search outbox through
the normal flush listeners (``search_docs`` change trackers); the paragraph rows are queued when
the version is published. ``scripts/run`` then runs ``search check || search rebuild``.

Idempotence. Member users are matched on e-mail, groups on name, memberships on (group, user),
meetings on (group, title) and documents on title; a meeting or a document is built whole or
not at all, so running seed-demo again adds nothing and ``--force`` adds only what is missing.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import event, func, insert, select, update

from portal.accounts.models import Role, User
from portal.consultations import records_services as records
from portal.consultations import services as consult
from portal.consultations.models import (
    AdvisoryGroup,
    AgendaItem,
    AttendanceRecord,
    GroupMember,
    Invitation,
    Meeting,
    MeetingMode,
    MeetingStatus,
    Minutes,
    MinutesRevision,
    Outcome,
    OutcomeNote,
)
from portal.core.models import as_utc, utcnow
from portal.demo import engagement_data as content
from portal.demo.seed import DEMO_PASSWORD, TODAY
from portal.demo.seed_report import to_markdown
from portal.extensions import db
from portal.notifications.models import NotificationEvent, OutgoingMail
from portal.partners.models import Organization
from portal.reviews import services as reviews
from portal.reviews.audience import resolve_audience
from portal.reviews.carryover import carry_from_previous, needs_placing, place_comment
from portal.reviews.dispositions import dispose_comment
from portal.reviews.importing import parse_markdown
from portal.reviews.jobs import invitation_token, token_hash
from portal.reviews.models import (
    Comment,
    Disposition,
    DocumentVersion,
    DraftDocument,
    ReviewInvitation,
    ReviewRound,
)

MEETING_START = time(14, 0)  # Nairobi time
MEETING_HOURS = 2


@dataclass
class EngagementReport:
    users: int = 0
    groups: int = 0
    members: int = 0
    meetings: int = 0
    documents: int = 0
    comments: int = 0

    @property
    def total(self) -> int:
        return (
            self.users + self.groups + self.members + self.meetings + self.documents + self.comments
        )

    def summary(self) -> str:
        return (
            f"{self.users} member accounts, {self.groups} advisory groups, {self.members} "
            f"memberships, {self.meetings} meetings, {self.documents} draft documents and "
            f"{self.comments} review comments"
        )


# --- dates -------------------------------------------------------------------------------------


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def second_thursday(year: int, month: int) -> date:
    first = date(year, month, 1)
    offset = (calendar.THURSDAY - first.weekday()) % 7
    return first + timedelta(days=offset + 7)


# The held meetings' calendar. Their content is written against the demo's fixed "today"
# (seed.TODAY); at load time the whole record moves by whole months so that the last held
# meeting is the month before the first upcoming one — a monthly series with no gap, whatever
# the real date. Hard-coded dates in the content (due dates, notes) move with it (_shifted).
_calendar = {"shift_months": 0}


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _shifted(day: date) -> date:
    """A date of the demo content, moved with the held meetings (day clamped to the month)."""
    months = _calendar["shift_months"]
    if not months:
        return day
    first = _add_months(day, months)
    last_day = calendar.monthrange(first.year, first.month)[1]
    return first.replace(day=min(day.day, last_day))


def held_meeting_day(months_before: int) -> date:
    """The advisory group meets on the second Thursday of the month."""
    month = _add_months(TODAY, _calendar["shift_months"] - months_before)
    return second_thursday(month.year, month.month)


def upcoming_meeting_days(real_today: date) -> list[date]:
    """The next two second Thursdays after ``real_today`` (the current month's when it is
    still ahead, else next month's)."""
    month = real_today.replace(day=1)
    if second_thursday(month.year, month.month) <= real_today:
        month = _add_months(month, 1)
    return [second_thursday(m.year, m.month) for m in (month, _add_months(month, 1))]


def align_calendar(real_today: date) -> list[date]:
    """Set the held meetings' shift from the real date; returns the upcoming meeting days."""
    upcoming = upcoming_meeting_days(real_today)
    # months_before=1 must land on the month before the first upcoming meeting.
    _calendar["shift_months"] = _month_index(upcoming[0]) - _month_index(TODAY)
    return upcoming


def _local(day: date, at: time = MEETING_START) -> datetime:
    """Naive wall-clock time in the meetings' time zone (what MeetingData expects)."""
    return datetime.combine(day, at)


def _utc(day: date, at: time = MEETING_START) -> datetime:
    zone = ZoneInfo(content.MEETING_TIMEZONE)
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def _noon(day: date) -> datetime:
    return datetime.combine(day, time(10, 0), tzinfo=UTC)


# --- helpers -----------------------------------------------------------------------------------


@contextmanager
def mail_suppressed() -> Iterator[None]:
    """Drop every e-mail the services queue while seeding (the demo addresses are made up):
    the rows are removed from the session before they are flushed, so none is ever written.
    Notification events go too, or the worker would mail their digests later."""

    def drop_mail(session, _flush_context, _instances) -> None:
        for obj in list(session.new):
            if isinstance(obj, OutgoingMail | NotificationEvent):
                session.expunge(obj)

    event.listen(db.session, "before_flush", drop_mail)
    try:
        yield
    finally:
        event.remove(db.session, "before_flush", drop_mail)


def _stamp(model, pk: int, **values) -> None:
    """Back-date timestamps with a plain UPDATE (services stamp the real time)."""
    db.session.execute(update(model).where(model.id == pk).values(**values))


def _user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email))


def _org(key) -> Organization | None:
    """A real actor by (name, country), or the first demo partner of a stakeholder group in
    one of the preferred countries (see engagement_data.MEMBERS)."""
    first, second = key
    if isinstance(second, str):
        return db.session.scalar(
            select(Organization).where(
                Organization.name == first, Organization.country_code == second
            )
        )
    base = select(Organization).where(
        Organization.stakeholder_group == first, Organization.is_public.is_(True)
    )
    order = (Organization.country_code, Organization.name)
    return (
        db.session.scalars(
            base.where(Organization.country_code.in_(second)).order_by(*order).limit(1)
        ).first()
        or db.session.scalars(base.order_by(*order).limit(1)).first()
    )


# --- people and groups -------------------------------------------------------------------------


def _ensure_member_users(report: EngagementReport) -> None:
    existing = set(db.session.scalars(select(User.email)))
    password_hash = None
    for spec in content.MEMBERS:
        if spec["email"] in existing:
            continue
        org = _org(spec["org"])
        user = User(
            email=spec["email"],
            name=spec["name"],
            role=Role.PARTNER.value,
            organization_id=org.id if org else None,
            locale=spec["locale"],
        )
        # One hash for the shared demo password: hashing is deliberately slow.
        if password_hash is None:
            user.set_password(DEMO_PASSWORD)
            password_hash = user.password_hash
        else:
            user.password_hash = password_hash
        db.session.add(user)
        report.users += 1
    db.session.flush()


def _ensure_group(name: str, description: str, public: bool, staff, report) -> AdvisoryGroup:
    group = db.session.scalar(select(AdvisoryGroup).where(AdvisoryGroup.name == name))
    if group is None:
        group = consult.create_group(staff, consult.GroupData(name, description, public))
        _stamp(
            AdvisoryGroup,
            group.id,
            created_at=_noon(held_meeting_day(7)),
            updated_at=_noon(held_meeting_day(7)),
        )
        report.groups += 1
    return group


def _ensure_members(group: AdvisoryGroup, specs: list[dict], staff, report) -> None:
    already = set(
        db.session.scalars(select(GroupMember.user_id).where(GroupMember.group_id == group.id))
    )
    joined = held_meeting_day(6) - timedelta(days=30)
    for spec in specs:
        user = _user(spec["email"])
        if user is None or user.id in already:
            continue
        org = _org(spec["org"]) if spec.get("org") else user.organization
        member = consult.add_member(
            staff,
            group,
            consult.MemberData(
                email=user.email,
                role=spec["role"],
                organization_id=org.id if org else None,
                constituency=spec.get("constituency"),
            ),
        )
        member.joined_on = joined
        report.members += 1
    db.session.flush()


def _sag_member_specs() -> list[dict]:
    return [*content.EXISTING_MEMBERS, *content.MEMBERS]


def _wuf_member_specs() -> list[dict]:
    by_email = {s["email"]: s for s in _sag_member_specs()}
    return [{**by_email[email], "role": role} for email, role in content.WUF_MEMBERS]


# --- meetings ----------------------------------------------------------------------------------


def _meeting(group: AdvisoryGroup, title: str) -> Meeting | None:
    return db.session.scalar(
        select(Meeting).where(Meeting.group_id == group.id, Meeting.title == title)
    )


def _schedule(group, spec, day: date, status: str, staff, cutoff: date | None = None) -> Meeting:
    hybrid = spec["mode"] != MeetingMode.ONLINE.value
    meeting = consult.save_meeting(
        staff,
        consult.MeetingData(
            title=spec["title"],
            group_id=group.id,
            starts_local=_local(day),
            ends_local=_local(day, time(MEETING_START.hour + MEETING_HOURS)),
            timezone=content.MEETING_TIMEZONE,
            mode=spec["mode"],
            description=spec["description"],
            engagement_areas=spec["areas"],
            location=content.NAIROBI_VENUE if hybrid else None,
            online_url=content.MEETING_LINK
            if spec["mode"] != MeetingMode.IN_PERSON.value
            else None,
            capacity=spec.get("capacity"),
            agenda_cutoff_local=_local(cutoff) if cutoff else None,
            reminder_days=0,  # demo addresses are made up: no reminders (staff may switch on)
            status=status,
        ),
    )
    for title, presenter, minutes, description in spec["agenda"]:
        consult.add_agenda_item(
            staff,
            meeting,
            consult.AgendaItemData(
                title=title,
                description=description,
                presenter=presenter,
                duration_minutes=minutes,
            ),
        )
    return meeting


def _current_members(group: AdvisoryGroup) -> list[GroupMember]:
    return sorted(consult.current_members(group), key=lambda m: m.id)


def _record_past_answers(meeting: Meeting, members: list[GroupMember], index: int, staff) -> None:
    """Invitations and answers of a meeting that has taken place, then its register.

    The invite/RSVP services refuse ended meetings, so the rows are written directly; the
    register goes through ``record_attendance`` (it checks everyone is an invitee or member)."""
    invited_at = _utc(meeting_day(meeting)) - timedelta(days=21)
    statuses: dict[int, str] = {}
    for k, member in enumerate(members):
        if member.role == "secretariat":
            statuses[member.user_id] = "present"
            continue
        roll = (3 * index + k) % 8
        response = "accepted" if roll < 6 else ("declined" if roll == 6 else "tentative")
        db.session.add(
            Invitation(
                meeting=meeting,
                user_id=member.user_id,
                invited_by_id=staff.id,
                invited_at=invited_at,
                response=response,
                responded_at=invited_at + timedelta(days=1 + k % 5, hours=k),
                attend_in_person=meeting.mode == MeetingMode.HYBRID.value
                and response == "accepted"
                and k % 2 == 0,
            )
        )
        if response == "accepted":
            statuses[member.user_id] = "absent" if (index + k) % 9 == 0 else "present"
        elif response == "declined":
            statuses[member.user_id] = "excused"
        else:
            statuses[member.user_id] = "present" if (index + k) % 2 else "absent"
    db.session.flush()
    records.record_attendance(staff, meeting, statuses)
    ended = _utc(meeting_day(meeting), time(MEETING_START.hour + MEETING_HOURS))
    for record in meeting.attendance:
        _stamp(AttendanceRecord, record.id, recorded_at=ended)


def meeting_day(meeting: Meeting) -> date:
    """The meeting's calendar day where it is held."""
    return as_utc(meeting.starts_at).astimezone(ZoneInfo(content.MEETING_TIMEZONE)).date()


def _publish_minutes(meeting: Meeting, body: str, staff, chair: User | None) -> None:
    """Draft → circulated → approved (by the chair) → published, as the secretariat would."""
    minutes = records.save_minutes(staff, meeting, body, 0)
    with consult.link_context():  # the circulation e-mail (dropped) builds absolute links
        records.change_minutes_status(staff, meeting, "circulate", minutes.version)
    records.change_minutes_status(chair or staff, meeting, "approve", minutes.version)
    records.change_minutes_status(staff, meeting, "publish", minutes.version)
    day = meeting_day(meeting)
    steps = [3, 7, 20, 27]  # days after the meeting: drafted, circulated, approved, published
    for revision, days in zip(minutes.revisions, steps, strict=False):
        _stamp(MinutesRevision, revision.id, created_at=_noon(day + timedelta(days=days)))
    _stamp(
        Minutes,
        minutes.id,
        approved_at=_noon(day + timedelta(days=20)),
        published_at=_noon(day + timedelta(days=27)),
        updated_at=_noon(day + timedelta(days=27)),
    )


def _note_time(when, now: datetime) -> datetime:
    if isinstance(when, tuple):  # ("days-ago", n): relative to the real date
        return now - timedelta(days=when[1])
    return _noon(_shifted(when))


def _add_outcomes(meeting, specs, staff, upcoming: list[date], now: datetime) -> None:
    memberships = {m.user.email: m for m in meeting.group.members}
    for spec in specs:
        owner = _user(spec["owner"])
        due = spec["due"]
        if isinstance(due, str):  # "upcoming-1": the date of the first upcoming meeting
            due = upcoming[int(due.rsplit("-", 1)[1]) - 1]
        elif due is not None:
            due = _shifted(due)
        member = memberships.get(spec["owner"])
        outcome = records.create_outcome(
            staff,
            meeting,
            records.OutcomeData(
                kind=spec["kind"],
                title=spec["title"],
                engagement_area=spec["area"],
                owner_id=owner.id if owner else None,
                owner_organization_id=member.organization_id if member else None,
                due_on=due,
            ),
        )
        created = _noon(meeting_day(meeting) + timedelta(days=1))
        for author_email, body, new_status, when in spec["notes"]:
            author = _user(author_email) or staff
            note = records.add_progress_note(author, outcome, body, new_status)
            db.session.flush()
            _stamp(OutcomeNote, note.id, created_at=_note_time(when, now))
        if outcome.status != spec["status"]:
            records.add_progress_note(staff, outcome, "", spec["status"])
        db.session.flush()
        _stamp(Outcome, outcome.id, created_at=created, updated_at=created)


def _ensure_held_meeting(group, spec, day, index, staff, chair, upcoming, now, report) -> None:
    if _meeting(group, spec["title"]) is not None:
        return
    meeting = _schedule(group, spec, day, MeetingStatus.HELD.value, staff)
    _record_past_answers(meeting, _current_members(group), index, staff)
    _publish_minutes(meeting, spec["minutes"], staff, chair)
    _add_outcomes(meeting, spec["outcomes"], staff, upcoming, now)
    planned = _noon(day - timedelta(days=28))
    _stamp(Meeting, meeting.id, created_at=planned, updated_at=_noon(day))
    for item in meeting.agenda_items:
        _stamp(AgendaItem, item.id, created_at=planned)
    report.meetings += 1


def _ensure_upcoming_meeting(group, spec, day, answers, staff, now, report) -> None:
    if _meeting(group, spec["title"]) is not None:
        return
    meeting = _schedule(
        group, spec, day, MeetingStatus.SCHEDULED.value, staff, cutoff=day - timedelta(days=3)
    )
    with consult.link_context():  # the invitation e-mails (dropped) build absolute links
        consult.invite(staff, meeting, whole_group=True)
    proposer_email, title, presenter, minutes = spec["proposal"]
    proposer = _user(proposer_email)
    if proposer is not None:
        item = consult.propose_agenda_item(
            proposer,
            meeting,
            consult.AgendaItemData(title=title, presenter=presenter, duration_minutes=minutes),
        )
        if spec.get("proposal_accepted"):
            consult.decide_proposal(staff, item, True)
    invited_at = now - timedelta(days=10)
    by_user = {inv.user.email: inv for inv in meeting.invitations}
    for email, (response, in_person) in answers.items():
        invitation = by_user.get(email)
        if invitation is not None:
            consult.respond(invitation.user, invitation, response, in_person=in_person)
    # Answers keep their order (the waiting list is served in order of answer).
    for n, (email, _answer) in enumerate(answers.items()):
        invitation = by_user.get(email)
        if invitation is not None:
            _stamp(Invitation, invitation.id, responded_at=invited_at + timedelta(hours=6 + 5 * n))
    for invitation in meeting.invitations:
        _stamp(Invitation, invitation.id, invited_at=invited_at)
    _stamp(
        Meeting,
        meeting.id,
        created_at=invited_at - timedelta(days=2),
        updated_at=invited_at - timedelta(days=2),
    )
    report.meetings += 1


# --- reviews -----------------------------------------------------------------------------------


def _document(title: str) -> DraftDocument | None:
    return db.session.scalar(select(DraftDocument).where(DraftDocument.title == title))


def _invite_quietly(round_: ReviewRound) -> None:
    """What the invitation job does, minus the e-mail: one invitation per audience member
    (personal-link token derived as the job derives it), and the job marked done."""
    recipients = resolve_audience(round_.audience_kind, round_.audience or {})
    if recipients:
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
                    "mail_queued_at": None,  # no e-mail was queued
                }
                for uid, email in recipients
            ],
        )
    job = reviews.invitation_job(round_)
    if job is not None:
        job.status = "done"
        job.total = job.done = len(recipients)
        job.started_at = job.finished_at = utcnow()
    db.session.flush()


def _paragraphs_by_number(version: DocumentVersion) -> dict[int, object]:
    return {
        p.number: p for p in version.paragraphs if p.number is not None and p.kind == "paragraph"
    }


def _post_comments(round_, version, specs, start: datetime, end: datetime) -> list[Comment]:
    paragraphs = _paragraphs_by_number(version)
    posted: list[Comment] = []
    step = (end - start) / (len(specs) + 1)
    for n, spec in enumerate(specs):
        author = _user(spec["author"])
        parent = posted[spec["reply_to"]] if "reply_to" in spec else None
        comment = reviews.post_comment(
            round_,
            author,
            paragraph=paragraphs.get(spec.get("para")) if parent is None else None,
            body=spec["body"],
            comment_type=spec["type"],
            proposed_change=spec.get("change"),
            quote=spec.get("quote"),
            parent=parent,
            anonymous=bool(spec.get("anonymous")),
        )
        posted.append(comment)
        when = start + step * (n + 1)
        _stamp(Comment, comment.id, created_at=when, updated_at=when)
    return posted


def _endorse_some(comments: list[Comment]) -> None:
    """A few "+1"s from advisory-group members on the top-level comments (never their own)."""
    members = [u for u in (_user(f"member{n}@example.org") for n in range(1, 13)) if u]
    for n, comment in enumerate(c for c in comments if c.parent_id is None):
        endorsers = [u for u in members if u.id != comment.author_id][: (n * 5) % 4]
        for user in endorsers:
            reviews.endorse_comment(comment, user)


def _dispose(comments: list[Comment], answers: dict[int, tuple[str, str]], staff, when) -> None:
    for n, (decision, response) in sorted(answers.items()):
        disposition = dispose_comment(comments[n], staff, decision=decision, response=response)
        db.session.flush()
        _stamp(Disposition, disposition.id, decided_at=when(n))


def _ensure_wuf_paper(sag, wuf, staff, report) -> None:
    """Version 1 reviewed in a closed round, every comment answered, version 2 published with
    the comments carried over (the publish hook), and the one that lost its paragraph placed."""
    if _document(content.WUF_DOC_TITLE) is not None:
        return
    drafted = _noon(held_meeting_day(4) + timedelta(days=14))
    opens = datetime.combine(drafted.date() + timedelta(days=4), time(6, 0), tzinfo=UTC)
    closes = opens + timedelta(days=28, hours=8)
    revised = _noon(held_meeting_day(1) - timedelta(days=3))
    document = reviews.create_document(
        content.WUF_DOC_TITLE, content.WUF_DOC_DESCRIPTION, "en", staff
    )
    v1 = reviews.add_version(
        document,
        parse_markdown(content.WUF_V1),
        source_format="md",
        source_filename="wuf-background-paper-v1.md",
        changelog="First draft for partner review.",
        actor=staff,
    )
    reviews.publish_version(v1, staff)
    now = utcnow()
    round_ = reviews.open_round(
        v1,
        title=content.WUF_ROUND_TITLE,
        audience_kind="groups",
        audience={"group_ids": [sag.id, wuf.id]},
        # Opened now so the comment service accepts comments; back-dated below.
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(days=1),
        timezone=content.MEETING_TIMEZONE,
        instructions=content.WUF_ROUND_INSTRUCTIONS,
        reviewers_see_each_other=True,
        allow_anonymous=False,
        actor=staff,
        reminder_days=0,
    )
    _invite_quietly(round_)
    comments = _post_comments(round_, v1, content.WUF_COMMENTS, opens, closes)
    answered = closes + timedelta(days=5)
    _dispose(comments, content.WUF_DISPOSITIONS, staff, lambda n: answered + timedelta(hours=n))
    reviews.close_round(round_, staff)
    v2 = reviews.add_version(
        document,
        parse_markdown(content.WUF_V2),
        source_format="md",
        source_filename="wuf-background-paper-v2.md",
        changelog="Revised after the partner review: figures updated, indigenous peoples, heat "
        "stress, voluntary local reviews and remote participation added.",
        actor=staff,
    )
    reviews.publish_version(v2, staff)
    if not db.session.scalar(
        select(func.count(Comment.id)).where(Comment.carried_to_version_id == v2.id)
    ):
        carry_from_previous(v2, staff)  # the publish hook is registered with the staff views
    paragraphs = _paragraphs_by_number(v2)
    for comment in needs_placing(v2):
        number = comment.paragraph.number if comment.paragraph is not None else None
        place_comment(comment, v2, paragraphs.get(number), staff)
    db.session.flush()
    _stamp(DraftDocument, document.id, created_at=drafted, updated_at=revised)
    _stamp(DocumentVersion, v1.id, created_at=drafted, published_at=opens - timedelta(days=1))
    _stamp(DocumentVersion, v2.id, created_at=revised - timedelta(days=2), published_at=revised)
    _stamp(
        ReviewRound,
        round_.id,
        opens_at=opens,
        closes_at=closes,
        created_at=opens,
        updated_at=closes,
    )
    report.documents += 1
    report.comments += len(comments)


def _ensure_seed_report_review(sag, staff, real_today: date, report) -> None:
    """The Executive Board report under an open public consultation (the advisory group is
    invited too), with published comments and answers."""
    if _document(content.SEED_DOC_TITLE) is not None:
        return
    now = utcnow()
    opens = now - timedelta(days=8)
    closes = datetime.combine(
        real_today + timedelta(days=21), time(17, 0), tzinfo=ZoneInfo(content.MEETING_TIMEZONE)
    )
    document = reviews.create_document(
        content.SEED_DOC_TITLE, content.SEED_DOC_DESCRIPTION, "zh", staff
    )
    version = reviews.add_version(
        document,
        parse_markdown(to_markdown()),
        source_format="md",
        source_filename="HSP-EB.2022-8-zh.md",
        changelog="Draft of the Executive Director's report, for stakeholder comments.",
        actor=staff,
    )
    reviews.publish_version(version, staff)
    # A public consultation: anyone reads the draft, the comments and the answers at /reviews/
    # without an account; the advisory group is invited by e-mail as well.
    round_ = reviews.open_round(
        version,
        title=content.SEED_ROUND_TITLE,
        audience_kind="mixed",
        audience={
            "parts": [
                {"kind": "public", "audience": {}},
                {"kind": "groups", "audience": {"group_ids": [sag.id]}},
            ]
        },
        opens_at=opens,
        closes_at=closes,
        timezone=content.MEETING_TIMEZONE,
        instructions=content.SEED_ROUND_INSTRUCTIONS,
        reviewers_see_each_other=True,
        allow_anonymous=True,
        allow_endorsements=True,
        actor=staff,
        reminder_days=0,
    )
    _invite_quietly(round_)
    comments = _post_comments(
        round_, version, content.SEED_COMMENTS, opens, now - timedelta(hours=2)
    )
    _endorse_some(comments)
    # Answered in the last hour and a half, after the last comment (posted two hours ago).
    _dispose(
        comments, content.SEED_DISPOSITIONS, staff, lambda n: now - timedelta(minutes=90 - 3 * n)
    )
    _stamp(
        DraftDocument,
        document.id,
        created_at=opens - timedelta(days=2),
        updated_at=opens - timedelta(days=1),
    )
    _stamp(
        DocumentVersion,
        version.id,
        created_at=opens - timedelta(days=2),
        published_at=opens - timedelta(days=1),
    )
    _stamp(ReviewRound, round_.id, created_at=opens, updated_at=opens)
    report.documents += 1
    report.comments += len(comments)


# --- entry point -------------------------------------------------------------------------------


def load_engagement(real_today: date | None = None) -> EngagementReport:
    """Add the demo consultations and reviews that are missing (never commits).

    Needs the demo partners and users of ``seed.load_demo``; without the demo staff user it
    does nothing."""
    report = EngagementReport()
    staff = _user("staff@example.org")
    if staff is None:
        return report
    real_today = real_today or date.today()
    now = utcnow()
    upcoming = align_calendar(real_today)
    with mail_suppressed():
        _ensure_member_users(report)
        sag = _ensure_group(content.SAG_NAME, content.SAG_DESCRIPTION, True, staff, report)
        _ensure_members(sag, _sag_member_specs(), staff, report)
        wuf = _ensure_group(
            content.WUF_GROUP_NAME, content.WUF_GROUP_DESCRIPTION, False, staff, report
        )
        _ensure_members(wuf, _wuf_member_specs(), staff, report)
        sag_chair = _user(next(s["email"] for s in content.MEMBERS if s["role"] == "chair"))
        wuf_chair = _user(next(e for e, role in content.WUF_MEMBERS if role == "chair"))

        for index, spec in enumerate(content.HELD_MEETINGS):
            day = held_meeting_day(spec["months_before"])
            _ensure_held_meeting(sag, spec, day, index, staff, sag_chair, upcoming, now, report)
        spec = content.WUF_GROUP_MEETING
        day = held_meeting_day(spec["months_before"]) + timedelta(days=spec["day_offset"])
        _ensure_held_meeting(wuf, spec, day, 0, staff, wuf_chair, upcoming, now, report)
        for spec, day, answers in zip(
            content.UPCOMING_MEETINGS, upcoming, content.UPCOMING_RSVPS, strict=True
        ):
            _ensure_upcoming_meeting(sag, spec, day, answers, staff, now, report)

        _ensure_wuf_paper(sag, wuf, staff, report)
        _ensure_seed_report_review(sag, staff, real_today, report)
        db.session.flush()
    # The UPDATEs above bypass the identity map: reload what later code reads.
    db.session.expire_all()
    return report


# For the CLI's table of demo logins.
MEMBER_LOGINS = (
    f"{content.MEMBERS[0]['email']} … {content.MEMBERS[-1]['email']}",
    f"partner — members of the {content.SAG_NAME}",
)
