"""The content-language picker on the meeting and minutes forms (issue 13, WCAG 3.1.2): the
language chosen is stored and the text renders with that ``lang`` (and ``dir="auto"``); left
on "Detect from the text", the language is detected; a malformed code is an error beside the
field, never a 500."""

from __future__ import annotations

import re

from sqlalchemy import select

from portal.consultations.models import Meeting, Minutes
from portal.extensions import db
from tests.conftest import login
from tests.consultations import make_group
from tests.consultations.test_meetings import _meeting_form, _staff
from tests.consultations.test_records import people  # noqa: F401 — pytest fixture


def test_meeting_form_offers_the_languages_by_their_own_names(client):
    _staff(client)
    group = make_group()
    db.session.commit()
    page = client.get(f"/consultations/meetings/new?group_id={group.id}&lang=fr").get_data(
        as_text=True
    )
    picker = re.search(r'<select[^>]*name="language".*?</select>', page, re.S).group(0)
    assert '<option value="">Détecter d&#39;après le texte</option>' in picker
    assert '<option lang="ar" value="ar">العربية</option>' in picker
    assert '<option lang="zh" value="zh">中文</option>' in picker


def test_meeting_language_chosen_on_the_form_is_stored_and_rendered(client):
    _staff(client)
    group = make_group()
    db.session.commit()
    # A Spanish title the detector could take for another language: the choice wins.
    form = _meeting_form(group.id, title="Consulta regional", description="", language="es")
    assert client.post("/consultations/meetings/new", data=form).status_code == 303
    meeting = db.session.scalar(select(Meeting))
    assert meeting.language == "es"
    page = client.get(f"/consultations/meetings/{meeting.id}?lang=ar").get_data(as_text=True)
    assert '<h1 lang="es" dir="auto">Consulta regional</h1>' in page
    # The edit form shows the stored choice.
    edit = client.get(f"/consultations/meetings/{meeting.id}/edit").get_data(as_text=True)
    assert '<option lang="es" selected value="es">' in edit


def test_meeting_language_left_to_detection(client):
    _staff(client)
    group = make_group()
    db.session.commit()
    form = _meeting_form(
        group.id,
        title="Consultation sur le rapport",
        description="Nous examinerons le rôle des autorités locales dans le logement.",
        language="",
    )
    assert client.post("/consultations/meetings/new", data=form).status_code == 303
    assert db.session.scalar(select(Meeting)).language == "fr"


def test_malformed_language_is_an_error_beside_the_field(client):
    _staff(client)
    group = make_group()
    db.session.commit()
    resp = client.post(
        "/consultations/meetings/new", data=_meeting_form(group.id, language="not a language!")
    )
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    assert "Give a language code such as en, fr or zh." in page
    assert db.session.scalar(select(Meeting)) is None


def _minutes(meeting_id: int) -> Minutes:
    minutes = db.session.scalar(select(Minutes).where(Minutes.meeting_id == meeting_id))
    db.session.refresh(minutes)
    return minutes


def test_minutes_language_chosen_on_the_form_is_stored_and_rendered(client, people):  # noqa: F811
    meeting = people["meeting"]
    login(client, people["staff"].email)
    editor = client.get(f"/consultations/meetings/{meeting.id}/minutes/edit").get_data(as_text=True)
    assert 'name="language"' in editor
    resp = client.post(
        f"/consultations/meetings/{meeting.id}/minutes/edit",
        data={"body": "# Ouverture\n\nLa séance est ouverte.", "version": "0", "language": "fr"},
    )
    assert resp.status_code == 302
    minutes = _minutes(meeting.id)
    assert minutes.language == "fr"
    page = client.get(f"/consultations/meetings/{meeting.id}/minutes?lang=zh").get_data(
        as_text=True
    )
    assert '<div lang="fr" dir="auto">' in page

    # Changing only the language keeps the text as it was.
    body = minutes.body
    client.post(
        f"/consultations/meetings/{meeting.id}/minutes/edit",
        data={"body": body, "version": str(minutes.version), "language": "es"},
    )
    minutes = _minutes(meeting.id)
    assert (minutes.language, minutes.body) == ("es", body)
    # New text with "detect": detected again from the text.
    client.post(
        f"/consultations/meetings/{meeting.id}/minutes/edit",
        data={
            "body": "# Opening\n\nThe chair opened the meeting and welcomed the members.",
            "version": str(minutes.version),
            "language": "",
        },
    )
    assert _minutes(meeting.id).language == "en"
