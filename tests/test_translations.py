"""The user interface in the six UN languages: complete catalogues, safe translations, and
every page rendering in every language.

A broken translation fails at request time, in one language only: a placeholder renamed or a
stray "%" makes Jinja's newstyle gettext raise, which is a 500 for every French (say) reader
of that page. These tests catch that before a user does.
"""

from __future__ import annotations

import os
import re
from collections import deque
from gettext import GNUTranslations
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from portal.config import Config
from tests.conftest import login

ROOT = Path(__file__).resolve().parents[1]
TRANSLATIONS = ROOT / "portal" / "translations"
LANGUAGES = [code for code in Config.LANGUAGES if code != "en"]
PLACEHOLDER = re.compile(r"%(?:\([A-Za-z_0-9]+\))?[-+ #0-9.]*[sdifrx%]")


def key(message) -> tuple[str | None, str]:
    """(context, English singular): what identifies an entry."""
    return message.context, message.id if isinstance(message.id, str) else message.id[0]


def catalogue(lang: str):
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=lang)


@pytest.fixture(scope="module")
def source_ids(tmp_path_factory) -> set[str]:
    """Every translatable string in the code and templates, extracted as `pybabel` does."""
    out = tmp_path_factory.mktemp("i18n") / "messages.pot"
    cwd = Path.cwd()
    try:
        os.chdir(ROOT)
        CommandLineInterface().run(
            ["pybabel", "-q", "extract", "-F", "portal/babel.cfg", "-k", "_l", "-k",
             "lazy_gettext", "-k", "_lp:1c,2", "-o", str(out), "."]
        )  # fmt: skip
    finally:
        os.chdir(cwd)
    with out.open("rb") as fh:
        template = read_po(fh)
    return {key(m) for m in template if m.id}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalogue_translates_every_string_of_the_sources(lang, source_ids):
    messages = {key(m): m for m in catalogue(lang) if m.id}
    missing = sorted(source_ids - set(messages))
    assert not missing, f"run pybabel update (docs/translations.md); new strings: {missing[:5]}"
    untranslated = [
        msgid
        for msgid in source_ids
        if not messages[msgid].string
        or (isinstance(messages[msgid].string, tuple) and not all(messages[msgid].string))
        or messages[msgid].fuzzy
    ]
    assert not untranslated, f"{len(untranslated)} untranslated in {lang}: {untranslated[:5]}"


def unsafe_forms(message) -> list[str]:
    """Translations of ``message`` that would break formatting or lose a placeholder."""
    if isinstance(message.id, str):
        english, forms = [message.id], [message.string]
    else:
        english, forms = list(message.id), list(message.string)
    allowed = {p for text in english for p in PLACEHOLDER.findall(text)}
    bad = []
    for form in forms:
        placeholders = PLACEHOLDER.findall(form)
        stray = form.count("%") - sum(len(p) - len(p.lstrip("%")) for p in placeholders)
        if len(english) == 1:  # a singular keeps exactly the English placeholders
            wrong = sorted(placeholders) != sorted(PLACEHOLDER.findall(english[0]))
        else:  # a plural form may leave out the number ("one proposal"), never add one
            wrong = not set(placeholders) <= allowed
        if stray or wrong:
            bad.append(form)
    return bad


@pytest.mark.parametrize("lang", LANGUAGES)
def test_translations_keep_placeholders_and_percent_signs(lang):
    bad = [
        (message.id, unsafe_forms(message))
        for message in catalogue(lang)
        if message.id and message.string and unsafe_forms(message)
    ]
    assert not bad, bad[:5]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_compiled_catalogue_is_up_to_date(lang):
    buffer = BytesIO()
    write_mo(buffer, catalogue(lang))
    buffer.seek(0)
    expected = GNUTranslations(buffer)._catalog  # type: ignore[attr-defined]
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo").open("rb") as fh:
        compiled = GNUTranslations(fh)._catalog  # type: ignore[attr-defined]
    # The messages, not the header: the header carries the generator's version
    # ("Generated-By: Babel 2.18.0"), which changes with every Babel release.
    expected.pop("", None)
    compiled.pop("", None)
    assert compiled == expected, "run: pybabel compile -d portal/translations"


SKIP_LINK = re.compile(
    r"logout|/lang/|lang=|unsubscribe|download|export|\.ics|\.csv|\.xlsx|\.docx|/feed/|matrix"
)


def crawl(client, start: list[str], limit: int) -> dict[str, int]:
    """Follow the portal's own links breadth-first; each path once. {path: status}."""
    seen_paths: set[str] = set()
    statuses: dict[str, int] = {}
    queue = deque(start)
    while queue and len(statuses) < limit:
        url = queue.popleft()
        path = url.split("?")[0]
        if path in seen_paths:
            continue
        seen_paths.add(path)
        resp = client.get(url)
        statuses[url] = resp.status_code
        if resp.status_code != 200 or "text/html" not in resp.content_type:
            continue
        for href in re.findall(r'href="(/[^"#]*)"', resp.get_data(as_text=True)):
            href = href.replace("&amp;", "&")
            if not SKIP_LINK.search(href) and not href.startswith("/static/"):
                queue.append(href)
    return statuses


def test_every_page_renders_in_every_language(app, client, runner):
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    login(client, "admin@example.org", "demo-password-2026")
    start = [
        "/",
        "/staff/",
        "/staff/audit",
        "/staff/import/",
        "/consultations/dashboard",
        "/consultations/",
        "/consultations/meetings/new",
        "/reviews/",
        "/reviews/documents/new",
        "/agreements/new",
        "/account/users",
        "/search/?q=water",
        "/account/",
    ]
    for lang in LANGUAGES:
        client.get(f"/lang/{lang}")
        statuses = crawl(client, start, limit=70)
        errors = {url: status for url, status in statuses.items() if status >= 500}
        assert not errors, f"{lang}: {errors}"
        assert len(statuses) >= 40, f"{lang}: only {len(statuses)} pages reached"
        home = client.get("/").get_data(as_text=True)
        assert f'<html lang="{lang}"' in home
        assert ('dir="rtl"' in home) == (lang == "ar")
        with app.test_request_context(f"/?lang={lang}"):
            from flask_babel import gettext, refresh

            refresh()
            footer = gettext(
                "Partnership & Stakeholder Engagement Portal — open information on who we work"
                " with, where, on what and for how much."
            )
        assert not footer.startswith("Partnership & Stakeholder"), f"{lang} is not translated"
        assert footer in home  # gettext output is markup-safe: inserted as is


@pytest.mark.parametrize("lang", LANGUAGES)
def test_mail_is_written_in_the_recipients_language(app, factories, lang):
    from flask_babel import force_locale, gettext
    from sqlalchemy import select

    from portal.accounts.services import request_password_reset
    from portal.extensions import db
    from portal.notifications.models import OutgoingMail

    user = factories.make_user(email=f"reader-{lang}@example.org")
    user.locale = lang
    db.session.flush()
    with app.test_request_context("/"):  # the staff member's own language is English
        request_password_reset(user.email)
        with force_locale(lang):
            expected = gettext("Reset your Partnership Portal password")
    mail = db.session.scalar(select(OutgoingMail).where(OutgoingMail.to_address == user.email))
    assert mail.subject == expected != "Reset your Partnership Portal password"


def test_region_names_are_the_m49_names_of_the_data_file():
    from portal.partners.place_names import REGION_NAMES
    from portal.partners.reference import region_rows

    assert [str(name) for name in REGION_NAMES] == [row["name"] for row in region_rows()]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_country_and_region_has_a_name_in_every_language(app, lang):
    from portal.partners.place_names import place_name
    from portal.partners.reference import country_rows, region_rows

    names = [row["name"] for row in country_rows()] + [row["name"] for row in region_rows()]
    with app.test_request_context(f"/?lang={lang}"):
        translated = {name: place_name(name) for name in names}
    untranslated = [name for name, local in translated.items() if local == name]
    if lang in ("zh", "ar", "ru"):  # other scripts: every name must differ from the English
        assert not untranslated, untranslated[:10]
    else:  # Latin script: many names are spelt alike ("Kenya" in French)
        assert len(untranslated) < len(names) / 4, untranslated[:10]


def test_pages_show_places_in_the_readers_language(client, factories):
    from portal.extensions import db

    org = factories.make_org("Nairobi Urban Forum")
    org.country_code = "KE"
    db.session.commit()
    assert "肯尼亚" in client.get("/regions/country/KE?lang=zh").get_data(as_text=True)
    africa = client.get("/regions/002?lang=fr").get_data(as_text=True)
    assert "<h1>Afrique" in africa and "Afrique subsaharienne" in africa
    directory = client.get("/partners/?lang=es").get_data(as_text=True)
    assert "Kenia" in directory


def test_the_language_chosen_in_the_footer_stays_chosen(client):
    home = client.get("/partners/?sort=name").get_data(as_text=True)
    link = re.search(r'href="(/lang/fr\?[^"]+)"', home).group(1).replace("&amp;", "&")
    resp = client.get(link)
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/partners/")
    assert '<html lang="fr"' in client.get("/agreements/").get_data(as_text=True)
    assert client.get("/lang/fr?next=/\\evil.example").headers["Location"] == "/"


def test_the_audit_log_is_written_in_one_language_whoever_makes_the_change(client, factories):
    from sqlalchemy import select

    from portal.core.audit import AuditLog
    from portal.extensions import db

    factories.make_user("staff", email="staff-fr@example.org")
    db.session.commit()
    login(client, "staff-fr@example.org")
    client.get("/lang/fr")
    page = client.get("/partners/new").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    from tests.test_staff_management import org_form

    resp = client.post("/partners/new", data=org_form(csrf_token=token))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "create")).one()
    assert entry.summary.startswith("Created")  # English, though the page spoke French
