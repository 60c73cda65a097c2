"""Content language (issue 13, WCAG 3.1.2): user-written text stores its language — chosen on a
form or in an import, detected when not given — and pages mark it with lang and dir="auto",
while the interface around it keeps the reader's language."""

from __future__ import annotations

import re

from portal.core.content_language import content_attrs, detect_language, valid_language
from portal.extensions import db
from portal.partners.models import Organization
from tests.conftest import login


def test_detection_tells_the_un_languages_apart():
    assert detect_language("Upgrading informal settlements with community partners.") == "en"
    assert detect_language("Amélioration des quartiers informels avec les partenaires.") == "fr"
    assert detect_language("Mejora de los asentamientos informales con socios locales.") == "es"
    assert detect_language("Благоустройство неформальных поселений вместе с партнёрами.") == "ru"
    assert detect_language("与社区伙伴一起改造非正规住区。") == "zh"
    assert detect_language("تحسين المستوطنات غير الرسمية مع الشركاء المجتمعيين.") == "ar"


def test_too_little_text_is_not_guessed():
    assert detect_language("UCLG") is None
    assert detect_language("", None) is None


def test_language_codes_are_normalised_or_refused():
    assert valid_language("FR") is None  # codes are lower case: "FR" is not a language tag
    assert valid_language("fr") == "fr"
    assert valid_language("zh-Hans") == "zh-Hans"
    assert valid_language("french!") is None
    assert valid_language("") is None


def test_attributes_isolate_text_and_name_its_language():
    assert str(content_attrs("zh")) == ' lang="zh" dir="auto"'
    assert str(content_attrs(None)) == ' dir="auto"'
    assert "&#34;" in str(content_attrs('x"onload="1')) or "&quot;" in str(
        content_attrs('x"onload="1')
    )


def test_a_record_saved_without_a_language_gets_the_detected_one(factories):
    org = factories.make_org(
        name="Ciudades Unidas", description="Red mundial de gobiernos locales y regionales."
    )
    assert org.language == "es"
    chosen = factories.make_org(
        name="Ciudades Unidas 2",
        description="Red mundial de gobiernos locales y regionales.",
        language="en",
    )
    assert chosen.language == "en"  # a choice is never overwritten by a guess


def test_partner_page_marks_the_description_with_its_language_in_an_arabic_interface(
    client, factories
):
    org = factories.make_org(
        name="Université Cheikh Anta Diop",
        description="Université publique du Sénégal, partenaire pour la recherche urbaine.",
    )
    db.session.commit()
    html = client.get(f"/partners/{org.id}?lang=ar").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in html
    assert re.search(r'<p lang="fr" dir="auto">Université publique', html)
    assert re.search(r'<bdi lang="fr" dir="auto">Université Cheikh Anta Diop</bdi>', html)


def test_staff_choose_the_language_on_the_form_and_a_bad_code_is_refused(client, factories):
    staff = factories.make_user("staff")
    db.session.commit()
    login(client, staff.email)
    form = {
        "name": "Habitat pour tous",
        "org_type": "22",
        "country_code": "FR",
        "description": "Short.",
        "language": "fr",
        "stakeholder_group": "civil-society",
        "is_public": "y",
    }
    response = client.post("/partners/new", data=form)
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:2000]
    org = db.session.scalar(db.select(Organization).where(Organization.name == form["name"]))
    assert org.language == "fr"

    form.update(name="Habitat pour tous 2", language="not a language")
    response = client.post("/partners/new", data=form)
    assert response.status_code == 400
    assert "Give a language code such as en, fr or zh." in response.get_data(as_text=True)


def test_import_sets_the_given_language_detects_a_missing_one_and_refuses_a_bad_one(
    tmp_path, runner
):
    from tests.test_imports import run_import, write_csv

    columns = ["name", "org_type", "country", "description", "language"]
    rows = [
        {"name": "Given", "org_type": "22", "country": "KE", "description": "x", "language": "sw"},
        {
            "name": "Detected",
            "org_type": "22",
            "country": "FR",
            "description": "Association nationale pour le logement des jeunes travailleurs.",
            "language": "",
        },
    ]
    result = run_import(runner, "organizations", write_csv(tmp_path / "ok.csv", columns, rows))
    assert result.exit_code == 0, result.output
    languages = dict(db.session.execute(db.select(Organization.name, Organization.language)).all())
    assert languages == {"Given": "sw", "Detected": "fr"}

    bad = [{**rows[0], "name": "Bad", "language": "Swahili!"}]
    result = run_import(runner, "organizations", write_csv(tmp_path / "bad.csv", columns, bad))
    assert result.exit_code != 0
    assert "is not a language code" in result.output
