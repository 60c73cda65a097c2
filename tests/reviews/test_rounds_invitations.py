"""Review rounds: audiences, the invitation job at scale, personal links, reminders, unsubscribe."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from portal.accounts.models import User
from portal.consultations.models import AdvisoryGroup, GroupMember
from portal.core.models import utcnow
from portal.core.services import ValidationError
from portal.extensions import db
from portal.notifications.mailer import deliver_due
from portal.notifications.models import OutgoingMail
from portal.reviews import services
from portal.reviews.audience import parse_email_list, resolve_audience
from portal.reviews.jobs import run_pending_jobs, send_reminders
from portal.reviews.models import BackgroundJob, ReviewInvitation, ReviewRound
from tests.conftest import login
from tests.reviews.conftest import open_emails_round, publish_seed

pytest_plugins = ["tests.smtp"]


def _emails(pairs):
    return sorted(email for _uid, email in pairs)


# --- Audiences ---------------------------------------------------------------------------------


def test_all_partners_means_active_partner_users_only(factories, org, staff):
    a = factories.make_user("partner", organization=org, email="a@p.example")
    factories.make_user("partner", organization=org, email="gone@p.example", active=False)
    factories.make_user("reviewer", email="rev@p.example")
    assert _emails(resolve_audience("all-partners", {})) == [a.email]


def test_group_audience_takes_current_members_of_the_chosen_groups(factories, org):
    group = AdvisoryGroup(name="Stakeholder Advisory Group")
    other = AdvisoryGroup(name="Youth Advisory Board")
    db.session.add_all([group, other])
    db.session.flush()
    member = factories.make_user("partner", organization=org, email="member@p.example")
    former = factories.make_user("partner", organization=org, email="former@p.example")
    elsewhere = factories.make_user("partner", organization=org, email="youth@p.example")
    db.session.add_all(
        [
            GroupMember(group_id=group.id, user_id=member.id),
            GroupMember(group_id=group.id, user_id=former.id, left_on=utcnow().date()),
            GroupMember(group_id=other.id, user_id=elsewhere.id),
        ]
    )
    db.session.flush()
    audience = services.validate_audience("groups", {"group_ids": [group.id]})
    assert _emails(resolve_audience("groups", audience)) == ["member@p.example"]
    with pytest.raises(ValidationError):
        services.validate_audience("groups", {"group_ids": [999999]})


def test_organisation_audience_by_region_with_descendants_type_and_group(factories):
    kenya = factories.make_org("Kenyan NGO", country="KE", regions=("014",), org_type="22")
    peru = factories.make_org(
        "Peruvian city",
        country="PE",
        regions=("005",),
        org_type="11",
        stakeholder_group="local-authorities",
    )
    factories.make_user("partner", organization=kenya, email="ke@p.example")
    factories.make_user("partner", organization=peru, email="pe@p.example")
    # Africa (002) includes Eastern Africa (014) where the Kenyan organisation works.
    assert _emails(resolve_audience("organizations", {"regions": ["002"]})) == ["ke@p.example"]
    assert _emails(resolve_audience("organizations", {"org_types": ["11"]})) == ["pe@p.example"]
    assert _emails(
        resolve_audience("organizations", {"stakeholder_groups": ["local-authorities"]})
    ) == ["pe@p.example"]
    assert _emails(resolve_audience("organizations", {"regions": ["001"]})) == [
        "ke@p.example",
        "pe@p.example",
    ]
    with pytest.raises(ValidationError) as err:
        services.validate_audience("organizations", {"regions": ["999"]})
    assert "regions" in err.value.errors


def test_email_list_removes_duplicates_and_reports_invalid_lines():
    data = (
        "email,name\n"
        "Ana@Example.org,Ana\n"
        "ana@example.org,Ana again\n"
        "not-an-address,Bob\n"
        "li.wei@例子.中国\n"
        "\n"
        "c@example.org; d@example.org\n"
    ).encode()
    result = parse_email_list(data)
    assert result.emails == [
        "ana@example.org",
        "li.wei@例子.中国",
        "c@example.org",
        "d@example.org",
    ]
    assert result.duplicates == 1
    assert result.invalid == [(4, "not-an-address, Bob")]


def test_email_audience_matches_accounts_and_keeps_unknown_addresses(reviewer):
    pairs = resolve_audience("emails", {"emails": [reviewer.email, "new@p.example"]})
    assert pairs == [(reviewer.id, reviewer.email), (None, "new@p.example")]


def test_round_dates_are_checked(seed_markdown, staff, reviewer):
    _doc, version = publish_seed(seed_markdown, staff)
    now = utcnow()
    with pytest.raises(ValidationError) as err:
        open_emails_round(
            version,
            staff,
            [reviewer.email],
            opens_at=now + timedelta(days=2),
            closes_at=now + timedelta(days=1),
        )
    assert "closes_at" in err.value.errors
    assert db.session.query(ReviewRound).count() == 0


def test_round_needs_a_published_version(staff, reviewer):
    from portal.reviews.importing import parse_markdown

    document = services.create_document("Draft", "", "en", staff)
    version = services.add_version(
        document,
        parse_markdown("1. Text."),
        source_format="md",
        source_filename=None,
        changelog="",
        actor=staff,
    )
    with pytest.raises(ValidationError) as err:
        open_emails_round(version, staff, [reviewer.email])
    assert "Publish the version" in err.value.errors["_form"]


# --- Opening a round from the web ------------------------------------------------------------


def _round_form(**overrides):
    data = {
        "title": "Review of the background paper",
        "instructions": "Please comment by paragraph.",
        "audience_kind": "emails",
        "timezone": "Africa/Nairobi",
        "opens_at": (utcnow() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "closes_at": (utcnow() + timedelta(days=14)).strftime("%Y-%m-%dT%H:%M"),
        "reminder_days": "3",
    }
    data.update(overrides)
    return data


def test_staff_open_a_round_from_an_uploaded_list(client, staff, seed_markdown):
    _doc, version = publish_seed(seed_markdown, staff)
    db.session.commit()
    login(client, staff.email)
    url = f"/reviews/documents/{version.document_id}/versions/1/rounds/new"
    csv_data = b"email\nana@example.org\nANA@example.org\nbo@example.org\n"
    resp = client.post(
        url,
        data=_round_form(emails_file=(io.BytesIO(csv_data), "list.csv")),
        content_type="multipart/form-data",
    )
    assert resp.status_code == 302
    round_ = db.session.query(ReviewRound).one()
    assert round_.audience == {"emails": ["ana@example.org", "bo@example.org"]}
    assert round_.timezone == "Africa/Nairobi"
    # The form's times are Nairobi wall-clock times (UTC+3).
    page = client.get(resp.headers["Location"])
    assert "Waiting for the worker" in page.get_data(as_text=True)
    run_pending_jobs()
    page = client.get(f"/reviews/rounds/{round_.id}/invitations")
    assert "Done: 2 of 2 invitations" in page.get_data(as_text=True)


def test_a_list_with_invalid_lines_opens_nothing(client, staff, seed_markdown):
    _doc, version = publish_seed(seed_markdown, staff)
    db.session.commit()
    login(client, staff.email)
    url = f"/reviews/documents/{version.document_id}/versions/1/rounds/new"
    csv_data = b"ana@example.org\nnonsense line\nbo@@example\n"
    resp = client.post(
        url,
        data=_round_form(emails_file=(io.BytesIO(csv_data), "list.csv")),
        content_type="multipart/form-data",
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "2 line(s) are not valid e-mail addresses" in html
    assert "Line 2: nonsense line" in html
    assert db.session.query(ReviewRound).count() == 0
    assert db.session.query(BackgroundJob).count() == 0


def test_round_closing_before_it_opens_is_refused_beside_the_field(client, staff, seed_markdown):
    _doc, version = publish_seed(seed_markdown, staff)
    db.session.commit()
    login(client, staff.email)
    url = f"/reviews/documents/{version.document_id}/versions/1/rounds/new"
    form = _round_form(
        audience_kind="all-partners",
        closes_at=(utcnow() - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
    )
    resp = client.post(url, data=form, content_type="multipart/form-data")
    assert resp.status_code == 400
    assert "The round must close after it opens." in resp.get_data(as_text=True)
    assert db.session.query(ReviewRound).count() == 0


def test_partners_cannot_open_rounds_or_see_progress(client, reviewer, review_round):
    login(client, reviewer.email)
    url = f"/reviews/documents/{review_round.version.document_id}/versions/1/rounds/new"
    assert client.get(url).status_code == 403
    assert client.get(f"/reviews/rounds/{review_round.id}/invitations").status_code == 403


# --- The invitation job at scale -------------------------------------------------------------


def _bulk_partners(org, n):
    now = utcnow()
    db.session.execute(
        insert(User),
        [
            {
                "email": f"partner{i:05d}@bulk.example",
                "name": f"Partner {i}",
                "role": "partner",
                "organization_id": org.id,
                "active": True,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(n)
        ],
    )
    db.session.commit()


def test_a_stopping_worker_finishes_its_batch_and_hands_the_job_back(
    app, org, staff, seed_markdown, monkeypatch
):
    """SIGTERM mid-job (a deploy): the batch in hand is committed, the rest of the job goes
    back to the queue at once, and the next worker continues where it stopped."""
    import portal.core.worker as worker

    _bulk_partners(org, 120)
    _doc, version = publish_seed(seed_markdown, staff)
    services.open_round(
        version,
        title="All partners",
        audience_kind="all-partners",
        audience={},
        opens_at=utcnow(),
        closes_at=utcnow() + timedelta(days=7),
        timezone="UTC",
        instructions="",
        reviewers_see_each_other=False,
        allow_anonymous=False,
        actor=staff,
    )
    db.session.commit()
    stopping = iter([False, True])  # asked before the job, then after its first batch
    monkeypatch.setattr(worker, "stop_requested", lambda: next(stopping, True))
    assert run_pending_jobs(batch_size=50) == 1
    db.session.expire_all()
    job = db.session.scalar(select(BackgroundJob))
    assert (job.status, job.done, job.claimed_until) == ("running", 50, None)
    assert db.session.scalar(select(func.count(ReviewInvitation.id))) == 50

    monkeypatch.setattr(worker, "stop_requested", lambda: False)
    assert run_pending_jobs(batch_size=50) == 1  # no lease to wait out
    db.session.expire_all()
    job = db.session.scalar(select(BackgroundJob))
    assert (job.status, job.done, job.total) == ("done", job.total, job.total)
    assert job.total >= 120
    assert db.session.scalar(select(func.count(ReviewInvitation.id))) == job.total
    mails = db.session.scalars(select(OutgoingMail.to_address)).all()
    assert len(mails) == len(set(mails)) == job.total  # nobody twice


def test_job_invites_1200_partners_in_batches_with_one_mail_each(
    app, org, staff, seed_markdown, smtp_server, client
):
    _bulk_partners(org, 1200)
    _doc, version = publish_seed(seed_markdown, staff)
    round_ = services.open_round(
        version,
        title="All partners",
        audience_kind="all-partners",
        audience={},
        opens_at=utcnow(),
        closes_at=utcnow() + timedelta(days=7),
        timezone="UTC",
        instructions="",
        reviewers_see_each_other=False,
        allow_anonymous=False,
        actor=staff,
    )
    db.session.commit()
    assert run_pending_jobs(batch_size=500) == 1
    job = db.session.scalar(select(BackgroundJob))
    assert (job.status, job.done, job.total) == ("done", 1200, 1200)
    assert db.session.scalar(select(func.count(ReviewInvitation.id))) == 1200
    mails = db.session.scalars(
        select(OutgoingMail).where(OutgoingMail.category == f"review-invitation:{round_.id}")
    ).all()
    assert len(mails) == 1200
    assert len({m.to_address for m in mails}) == 1200
    # Running again invites nobody twice.
    db.session.add(BackgroundJob(kind="review-invitations", params={"round_id": round_.id}))
    db.session.commit()
    run_pending_jobs()
    assert db.session.scalar(select(func.count(OutgoingMail.id))) == 1200

    # A few go out through a real SMTP server, each with its own personal link.
    report = deliver_due(limit=3)
    assert report.sent == 3
    messages = smtp_server.wait_for(3)
    links = set()
    for message in messages:
        text = smtp_server.text(message)
        link = re.search(r"http://\S+/reviews/r/(\w+)", text)
        assert link, text
        assert "/reviews/unsubscribe/" in text
        assert "Invitation to review" in message["Subject"]
        links.add(link.group(1))
    assert len(links) == 3
    # The link leads a partner without a password to choosing one (it does not log them in).
    resp = client.get(f"/reviews/r/{links.pop()}")
    assert resp.status_code == 302
    assert "/account/welcome/" in resp.headers["Location"]


def test_cli_runs_the_jobs(runner, review_round, staff, seed_markdown):
    round2 = open_emails_round(review_round.version, staff, ["cli@p.example"], title="Second")
    db.session.commit()
    result = runner.invoke(args=["reviews", "run-jobs"])
    assert result.exit_code == 0, result.output
    assert "Jobs run: 1" in result.output
    assert (
        db.session.scalar(
            select(func.count(ReviewInvitation.id)).where(ReviewInvitation.round_id == round2.id)
        )
        == 1
    )


# --- Personal links --------------------------------------------------------------------------


def _token_for(round_, email):
    from portal.reviews.jobs import invitation_token

    return invitation_token(round_.id, email)


def test_link_for_an_address_without_account_creates_one_to_set_a_password(
    client, staff, seed_markdown
):
    _doc, version = publish_seed(seed_markdown, staff)
    round_ = open_emails_round(version, staff, ["newcomer@ngo.example"])
    db.session.commit()
    run_pending_jobs()
    link = f"/reviews/r/{_token_for(round_, 'newcomer@ngo.example')}"
    # Following the link (as a mail scanner would) creates nothing: it shows a button.
    page = client.get(link)
    assert page.status_code == 200 and "Create my reviewer account" in page.get_data(as_text=True)
    assert db.session.scalar(select(User).where(User.email == "newcomer@ngo.example")) is None
    resp = client.post(link)
    assert resp.status_code == 302 and "/account/welcome/" in resp.headers["Location"]
    user = db.session.scalar(select(User).where(User.email == "newcomer@ngo.example"))
    assert user.role == "reviewer" and user.password_hash is None
    invitation = db.session.scalar(select(ReviewInvitation))
    assert invitation.user_id == user.id
    # The same link again (before a password is chosen) goes straight to choosing one.
    again = client.get(link)
    assert again.status_code == 302 and "/account/welcome/" in again.headers["Location"]
    # Setting the password through the accounts flow, then logging in, lands on the round.
    choose = client.get(resp.headers["Location"])
    done = client.post(
        choose.headers["Location"],
        data={"password": "a long new password 123", "confirm": "a long new password 123"},
    )
    assert done.status_code == 302 and "/account/login" in done.headers["Location"]
    login_page = client.get(done.headers["Location"])
    assert f"/reviews/rounds/{round_.id}" in login_page.get_data(as_text=True)
    landed = client.post(
        done.headers["Location"],
        data={
            "email": "newcomer@ngo.example",
            "password": "a long new password 123",
            "next": f"/reviews/rounds/{round_.id}",
        },
    )
    assert landed.status_code == 302
    assert landed.headers["Location"].endswith(f"/reviews/rounds/{round_.id}")
    page = client.get(landed.headers["Location"])
    assert page.status_code == 200
    assert "First review" in page.get_data(as_text=True)


def test_link_for_an_existing_account_asks_to_log_in(client, review_round, reviewer):
    resp = client.get(f"/reviews/r/{_token_for(review_round, reviewer.email)}")
    assert resp.status_code == 302
    assert "/account/login" in resp.headers["Location"]
    assert f"rounds/{review_round.id}" in resp.headers["Location"]
    assert client.get("/reviews/r/not-a-real-token").status_code == 404


# --- Reminders and unsubscribing -------------------------------------------------------------


def test_reminders_go_only_to_those_who_have_not_commented_or_unsubscribed(
    client, staff, seed_markdown, factories, org, smtp_server
):
    commenter = factories.make_user("partner", organization=org, email="said@p.example")
    quitter = factories.make_user("partner", organization=org, email="quit@p.example")
    silent = factories.make_user("partner", organization=org, email="silent@p.example")
    _doc, version = publish_seed(seed_markdown, staff)
    round_ = open_emails_round(
        version,
        staff,
        [commenter.email, quitter.email, silent.email],
        closes_at=utcnow() + timedelta(days=2),
        reminder_days=3,
    )
    db.session.commit()
    run_pending_jobs()
    services.post_comment(round_, commenter, body="Paragraph 39 should name the city.")
    db.session.commit()
    # The unsubscribe link asks first (mail scanners follow links), then acts on POST.
    url = f"/reviews/unsubscribe/{_token_for(round_, quitter.email)}"
    assert "Stop reminders" in client.get(url).get_data(as_text=True)
    assert "no more reminders" in client.post(url).get_data(as_text=True)

    assert send_reminders() == 1
    reminders = db.session.scalars(
        select(OutgoingMail).where(OutgoingMail.category == f"review-reminder:{round_.id}")
    ).all()
    assert [m.to_address for m in reminders] == ["silent@p.example"]
    assert send_reminders() == 0  # once only
    deliver_due(limit=100)
    smtp_server.wait_for(4)
    reminder = smtp_server.to("silent@p.example")[-1]
    text = smtp_server.text(reminder)
    assert "We have not received yours yet" in text
    assert f"/reviews/r/{_token_for(round_, silent.email)}" in text
    assert f"/reviews/unsubscribe/{_token_for(round_, silent.email)}" in text
    # Bulk mail carries RFC 8058 one-click unsubscribe headers pointing at the same link.
    assert reminder["List-Unsubscribe"] == (
        f"<http://127.0.0.1:5000/reviews/unsubscribe/{_token_for(round_, silent.email)}>"
    )
    assert reminder["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_one_click_unsubscribe_from_a_round_needs_no_session_and_no_form_token(
    app, staff, seed_markdown, reviewer, monkeypatch
):
    _doc, version = publish_seed(seed_markdown, staff)
    round_ = open_emails_round(
        version, staff, [reviewer.email], closes_at=utcnow() + timedelta(days=2)
    )
    db.session.commit()
    run_pending_jobs()
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)  # as in production
    resp = app.test_client().post(
        f"/reviews/unsubscribe/{_token_for(round_, reviewer.email)}",
        data={"List-Unsubscribe": "One-Click"},
    )
    assert resp.status_code == 200
    db.session.expire_all()
    invitation = db.session.scalar(select(ReviewInvitation))
    assert invitation.unsubscribed_at is not None
    assert send_reminders() == 0


def test_no_reminders_long_before_the_deadline(staff, seed_markdown, reviewer):
    _doc, version = publish_seed(seed_markdown, staff)
    open_emails_round(version, staff, [reviewer.email], closes_at=utcnow() + timedelta(days=20))
    db.session.commit()
    run_pending_jobs()
    assert send_reminders() == 0
