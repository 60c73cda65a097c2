"""One agreement schema (``portal.agreements.schema``) read by the form, the import, the
open-data files, the API and the IATI file: a downloaded file imports back unchanged."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.agreements import schema
from portal.agreements.models import Agreement
from portal.extensions import db
from portal.imports.reading import read_sheet
from portal.imports.services import plan_import
from portal.imports.validation import COLUMNS, EXAMPLES, REQUIRED_COLUMNS
from portal.opendata.dictionary import AGREEMENT_FIELDS
from tests import factories
from tests.conftest import login


@pytest.fixture
def catalogue():
    habitat = factories.make_org("UN-Habitat", org_type="40")
    quito = factories.make_org("Municipio de Quito", country="EC", regions=("419",))
    sdi = factories.make_org("Slum Dwellers International", country="ZA", regions=("018",))
    factories.make_agreement(
        "Safer public spaces — 更安全的公共空间",
        reference="UNH/2023/EC/001",
        parties=[(habitat, "accountable"), (quito, "implementing")],
        countries=("EC",),
        regions=("419",),
        sdg_targets=("11.3", "11.7"),
        amount=Decimal("1234567.89"),
        signed_on=date(2023, 5, 1),
    )
    factories.make_agreement(
        "المدن الآمنة",
        reference="UNH/2024/ZA/002",
        parties=[(sdi, "funding")],
        countries=("ZA",),
        regions=(),
        sdg_targets=(),
        amount=None,
        currency=None,
        domain_of_change=None,
        signed_on=None,
        summary="",
    )
    db.session.commit()


def _plan(data: bytes, filename: str):
    run = plan_import({"agreements": (filename, read_sheet(data, filename))})
    assert run.is_valid, [(e.row, e.column, e.message) for p in run.plans for e in p.errors]
    return run.plans[0]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_downloaded_agreements_file_imports_back_unchanged(client, catalogue, fmt):
    resp = client.get(f"/open-data/agreements.{fmt}")
    assert resp.status_code == 200
    plan = _plan(resp.data, f"agreements.{fmt}")
    assert sorted((r.label, r.action) for r in plan.rows) == [
        ("UNH/2023/EC/001", "unchanged"),
        ("UNH/2024/ZA/002", "unchanged"),
    ]
    # The columns the portal computes are accepted and left alone.
    assert "url" not in plan.columns and "iati_identifier" not in plan.columns


def test_an_edited_download_updates_only_what_was_edited(client, catalogue, app):
    staff = factories.make_user("staff")
    db.session.commit()
    text = client.get("/open-data/agreements.csv").data.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    for row in rows:
        if row["reference"] == "UNH/2024/ZA/002":
            row["title"] = "Safer cities"
            row["url"] = "https://example.org/ignored"  # computed: ignored, not an error
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    data = out.getvalue().encode()
    plan = _plan(data, "agreements.csv")
    assert sorted((r.label, r.action, tuple(r.changed_fields)) for r in plan.rows) == [
        ("UNH/2023/EC/001", "unchanged", ()),
        ("UNH/2024/ZA/002", "update", ("title",)),
    ]
    db.session.rollback()
    # Through the staff upload page, as a person would do it.
    login(client, staff.email)
    preview = client.post(
        "/staff/import/",
        data={"kind": "agreements", "file": (io.BytesIO(data), "agreements.csv")},
        content_type="multipart/form-data",
    )
    assert preview.status_code == 200, preview.get_data(as_text=True)[:2000]
    token = preview.get_data(as_text=True).split('name="token" type="hidden" value="')[1]
    token = token.split('"')[0]
    done = client.post("/staff/import/confirm", data={"token": token})
    assert done.status_code == 302
    db.session.expire_all()
    titles = dict(db.session.execute(select(Agreement.reference, Agreement.title)).all())
    assert titles == {
        "UNH/2023/EC/001": "Safer public spaces — 更安全的公共空间",
        "UNH/2024/ZA/002": "Safer cities",
    }


def test_an_unknown_column_is_still_refused(catalogue):
    data = (
        b"reference,title,agreement_type,status,visibility,colour\r\nX,Y,mou,active,public,red\r\n"
    )
    run = plan_import({"agreements": ("a.csv", read_sheet(data, "a.csv"))})
    assert not run.is_valid
    assert any("colour" in e.message for e in run.plans[0].errors)


def test_every_format_reads_its_columns_from_the_schema():
    exported = [f.name for f in schema.AGREEMENT_SCHEMA if f.exported]
    assert [f.name for f in AGREEMENT_FIELDS] == exported
    assert COLUMNS["agreements"] == [f.name for f in schema.AGREEMENT_SCHEMA if f.imported]
    assert REQUIRED_COLUMNS["agreements"] == [
        "reference",
        "title",
        "agreement_type",
        "status",
        "visibility",
    ]
    assert set(EXAMPLES["agreements"]) == set(COLUMNS["agreements"])
    # Everything exported is either read back by the import or computed by the portal.
    for spec in schema.AGREEMENT_SCHEMA:
        if spec.exported:
            assert spec.imported or spec.derived, spec.name


def test_the_import_template_is_the_schema(app, client):
    staff = factories.make_user("staff")
    db.session.commit()
    login(client, staff.email)
    resp = client.get("/staff/import/template/agreements.csv")
    header, example = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert header == schema.IMPORT_COLUMNS
    assert dict(zip(header, example, strict=True)) == schema.EXAMPLE_ROW


def test_the_form_labels_and_limits_come_from_the_schema(app):
    from portal.agreements.forms import AgreementForm

    with app.test_request_context():
        form = AgreementForm(formdata=None)
        for name in ("reference", "title", "currency", "signed_on", "sdg_targets"):
            assert form[name].label.text == str(schema.label(name))
        assert form.title.validators[1].max == schema.max_length("title") == 500


def test_the_api_shape_has_every_api_field_with_the_schema_description():
    from portal.api.schemas import AgreementDetail

    properties = AgreementDetail.model_json_schema()["properties"]
    for spec in schema.AGREEMENT_SCHEMA:
        if spec.api:
            assert spec.name in properties, spec.name
            assert schema.describe(spec.name) in properties[spec.name]["description"]


def test_the_iati_file_writes_every_element_the_schema_names(app, catalogue):
    from portal.opendata.iati import Publisher, activity_xml

    agreement = db.session.scalar(select(Agreement).where(Agreement.reference == "UNH/2023/EC/001"))
    with app.test_request_context():
        xml = activity_xml(agreement, Publisher.from_config(), date(2024, 1, 1))
    for spec in schema.AGREEMENT_SCHEMA:
        if spec.iati:
            assert f"<{spec.iati}" in xml, spec.name
