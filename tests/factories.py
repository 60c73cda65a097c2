"""Small factories for tests: each returns a flushed object with sensible defaults."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

from portal.accounts.models import Role, User
from portal.agreements.models import Agreement, AgreementParty, AgreementSdgTarget
from portal.extensions import db
from portal.partners.models import Country, Organization, Region

_seq = itertools.count(1)
TEST_PASSWORD = "correct horse battery staple"  # noqa: S105 - test accounts only


def make_user(
    role: str = Role.PARTNER, *, organization=None, email=None, name=None, active=True
) -> User:
    n = next(_seq)
    user = User(
        email=email or f"user{n}@example.org",
        name=name or f"User {n}",
        role=str(role),
        organization=organization,
        active=active,
    )
    user.set_password(TEST_PASSWORD)
    db.session.add(user)
    db.session.flush()
    return user


def make_org(
    name=None, *, country="KE", regions=("014",), is_public=True, org_type="22", **kw
) -> Organization:
    n = next(_seq)
    org = Organization(
        name=name or f"Organisation {n}",
        org_type=org_type,
        country=db.session.get(Country, country) if country else None,
        is_public=is_public,
        stakeholder_group=kw.pop("stakeholder_group", "civil-society"),
        description=kw.pop("description", "Works on housing and basic services."),
        partner_since=kw.pop("partner_since", date(2019, 5, 1)),
        **kw,
    )
    org.regions = [db.session.get(Region, code) for code in regions]
    db.session.add(org)
    db.session.flush()
    return org


def make_agreement(
    title=None,
    *,
    parties=(),
    visibility="public",
    status="active",
    agreement_type="cooperation-agreement",
    countries=("KE",),
    regions=("014",),
    sdg_targets=("11.1",),
    **kw,
) -> Agreement:
    n = next(_seq)
    agreement = Agreement(
        reference=kw.pop("reference", f"UNH/2024/{n:04d}"),
        title=title or f"Agreement {n}",
        summary=kw.pop("summary", "Upgrading informal settlements with community partners."),
        agreement_type=agreement_type,
        status=status,
        visibility=visibility,
        signed_on=kw.pop("signed_on", date(2024, 3, 1)),
        start_on=kw.pop("start_on", date(2024, 4, 1)),
        end_on=kw.pop("end_on", date(2026, 3, 31)),
        amount=kw.pop("amount", Decimal("250000.00")),
        currency=kw.pop("currency", "USD"),
        domain_of_change=kw.pop("domain_of_change", 1),
        **kw,
    )
    agreement.countries = [db.session.get(Country, c) for c in countries]
    agreement.regions = [db.session.get(Region, r) for r in regions]
    agreement.sdg_targets = [AgreementSdgTarget(target=t) for t in sdg_targets]
    for party in parties:
        org, role = party if isinstance(party, tuple) else (party, "implementing")
        agreement.parties.append(AgreementParty(organization=org, role=role))
    db.session.add(agreement)
    db.session.flush()
    return agreement


def make_document(
    agreement,
    *,
    filename="agreement.pdf",
    content=b"%PDF-1.4\n% test document\n",
    content_type="application/pdf",
    title=None,
    write_file=True,
):
    """An AgreementDocument row, with its bytes in the storage like an upload would."""
    import hashlib
    import io
    import secrets

    from portal.agreements.models import AgreementDocument
    from portal.storage import get_storage

    stored_name = secrets.token_hex(16)
    if write_file:
        get_storage().put(stored_name, io.BytesIO(content))
    doc = AgreementDocument(
        agreement=agreement,
        title=title or filename,
        filename=filename,
        stored_name=stored_name,
        content_type=content_type,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
    )
    db.session.add(doc)
    db.session.flush()
    return doc


# --- reviews (issue 5): documents, versions, rounds and comments built directly -------------


def make_review_version(
    texts, *, document=None, number=None, published=True, title="Draft background paper"
):
    """A document version whose paragraphs have ``texts`` (numbered 1, 2, 3 …)."""
    import secrets
    from datetime import UTC, datetime

    from portal.reviews.models import DocumentVersion, DraftDocument, Paragraph

    if document is None:
        document = DraftDocument(title=title, description="", lang="en")
        db.session.add(document)
        db.session.flush()
    if number is None:
        number = len(document.versions) + 1
    version = DocumentVersion(
        document=document,
        number=number,
        status="published" if published else "draft",
        source_format="md",
        published_at=datetime.now(UTC) if published else None,
    )
    db.session.add(version)
    db.session.flush()
    for position, text in enumerate(texts):
        db.session.add(
            Paragraph(
                version_id=version.id,
                position=position,
                number=position + 1,
                anchor=secrets.token_hex(4),
                text=text,
            )
        )
    db.session.flush()
    db.session.refresh(version)
    return version


def make_review_round(version, *, invited=(), title="First review", **kw):
    """An open round on ``version`` with an invitation for each user in ``invited``."""
    import hashlib
    import secrets
    from datetime import UTC, datetime, timedelta

    from portal.reviews.models import ReviewInvitation, ReviewRound

    now = datetime.now(UTC)
    review_round = ReviewRound(
        version_id=version.id,
        title=title,
        audience_kind=kw.pop("audience_kind", "emails"),
        audience=kw.pop("audience", {}),
        opens_at=kw.pop("opens_at", now - timedelta(days=1)),
        closes_at=kw.pop("closes_at", now + timedelta(days=14)),
        status=kw.pop("status", "open"),
        **kw,
    )
    db.session.add(review_round)
    db.session.flush()
    for user in invited:
        db.session.add(
            ReviewInvitation(
                round_id=review_round.id,
                user_id=user.id,
                email=user.email,
                token_hash=hashlib.sha256(secrets.token_bytes(16)).hexdigest(),
            )
        )
    db.session.flush()
    return review_round


def make_review_comment(review_round, author, paragraph=None, body="Please clarify.", **kw):
    from portal.reviews.models import Comment

    comment = Comment(
        round_id=review_round.id,
        paragraph_id=paragraph.id if paragraph is not None else None,
        author_id=author.id if author is not None else None,
        organization_id=author.organization_id if author is not None else None,
        body=body,
        comment_type=kw.pop("comment_type", "general"),
        **kw,
    )
    db.session.add(comment)
    db.session.flush()
    return comment
