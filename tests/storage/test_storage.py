"""Documents on shared storage: the same contract on a local directory and on a real
S3-compatible server (SeaweedFS), uploads and permission-checked downloads through the portal
with the files in S3, the disk → S3 migration command, and /readyz."""

from __future__ import annotations

import hashlib
import io
import os

import pytest
from sqlalchemy import select

from portal.accounts.models import Role
from portal.agreements.models import AgreementDocument, Visibility
from portal.consultations.models import AgendaDocument, AgendaItem
from portal.extensions import db
from portal.storage import (
    LocalStorage,
    S3Storage,
    StorageError,
    StoredFileMissing,
    storage_from_url,
)
from tests.conftest import login
from tests.consultations import add_member, make_group, make_meeting
from tests.factories import make_agreement, make_org, make_user
from tests.storage.conftest import S3_KEY, S3_SECRET

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


# --- the contract, on both implementations ---------------------------------------------------


def test_a_stored_file_reads_back_lists_and_deletes(any_storage):
    content = os.urandom(3 * 1024 * 1024 + 17)  # several read chunks, not a round size
    any_storage.put("a1b2c3.pdf", io.BytesIO(content), content_type="application/pdf")

    info = any_storage.info("a1b2c3.pdf")
    assert info is not None and info.size == len(content)
    if isinstance(any_storage, S3Storage):  # kept with the object: no download to compare
        assert info.sha256 == hashlib.sha256(content).hexdigest()
    with any_storage.open("a1b2c3.pdf") as fh:
        assert fh.read() == content
    assert any_storage.sha256("a1b2c3.pdf") == hashlib.sha256(content).hexdigest()
    assert list(any_storage.names()) == ["a1b2c3.pdf"]

    any_storage.delete("a1b2c3.pdf")
    any_storage.delete("a1b2c3.pdf")  # already gone: no error
    assert any_storage.info("a1b2c3.pdf") is None
    assert list(any_storage.names()) == []
    with pytest.raises(StoredFileMissing):
        any_storage.open("a1b2c3.pdf")


@pytest.mark.parametrize("name", ["../etc/passwd", "a/b.pdf", ".hidden", "", "x" * 300])
def test_names_that_could_leave_the_storage_are_refused(any_storage, name):
    with pytest.raises(ValueError):
        any_storage.put(name, io.BytesIO(b"x"))
    with pytest.raises(ValueError):
        any_storage.open(name)


def test_storage_urls_keep_credentials_out_and_reject_typos(tmp_path):
    assert isinstance(storage_from_url("", upload_dir=tmp_path), LocalStorage)
    assert storage_from_url(f"file://{tmp_path}").root == tmp_path
    s3 = storage_from_url("s3://docs/portal/prod?endpoint=https://objects.internal&region=eu-1")
    assert (s3.bucket, s3.prefix, s3.endpoint, s3.region) == (
        "docs",
        "portal/prod/",
        "https://objects.internal",
        "eu-1",
    )
    assert "secret" not in s3.describe()
    with pytest.raises(StorageError, match="not in the URL"):
        storage_from_url("s3://AKIA:secret@docs?endpoint=https://objects.internal")
    with pytest.raises(StorageError, match="endpiont"):
        storage_from_url("s3://docs?endpiont=https://objects.internal")
    with pytest.raises(StorageError, match="ftp"):
        storage_from_url("ftp://docs")


def test_wrong_credentials_are_an_error_not_an_empty_bucket(s3_bucket_url):
    bad = storage_from_url(s3_bucket_url, access_key_id=S3_KEY, secret_access_key="wrong")  # noqa: S106
    with pytest.raises(StorageError):
        bad.check()
    with pytest.raises(StorageError):
        bad.put("abc.pdf", io.BytesIO(PDF))


# --- the portal with its documents in S3 ----------------------------------------------------


def _staff_client(app):
    staff = make_user(Role.STAFF)
    db.session.commit()
    client = app.test_client()
    login(client, staff.email)
    return client


def test_agreement_documents_go_to_s3_and_download_only_for_those_who_may_see_them(app, app_on_s3):
    org = make_org("Party")
    agreement = make_agreement(
        "Restricted agreement", parties=[org], visibility=Visibility.INTERNAL.value
    )
    db.session.commit()
    staff = _staff_client(app)
    content = PDF + os.urandom(2 * 1024 * 1024)  # bigger than one chunk
    resp = staff.post(
        f"/agreements/{agreement.id}/documents/new",
        data={"title": "Signed", "file": (io.BytesIO(content), "accord signé.pdf")},
        content_type="multipart/form-data",
    )
    assert resp.status_code in (302, 303), resp.get_data(as_text=True)
    doc = db.session.scalars(select(AgreementDocument)).one()
    info = app_on_s3.info(doc.stored_name)
    assert info.size == len(content) and info.sha256 == doc.sha256

    download = staff.get(f"/agreements/{agreement.id}/documents/{doc.id}")
    assert download.status_code == 200
    assert download.data == content
    assert int(download.headers["Content-Length"]) == len(content)
    assert "attachment" in download.headers["Content-Disposition"]
    assert download.headers["Cache-Control"] == "private, no-store"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    # The public cannot see an internal agreement, so not its file either.
    public = app.test_client()
    assert public.get(f"/agreements/{agreement.id}/documents/{doc.id}").status_code == 404

    # Removing the document removes the object.
    resp = staff.post(
        f"/agreements/{agreement.id}/documents/{doc.id}/delete", data={"confirm": "y"}
    )
    assert resp.status_code in (302, 303)
    assert app_on_s3.info(doc.stored_name) is None


def test_agenda_files_in_s3_are_served_to_members_only(app, app_on_s3):
    staff = _staff_client(app)
    group = make_group("Private Group", is_public=False)
    member = make_user(email="member@example.org")
    add_member(group, member)
    outsider = make_user(email="outsider@example.org")
    meeting = make_meeting(group)
    item = AgendaItem(meeting=meeting, title="Draft report", position=1)
    db.session.add(item)
    db.session.commit()
    resp = staff.post(
        f"/consultations/meetings/{meeting.id}/agenda/{item.id}/documents",
        data={"title": "Chapter", "file": (io.BytesIO(b"%PDF-1.4 draft"), "wcr.pdf")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 303
    doc = db.session.scalar(select(AgendaDocument))
    assert app_on_s3.info(doc.stored_name).size == len(b"%PDF-1.4 draft")
    url = f"/consultations/meetings/{meeting.id}/documents/{doc.id}"
    member_client = app.test_client()
    login(member_client, member.email)
    assert member_client.get(url).data == b"%PDF-1.4 draft"
    outsider_client = app.test_client()
    login(outsider_client, outsider.email)
    assert outsider_client.get(url).status_code == 404


def test_a_missing_object_is_a_404_and_an_unreachable_store_a_503(app, app_on_s3):
    org = make_org("Party")
    agreement = make_agreement("Public agreement", parties=[org])
    db.session.commit()
    staff = _staff_client(app)
    resp = staff.post(
        f"/agreements/{agreement.id}/documents/new",
        data={"title": "Signed", "file": (io.BytesIO(PDF), "a.pdf")},
        content_type="multipart/form-data",
    )
    assert resp.status_code in (302, 303)
    doc = db.session.scalars(select(AgreementDocument)).one()
    url = f"/agreements/{agreement.id}/documents/{doc.id}"

    app_on_s3.delete(doc.stored_name)
    assert staff.get(url).status_code == 404

    down = storage_from_url(
        "s3://portal?endpoint=http://127.0.0.1:1",
        access_key_id="k",
        secret_access_key="s",  # noqa: S106 - nothing listens there
    )
    app.extensions["portal.storage"] = down
    response = staff.get(url)
    assert response.status_code == 503
    # An upload while the store is down is refused with a message beside the file field,
    # and leaves no row behind.
    resp = staff.post(
        f"/agreements/{agreement.id}/documents/new",
        data={"title": "Second", "file": (io.BytesIO(PDF), "b.pdf")},
        content_type="multipart/form-data",
    )
    assert 400 <= resp.status_code < 500
    assert "could not be stored just now" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalars(select(AgreementDocument)).all() == [doc]


# --- readiness ---------------------------------------------------------------------------------


def test_readiness_checks_the_real_s3_and_reports_an_outage_without_secrets(app, client, app_on_s3):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"]["storage"] == "ok"

    app.extensions["portal.storage"] = storage_from_url(
        "s3://portal?endpoint=http://127.0.0.1:1",
        access_key_id="AKIDEXAMPLE",
        secret_access_key="s3cret-key",  # noqa: S106 - must not appear in the answer
    )
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["storage"] == "failed"
    body = response.get_data(as_text=True)
    assert "s3cret" not in body and "AKIDEXAMPLE" not in body and "127.0.0.1" not in body


# --- migration from disk -----------------------------------------------------------------------


def _row_on_disk(directory, agreement, content: bytes, name: str) -> AgreementDocument:
    (directory / name).write_bytes(content)
    doc = AgreementDocument(
        agreement=agreement,
        title=name,
        filename=name,
        stored_name=name,
        content_type="application/pdf",
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
    )
    db.session.add(doc)
    return doc


def test_migrate_copies_verifies_and_can_run_again(app, tmp_path, s3_storage, monkeypatch):
    monkeypatch.setitem(app.config, "STORAGE_ACCESS_KEY_ID", S3_KEY)
    monkeypatch.setitem(app.config, "STORAGE_SECRET_ACCESS_KEY", S3_SECRET)
    target_url = (
        f"s3://{s3_storage.bucket}/{s3_storage.prefix}?endpoint={s3_storage.endpoint}"
        f"&region={s3_storage.region}"
    )
    disk = tmp_path / "uploads"
    disk.mkdir()
    agreement = make_agreement("With files", parties=[make_org("Party")])
    files = {f"{i:032x}.pdf": PDF + os.urandom(1000 + i) for i in range(5)}
    for name, content in files.items():
        _row_on_disk(disk, agreement, content, name)
    (disk / "0123abcd.txt").write_bytes(b"a file no row names")  # copied, and counted
    db.session.commit()
    runner = app.test_cli_runner()

    first = runner.invoke(args=["storage", "migrate", "--from", str(disk), "--to", target_url])
    assert first.exit_code == 0, first.output
    assert "copied 6" in first.output and "0 already there" in first.output
    assert "1 not named by any row" in first.output
    for name, content in files.items():
        assert s3_storage.sha256(name) == hashlib.sha256(content).hexdigest()

    again = runner.invoke(args=["storage", "migrate", "--from", str(disk), "--to", target_url])
    assert again.exit_code == 0, again.output
    assert "copied 0" in again.output and "6 already there" in again.output

    # A damaged copy in S3 (same size, other bytes) is replaced; a file whose bytes on disk
    # no longer match the checksum recorded at upload is refused and the run fails.
    damaged, corrupt = list(files)[:2]
    s3_storage.delete(damaged)
    s3_storage.put(damaged, io.BytesIO(os.urandom(len(files[damaged]))))
    s3_storage.delete(corrupt)
    (disk / corrupt).write_bytes(os.urandom(len(files[corrupt])))
    third = runner.invoke(args=["storage", "migrate", "--from", str(disk), "--to", target_url])
    assert third.exit_code == 1
    assert "copied 1" in third.output
    assert f"failed: {corrupt}: checksum on disk differs" in third.output
    assert s3_storage.sha256(damaged) == hashlib.sha256(files[damaged]).hexdigest()
    assert s3_storage.info(corrupt) is None


def test_migrate_names_files_missing_everywhere_and_dry_run_copies_nothing(
    app, tmp_path, s3_storage, monkeypatch
):
    monkeypatch.setitem(app.config, "STORAGE_ACCESS_KEY_ID", S3_KEY)
    monkeypatch.setitem(app.config, "STORAGE_SECRET_ACCESS_KEY", S3_SECRET)
    target_url = (
        f"s3://{s3_storage.bucket}/{s3_storage.prefix}?endpoint={s3_storage.endpoint}"
        f"&region={s3_storage.region}"
    )
    disk = tmp_path / "uploads"
    disk.mkdir()
    agreement = make_agreement("With files", parties=[make_org("Party")])
    _row_on_disk(disk, agreement, PDF, "aa" * 16 + ".pdf")
    lost = _row_on_disk(disk, agreement, PDF + b"2", "bb" * 16 + ".pdf")
    db.session.commit()
    (disk / lost.stored_name).unlink()
    runner = app.test_cli_runner()

    dry = runner.invoke(
        args=["storage", "migrate", "--dry-run", "--from", str(disk), "--to", target_url]
    )
    assert "would copy 1" in dry.output
    assert list(s3_storage.names()) == []
    result = runner.invoke(args=["storage", "migrate", "--from", str(disk), "--to", target_url])
    assert result.exit_code == 1
    assert f"missing everywhere: {lost.stored_name}" in result.output
    assert "1 named but missing" in result.output
