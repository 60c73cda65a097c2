"""Export files kept on disk until the catalogue changes, keyed by who may see what.

A whole-catalogue file costs seconds to build at 100,000 agreements, and it is the same file
for every reader of the same class until the catalogue changes. So each file is written to
disk *while* it is streamed to its first reader (the first bytes leave at once), and later
requests are sent from that file.

The key of a file names everything its bytes depend on:

- the catalogue state: the catalogue index's token (``catalogue_index.current_token``), which
  every committed change to agreements, their parties, places and SDG targets, organisations,
  countries or regions moves in its own transaction — and, for the IATI activity file, the
  agreement documents (their count, newest id and newest upload), which the token does not
  follow;
- the reader class (``agreements.permissions.reader_class``: ``public``, one organisation's
  members ``org:<id>``, or ``staff``), so one reader's rows are never served to another — the
  files under ``/open-data/`` are always built for ``public``, whoever asks;
- the address the file was asked at (its links are absolute; a list download's query string
  is its filters), today's date (IATI's actual/planned dates depend on it) and the settings
  written into the files (publisher, licence).

Files live in ``OPEN_DATA_CACHE_DIR`` (default ``<instance>/open-data-cache``), one directory
per catalogue token: when a file is written under a new token the older directories are
removed. ``OPEN_DATA_CACHE_MB`` bounds the current directory (least recently used files go
first; a file's modification time stays its build time, its access time marks its use).

The public files under ``/open-data/`` also have a *slot*: their key without the catalogue
state and the date. The newest complete file of each slot is kept (a hard link) in
``latest.d/`` until a newer one of the same slot replaces it, whatever happens to the token
directories — the previous file that ``views`` may send while the new one is being built
(docs/open-data.md, "After a change"). Member and staff files have no slot.

A file is renamed into place only when complete: a reader who disconnects halfway leaves
nothing behind, and two nodes or processes writing the same key write the same bytes.
The key's digest is also the response's (weak) ETag: a conditional request is answered 304
before anything is built.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select

from portal.agreements import catalogue_index
from portal.agreements.models import AgreementDocument
from portal.extensions import db

# Bump when the bytes of a file change for the same data (a format change in this code).
FORMAT_VERSION = "1"
# The newest complete file of each slot; a name no token directory can have (``_safe_token``).
LATEST = "latest.d"
_SETTINGS = (
    "IATI_PUBLISHER_REF",
    "IATI_PUBLISHER_NAME",
    "IATI_PUBLISHER_TYPE",
    "IATI_DEFAULT_LANGUAGE",
    "OPEN_DATA_LICENCE",
    "OPEN_DATA_LICENCE_TITLE",
    "OPEN_DATA_LICENCE_URL",
)


def cache_root() -> Path:
    configured = current_app.config.get("OPEN_DATA_CACHE_DIR") or ""
    return Path(configured or Path(current_app.instance_path) / "open-data-cache")


@dataclass(frozen=True)
class Entry:
    """One file's place in the cache; ``digest`` is its key's SHA-256 (and its ETag)."""

    token: str
    digest: str
    suffix: str
    slot: str | None = None  # public /open-data/ files: the key without state and date

    @property
    def directory(self) -> Path:
        return cache_root() / self.token

    @property
    def path(self) -> Path:
        return self.directory / f"{self.digest}.{self.suffix}"

    def existing(self) -> Path | None:
        path = self.path
        try:
            # Recently used: evicted last (the access time); the build time stays.
            os.utime(path, (time.time(), path.stat().st_mtime))
        except OSError:
            return None
        return path

    def previous(self) -> tuple[Path, str] | None:
        """The newest complete file of this entry's slot and its key's digest (its ETag), or
        None: no slot, or none built yet."""
        if self.slot is None:
            return None
        found = []
        for path in (cache_root() / LATEST).glob(f"{self.slot}-*.{self.suffix}"):
            try:
                found.append((path.stat().st_mtime, path))
            except OSError:
                continue
        if not found:
            return None
        _mtime, path = max(found)
        return path, path.name[len(self.slot) + 1 : -len(self.suffix) - 1]

    def write_through(self, chunks: Iterable[str | bytes]) -> Iterator[bytes]:
        """``chunks`` as bytes, written to the cache as they pass; kept only when complete."""
        part = self._part_file()
        complete = False
        try:
            for chunk in chunks:
                data = chunk.encode("utf-8") if isinstance(chunk, str) else chunk
                if part is not None:
                    try:
                        part[1].write(data)
                    except OSError:  # a full disk costs the cache, not the download
                        part = self._discard(part)
                yield data
            complete = True
        finally:
            if part is not None:
                if complete:
                    self._keep(part)
                else:
                    self._discard(part)

    def write_file(self, write: Callable[[Path], None]) -> Path:
        """Have ``write`` produce the file at a temporary path, then keep it; its final path
        (or the temporary one, still readable, when it could not be kept)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.directory, prefix=".part-", suffix="." + self.suffix)
        os.close(fd)
        try:
            write(Path(name))
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        try:
            os.replace(name, self.path)
        except OSError:
            return Path(name)
        self.remember()
        _prune(self.token)
        return self.path

    def _part_file(self):
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=self.directory, prefix=".part-")
        except OSError:
            return None
        return name, os.fdopen(fd, "wb")

    def _keep(self, part) -> None:
        name, handle = part
        try:
            handle.close()
            os.replace(name, self.path)
        except OSError:  # the directory went with an older token meanwhile
            self._discard(part)
            return
        self.remember()
        _prune(self.token)

    def remember(self) -> None:
        """Make this complete file its slot's newest (a hard link, atomically in place), and
        drop the slot's older one. A file system without hard links keeps a copy."""
        if self.slot is None:
            return
        latest = cache_root() / LATEST
        target = latest / f"{self.slot}-{self.digest}.{self.suffix}"
        try:
            latest.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=latest, prefix=".link-")
            os.close(fd)
            os.unlink(name)
            try:
                os.link(self.path, name)
            except OSError:
                shutil.copy2(self.path, name)
            os.replace(name, target)
        except OSError:
            return
        for older in latest.glob(f"{self.slot}-*.{self.suffix}"):
            if older != target:
                older.unlink(missing_ok=True)

    @staticmethod
    def _discard(part) -> None:
        name, handle = part
        handle.close()
        Path(name).unlink(missing_ok=True)


def entry(
    kind: str,
    reader: str,
    address: str,
    suffix: str,
    *,
    documents: bool = False,
    keep_latest: bool = False,
):
    """The cache entry of file ``kind`` for reader class ``reader`` asked at ``address``, or
    None when the catalogue has no state token (a database not migrated yet: no cache).
    ``keep_latest`` (public files only) gives it a slot: its newest file is kept across
    catalogue states."""
    token = catalogue_index.current_token()
    if token is None:
        return None
    config = current_app.config
    fixed = [FORMAT_VERSION, kind, reader, address, *(str(config[n]) for n in _SETTINGS)]
    parts = [*fixed, datetime.now(UTC).date().isoformat(), token]
    if documents:
        parts.append(_documents_state())
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    slot = None
    if keep_latest and reader == "public":
        slot = hashlib.sha256("\x1f".join(["slot", *fixed]).encode("utf-8")).hexdigest()[:32]
    return Entry(token=_safe_token(token), digest=digest, suffix=suffix, slot=slot)


def _documents_state() -> str:
    """Agreement documents are attached and removed, never edited: their count, newest id and
    newest upload move with every change."""
    count, newest, uploaded = db.session.execute(
        select(
            func.count(AgreementDocument.id),
            func.max(AgreementDocument.id),
            func.max(AgreementDocument.uploaded_at),
        )
    ).one()
    return f"{count}:{newest}:{uploaded}"


def _safe_token(token: str) -> str:
    """The token as a directory name (it is a UUID; anything else is hashed)."""
    if token and all(c.isalnum() or c == "-" for c in token) and len(token) <= 64:
        return token
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _prune(current: str) -> None:
    """Remove the directories of older tokens, and the least recently used files of the
    current one beyond ``OPEN_DATA_CACHE_MB``."""
    root = cache_root()
    try:
        siblings = list(root.iterdir())
    except OSError:
        return
    for path in siblings:
        if path.name not in (current, LATEST) and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
    limit = int(current_app.config.get("OPEN_DATA_CACHE_MB", 1024)) * 1024 * 1024
    files = []
    for path in (root / current).glob("*"):
        if path.name.startswith(".part-"):
            continue
        try:
            stat = path.stat()
        except OSError:
            continue
        files.append((stat.st_atime, stat.st_size, path))
    total = sum(size for _used, size, _path in files)
    for _used, size, path in sorted(files):
        if total <= limit:
            break
        path.unlink(missing_ok=True)
        total -= size
