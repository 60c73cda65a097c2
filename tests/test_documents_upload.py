"""Staff attach documents to agreements: only real files of allowed types are stored, under a
random name, and a rejected upload leaves nothing behind (no row, no file)."""

from __future__ import annotations

import hashlib
import io
import os
import re
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from portal.accounts.models import Role
from portal.agreements.models import AgreementDocument
from portal.core.audit import AuditLog
from portal.extensions import db
from tests.conftest import login

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def field_error(page: str, field_id: str) -> str | None:
    match = re.search(
        rf'<ul class="errors" id="{re.escape(field_id)}-err"[^>]*>(.*?)</ul>', page, re.S
    )
    return re.sub(r"<[^>]+>", " ", match.group(1)).strip() if match else None


def make_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buf.getvalue()


@pytest.fixture
def upload_dir(app) -> Path:
    return Path(app.config["UPLOAD_DIR"])


@pytest.fixture
def agreement(factories):
    org = factories.make_org("Document Party")
    agreement = factories.make_agreement("Agreement with files", parties=[org])
    db.session.commit()
    return agreement


@pytest.fixture
def staff_client(client, factories):
    staff = factories.make_user(Role.STAFF)
    db.session.commit()
    login(client, staff.email)
    return client


def upload(
    client, agreement_id: int, content: bytes, filename: str, title: str = "Signed agreement"
):
    return client.post(
        f"/agreements/{agreement_id}/documents/new",
        data={"title": title, "file": (io.BytesIO(content), filename)},
        content_type="multipart/form-data",
    )


def documents() -> list[AgreementDocument]:
    db.session.expire_all()
    return list(db.session.scalars(select(AgreementDocument).order_by(AgreementDocument.id)))


def test_good_pdf_is_stored_and_downloadable(staff_client, agreement, upload_dir):
    resp = upload(staff_client, agreement.id, PDF, "协议 2025.pdf")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    [doc] = documents()
    assert doc.filename == "协议 2025.pdf"  # the display name survives, non-ASCII and all
    assert doc.content_type == "application/pdf"
    assert doc.size == len(PDF)
    assert doc.sha256 == hashlib.sha256(PDF).hexdigest()
    # On disk under a random name, never the uploader's.
    assert re.fullmatch(r"[0-9a-f]{32}\.pdf", doc.stored_name)
    assert (upload_dir / doc.stored_name).read_bytes() == PDF
    # It is listed on the edit page and downloadable under its original name.
    page = staff_client.get(f"/agreements/{agreement.id}/edit").get_data(as_text=True)
    assert "协议 2025.pdf" in page
    download = staff_client.get(f"/agreements/{agreement.id}/documents/{doc.id}")
    assert download.status_code == 200
    assert download.data == PDF
    assert "filename*=UTF-8''%E5%8D%8F%E8%AE%AE" in download.headers["Content-Disposition"]
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "add_document")).one()
    assert entry.object_type == "agreement" and entry.object_id == agreement.id
    assert entry.after["document"]["sha256"] == doc.sha256


def test_path_in_filename_is_dropped(staff_client, agreement):
    resp = upload(staff_client, agreement.id, PDF, "../../etc/evil\x07.pdf")
    assert resp.status_code == 302
    [doc] = documents()
    assert doc.filename == "evil.pdf"


@pytest.mark.parametrize(
    ("content", "filename", "message"),
    [
        (b"MZ\x90\x00 executable", "setup.exe", "not accepted"),
        (PDF, "no-extension", "not accepted"),
        (b"<html>not a pdf</html>", "report.pdf", "does not match"),
        (PDF, "photo.png", "does not match"),
        (make_zip({"hello.txt": b"hi"}), "budget.xlsx", "does not match"),
        (make_zip({"mimetype": b"application/zip"}), "minutes.odt", "does not match"),
        (b"caf\xe9 latin-1", "notes.txt", "not UTF-8"),
        (b"", "empty.pdf", "empty"),
    ],
)
def test_bad_uploads_are_rejected_and_leave_nothing(
    staff_client, agreement, upload_dir, content, filename, message
):
    before = set(os.listdir(upload_dir))
    resp = upload(staff_client, agreement.id, content, filename)
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    assert message in (field_error(page, "file") or "")
    assert 'value="Signed agreement"' in page  # the title the user typed is kept
    assert documents() == []
    assert set(os.listdir(upload_dir)) == before
    assert db.session.scalars(select(AuditLog).where(AuditLog.action == "add_document")).all() == []


@pytest.mark.parametrize(
    ("content", "filename", "content_type"),
    [
        (
            make_zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"}),
            "annex.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (
            make_zip(
                {
                    "mimetype": b"application/vnd.oasis.opendocument.spreadsheet",
                    "content.xml": b"<x/>",
                }
            ),
            "budget.ods",
            "application/vnd.oasis.opendocument.spreadsheet",
        ),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, "map.png", "image/png"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 32, "site.JPG", "image/jpeg"),
        ("区域,金额\n内罗毕,100\n".encode(), "budget.csv", "text/csv; charset=utf-8"),
    ],
)
def test_other_allowed_types_are_accepted(staff_client, agreement, content, filename, content_type):
    resp = upload(staff_client, agreement.id, content, filename)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    [doc] = documents()
    assert doc.content_type == content_type


def test_oversized_request_returns_to_the_form_with_the_error_beside_the_field(
    staff_client, agreement, app, upload_dir, monkeypatch
):
    """Over the request cap the browser is sent back to the form (not a bare 413 page), and
    the file field says what happened; its help states the form's one limit."""
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024 * 1024)
    before = set(os.listdir(upload_dir))
    resp = upload(staff_client, agreement.id, PDF + b"0" * (1024 * 1024 + 10), "big.pdf")
    assert resp.status_code == 303
    assert "too_large=1" in resp.headers["Location"]
    page = staff_client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "The file was too large to upload" in page
    assert 'aria-invalid="true"' in page and "-err" in page  # beside the field, linked
    assert "At most 15 MB." in page  # the form's own limit, stated once
    assert "20 MB" not in page
    assert documents() == []
    assert set(os.listdir(upload_dir)) == before


def test_file_over_per_document_limit_gets_field_error(
    staff_client, agreement, app, upload_dir, monkeypatch
):
    monkeypatch.setitem(app.config, "MAX_DOCUMENT_BYTES", 1024)
    before = set(os.listdir(upload_dir))
    resp = upload(staff_client, agreement.id, PDF + b"0" * 2000, "long.pdf")
    assert resp.status_code == 400
    assert "larger than" in field_error(resp.get_data(as_text=True), "file")
    assert documents() == []
    assert set(os.listdir(upload_dir)) == before


def test_failed_flush_removes_the_written_file(agreement, upload_dir, monkeypatch):
    from portal.agreements import services

    before = set(os.listdir(upload_dir))

    def broken_flush(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(db.session, "flush", broken_flush)
    with pytest.raises(RuntimeError):
        services.attach_document(None, agreement, "Doomed", io.BytesIO(PDF), "doomed.pdf")
    monkeypatch.undo()
    db.session.rollback()
    assert set(os.listdir(upload_dir)) == before
    assert documents() == []


def test_files_follow_the_transaction_of_their_rows(agreement, upload_dir):
    """Requests commit once, after the view: an upload whose transaction is not committed
    leaves no file; a deleted document's file stays until the deletion is committed."""
    from portal.agreements import services

    before = set(os.listdir(upload_dir))
    doc = services.attach_document(None, agreement, "Draft", io.BytesIO(PDF), "draft.pdf")
    assert (upload_dir / doc.stored_name).exists()
    db.session.rollback()
    assert set(os.listdir(upload_dir)) == before and documents() == []

    doc = services.attach_document(None, agreement, "Kept", io.BytesIO(PDF), "kept.pdf")
    db.session.commit()
    path = upload_dir / doc.stored_name
    services.remove_document(None, doc)
    db.session.rollback()  # the deletion is not committed: row and file stay
    assert path.exists() and [d.title for d in documents()] == ["Kept"]
    services.remove_document(None, db.session.get(type(doc), doc.id))
    assert path.exists()  # not before the commit
    db.session.commit()
    assert not path.exists() and documents() == []


def test_remove_document_deletes_row_and_file(staff_client, agreement, upload_dir):
    upload(staff_client, agreement.id, PDF, "old.pdf", title="Superseded draft")
    [doc] = documents()
    path = upload_dir / doc.stored_name
    assert path.exists()
    resp = staff_client.post(f"/agreements/{agreement.id}/documents/{doc.id}/delete")
    assert resp.status_code == 302
    assert documents() == []
    assert not path.exists()
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "remove_document")).one()
    assert entry.before["document"]["title"] == "Superseded draft"


def test_only_staff_upload(client, factories, agreement, upload_dir):
    partner = factories.make_user(Role.PARTNER, organization=agreement.parties[0].organization)
    db.session.commit()
    login(client, partner.email)
    before = set(os.listdir(upload_dir))
    resp = upload(client, agreement.id, PDF, "partner.pdf")
    assert resp.status_code == 403
    assert documents() == []
    assert set(os.listdir(upload_dir)) == before


def test_display_filename_drops_windows_paths_and_control_chars(app):
    from portal.agreements.documents import display_filename

    assert display_filename("C:\\Users\\amina\\协议.pdf") == "协议.pdf"
    assert display_filename("report\r\n.pdf") == "report.pdf"
    assert display_filename("\u202eexe.pdf") == "exe.pdf"  # no right-to-left override tricks
