"""Open data: bulk files of the public catalogue at /open-data/, and list downloads.

Routes: the index page, the data dictionary, ``datapackage.json``, partners and agreements as
CSV/XLSX/JSON, and the IATI 2.03 activity and organisation files. ``list_download`` serves the
CSV/XLSX/JSON links of the (filtered) agreement list and partner directory, with the viewer's
permissions.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    render_template,
    request,
    send_file,
    stream_with_context,
    url_for,
)
from flask_babel import format_number
from flask_login import current_user
from sqlalchemy import Select, func, select

from portal.agreements.models import Agreement
from portal.agreements.permissions import reader_class
from portal.core.models import as_utc
from portal.extensions import db, limiter
from portal.opendata import cache, iati, rebuilds
from portal.opendata.dictionary import (
    DATASETS,
    agreement_record,
    datapackage_descriptor,
    partner_record,
)
from portal.opendata.formats import csv_chunks, json_chunks, write_xlsx
from portal.opendata.services import (
    PUBLIC_VIEWER,
    Licence,
    agreement_batches,
    partner_batches,
    public_agreements_statement,
    public_organizations_statement,
)
from portal.partners.models import Organization

bp = Blueprint("opendata", __name__, url_prefix="/open-data")

FORMATS = ("csv", "xlsx", "json")
MIMETYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
    "xml": "application/xml",
}
PUBLIC_CACHE = "public, max-age=300"
# The previous file, sent while the current one is being built: caches must ask again.
PREVIOUS_CACHE = "public, no-cache"
PREVIOUS_HEADER = "X-Open-Data-State"


def _files_limit() -> str:
    return current_app.config["OPEN_DATA_RATE_LIMIT"]


# A whole-catalogue file costs seconds of a worker: one budget per client for all of them.
files_limit = limiter.shared_limit(_files_limit, scope="open-data-files")


def _records(dataset: str, stmt: Select, viewer) -> Iterator[list[dict]]:
    """Batches of dictionary records for ``stmt``'s rows, as ``viewer`` may see them."""
    if dataset == "agreements":
        publisher = iati.Publisher.from_config()
        for batch in agreement_batches(stmt):
            yield [agreement_record(a, viewer, publisher.activity_identifier) for a in batch]
    else:
        for batch in partner_batches(stmt):
            yield [partner_record(org) for org in batch]


def _export(
    kind: str,
    *,
    reader: str,
    address: str,
    suffix: str,
    mimetype: str,
    chunks: Callable[[], Iterator[str]] | None = None,
    write: Callable[[object], None] | None = None,
    documents: bool = False,
    public_file: bool = False,
) -> Response:
    """A file built by ``chunks`` (streamed) or ``write`` (written whole), sent from the export
    cache when it holds this catalogue state's copy for ``reader``'s class at ``address``, else
    built — and kept while it is sent (docs/open-data.md, "Streaming, caching and memory").

    A ``public_file`` (the files under /open-data/) whose current copy is not built yet is sent
    as its previous copy while a rebuild is queued or running ("After a change")."""
    # A previous copy is kept for the public address only (a Host header is the client's).
    base = current_app.config["BASE_URL"].rstrip("/") + "/"
    keep_latest = public_file and address.startswith(base)
    entry = cache.entry(kind, reader, address, suffix, documents=documents, keep_latest=keep_latest)
    if entry is not None and request.if_none_match.contains_weak(entry.digest):
        response = Response(status=304)
        response.set_etag(entry.digest, weak=True)
        return response
    path = entry.existing() if entry is not None else None
    mode = request.environ.get(rebuilds.ENVIRON_MODE)  # set on prebuild's own requests only
    missing = path is None and entry is not None
    request.environ[rebuilds.ENVIRON_STATE] = "built" if missing else "hit"
    if mode == "build" and path is not None:
        # The rebuild makes the current copy its slot's newest even if a request built it:
        # an older build that finished later must never stay the previous file.
        entry.remember()
    if mode == "check":  # prebuild asks whether the current copy is there
        request.environ[rebuilds.ENVIRON_STATE] = "missing" if missing else "hit"
        return Response(status=204)
    if missing and mode is None:
        previous = entry.previous()
        if previous is not None and (previous[1] == entry.digest or rebuilds.rebuilding()):
            return _previous_file(*previous, current=previous[1] == entry.digest, mimetype=mimetype)
    if path is None and entry is not None and write is not None:
        try:
            path = entry.write_file(write)
        except OSError:  # no room or no rights for the cache: built as if there were none
            entry = None
    if path is not None:
        response = send_file(path, mimetype=mimetype, conditional=False, etag=False, max_age=None)
        response.last_modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    elif chunks is not None:
        body = chunks() if entry is None else entry.write_through(chunks())
        response = Response(stream_with_context(body), mimetype=mimetype)
    else:
        spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - sent
        write(spool)
        spool.seek(0)
        response = send_file(spool, mimetype=mimetype, conditional=False, etag=False)
    if entry is not None:
        response.set_etag(entry.digest, weak=True)
        if path is not None:
            response.make_conditional(
                request, accept_ranges=True, complete_length=path.stat().st_size
            )
    return response


def _previous_file(path, digest: str, *, current: bool, mimetype: str) -> Response:
    """A public file's newest complete copy, honestly dated: ``Last-Modified`` is when it was
    built, its ETag is its own key's, and unless it is the current one it says so."""
    response = send_file(path, mimetype=mimetype, conditional=False, etag=False, max_age=None)
    response.last_modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    response.set_etag(digest, weak=True)
    if not current:
        request.environ[rebuilds.ENVIRON_STATE] = "previous"
        response.headers[PREVIOUS_HEADER] = "previous"
    else:
        request.environ[rebuilds.ENVIRON_STATE] = "hit"
    response.make_conditional(request, accept_ranges=True, complete_length=path.stat().st_size)
    return response


def _file_response(
    dataset: str,
    fmt: str,
    stmt: Select,
    viewer,
    filename: str,
    *,
    public: bool,
    public_file: bool = False,
) -> Response:
    fields = DATASETS[dataset]
    licence = Licence.from_config()
    # A public file is the same at any query string; a list's query string is its filters.
    address = request.base_url if public and viewer is PUBLIC_VIEWER else request.url
    source = address
    chunks = write = None
    if fmt == "csv":

        def chunks():
            return csv_chunks(fields, _records(dataset, stmt, viewer))

    elif fmt == "json":

        def chunks():
            records = _records(dataset, stmt, viewer)
            return json_chunks(dataset, fields, records, licence=licence, source=source)

    else:

        def write(target):
            records = _records(dataset, stmt, viewer)
            write_xlsx(target, fields, records, sheet=dataset, licence=licence, source=source)

    response = _export(
        f"{dataset}.{fmt}",
        reader=reader_class(viewer),
        address=address,
        suffix=fmt,
        mimetype=MIMETYPES[fmt],
        chunks=chunks,
        write=write,
        public_file=public_file,
    )
    disposition = "inline" if fmt == "json" else "attachment"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    return _open_data_headers(response, licence, public=public)


def _open_data_headers(response: Response, licence: Licence, *, public: bool) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Link"] = (
        f'<{licence.url}>; rel="license", '
        f'<{url_for("opendata.datapackage", _external=True)}>; rel="describedby"'
    )
    # Public files are the same for everyone; a viewer's own list may hold what only they see.
    response.headers["Cache-Control"] = PUBLIC_CACHE if public else "private, no-store"
    if public and response.headers.get(PREVIOUS_HEADER):
        response.headers["Cache-Control"] = PREVIOUS_CACHE
    return response


def list_download(dataset: str, fmt: str, stmt: Select) -> Response:
    """A list page's own download: the filtered rows the signed-in viewer sees, in order."""
    if fmt not in FORMATS:
        abort(404)
    filename = f"{dataset}-{datetime.now(UTC).date().isoformat()}.{fmt}"
    public = not current_user.is_authenticated
    return _file_response(dataset, fmt, stmt, current_user, filename, public=public)


def _count(stmt: Select) -> int:
    return db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))


# --------------------------------------------------------------------------- pages


@bp.route("/")
def index():
    return render_template(
        "opendata/index.html",
        licence=Licence.from_config(),
        counts={
            "agreements": format_number(_count(public_agreements_statement())),
            "partners": format_number(_count(public_organizations_statement())),
        },
        formats=FORMATS,
    )


@bp.route("/dictionary")
def dictionary():
    return render_template(
        "opendata/dictionary.html",
        datasets=DATASETS,
        licence=Licence.from_config(),
        publisher=iati.Publisher.from_config(),
    )


@bp.route("/datapackage.json")
def datapackage():
    descriptor = datapackage_descriptor(
        licence=Licence.from_config(),
        homepage=url_for("opendata.index", _external=True),
        title=current_app.config["IATI_PUBLISHER_NAME"],
    )
    response = current_app.json.response(descriptor)
    return _open_data_headers(response, Licence.from_config(), public=True)


# --------------------------------------------------------------------------- public files


_STATEMENTS: dict[str, Callable[[], Select]] = {
    "agreements": public_agreements_statement,
    "partners": public_organizations_statement,
}


@bp.route("/<any(agreements, partners):dataset>.<any(csv, xlsx, json):fmt>")
@files_limit
def download(dataset: str, fmt: str):
    return _public_download(dataset, fmt)


def _public_download(dataset: str, fmt: str) -> Response:
    stmt = _STATEMENTS[dataset]()
    filename = f"{dataset}.{fmt}"
    return _file_response(
        dataset, fmt, stmt, PUBLIC_VIEWER, filename, public=True, public_file=True
    )


@bp.route("/iati/activities.xml")
@files_limit
def iati_activities():
    return _iati_activities()


def _iati_activities() -> Response:
    publisher = iati.Publisher.from_config()

    def chunks():
        batches = agreement_batches(public_agreements_statement())
        return iati.activities_xml(batches, publisher, datetime.now(UTC).date())

    # document-link elements: documents do not move the catalogue token
    return _iati_file("iati-activities", "activities.xml", chunks, documents=True)


@bp.route("/iati/organisations.xml")
@files_limit
def iati_organisations():
    return _iati_organisations()


def _iati_organisations() -> Response:
    publisher = iati.Publisher.from_config()

    def chunks():
        stmt = public_organizations_statement()
        updated = db.session.scalar(
            select(func.max(Organization.updated_at)).where(stmt.whereclause)
        )
        latest_agreement = db.session.scalar(
            select(func.max(Agreement.updated_at)).where(public_agreements_statement().whereclause)
        )
        updated = max(
            (as_utc(d) for d in (updated, latest_agreement) if d is not None), default=None
        )
        return iati.organisations_xml(partner_batches(stmt), publisher, updated)

    return _iati_file("iati-organisations", "organisations.xml", chunks)


def _iati_file(
    kind: str, filename: str, chunks: Callable[[], Iterator[str]], *, documents: bool = False
) -> Response:
    """A public IATI file, streamed from ``chunks`` through the export cache and shown inline."""
    response = _export(
        kind,
        reader=reader_class(PUBLIC_VIEWER),
        address=request.base_url,
        suffix="xml",
        mimetype=MIMETYPES["xml"],
        chunks=chunks,
        documents=documents,
        public_file=True,
    )
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return _open_data_headers(response, Licence.from_config(), public=True)


def _public_files() -> dict[str, tuple[str, Callable[[], Response]]]:
    files = {
        f"{dataset}.{fmt}": (
            f"/{dataset}.{fmt}",
            lambda dataset=dataset, fmt=fmt: _public_download(dataset, fmt),
        )
        for dataset in _STATEMENTS
        for fmt in FORMATS
    }
    files["iati/activities.xml"] = ("/iati/activities.xml", _iati_activities)
    files["iati/organisations.xml"] = ("/iati/organisations.xml", _iati_organisations)
    return {name: (bp.url_prefix + path, produce) for name, (path, produce) in files.items()}


# Every public file under /open-data/: its path and the function that answers it (the routes
# above, without the rate limit) — what ``prebuild`` builds ahead of the first reader.
PUBLIC_FILES = _public_files()
