"""Bulk downloads at /open-data/ and the list pages' own CSV/XLSX/JSON links.

Who gets what (docs/open-data.md):
- /open-data/ files are the public catalogue, the same for everyone, staff included;
- a list page's download is that list, filtered, as the signed-in viewer sees it.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from portal.extensions import db
from portal.opendata.dictionary import AGREEMENT_FIELDS, PARTNER_FIELDS
from tests import factories
from tests.conftest import login
from tests.test_permission_matrix import (
    KINDS,
    ROLES,
    SEES_AGREEMENT,
    SEES_ORG_B,
    TITLES,
    as_role,
)
from tests.test_permission_matrix import world as matrix_world

FORMATS = ("csv", "xlsx", "json")


@pytest.fixture
def world():
    """The catalogue of the permission matrix: public, partners-only and internal agreements."""
    return matrix_world.__wrapped__()


def rows(resp, fmt: str) -> list[dict]:
    """The data rows of a CSV, XLSX or JSON download, as dicts of text."""
    assert resp.status_code == 200, resp.status_code
    if fmt == "csv":
        assert resp.data.startswith("\ufeff".encode())
        return list(csv.DictReader(io.StringIO(resp.data.decode("utf-8-sig"))))
    if fmt == "xlsx":
        sheet = load_workbook(io.BytesIO(resp.data), read_only=True).worksheets[0]
        values = list(sheet.iter_rows(values_only=True))
        header = values[0]
        return [
            {h: ("" if v is None else str(v)) for h, v in zip(header, row, strict=True)}
            for row in values[1:]
        ]
    payload = json.loads(resp.data)
    return payload["data"]


def titles(resp, fmt: str) -> set[str]:
    return {r["title"] for r in rows(resp, fmt)}


def names(resp, fmt: str) -> set[str]:
    return {r["name"] for r in rows(resp, fmt)}


def text(resp, fmt: str) -> str:
    """Everything a download says, readable whatever its format."""
    return json.dumps(rows(resp, fmt), ensure_ascii=False)


# --------------------------------------------------------------------------- who sees what


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("role", ROLES)
def test_public_files_hold_the_public_catalogue_for_everyone(client, world, role, fmt):
    as_role(client, world, role)
    resp = client.get(f"/open-data/agreements.{fmt}")
    assert titles(resp, fmt) == {TITLES["public"]}
    assert resp.headers["Cache-Control"] == "public, max-age=300"
    partners = names(client.get(f"/open-data/partners.{fmt}"), fmt)
    assert "Org Alpha" in partners and "Org Beta Hidden" not in partners
    body = text(client.get(f"/open-data/agreements.{fmt}"), fmt)
    # The hidden funder of the public agreement is not named, whoever downloads.
    assert "Org Beta Hidden" not in body
    assert "Undisclosed partner" in body


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("role", ROLES)
def test_agreement_list_downloads_follow_the_viewer(client, world, role, fmt):
    as_role(client, world, role)
    resp = client.get(f"/agreements/?format={fmt}")
    expected = {TITLES[kind] for kind in KINDS if role in SEES_AGREEMENT[kind]}
    assert titles(resp, fmt) == expected
    text = resp.data if fmt != "xlsx" else json.dumps(rows(resp, fmt)).encode()
    assert (b"Org Beta Hidden" in text) == (role in SEES_ORG_B)
    private = role != "anonymous"
    assert resp.headers["Cache-Control"] == (
        "private, no-store" if private else "public, max-age=300"
    )


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("role", ROLES)
def test_partner_directory_downloads_follow_the_viewer(client, world, role, fmt):
    as_role(client, world, role)
    got = names(client.get(f"/partners/?format={fmt}"), fmt)
    assert "Org Alpha" in got
    assert ("Org Beta Hidden" in got) == (role in SEES_ORG_B)


def test_list_downloads_keep_filters_and_order(client):
    kenya = factories.make_org("Kenyan Alliance", country="KE", regions=("014",))
    factories.make_org("Quito Network", country="EC", regions=("419",))
    factories.make_agreement("Zeta water", countries=("KE",), regions=("014",), parties=[kenya])
    factories.make_agreement("Alpha housing", countries=("KE",), regions=("014",))
    factories.make_agreement("Andes transport", countries=("EC",), regions=("419",))
    db.session.commit()
    for fmt in FORMATS:
        got = rows(client.get(f"/agreements/?format={fmt}&region=002&sort=title"), fmt)
        assert [r["title"] for r in got] == ["Alpha housing", "Zeta water"]
        got = rows(client.get(f"/partners/?format={fmt}&country=EC"), fmt)
        assert [r["name"] for r in got] == ["Quito Network"]


def test_list_pages_link_their_downloads(client):
    factories.make_agreement("Linked agreement")
    db.session.commit()
    page = client.get("/agreements/?region=002").get_data(as_text=True)
    for fmt in FORMATS:
        assert f"/agreements/?region=002&amp;format={fmt}" in page
    page = client.get("/partners/?org_type=22").get_data(as_text=True)
    for fmt in FORMATS:
        assert f"/partners/?org_type=22&amp;format={fmt}" in page


def test_unknown_format_is_the_page_or_a_404(client):
    assert client.get("/agreements/?format=pdf").mimetype == "text/html"
    assert client.get("/partners/?format=../../etc").mimetype == "text/html"
    assert client.get("/open-data/agreements.pdf").status_code == 404
    assert client.get("/open-data/users.csv").status_code == 404


# --------------------------------------------------------------------------- contents


@pytest.fixture
def record():
    org = factories.make_org(
        "Municipio de Quito",
        country="EC",
        regions=("419", "005"),
        org_type="11",
        website="https://www.quito.gob.ec",
        iati_ref="EC-MUN-1701",
        stakeholder_group="local-authorities",
        partner_since=date(2016, 10, 20),
        acronym="=cmd",
    )
    agreement = factories.make_agreement(
        "城市伙伴关系 — الشراكة",
        reference="UNH/2023/EC/001",
        summary='=HYPERLINK("http://evil")\x07',
        parties=[(org, "implementing")],
        countries=("EC",),
        regions=("419",),
        sdg_targets=("11.1", "11.3"),
        amount=Decimal("1234567.89"),
        currency="USD",
        signed_on=date(2023, 5, 1),
    )
    db.session.commit()
    return agreement


def test_csv_columns_and_values(client, record):
    resp = client.get("/open-data/agreements.csv")
    assert resp.mimetype == "text/csv" and resp.is_streamed
    assert 'filename="agreements.csv"' in resp.headers["Content-Disposition"]
    reader = csv.reader(io.StringIO(resp.data.decode("utf-8-sig")))
    assert next(reader) == [f.name for f in AGREEMENT_FIELDS]
    (row,) = rows(client.get("/open-data/agreements.csv"), "csv")
    assert row["title"] == "城市伙伴关系 — الشراكة"
    assert row["summary"].startswith("'=HYPERLINK")  # defused for spreadsheets
    assert row["amount"] == "1234567.89" and row["currency"] == "USD"
    assert row["signed_on"] == "2023-05-01"
    assert row["sdg_targets"] == "11.1;11.3"
    assert row["parties"] == "Municipio de Quito|implementing"
    assert row["url"].endswith(f"/agreements/{record.id}")
    assert row["iati_identifier"] == "XM-DAC-41120-UNH-2023-EC-001"
    (partner,) = rows(client.get("/open-data/partners.csv"), "csv")
    assert partner["acronym"] == "'=cmd"
    assert partner["regions"] == "005;419"
    assert partner["is_public"] == "yes"
    assert partner["partner_since"] == "2016-10-20"


def test_xlsx_types_dictionary_and_hostile_text(client, record):
    resp = client.get("/open-data/agreements.xlsx")
    assert resp.mimetype.endswith("spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(resp.data))
    data, about = book.worksheets
    header = [c.value for c in data[1]]
    assert header == [f.name for f in AGREEMENT_FIELDS]
    row = dict(zip(header, [c.value for c in data[2]], strict=True))
    assert row["summary"] == '\'=HYPERLINK("http://evil")'  # control character dropped
    assert data.cell(2, header.index("summary") + 1).data_type == "s"  # text, not a formula
    assert row["amount"] == pytest.approx(1234567.89)
    assert row["signed_on"].date() == date(2023, 5, 1)
    assert row["domain_of_change"] == 1
    dictionary = {r[0]: r for r in about.iter_rows(values_only=True) if r and r[0]}
    assert dictionary["amount"][1] == "number"
    assert dictionary["sdg_targets"][1] == "list of string (separated by ;)"
    assert dictionary["licence"][2] == "https://creativecommons.org/licenses/by/4.0/"


def test_json_structure(client, record):
    resp = client.get("/open-data/agreements.json")
    assert resp.mimetype == "application/json" and resp.is_streamed
    payload = json.loads(resp.data)
    assert payload["name"] == "agreements"
    assert payload["licence"] == {
        "name": "CC-BY-4.0",
        "title": "Creative Commons Attribution 4.0",
        "path": "https://creativecommons.org/licenses/by/4.0/",
    }
    (item,) = payload["data"]
    assert list(item) == [f.name for f in AGREEMENT_FIELDS]
    assert item["summary"] == '=HYPERLINK("http://evil")\x07'  # JSON is not a spreadsheet
    assert item["amount"] == 1234567.89
    assert item["sdg_targets"] == ["11.1", "11.3"]
    assert item["countries"] == ["EC"] and item["regions"] == ["419"]
    (party,) = item["parties"]
    assert party["name"] == "Municipio de Quito" and party["role"] == "implementing"
    assert party["url"].endswith(f"/partners/{record.parties[0].organization_id}")
    partners = json.loads(client.get("/open-data/partners.json").data)["data"]
    assert list(partners[0]) == [f.name for f in PARTNER_FIELDS]
    assert partners[0]["is_public"] is True and partners[0]["regions"] == ["005", "419"]


def test_empty_catalogue_files_are_well_formed(client):
    for fmt in FORMATS:
        assert rows(client.get(f"/open-data/agreements.{fmt}"), fmt) == []
        assert rows(client.get(f"/open-data/partners.{fmt}"), fmt) == []


def test_licence_comes_from_config(app, client, record):
    app.config.update(
        OPEN_DATA_LICENCE="ODbL-1.0",
        OPEN_DATA_LICENCE_TITLE="Open Data Commons Open Database License 1.0",
        OPEN_DATA_LICENCE_URL="https://opendatacommons.org/licenses/odbl/1-0/",
    )
    try:
        url = "https://opendatacommons.org/licenses/odbl/1-0/"
        package = client.get("/open-data/datapackage.json").get_json()
        assert package["licenses"] == [
            {
                "name": "ODbL-1.0",
                "title": "Open Data Commons Open Database License 1.0",
                "path": url,
            }
        ]
        resp = client.get("/open-data/partners.csv")
        assert f'<{url}>; rel="license"' in resp.headers["Link"]
        assert json.loads(client.get("/open-data/agreements.json").data)["licence"]["path"] == url
        page = client.get("/open-data/").get_data(as_text=True)
        assert f'href="{url}" rel="license"' in page and "ODbL-1.0" in page
    finally:
        app.config.update(
            OPEN_DATA_LICENCE="CC-BY-4.0",
            OPEN_DATA_LICENCE_TITLE="Creative Commons Attribution 4.0",
            OPEN_DATA_LICENCE_URL="https://creativecommons.org/licenses/by/4.0/",
        )


# --------------------------------------------------------------------------- datapackage.json


def test_datapackage_describes_every_file(client, record):
    package = client.get("/open-data/datapackage.json").get_json()
    assert package["name"] == "partnership-catalogue"
    for resource in package["resources"]:
        resp = client.get(f"/open-data/{resource['path']}")
        assert resp.status_code == 200, resource["path"]
        assert resp.mimetype == resource["mediatype"]
        assert resp.get_data()  # a streamed body is read before the next request
        if resource.get("schema"):
            fields = [f["name"] for f in resource["schema"]["fields"]]
            dataset = resource["name"].split("-")[0]
            assert fields == [r for r in rows(resp, resource["format"])[0]], dataset
    by_name = {r["name"]: r for r in package["resources"]}
    assert set(by_name) >= {
        "agreements-csv",
        "agreements-xlsx",
        "agreements-json",
        "partners-csv",
        "partners-xlsx",
        "partners-json",
        "iati-activities",
        "iati-organisations",
    }


def test_datapackage_validates_with_frictionless(client, record, tmp_path):
    """The package and its CSV and Excel files pass Frictionless validation, offline."""
    frictionless = pytest.importorskip("frictionless")
    factories.make_agreement("Second agreement", amount=None, currency=None, signed_on=None)
    db.session.commit()
    (tmp_path / "iati").mkdir()
    package = client.get("/open-data/datapackage.json").get_json()
    (tmp_path / "datapackage.json").write_text(json.dumps(package))
    for resource in package["resources"]:
        (tmp_path / resource["path"]).write_bytes(client.get(f"/open-data/{resource['path']}").data)
    tabular = {
        "profile": package["profile"],
        "name": package["name"],
        "licenses": package["licenses"],
        "resources": [r for r in package["resources"] if r.get("schema")],
    }
    (tmp_path / "tabular.json").write_text(json.dumps(tabular))
    report = frictionless.validate(str(tmp_path / "tabular.json"))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    # The whole descriptor (JSON and IATI resources too) is a valid Data Package.
    metadata = frictionless.Package.validate_descriptor(str(tmp_path / "datapackage.json"))
    assert metadata.valid, metadata.flatten(["type", "note"])


# --------------------------------------------------------------------------- pages


@pytest.mark.parametrize("lang", ["en", "ar", "zh"])
def test_index_and_dictionary_pages(client, record, lang):
    client.get(f"/lang/{lang}")
    page = client.get("/open-data/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for path in (
        "/open-data/agreements.csv",
        "/open-data/agreements.xlsx",
        "/open-data/partners.json",
        "/open-data/iati/activities.xml",
        "/open-data/iati/organisations.xml",
        "/open-data/datapackage.json",
        "/open-data/dictionary",
        "https://creativecommons.org/licenses/by/4.0/",
    ):
        assert path in html, path
    assert ">1</td>" in html  # one public agreement, one public partner
    dictionary = client.get("/open-data/dictionary").get_data(as_text=True)
    for spec in AGREEMENT_FIELDS + PARTNER_FIELDS:
        assert f'<code dir="ltr">{spec.name}</code>' in dictionary
    assert "XM-DAC-41120" in dictionary
    if lang == "ar":
        assert 'dir="rtl"' in html


def test_whole_catalogue_files_are_rate_limited(app, client):
    app.config["OPEN_DATA_RATE_LIMIT"] = "3 per minute"
    try:
        paths = ["/open-data/partners.csv", "/open-data/iati/activities.xml"] * 2
        statuses = [client.get(path).status_code for path in paths]
        assert statuses == [200, 200, 200, 429]
        assert client.get("/open-data/").status_code == 200  # pages are not limited
    finally:
        app.config["OPEN_DATA_RATE_LIMIT"] = "30 per minute;300 per hour"


def test_footer_links_open_data(client):
    assert 'href="/open-data/"' in client.get("/").get_data(as_text=True)


def test_staff_sign_in_does_not_change_public_counts(client, world):
    login(client, world.emails["staff"])
    html = client.get("/open-data/").get_data(as_text=True)
    assert html.count(">1</td>") >= 1 and ">3</td>" not in html
