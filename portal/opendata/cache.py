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
first). A file is renamed into place only when complete: a reader who disconnects halfway
leaves nothing behind, and two nodes or processes writing the same key write the same bytes.
The key's digest is also the response's (weak) ETag: a conditional request is answered 304
before anything is built.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
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

    @property
    def directory(self) -> Path:
        return cache_root() / self.token

    @property
    def path(self) -> Path:
        return self.directory / f"{self.digest}.{self.suffix}"

    def existing(self) -> Path | None:
        path = self.path
        try:
            os.utime(path)  # recently used: evicted last
        except OSError:
            return None
        return path

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
        _prune(self.token)

    @staticmethod
    def _discard(part) -> None:
        name, handle = part
        handle.close()
        Path(name).unlink(missing_ok=True)


def entry(kind: str, reader: str, address: str, suffix: str, *, documents: bool = False):
    """The cache entry of file ``kind`` for reader class ``reader`` asked at ``address``, or
    None when the catalogue has no state token (a database not migrated yet: no cache)."""
    token = catalogue_index.current_token()
    if token is None:
        return None
    config = current_app.config
    parts = [
        FORMAT_VERSION,
        kind,
        reader,
        address,
        datetime.now(UTC).date().isoformat(),
        token,
        *(str(config[name]) for name in _SETTINGS),
    ]
    if documents:
        parts.append(_documents_state())
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return Entry(token=_safe_token(token), digest=digest, suffix=suffix)


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
        if path.name != current and path.is_dir():
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
        files.append((stat.st_mtime, stat.st_size, path))
    total = sum(size for _mtime, size, _path in files)
    for _mtime, size, path in sorted(files):
        if total <= limit:
            break
        path.unlink(missing_ok=True)
        total -= size
