"""Storage of agreement documents: checking an upload, writing it, finding it again.

Files live in the storage (``portal.storage``: ``UPLOAD_DIR`` by default, never under static/,
or an S3-compatible bucket) under a random name, so a hostile file name can neither escape it
nor be guessed; the uploader's name is kept only as a
display name for the download. An upload must pass three checks before a byte is written:
the extension is on ``ALLOWED_DOCUMENT_EXTENSIONS``, the content looks like that kind of file
(magic bytes, the right ZIP members, UTF-8 for text), and it is under the per-document limit.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
import zipfile
from codecs import getincrementaldecoder
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

from flask import abort, current_app
from flask_babel import gettext as _
from flask_sqlalchemy.session import Session as FlaskSqlaSession
from sqlalchemy import event
from werkzeug.utils import secure_filename

from portal.storage import StorageError, StoredFileMissing, get_storage

_CHUNK = 64 * 1024
_ZIP_MAGIC = b"PK\x03\x04"

# extension → (content type, kind of content check)
DOCUMENT_TYPES: dict[str, tuple[str, str]] = {
    "pdf": ("application/pdf", "pdf"),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "ooxml"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "ooxml"),
    "odt": ("application/vnd.oasis.opendocument.text", "odf"),
    "ods": ("application/vnd.oasis.opendocument.spreadsheet", "odf"),
    "png": ("image/png", "png"),
    "jpg": ("image/jpeg", "jpeg"),
    "jpeg": ("image/jpeg", "jpeg"),
    "txt": ("text/plain; charset=utf-8", "text"),
    "csv": ("text/csv; charset=utf-8", "text"),
    "md": ("text/markdown; charset=utf-8", "text"),
}

# What a ZIP-based office file must contain, besides the ZIP signature.
_OOXML_MEMBER = {"docx": "word/document.xml", "xlsx": "xl/workbook.xml"}
_ODF_MIMETYPE = {
    "odt": b"application/vnd.oasis.opendocument.text",
    "ods": b"application/vnd.oasis.opendocument.spreadsheet",
}


class UploadRejected(Exception):
    """The upload failed a check; ``message`` is shown beside the file field."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


@dataclass
class CheckedUpload:
    display_name: str  # the uploader's file name, made safe to show and to offer on download
    extension: str
    content_type: str
    size: int
    sha256: str


def allowed_extensions() -> set[str]:
    return {e.lower().lstrip(".") for e in current_app.config["ALLOWED_DOCUMENT_EXTENSIONS"]}


def max_document_bytes() -> int:
    """Per-document limit; the whole request is separately capped by MAX_CONTENT_LENGTH (413)."""
    limit = current_app.config.get("MAX_DOCUMENT_BYTES") or current_app.config.get(
        "MAX_CONTENT_LENGTH"
    )
    return int(limit or 20 * 1024 * 1024)


def display_filename(raw: str | None) -> str:
    """The uploader's name minus any path and control characters; non-ASCII (协议.pdf) kept.

    secure_filename() would turn 协议.pdf into "pdf", so it is only the fallback when nothing
    readable is left.
    """
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = unicodedata.normalize("NFC", name).strip().strip(".").strip()
    if not name:
        name = secure_filename(raw or "")
    if len(name) > 255:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 254 - len(ext)] + dot + ext) if dot and len(ext) < 20 else name[:255]
    return name


def extension_of(name: str) -> str:
    _stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot else ""


def check_upload(stream: BinaryIO, filename: str | None) -> CheckedUpload:
    """Run every check on an uploaded file without writing anything; raise UploadRejected."""
    display = display_filename(filename)
    if not display:
        raise UploadRejected(_("Choose a file to upload."))
    ext = extension_of(display)
    allowed = allowed_extensions() & set(DOCUMENT_TYPES)
    if ext not in allowed:
        raise UploadRejected(
            _(
                "Files of type “%(ext)s” are not accepted. Allowed: %(allowed)s.",
                ext=ext or _("(no extension)"),
                allowed=", ".join(sorted(allowed)),
            )
        )
    content_type, kind = DOCUMENT_TYPES[ext]
    limit = max_document_bytes()

    stream.seek(0)
    head = stream.read(8)
    stream.seek(0)
    digest = hashlib.sha256()
    size = 0
    decoder = getincrementaldecoder("utf-8")() if kind == "text" else None
    while chunk := stream.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise UploadRejected(_("The file is larger than %(mb)s MB.", mb=_megabytes(limit)))
        digest.update(chunk)
        if decoder is not None:
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                raise UploadRejected(
                    _(
                        "This .%(ext)s file is not UTF-8 text. Save it as UTF-8 and try again.",
                        ext=ext,
                    )
                ) from None
            if b"\x00" in chunk:
                raise UploadRejected(_("This .%(ext)s file is not a text file.", ext=ext))
    if decoder is not None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise UploadRejected(
                _("This .%(ext)s file is not UTF-8 text. Save it as UTF-8 and try again.", ext=ext)
            ) from None
    if size == 0:
        raise UploadRejected(_("The file is empty."))
    if not _content_matches(kind, ext, head, stream):
        raise UploadRejected(
            _(
                "The file's content does not match its “.%(ext)s” extension. "
                "Check that you chose the right file.",
                ext=ext,
            )
        )
    stream.seek(0)
    return CheckedUpload(display, ext, content_type, size, digest.hexdigest())


def _megabytes(n: int) -> str:
    mb = n / (1024 * 1024)
    return f"{mb:.0f}" if mb >= 1 else f"{mb:.2f}"


def _content_matches(kind: str, ext: str, head: bytes, stream: BinaryIO) -> bool:
    if kind == "pdf":
        return head.startswith(b"%PDF-")
    if kind == "png":
        return head.startswith(b"\x89PNG\r\n\x1a\n")
    if kind == "jpeg":
        return head.startswith(b"\xff\xd8\xff")
    if kind == "text":
        return True  # checked while reading: UTF-8, no NUL bytes
    if not head.startswith(_ZIP_MAGIC):
        return False
    stream.seek(0)
    try:
        with zipfile.ZipFile(stream) as archive:
            names = set(archive.namelist())
            if kind == "ooxml":
                return "[Content_Types].xml" in names and _OOXML_MEMBER[ext] in names
            if "mimetype" not in names:
                return False
            return archive.read("mimetype").strip() == _ODF_MIMETYPE[ext]
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        return False
    finally:
        stream.seek(0)


def new_stored_name(extension: str) -> str:
    """Random on-disk name; the extension only helps people looking at the directory."""
    return f"{secrets.token_hex(16)}.{extension}"


def write_upload(stream: BinaryIO, stored_name: str, content_type: str | None = None) -> None:
    """Write the (already checked) stream to the storage; on any error nothing is left behind."""
    stream.seek(0)
    try:
        get_storage().put(stored_name, stream, content_type=content_type)
    except BaseException:
        remove_stored(stored_name)
        raise


def remove_stored(stored_name: str) -> None:
    """Delete a stored file if it exists (after its row is gone, or a failed save)."""
    try:
        get_storage().delete(stored_name)
    except (OSError, ValueError, StorageError):
        current_app.logger.warning(
            "Could not remove stored document %s", stored_name, exc_info=True
        )


def send_stored(stored_name: str, *, mimetype: str, download_name: str, what: str):
    """The download response for a stored file — call only after the permission check.

    Streamed through the portal from whichever storage holds it (docs/deployment.md: why not
    presigned links). A file the database names but the storage lacks is a 404 (and a log
    line); a storage that does not answer is a 503, never a 500.
    """
    try:
        response = get_storage().send(stored_name, mimetype=mimetype, download_name=download_name)
    except (StoredFileMissing, ValueError):
        current_app.logger.warning("%s is missing from the storage", what)
        abort(404)
    except StorageError:
        current_app.logger.exception("The storage did not answer for %s", what)
        abort(503)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def store_upload(
    stream: BinaryIO,
    filename: str | None,
    *,
    errors: dict[str, str],
    build_row: Callable[[CheckedUpload, str], Any],
):
    """Check an upload, write it, add the row that points at it — or change nothing.

    ``errors`` holds the caller's own field errors (e.g. the title); a rejected file adds a
    ``file`` error and all of them are raised together as one ValidationError. The file is
    written only when everything is valid, and removed again if the row cannot be flushed.
    Used by every domain that stores files (agreement documents, agenda attachments).
    """
    from portal.core.services import ValidationError
    from portal.extensions import db

    checked = None
    try:
        checked = check_upload(stream, filename)
    except UploadRejected as rejected:
        errors["file"] = rejected.message
    if errors or checked is None:
        raise ValidationError(errors)
    stored_name = new_stored_name(checked.extension)
    try:
        write_upload(stream, stored_name, checked.content_type)
    except StorageError:
        current_app.logger.exception("The storage refused upload %s", stored_name)
        raise ValidationError(
            {**errors, "file": _("The file could not be stored just now. Try again in a minute.")}
        ) from None
    try:
        row = build_row(checked, stored_name)
        db.session.add(row)
        db.session.flush()
    except BaseException:
        remove_stored(stored_name)
        raise
    remove_unless_committed(stored_name)
    return row


# Files follow their rows' transaction: the request (or command) commits once, after the view
# returned, so a file written for a new row is removed if that commit never happens, and the
# file of a deleted row only once the deletion is committed (removing it first would lose the
# file if the commit failed).
_REMOVE_ON_COMMIT = "portal.files.remove_on_commit"
_REMOVE_UNLESS_COMMITTED = "portal.files.remove_unless_committed"


def remove_after_commit(stored_name: str) -> None:
    """Remove the stored file once the current transaction has committed."""
    from portal.extensions import db

    db.session.info.setdefault(_REMOVE_ON_COMMIT, []).append(stored_name)


def remove_unless_committed(stored_name: str) -> None:
    """Remove the stored file if the current transaction ends without a commit."""
    from portal.extensions import db

    db.session.info.setdefault(_REMOVE_UNLESS_COMMITTED, []).append(stored_name)


@event.listens_for(FlaskSqlaSession, "after_commit")
def _files_after_commit(session) -> None:
    session.info.pop(_REMOVE_UNLESS_COMMITTED, None)  # their rows are saved: keep the files
    for name in session.info.pop(_REMOVE_ON_COMMIT, []):
        remove_stored(name)


@event.listens_for(FlaskSqlaSession, "after_transaction_end")
def _files_after_rollback(session, transaction) -> None:
    if transaction.parent is not None:
        return  # a savepoint: the outer transaction decides
    session.info.pop(_REMOVE_ON_COMMIT, None)  # not committed: the row and its file stay
    for name in session.info.pop(_REMOVE_UNLESS_COMMITTED, []):
        remove_stored(name)
