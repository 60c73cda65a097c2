"""Notification events and preferences, digests and one-click unsubscribe — with the mail going
through the real outbox to a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from portal.accounts.models import Role
from portal.consultations.services import set_viewer_timezone
from portal.extensions import db
from portal.notifications.events import (
    digest_boundary,
    preferences_of,
    send_digests,
    set_preference,
    unsubscribe_url,
)
from portal.notifications.mailer import deliver_due
from portal.notifications.models import NotificationEvent, OutgoingMail
from portal.reviews.dispositions import dispose_comment
from portal.reviews.services import post_comment
from tests.conftest import login

pytest_plugins = ["tests.smtp"]


@pytest.fixture
def review(factories):
    staff = factories.make_user(Role.STAFF, email="staff@example.org", name="Sara Staff")
    ana = factories.make_user(Role.PARTNER, email="ana@example.org", name="Ana Mwangi")
    ana.locale = "fr"
    rui = factories.make_user(Role.PARTNER, email="rui@example.org", name="Rui Souza")
    rui.locale = "es"
    lin = factories.make_user(Role.PARTNER, email="lin@example.org", name="Lin Wei")
    version = factories.make_review_version(
        ["Cities are engines of growth.", "Housing is a human right."],
        title="Urban futures",
    )
    review_round = factories.make_review_round(
        version, invited=[ana, rui, lin], reviewers_see_each_other=True
    )
    p1, p2 = version.paragraphs
    ana_comment = factories.make_review_comment(review_round, ana, p1, body="Cite the report.")
    rui_comment = factories.make_review_comment(review_round, rui, p2, body="Mention tenure.")
    db.session.commit()
    return {
        "staff": staff,
        "ana": ana,
        "rui": rui,
        "lin": lin,
        "round": review_round,
        "ana_comment": ana_comment,
        "rui_comment": rui_comment,
    }


def _answer(client, comment, decision="accepted", response="Done in ¶12."):
    url = f"/reviews/rounds/{comment.round_id}/comments/{comment.id}/disposition"
    prefix = f"c{comment.id}-"
    resp = client.post(url, data={prefix + "decision": decision, prefix + "response": response})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    resp.close()  # mail queued by the request goes out when the response is closed


def test_a_staff_answer_reaches_the_author_once_in_their_language(client, review, smtp_server):
    login(client, "staff@example.org")
    _answer(client, review["ana_comment"])
    [mail] = smtp_server.wait_for(1)
    assert mail["To"] == "ana@example.org"
    assert mail["Subject"] == "Votre observation sur « Urban futures » a reçu une réponse"
    text = smtp_server.text(mail)
    assert "Cite the report." in text and "Done in ¶12." in text
    assert f"/reviews/rounds/{review['round'].id}#comment-{review['ana_comment'].id}" in text
    # RFC 8058: a signed one-click link, announced in the headers.
    assert mail["List-Unsubscribe"].startswith("<http://")
    assert "/notifications/unsubscribe/" in mail["List-Unsubscribe"]
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # Saving the same answer again is no news; a changed answer is.
    _answer(client, review["ana_comment"])
    assert len(smtp_server.wait_for(2, timeout=0.5)) == 1
    _answer(client, review["ana_comment"], decision="rejected", response="Out of scope.")
    second = smtp_server.wait_for(2)[1]
    assert second["To"] == "ana@example.org" and "Out of scope." in smtp_server.text(second)
    # Nobody else heard about it: not the staff member who answered, not the other reviewers.
    assert {str(m["To"]) for m in smtp_server.messages} == {"ana@example.org"}


def test_bulk_answers_notify_each_author_for_their_own_comment(client, review, smtp_server):
    login(client, "staff@example.org")
    ids = [review["ana_comment"].id, review["rui_comment"].id]
    resp = client.post(
        f"/reviews/rounds/{review['round'].id}/comments/bulk",
        data={"comment_ids": ids, "bulk-decision": "noted", "bulk-response": "Thank you."},
    )
    assert resp.status_code == 302
    resp.close()
    messages = smtp_server.wait_for(2)
    assert sorted(str(m["To"]) for m in messages) == ["ana@example.org", "rui@example.org"]
    [rui_mail] = smtp_server.to("rui@example.org")
    assert rui_mail["Subject"] == "Se ha respondido a su observación sobre “Urban futures”"
    assert "Mention tenure." in smtp_server.text(rui_mail)
    assert "Cite the report." not in smtp_server.text(rui_mail)


def test_a_reply_reaches_the_comment_author_but_not_the_replier(review, smtp_server):
    post_comment(
        review["round"], review["lin"], body="I agree, and add data.", parent=review["ana_comment"]
    )
    post_comment(review["round"], review["ana"], body="Thanks!", parent=review["ana_comment"])
    db.session.commit()
    assert deliver_due().sent == 1
    [mail] = smtp_server.wait_for(1)
    assert mail["To"] == "ana@example.org"
    assert "Lin Wei" in mail["Subject"] or "Lin Wei" in smtp_server.text(mail)
    assert "I agree, and add data." in smtp_server.text(mail)


def test_never_means_no_mail_and_essential_mail_has_no_unsubscribe(client, review, smtp_server):
    set_preference(review["ana"], "comment-reply", "never")
    db.session.commit()
    post_comment(review["round"], review["lin"], body="Me too.", parent=review["ana_comment"])
    db.session.commit()
    assert deliver_due().sent == 0
    resp = client.post("/account/reset", data={"email": "ana@example.org"})
    resp.close()
    [reset] = smtp_server.wait_for(1)
    assert "/account/reset/" in smtp_server.text(reset)
    assert reset["List-Unsubscribe"] is None


def test_one_click_unsubscribe_works_without_a_session_and_turns_off_that_kind(
    app, review, smtp_server
):
    with app.test_request_context():
        link = unsubscribe_url(review["ana"], "comment-answered")
    path = link.split("://", 1)[1].split("/", 1)[1]
    anonymous = app.test_client()
    # A mail scanner following the link changes nothing.
    page = anonymous.get("/" + path)
    assert page.status_code == 200 and "Unsubscribe" in page.get_data(as_text=True)
    assert preferences_of(review["ana"])["comment-answered"] == "immediate"
    assert _unsubscribe_entries() == []
    # The mail provider's one-click POST: no cookies, no CSRF token.
    resp = anonymous.post("/" + path, data={"List-Unsubscribe": "One-Click"})
    assert resp.status_code == 200
    db.session.expire_all()
    prefs = preferences_of(review["ana"])
    assert prefs["comment-answered"] == "never"
    # Audited as the person the link names.
    assert _unsubscribe_entries() == [(review["ana"].id, "user", review["ana"].id)]
    assert prefs["comment-reply"] == "immediate"  # only that kind
    dispose_comment(review["ana_comment"], review["staff"], decision="noted", response="Ok.")
    db.session.commit()
    assert deliver_due().sent == 0

    # A tampered token does nothing.
    assert anonymous.post("/" + path[:-3] + "xyz").status_code == 404
    assert anonymous.get("/notifications/unsubscribe/not-a-token").status_code == 404


def _unsubscribe_entries():
    from portal.core.audit import AuditLog

    return db.session.execute(
        select(AuditLog.actor_id, AuditLog.object_type, AuditLog.object_id).where(
            AuditLog.action == "unsubscribe"
        )
    ).all()


def test_unsubscribe_is_csrf_safe_it_acts_on_the_link_never_on_the_session(
    app, client, review, monkeypatch
):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    login(client, "rui@example.org")
    # The preferences form, like every form with a session, needs its CSRF token …
    resp = client.post("/notifications/preferences", data={"kind-comment-reply": "never"})
    assert resp.status_code == 400
    db.session.expire_all()
    assert preferences_of(review["rui"])["comment-reply"] == "immediate"
    # … the unsubscribe link does not, because it only ever changes what its token names:
    # posted from Rui's browser, Ana's link turns off Ana's kind and nothing of Rui's.
    with app.test_request_context():
        link = unsubscribe_url(review["ana"], "comment-reply")
    resp = client.post("/" + link.split("://", 1)[1].split("/", 1)[1])
    assert resp.status_code == 200 and "ana@example.org" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert preferences_of(review["ana"])["comment-reply"] == "never"
    assert preferences_of(review["rui"])["comment-reply"] == "immediate"


def test_preferences_page_shows_and_saves_choices(client, review):
    login(client, "lin@example.org")
    page = client.get("/notifications/preferences").get_data(as_text=True)
    assert "Someone replies to my comment" in page
    assert "RSVP summary" not in page  # staff summaries are for staff
    resp = client.post("/notifications/preferences", data={"kind-comment-reply": "sometimes"})
    assert resp.status_code == 400 and "Choose one of the options." in resp.get_data(as_text=True)
    resp = client.post(
        "/notifications/preferences",
        data={"kind-comment-reply": "weekly", "kind-comment-answered": "daily"},
    )
    assert resp.status_code == 200 and "Your choices are saved." in resp.get_data(as_text=True)
    db.session.expire_all()
    prefs = preferences_of(review["lin"])
    assert (prefs["comment-reply"], prefs["comment-answered"]) == ("weekly", "daily")
    assert client.get("/notifications/preferences").status_code == 200
    anonymous = client.application.test_client()
    assert anonymous.get("/notifications/preferences").status_code == 302


def test_daily_digest_groups_by_round_in_the_recipients_language_and_time_zone(
    factories, review, smtp_server
):
    ana = review["ana"]
    set_preference(ana, "comment-answered", "daily")
    set_preference(ana, "comment-reply", "daily")
    set_viewer_timezone(ana, "Asia/Tokyo")  # UTC+9, no daylight saving
    other_version = factories.make_review_version(["Water for all."], title="Water report")
    other_round = factories.make_review_round(other_version, invited=[ana])
    other = factories.make_review_comment(other_round, ana, other_version.paragraphs[0])
    db.session.commit()
    dispose_comment(review["ana_comment"], review["staff"], decision="noted", response="Ok.")
    post_comment(review["round"], review["lin"], body="Agreed.", parent=review["ana_comment"])
    dispose_comment(other, review["staff"], decision="accepted", response="Yes.")
    db.session.commit()
    assert deliver_due().sent == 0  # nothing immediate
    # Pin the events' time: 2026-03-02 21:30 UTC = 06:30 on 3 March in Tokyo.
    at = datetime(2026, 3, 2, 21, 30, tzinfo=UTC)
    db.session.execute(update(NotificationEvent).values(created_at=at))
    db.session.commit()

    assert send_digests(now=at + timedelta(minutes=10)) == 0  # 06:40 in Tokyo: not yet
    seven = at + timedelta(minutes=31)  # 07:01 in Tokyo
    assert send_digests(now=seven) == 1
    db.session.commit()
    assert send_digests(now=seven + timedelta(hours=2)) == 0  # one digest per day
    db.session.commit()
    assert deliver_due().sent == 1
    [mail] = smtp_server.wait_for(1)
    assert mail["To"] == "ana@example.org"
    assert mail["Subject"] == "Votre résumé quotidien : 3 mise(s) à jour"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = smtp_server.text(mail)
    urban = text.index("== Urban futures — First review ==")
    water = text.index("== Water report — First review ==")
    assert urban < water
    urban_part, water_part = text[urban:water], text[water:]
    assert urban_part.count("\n- ") == 2 and water_part.count("\n- ") == 1
    assert "Asia/Tokyo" in text and "06:30" in text  # local time, French format
    events = db.session.scalars(select(NotificationEvent)).all()
    assert all(e.digested_at is not None for e in events)
    assert len({e.mail_id for e in events}) == 1


def test_digest_unsubscribe_turns_off_every_kind_in_that_digest(app, review):
    set_preference(review["ana"], "comment-answered", "weekly")
    set_preference(review["ana"], "comment-reply", "weekly")
    set_preference(review["ana"], "action-overdue", "daily")
    db.session.commit()
    with app.test_request_context():
        link = unsubscribe_url(review["ana"], "digest:weekly")
    resp = app.test_client().post(
        "/" + link.split("://", 1)[1].split("/", 1)[1], data={"List-Unsubscribe": "One-Click"}
    )
    assert resp.status_code == 200
    db.session.expire_all()
    prefs = preferences_of(review["ana"])
    assert prefs["comment-answered"] == prefs["comment-reply"] == "never"
    assert prefs["action-overdue"] == "daily"


def test_weekly_boundary_is_monday_seven_local():
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("America/New_York")
    # Wednesday 2026-03-04 15:00 UTC = 10:00 in New York → boundary Monday 2 March 07:00 EST.
    boundary = digest_boundary("weekly", datetime(2026, 3, 4, 15, 0, tzinfo=UTC), tz)
    assert boundary == datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    daily = digest_boundary("daily", datetime(2026, 3, 4, 11, 0, tzinfo=UTC), tz)
    assert daily == datetime(2026, 3, 3, 12, 0, tzinfo=UTC)  # 06:00 local: yesterday's 07:00


def test_outbox_rows_of_notifications_keep_their_unsubscribe_link(review):
    dispose_comment(review["ana_comment"], review["staff"], decision="noted", response="Ok.")
    db.session.commit()
    [row] = db.session.scalars(select(OutgoingMail)).all()
    assert row.unsubscribe_url and "/notifications/unsubscribe/" in row.unsubscribe_url


def test_a_decided_edit_proposal_reaches_the_partner_who_proposed_it(factories, smtp_server):
    from portal.partners.services import (
        approve_proposal,
        propose_organization_edit,
        reject_proposal,
    )

    staff = factories.make_user(Role.STAFF, email="staff@example.org")
    org = factories.make_org("Habitat Alliance")
    partner = factories.make_user(Role.PARTNER, organization=org, email="p@example.org")
    partner.locale = "ru"
    first = propose_organization_edit(partner, org, {"acronym": "HA"})
    second = propose_organization_edit(partner, org, {"acronym": "HAL"})
    db.session.commit()
    approve_proposal(staff, first)
    reject_proposal(staff, second, "The acronym is already taken.")
    db.session.commit()
    assert deliver_due().sent == 2
    approved, rejected = smtp_server.wait_for(2)
    assert approved["To"] == rejected["To"] == "p@example.org"
    assert approved["Subject"] == "Ваше предложение об изменении «Habitat Alliance» одобрено"
    assert "The acronym is already taken." in smtp_server.text(rejected)
    assert not smtp_server.to("staff@example.org")


def test_closing_a_round_early_tells_the_invitees_with_an_account(review, smtp_server):
    from portal.reviews.services import close_round

    close_round(review["round"], review["staff"])
    db.session.commit()
    assert deliver_due().sent == 3
    assert sorted(str(m["To"]) for m in smtp_server.wait_for(3)) == [
        "ana@example.org",
        "lin@example.org",
        "rui@example.org",
    ]
