"""What the domains register into core (docs/architecture.md): the general worker's steps, the
viewer's principals, template helpers, the models whose language is detected, the home page.

Core lists none of these itself (tests/test_architecture.py checks that it imports no
domain); these tests check that the app still gets every one of them.
"""

from __future__ import annotations

from flask import render_template_string, url_for

from portal.core.content_language import content_models
from portal.core.principals import viewer_principals
from portal.core.worker import general_steps, register_worker_step
from portal.extensions import db


def test_the_general_worker_runs_every_domain_step_and_mail_after_those_that_queue_it(app):
    labels = [label for label, _step in general_steps()]
    assert labels == [
        "reviews",
        "consultations",
        "notifications",
        "search",
        "open data",
        "mail",
        "sessions",
    ]


def test_a_step_registered_again_replaces_the_first(app):
    before = dict(general_steps())
    try:
        register_worker_step("sessions", lambda: "replaced", order=95)
        steps = dict(general_steps())
        assert steps["sessions"]() == "replaced"
        assert len(steps) == len(before)
    finally:
        register_worker_step("sessions", before["sessions"], order=95)


def test_worker_round_removes_expired_sessions(app, runner, factories):
    from datetime import timedelta

    from portal.accounts.models import UserSession
    from portal.core.models import utcnow

    user = factories.make_user()
    db.session.flush()
    db.session.add(
        UserSession(
            user_id=user.id,
            key_hash=UserSession.hash("expired-key"),
            expires_at=utcnow() - timedelta(days=1),
        )
    )
    db.session.commit()
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "sessions: removed 1 expired session(s)" in result.output
    assert db.session.query(UserSession).count() == 0


def test_principals_come_from_the_domains(app, factories):
    org = factories.make_org()
    partner = factories.make_user(organization=org)
    staff = factories.make_user("staff")
    db.session.commit()
    assert viewer_principals(None) == {"public"}
    assert viewer_principals(partner) == {"public", f"user:{partner.id}", f"org:{org.id}"}
    assert "staff" in viewer_principals(staff)


def test_a_deactivated_staff_account_is_not_staff_in_search_either(app, factories):
    former = factories.make_user("staff", active=False)
    db.session.commit()
    assert "staff" not in viewer_principals(former)


def test_domain_vocabularies_and_filters_reach_every_template(app):
    with app.test_request_context():
        html = render_template_string(
            "{{ ORG_TYPES|length > 0 }} {{ PARTY_ROLES|length > 0 }} {{ 'Kenya'|place }}"
        )
    assert html == "True True Kenya"


def test_models_with_user_written_text_declare_it():
    names = {model.__name__ for model in content_models()}
    assert {"Organization", "Agreement", "Meeting", "Minutes", "Comment"} <= names


def test_the_home_page_keeps_its_url_and_endpoint(app, client):
    with app.test_request_context():
        assert url_for("core.home") == "/"
    response = client.get("/")
    assert response.status_code == 200
    assert 'class="brand" href="/"' in response.get_data(as_text=True)
