"""Staff upload page: upload → preview (first rows, every error, counts) → confirm → import.

The uploaded bytes are kept in the instance folder under a random token for an hour, and
"Confirm import" sends only that token. Storing beats asking for a second upload: a browser
cannot re-send a chosen file by itself, and the rows written are exactly the rows previewed
(the file is re-validated on confirm, because the database may have changed meanwhile).
The token is bound to the uploading user and the file lives outside ``static/``.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import time
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.core.guard import ensure
from portal.core.sqlite import refresh_statistics
from portal.core.transaction import refuse
from portal.extensions import db
from portal.imports import permissions  # noqa: F401 - registers "import"
from portal.imports.forms import ImportConfirmForm, UploadForm
from portal.imports.reading import ImportFileError, file_extension, read_sheet
from portal.imports.services import ImportRun, execute_import, plan_import
from portal.imports.validation import COLUMNS, EXAMPLES, KINDS

bp = Blueprint("imports", __name__, url_prefix="/staff/import")

MAX_IMPORT_BYTES = 10 * 1024 * 1024
STORE_SECONDS = 60 * 60
PREVIEW_ROWS = 20


@bp.before_request
def _importers_only():
    ensure("import")


def _store_dir() -> Path:
    path = Path(current_app.config.get("IMPORT_DIR") or Path(current_app.instance_path) / "imports")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _purge_expired(store: Path) -> None:
    cutoff = time.time() - STORE_SECONDS
    for item in store.iterdir():
        if item.is_file() and item.stat().st_mtime < cutoff:
            item.unlink(missing_ok=True)


@bp.route("/", methods=["GET", "POST"])
def upload():
    form = UploadForm()
    if form.validate_on_submit():
        data = form.file.data.read(MAX_IMPORT_BYTES + 1)
        filename = form.file.data.filename or "upload"
        if len(data) > MAX_IMPORT_BYTES:
            form.file.errors.append(_("The file is too large (the limit is 10 MB)."))
        elif not data:
            form.file.errors.append(_("The file is empty."))
        else:
            try:
                sheet = read_sheet(data, filename)
            except ImportFileError as err:
                form.file.errors.append(str(err))
            else:
                kind = form.kind.data
                run = plan_import({kind: (filename, sheet)})
                refuse()  # a preview changes nothing: drop what validation loaded
                token = _store_upload(data, filename, kind) if run.is_valid else None
                return _preview(run, kind, filename, token)
    status = 400 if _has_errors(form) else 200
    return render_template("imports/upload.html", form=form, kinds=KINDS), status


def _store_upload(data: bytes, filename: str, kind: str) -> str:
    store = _store_dir()
    _purge_expired(store)
    token = secrets.token_urlsafe(24)
    ext = file_extension(filename)
    (store / f"{token}.{ext}").write_bytes(data)
    meta = {
        "kind": kind,
        "filename": filename,
        "ext": ext,
        "user_id": current_user.id,
        "created": time.time(),
    }
    (store / f"{token}.json").write_text(json.dumps(meta))
    return token


def _has_errors(form) -> bool:
    return any(field.errors for field in form)


def _preview(run: ImportRun, kind: str, filename: str, token: str | None, status: int = 200):
    plan = run.plans[0]
    confirm = ImportConfirmForm(token=token) if token and run.is_valid else None
    return render_template(
        "imports/preview.html",
        plan=plan,
        kind=kind,
        filename=filename,
        preview_rows=plan.rows[:PREVIEW_ROWS],
        columns=plan.columns,
        confirm=confirm,
        preview_limit=PREVIEW_ROWS,
    ), status


class UploadExpired(Exception):
    pass


def _load_stored(token: str) -> tuple[dict, bytes]:
    store = _store_dir()
    meta_path = store / f"{token}.json"
    if not meta_path.is_file():
        raise UploadExpired
    meta = json.loads(meta_path.read_text())
    if meta.get("user_id") != current_user.id:
        abort(403)
    data_path = store / f"{token}.{meta['ext']}"
    if time.time() - meta["created"] > STORE_SECONDS or not data_path.is_file():
        _discard(token, meta)
        raise UploadExpired
    return meta, data_path.read_bytes()


def _discard(token: str, meta: dict) -> None:
    store = _store_dir()
    (store / f"{token}.json").unlink(missing_ok=True)
    (store / f"{token}.{meta['ext']}").unlink(missing_ok=True)


@bp.route("/confirm", methods=["POST"])
def confirm():
    form = ImportConfirmForm()
    if not form.validate_on_submit():
        abort(400, _("The confirmation is missing its upload token. Please upload the file again."))
    token = form.token.data
    try:
        meta, data = _load_stored(token)
    except UploadExpired:
        flash(
            _("This upload has expired or was already imported. Please upload the file again."),
            "warning",
        )
        return redirect(url_for("imports.upload"))
    try:
        sheet = read_sheet(data, meta["filename"])
    except ImportFileError as err:  # cannot normally happen: it was readable at upload
        _discard(token, meta)
        abort(400, str(err))
    run = plan_import({meta["kind"]: (meta["filename"], sheet)})
    if not run.is_valid:
        # The database changed since the preview (e.g. a party was archived): show why (the
        # 409 answer rolls back whatever validation loaded).
        return _preview(run, meta["kind"], meta["filename"], None, status=409)
    counts = execute_import(run, actor_id=current_user.id)[meta["kind"]]
    refresh_statistics(db.session)  # a bulk load changes the planner's picture
    _discard(token, meta)
    flash(
        _(
            "Imported %(file)s: %(created)s created, %(updated)s updated, %(unchanged)s unchanged.",
            file=meta["filename"],
            created=counts["create"],
            updated=counts["update"],
            unchanged=counts["unchanged"],
        ),
        "success",
    )
    return redirect(url_for("imports.upload"))


@bp.route("/template/<kind>.csv")
def template(kind: str):
    if kind not in KINDS:
        abort(404)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS[kind])
    writer.writerow([EXAMPLES[kind][c] for c in COLUMNS[kind]])
    # A BOM so Excel opens the UTF-8 file with the right encoding.
    body = "\ufeff" + buffer.getvalue()
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{kind}-template.csv"'},
    )
