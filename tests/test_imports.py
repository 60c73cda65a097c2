"""Bulk import (DESIGN §7): CSV/XLSX parsing, precise row errors, all-or-nothing, idempotence,
the CLI and the staff upload page."""

from __future__ import annotations

import csv
import io
import re
import time
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from portal.agreements.models import Agreement
from portal.core.audit import AuditLog
from portal.extensions import db
from portal.imports.reading import read_sheet
from portal.imports.services import plan_import
from portal.imports.validation import COLUMNS
from portal.partners.models import Organization
from tests.conftest import login

DATA = Path(__file__).parent / "data"
ORG_COLUMNS = COLUMNS["organizations"]
AGR_COLUMNS = COLUMNS["agreements"]

# The three bad rows, as (spreadsheet row, column) — header is row 1, data row i is row i + 2.
BAD_ROWS = {57: "country", 203: "org_type", 444: "partner_since"}

COUNTRIES = ["KE", "LB", "CN", "EG", "SN", "BR", "FR", "IN", "RU", "MX"]
REGIONS = {
    "KE": "014",
    "LB": "145",
    "CN": "030",
    "EG": "015",
    "SN": "011",
    "BR": "005",
    "FR": "155",
    "IN": "034",
    "RU": "151",
    "MX": "013",
}


def org_rows(n: int = 500, *, bad: bool = False) -> list[dict]:
    rows = []
    for i in range(n):
        country = COUNTRIES[i % len(COUNTRIES)]
        name = {
            0: f"Community Housing Trust {i}",
            1: f"城市规划研究院 {i}",
            2: f"جمعية التنمية الحضرية {i}",
            3: f"Association pour l'habitat {i}",
        }[i % 4]
        rows.append(
            {
                "name": name,
                "acronym": f"O{i}",
                "org_type": ["22", "80", "11", "21"][i % 4],
                "country": country,
                "regions": REGIONS[country],
                "website": f"https://org{i}.example.org",
                "stakeholder_group": [
                    "civil-society",
                    "research-academia",
                    "local-authorities",
                    "women",
                ][i % 4],
                "partner_since": f"20{10 + i % 15:02d}-0{1 + i % 9}-15",
                "is_public": "yes" if i % 5 else "no",
                "description": f"Works on housing, row {i}.\nSecond line — 第二行 — السطر الثاني",
            }
        )
    if bad:
        rows[57 - 2]["country"] = "XX"
        rows[203 - 2]["org_type"] = "99"
        rows[444 - 2]["partner_since"] = "2021-02-30"
    return rows


def write_csv(path: Path, columns: list[str], rows: list[dict]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:  # with a BOM, like Excel
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, columns: list[str], rows: list[dict]) -> Path:
    """Typed cells, as a spreadsheet program would save them: dates as dates, codes as numbers."""
    wb = Workbook()
    ws = wb.active
    ws.append(columns)
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column, "")
            if column in ("partner_since", "signed_on", "start_on", "end_on") and value:
                try:
                    value = datetime.strptime(value, "%Y-%m-%d")
                except ValueError:
                    pass  # an impossible date stays text, as it would in a real sheet
            elif column in ("org_type", "domain_of_change") and value.isdigit():
                value = int(value)
            elif column == "amount" and value:
                value = float(value)
            cells.append(value if value != "" else None)
        ws.append(cells)
    wb.save(path)
    return path


WRITERS = {"csv": write_csv, "xlsx": write_xlsx}


def run_import(runner, kind: str, path: Path, *extra: str):
    return runner.invoke(args=["import", kind, str(path), *extra])


def org_count() -> int:
    return db.session.scalar(select(func.count(Organization.id)))


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_three_bad_rows_are_reported_exactly_and_nothing_is_written(fmt, tmp_path, runner):
    path = WRITERS[fmt](tmp_path / f"orgs.{fmt}", ORG_COLUMNS, org_rows(bad=True))

    run = plan_import({"organizations": (path.name, read_sheet(path.read_bytes(), path.name))})
    errors = run.plans[0].errors
    assert [(e.row, e.column) for e in errors] == sorted(BAD_ROWS.items())
    assert (
        "XX" in errors[0].message
        and "99" in errors[1].message
        and "2021-02-30" in errors[2].message
    )

    result = run_import(runner, "organizations", path)
    assert result.exit_code == 1
    for row, column in BAD_ROWS.items():
        assert str(row) in result.output and column in result.output
    assert "Nothing was imported" in result.output
    db.session.rollback()
    assert org_count() == 0
    assert db.session.scalar(select(func.count(AuditLog.id))) == 0


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_valid_file_imports_and_reimport_changes_nothing(fmt, tmp_path, runner):
    rows = org_rows()
    path = WRITERS[fmt](tmp_path / f"orgs.{fmt}", ORG_COLUMNS, rows)

    result = run_import(runner, "organizations", path)
    assert result.exit_code == 0, result.output
    assert "500 created, 0 updated, 0 unchanged" in result.output
    assert org_count() == 500

    # Text in several scripts and multi-line cells survive the round trip exactly.
    chinese = db.session.scalar(select(Organization).where(Organization.name == "城市规划研究院 1"))
    arabic = db.session.scalar(
        select(Organization).where(Organization.name == "جمعية التنمية الحضرية 2")
    )
    assert chinese is not None and arabic is not None
    assert arabic.description == rows[2]["description"]
    assert arabic.country_code == "CN" and [r.code for r in arabic.regions] == ["030"]
    assert chinese.partner_since.isoformat() == rows[1]["partner_since"]
    assert (
        db.session.scalar(
            select(Organization.is_public).where(Organization.name == rows[0]["name"])
        )
        is False
    )

    stamps = dict(db.session.execute(select(Organization.id, Organization.updated_at)).all())
    db.session.expire_all()
    time.sleep(0.01)
    again = run_import(runner, "organizations", path)
    assert again.exit_code == 0, again.output
    assert "0 created, 0 updated, 500 unchanged" in again.output
    db.session.expire_all()
    assert (
        dict(db.session.execute(select(Organization.id, Organization.updated_at)).all()) == stamps
    )
    audits = db.session.scalars(
        select(AuditLog).where(AuditLog.action == "import").order_by(AuditLog.id)
    ).all()
    assert len(audits) == 2  # one entry per run, not per row
    assert audits[0].after["counts"]["organizations"] == {
        "create": 500,
        "update": 0,
        "unchanged": 0,
    }


def test_changed_rows_are_updated_and_only_those(tmp_path, runner):
    rows = org_rows(20)
    path = write_csv(tmp_path / "orgs.csv", ORG_COLUMNS, rows)
    assert run_import(runner, "organizations", path).exit_code == 0
    rows[3]["description"] = "Nouvelle description"
    rows[4]["regions"] = "011;002"
    write_csv(path, ORG_COLUMNS, rows)
    result = run_import(runner, "organizations", path)
    assert "0 created, 2 updated, 18 unchanged" in result.output
    org = db.session.scalar(select(Organization).where(Organization.name == rows[4]["name"]))
    assert [r.code for r in org.regions] == ["002", "011"]


def test_header_problems_are_one_clear_error_each(tmp_path):
    path = tmp_path / "orgs.csv"
    path.write_text("name,acronym,colour\nA,B,red\n", encoding="utf-8")
    run = plan_import({"organizations": (path.name, read_sheet(path.read_bytes(), path.name))})
    messages = [(e.row, e.column, e.message) for e in run.plans[0].errors]
    assert any(
        row == 1 and col == "colour" and "Unknown column" in msg for row, col, msg in messages
    )
    missing = [m for m in messages if "Missing required column" in m[2]]
    assert len(missing) == 1 and "org_type" in missing[0][2] and "country" in missing[0][2]


def test_unpadded_region_gets_a_helpful_hint(tmp_path):
    rows = org_rows(2)
    rows[1]["regions"] = "2"
    path = write_csv(tmp_path / "orgs.csv", ORG_COLUMNS, rows)
    run = plan_import({"organizations": (path.name, read_sheet(path.read_bytes(), path.name))})
    [error] = run.plans[0].errors
    assert (error.row, error.column) == (3, "regions")
    assert "use 3 digits, e.g. 002" in error.message


def test_duplicate_rows_in_one_file_are_errors(tmp_path):
    rows = org_rows(3)
    rows.append(dict(rows[0]))
    path = write_csv(tmp_path / "orgs.csv", ORG_COLUMNS, rows)
    run = plan_import({"organizations": (path.name, read_sheet(path.read_bytes(), path.name))})
    [error] = run.plans[0].errors
    assert error.row == 5 and "row 2" in error.message


def agreement_row(reference: str, parties: str, **changes) -> dict:
    row = {
        "reference": reference,
        "title": "Participatory slum upgrading",
        "summary": "Community-led.",
        "agreement_type": "project-cooperation-agreement",
        "status": "active",
        "signed_on": "2023-01-10",
        "start_on": "2023-02-01",
        "end_on": "2025-12-31",
        "amount": "1250000.50",
        "currency": "USD",
        "domain_of_change": "1",
        "sdg_targets": "11.1;11.3",
        "countries": "KE",
        "regions": "014",
        "parties": parties,
        "visibility": "public",
    }
    row.update(changes)
    return row


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_agreements_resolve_parties_and_reimport_is_a_no_op(fmt, tmp_path, runner, factories):
    habitat = factories.make_org("UN-Habitat", org_type="40")
    slum = factories.make_org("Slum Dwellers International", country="ZA", regions=("018",))
    db.session.commit()
    rows = [
        agreement_row(
            "UNH/2023/KE/001", "UN-Habitat|accountable;Slum Dwellers International|implementing"
        ),
        agreement_row(
            "UNH/2023/KE/002",
            "un-habitat|accountable",
            title="المدن الآمنة — 更安全城市",
            amount="",
            currency="",
            sdg_targets="11.7",
        ),
    ]
    path = WRITERS[fmt](tmp_path / f"agreements.{fmt}", AGR_COLUMNS, rows)
    result = run_import(runner, "agreements", path)
    assert result.exit_code == 0, result.output
    assert "2 created" in result.output

    first = db.session.scalar(select(Agreement).where(Agreement.reference == "UNH/2023/KE/001"))
    assert {(p.organization_id, p.role) for p in first.parties} == {
        (habitat.id, "accountable"),
        (slum.id, "implementing"),
    }
    assert str(first.amount) == "1250000.50" and first.currency == "USD"
    assert [t.target for t in first.sdg_targets] == ["11.1", "11.3"]
    second = db.session.scalar(select(Agreement).where(Agreement.reference == "UNH/2023/KE/002"))
    assert second.title == "المدن الآمنة — 更安全城市" and second.amount is None

    stamp = first.updated_at
    db.session.expire_all()
    again = run_import(runner, "agreements", path)
    assert "0 created, 0 updated, 2 unchanged" in again.output
    db.session.expire_all()
    assert db.session.get(Agreement, first.id).updated_at == stamp


def test_agreement_parties_may_come_from_the_same_run(tmp_path, runner):
    orgs = write_csv(tmp_path / "orgs.csv", ORG_COLUMNS, org_rows(4))
    agreements = write_csv(
        tmp_path / "agreements.csv",
        AGR_COLUMNS,
        [
            agreement_row(
                "UNH/2024/CN/001", "城市规划研究院 1|implementing;Community Housing Trust 0|funding"
            )
        ],
    )
    result = run_import(runner, "agreements", agreements, "--organizations", str(orgs))
    assert result.exit_code == 0, result.output
    agreement = db.session.scalar(select(Agreement))
    assert sorted((p.organization.name, p.role) for p in agreement.parties) == [
        ("Community Housing Trust 0", "funding"),
        ("城市规划研究院 1", "implementing"),
    ]
    assert db.session.scalar(select(func.count(AuditLog.id))) == 1  # one entry for the whole run


def test_unknown_and_ambiguous_parties_are_errors(tmp_path, runner, factories):
    factories.make_org("City Water Board", country="KE")
    factories.make_org("City Water Board", country="UG", regions=("014",))
    db.session.commit()
    rows = [
        agreement_row("A-1", "Nobody Knows Us|implementing"),
        agreement_row("A-2", "City Water Board|implementing"),
        agreement_row("A-3", "City Water Board (UG)|implementing"),
        agreement_row("A-1", "City Water Board (KE)|boss", end_on="2020-01-01"),
    ]
    path = write_csv(tmp_path / "agreements.csv", AGR_COLUMNS, rows)
    result = run_import(runner, "agreements", path)
    assert result.exit_code == 1
    run = plan_import({"agreements": (path.name, read_sheet(path.read_bytes(), path.name))})
    errors = [(e.row, e.column) for e in run.plans[0].errors]
    assert (2, "parties") in errors and (3, "parties") in errors
    assert not any(row == 4 for row, _ in errors)  # “Name (UG)” disambiguates
    assert {(5, "reference"), (5, "parties"), (5, "end_on")} <= set(errors)
    ambiguous = next(e for e in run.plans[0].errors if e.row == 3)
    assert "City Water Board (KE)" in ambiguous.message
    db.session.rollback()
    assert db.session.scalar(select(func.count(Agreement.id))) == 0


def test_dry_run_validates_and_writes_nothing(tmp_path, runner):
    path = write_csv(tmp_path / "orgs.csv", ORG_COLUMNS, org_rows(30))
    result = run_import(runner, "organizations", path, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "would create 30, update 0, leave 0 unchanged" in result.output
    assert "nothing was written" in result.output
    assert org_count() == 0
    assert db.session.scalar(select(func.count(AuditLog.id))) == 0


def test_sample_files_import_together(runner):
    result = run_import(
        runner,
        "agreements",
        DATA / "agreements_sample.csv",
        "--organizations",
        str(DATA / "organizations_sample.csv"),
    )
    assert result.exit_code == 0, result.output
    assert (
        db.session.scalar(select(Organization).where(Organization.name == "松阳县人民政府"))
        is not None
    )
    assert db.session.scalar(select(func.count(Agreement.id))) == 3


def test_five_thousand_rows_validate(tmp_path):
    # Speed is measured by scripts, not asserted here; this checks a large file plans fully.
    path = write_csv(tmp_path / "orgs.csv", ORG_COLUMNS, org_rows(5000))
    run = plan_import({"organizations": (path.name, read_sheet(path.read_bytes(), path.name))})
    assert run.is_valid and run.plans[0].counts["create"] == 5000


# --- staff upload page --------------------------------------------------------------------


@pytest.fixture
def staff_client(client, factories, app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_DIR", str(tmp_path / "imports"))
    user = factories.make_user("staff", email="importer@example.org")
    db.session.commit()
    assert login(client, user.email).status_code in (302, 303)
    return client


def upload(client, kind: str, name: str, data: bytes):
    return client.post(
        "/staff/import/",
        data={"kind": kind, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def test_upload_preview_lists_errors_and_offers_no_confirm(staff_client, tmp_path):
    path = write_csv(tmp_path / "orgs.csv", ORG_COLUMNS, org_rows(500, bad=True)[:60])
    resp = upload(staff_client, "organizations", "orgs.csv", path.read_bytes())
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert "1 error" in page and "“XX” is not an ISO 3166-1 alpha-2 country code" in page
    assert "<td>57</td>" in page
    assert "Confirm import" not in page
    assert org_count() == 0


def test_upload_preview_then_confirm_imports(staff_client, tmp_path):
    rows = org_rows(25)
    path = write_xlsx(tmp_path / "orgs.xlsx", ORG_COLUMNS, rows)
    resp = upload(staff_client, "organizations", "orgs.xlsx", path.read_bytes())
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Confirm import" in page
    assert "城市规划研究院 1" in page  # the preview shows the rows as read
    assert "城市规划研究院 21" not in page  # …only the first 20 of them
    assert org_count() == 0  # the preview writes nothing
    # The summary figures are numbers (`counts.update` once printed a dict method).
    assert "built-in method" not in page
    figures = re.findall(r'<span class="number">([^<]*)</span>', page)
    assert figures[:3] == ["25", "0", "0"], figures

    token = page.split('name="token" type="hidden" value="')[1].split('"')[0]
    done = staff_client.post("/staff/import/confirm", data={"token": token}, follow_redirects=True)
    assert done.status_code == 200
    assert "25 created, 0 updated, 0 unchanged" in done.get_data(as_text=True)
    assert org_count() == 25
    # The stored upload is gone: confirming twice does not import twice.
    twice = staff_client.post("/staff/import/confirm", data={"token": token}, follow_redirects=True)
    assert "expired or was already imported" in twice.get_data(as_text=True)
    assert (
        db.session.scalar(select(func.count(AuditLog.id)).where(AuditLog.action == "import")) == 1
    )


def test_broken_xlsx_gets_a_clear_error_not_a_500(staff_client):
    resp = upload(staff_client, "organizations", "orgs.xlsx", b"PK\x03\x04this is not really a zip")
    assert resp.status_code == 400
    assert "could not be opened" in resp.get_data(as_text=True)
    resp = upload(staff_client, "organizations", "orgs.csv", "name\n".encode("utf-16"))
    assert resp.status_code == 400
    assert "CSV" in resp.get_data(as_text=True)
    resp = upload(staff_client, "organizations", "orgs.pdf", b"%PDF-1.4")
    assert resp.status_code == 400
    assert "Only .csv and .xlsx files can be imported" in resp.get_data(as_text=True)


def test_template_download_is_a_valid_import_file(staff_client, tmp_path, factories):
    resp = staff_client.get("/staff/import/template/organizations.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(resp.get_data().decode("utf-8-sig"))))
    assert rows[0] == ORG_COLUMNS and len(rows) == 2
    preview = upload(staff_client, "organizations", "template.csv", resp.get_data())
    assert "Confirm import" in preview.get_data(as_text=True)


def test_anonymous_users_are_sent_to_log_in(client):
    resp = client.get("/staff/import/")
    assert resp.status_code == 302 and "/account/login" in resp.headers["Location"]


def test_non_staff_get_403(client, factories):
    partner = factories.make_user(
        "partner", email="partner@example.org", organization=factories.make_org()
    )
    db.session.commit()
    login(client, partner.email)
    assert client.get("/staff/import/").status_code == 403
    assert upload(client, "organizations", "orgs.csv", b"name\n").status_code == 403
    assert client.get("/staff/import/template/agreements.csv").status_code == 403
