"""Fixtures for the reviews tests: the seed report as Markdown and DOCX (the acceptance
fixture, built by ``seed_fixture``), staff and reviewers, and a published draft with an open
round."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal.core.models import utcnow
from portal.extensions import db
from tests.reviews.seed_fixture import to_docx, to_markdown


@pytest.fixture(scope="session")
def seed_markdown() -> str:
    return to_markdown()


@pytest.fixture(scope="session")
def seed_docx() -> bytes:
    return to_docx()


@pytest.fixture
def staff(factories):
    return factories.make_user("staff", email="staff@unhabitat.example", name="Staff Member")


@pytest.fixture
def org(factories):
    return factories.make_org("Habitat Alliance Kenya")


@pytest.fixture
def reviewer(factories, org):
    return factories.make_user(
        "partner", organization=org, email="reviewer@partner.example", name="Rita Reviewer"
    )


@pytest.fixture
def other_reviewer(factories, org):
    return factories.make_user(
        "partner", organization=org, email="other@partner.example", name="Omar Other"
    )


@pytest.fixture
def outsider(factories, org):
    return factories.make_user(
        "partner", organization=org, email="outsider@partner.example", name="Olga Outsider"
    )


def publish_seed(markdown: str, staff, title: str = "人居署执行局报告草案"):
    from portal.reviews import services
    from portal.reviews.importing import parse_markdown

    document = services.create_document(title, "", "zh", staff)
    version = services.add_version(
        document,
        parse_markdown(markdown),
        source_format="md",
        source_filename="seed.md",
        changelog="",
        actor=staff,
    )
    services.publish_version(version, staff)
    return document, version


def open_emails_round(version, staff, emails, **kw):
    from portal.reviews import services

    params = {
        "title": "First review",
        "audience_kind": "emails",
        "audience": {"emails": emails},
        "opens_at": utcnow() - timedelta(hours=1),
        "closes_at": utcnow() + timedelta(days=10),
        "timezone": "Africa/Nairobi",
        "instructions": "Comment on paragraphs 1-40.",
        "reviewers_see_each_other": False,
        "allow_anonymous": False,
        "actor": staff,
    }
    params.update(kw)
    return services.open_round(version, **params)


@pytest.fixture
def review_round(seed_markdown, staff, reviewer, other_reviewer):
    """A published seed report with an open round for the two reviewers (invitations sent)."""
    from portal.reviews.jobs import run_pending_jobs

    _document, version = publish_seed(seed_markdown, staff)
    round_ = open_emails_round(version, staff, [reviewer.email, other_reviewer.email])
    db.session.commit()
    run_pending_jobs()
    return round_
