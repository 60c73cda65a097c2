"""``flask --app portal storage …``: where files are, and moving them from disk to S3.

``storage migrate`` copies every file of the upload directory into the configured storage
(``PORTAL_STORAGE_URL``), verifying each one: the file on disk must match the checksum its
database row recorded at upload, and the copy is read back from the storage and hashed again.
It is idempotent: a file already in the storage with the same size and checksum is skipped, so
an interrupted run is simply started again. Nothing on disk is deleted; remove the directory
yourself once ``storage check`` is clean and the nodes run on the new storage.
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from portal.storage import (
    CHUNK,
    LocalStorage,
    Storage,
    StorageError,
    get_storage,
    storage_from_url,
)

storage_cli = AppGroup("storage", help="Uploaded files: where they are, migration to S3.")


def recorded_files() -> dict[str, tuple[int, str]]:
    """Every stored name the database knows, with the size and sha256 recorded at upload."""
    from sqlalchemy import select

    from portal.agreements.models import AgreementDocument
    from portal.consultations.models import AgendaDocument
    from portal.extensions import db

    found: dict[str, tuple[int, str]] = {}
    for model in (AgreementDocument, AgendaDocument):
        rows = db.session.execute(select(model.stored_name, model.size, model.sha256))
        for name, size, sha in rows:
            found[name] = (int(size), sha)
    return found


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class MigrationReport:
    copied: int = 0
    already_there: int = 0
    bytes_copied: int = 0
    failed: list[str] = field(default_factory=list)  # "name: reason"
    unrecorded: int = 0  # files on disk that no row names (copied all the same)
    missing: list[str] = field(default_factory=list)  # rows whose file is in neither place

    @property
    def ok(self) -> bool:
        return not self.failed and not self.missing


def migrate_files(
    source: LocalStorage, target: Storage, *, dry_run: bool = False, progress=None
) -> MigrationReport:
    """Copy each file of ``source`` into ``target`` unless it is already there intact."""
    report = MigrationReport()
    recorded = recorded_files()
    names = list(source.names())
    bar = progress(names) if progress else _plain(names)
    with bar as items:
        for name in items:
            path = source.path(name)
            size = path.stat().st_size
            expected = recorded.get(name)
            if expected is None:
                report.unrecorded += 1
            elif expected[0] != size:
                report.failed.append(
                    f"{name}: {size} bytes on disk, {expected[0]} recorded at upload"
                )
                continue
            try:
                sha = _file_sha256(path)
                if expected is not None and sha != expected[1]:
                    report.failed.append(f"{name}: checksum on disk differs from the recorded one")
                    continue
                there = target.info(name)
                if there is not None and there.size == size:
                    # S3 keeps our checksum in the metadata; a directory is read and hashed.
                    known = there.sha256 if there.sha256 is not None else target.sha256(name)
                    if known == sha:
                        report.already_there += 1
                        continue
                if dry_run:
                    report.copied += 1
                    report.bytes_copied += size
                    continue
                if there is not None:
                    target.delete(name)  # a damaged earlier copy; S3 puts are all-or-nothing
                with open(path, "rb") as fh:
                    target.put(name, fh, content_type=None)
                if target.sha256(name) != sha:  # read back: what the nodes will serve
                    report.failed.append(f"{name}: the copy read back differs")
                    continue
            except (OSError, StorageError) as err:
                report.failed.append(f"{name}: {type(err).__name__}: {err}")
                continue
            report.copied += 1
            report.bytes_copied += size
    on_disk = set(names)
    for name in sorted(set(recorded) - on_disk):
        if not target.exists(name):
            report.missing.append(name)
    return report


class _plain:
    def __init__(self, items):
        self.items = items

    def __enter__(self):
        return self.items

    def __exit__(self, *exc):
        return False


@storage_cli.command("status")
def status_command() -> None:
    """Which storage is configured, whether it answers, and how many files it holds."""
    storage = get_storage()
    click.echo(f"storage: {storage.kind} {storage.describe()}")
    try:
        storage.check()
    except (OSError, StorageError) as err:
        click.echo(f"not reachable: {type(err).__name__}")
        sys.exit(1)
    click.echo(f"files: {sum(1 for _ in storage.names())}")


@storage_cli.command("check")
def check_command() -> None:
    """Every file the database names is in the storage with its recorded size (exit 1 if not)."""
    storage = get_storage()
    missing = wrong = 0
    for name, (size, _sha) in sorted(recorded_files().items()):
        info = storage.info(name)
        if info is None:
            missing += 1
            click.echo(f"missing: {name}")
        elif info.size != size:
            wrong += 1
            click.echo(f"wrong size: {name} ({info.size} bytes, {size} recorded)")
    click.echo(f"{missing} missing, {wrong} with the wrong size, in {storage.describe()}")
    sys.exit(1 if missing or wrong else 0)


@storage_cli.command("migrate")
@click.option(
    "--from",
    "source_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to copy from (default: PORTAL_UPLOAD_DIR).",
)
@click.option("--to", "target_url", help="Storage URL to copy to (default: PORTAL_STORAGE_URL).")
@click.option("--dry-run", is_flag=True, help="Say what would be copied; copy nothing.")
def migrate_command(source_dir: Path | None, target_url: str | None, dry_run: bool) -> None:
    """Copy uploaded files from the local directory into S3; safe to run again."""
    source = LocalStorage(source_dir or current_app.config["UPLOAD_DIR"])
    if not source.root.is_dir():
        raise click.UsageError(f"{source.root} is not a directory")
    if target_url:
        target = storage_from_url(
            target_url,
            access_key_id=current_app.config.get("STORAGE_ACCESS_KEY_ID"),
            secret_access_key=current_app.config.get("STORAGE_SECRET_ACCESS_KEY"),
        )
    else:
        target = get_storage()
    if isinstance(target, LocalStorage) and os.path.realpath(target.root) == os.path.realpath(
        source.root
    ):
        raise click.UsageError(
            "The target is the source directory: set PORTAL_STORAGE_URL=s3://… or pass --to."
        )
    try:
        target.check()
    except (OSError, StorageError) as err:
        raise click.ClickException(f"{target.describe()} does not answer: {err}") from err
    click.echo(f"{'Checking' if dry_run else 'Copying'} {source.root} → {target.describe()}")

    def progress(items):
        return click.progressbar(
            items, label="files", show_pos=True, file=sys.stderr, item_show_func=lambda n: n
        )

    report = migrate_files(source, target, dry_run=dry_run, progress=progress)
    verb = "would copy" if dry_run else "copied"
    click.echo(
        f"{verb} {report.copied} ({report.bytes_copied / 1024 / 1024:.1f} MB), "
        f"{report.already_there} already there, {len(report.failed)} failed, "
        f"{report.unrecorded} not named by any row, {len(report.missing)} named but missing"
    )
    for line in report.failed:
        click.echo(f"failed: {line}", err=True)
    for name in report.missing:
        click.echo(f"missing everywhere: {name}", err=True)
    if not report.ok:
        sys.exit(1)
