"""Where uploaded files live: one interface, two implementations.

* ``LocalStorage`` — a directory (``PORTAL_UPLOAD_DIR``), the default: one machine, or several
  sharing a POSIX file system.
* ``S3Storage`` — an S3-compatible bucket (``PORTAL_STORAGE_URL=s3://bucket/prefix?endpoint=…``),
  shared by every web node and worker; credentials come from ``PORTAL_STORAGE_ACCESS_KEY_ID`` /
  ``PORTAL_STORAGE_SECRET_ACCESS_KEY`` or boto3's usual chain (``AWS_*`` variables, an instance
  role), never from the URL, so the URL can be logged and shown.

Every file is written once under a random name chosen by the caller and never rewritten; the
database row that names it is the only way to reach it. Downloads are streamed through the
portal after the caller's permission check (docs/deployment.md says why), so the bucket stays
private. This package knows no domain: agreement documents and agenda files both call it
through ``portal.agreements.documents``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import parse_qs, urlsplit

from flask import Flask, Response, current_app, send_file

CHUNK = 1024 * 1024
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_EXTENSION_KEY = "portal.storage"


class StorageError(Exception):
    """The storage could not do what was asked (unreachable, refused, misconfigured)."""


class StoredFileMissing(StorageError, LookupError):
    """No file under that name."""


def check_name(name: str) -> str:
    """Stored names are ours (random hex + extension); refuse anything else, e.g. a path."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name:
        raise ValueError(f"bad stored name {name!r}")
    return name


@dataclass(frozen=True)
class StoredInfo:
    size: int
    sha256: str | None  # known without reading the file (S3 metadata); None on a directory


class Storage(ABC):
    """What every storage offers. Names are flat (``check_name``)."""

    kind: str

    @abstractmethod
    def put(self, name: str, stream: BinaryIO, *, content_type: str | None = None) -> None:
        """Store the stream (read from its current position) under ``name``; all or nothing."""

    @abstractmethod
    def open(self, name: str) -> BinaryIO:
        """A readable file object; the caller closes it. ``StoredFileMissing`` if absent."""

    @abstractmethod
    def info(self, name: str) -> StoredInfo | None:
        """Size (and checksum when the storage keeps one), or None if there is no such file."""

    @abstractmethod
    def delete(self, name: str) -> None:
        """Remove the file; no error when it is already gone."""

    @abstractmethod
    def names(self) -> Iterator[str]:
        """Every stored name (for migrations and checks)."""

    @abstractmethod
    def check(self) -> None:
        """Raise if the storage cannot be used now (readiness); quick, never logs secrets."""

    @abstractmethod
    def describe(self) -> str:
        """Where files go, for messages: no credentials."""

    @abstractmethod
    def send(self, name: str, *, mimetype: str, download_name: str) -> Response:
        """A download response (attachment) streaming the file."""

    def exists(self, name: str) -> bool:
        return self.info(name) is not None

    def sha256(self, name: str) -> str:
        """Read the whole file back and hash it (what a migration verifies)."""
        digest = hashlib.sha256()
        with self.open(name) as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
        return digest.hexdigest()


class LocalStorage(Storage):
    kind = "local"

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def path(self, name: str) -> Path:
        return self.root / check_name(name)

    def put(self, name: str, stream: BinaryIO, *, content_type: str | None = None) -> None:
        path = self.path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # "x": never overwrite, even in the (astronomically unlikely) event of a name clash.
            with open(path, "xb") as out:
                while chunk := stream.read(CHUNK):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except FileExistsError:
            raise
        except BaseException:
            path.unlink(missing_ok=True)
            raise

    def open(self, name: str) -> BinaryIO:
        try:
            return open(self.path(name), "rb")
        except FileNotFoundError:
            raise StoredFileMissing(name) from None

    def info(self, name: str) -> StoredInfo | None:
        try:
            stat = self.path(name).stat()
        except FileNotFoundError:
            return None
        return StoredInfo(size=stat.st_size, sha256=None)

    def delete(self, name: str) -> None:
        self.path(name).unlink(missing_ok=True)

    def names(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for entry in sorted(os.scandir(self.root), key=lambda e: e.name):
            if entry.is_file() and _NAME.fullmatch(entry.name):
                yield entry.name

    def check(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise StorageError(f"{self.root} is not writable")

    def describe(self) -> str:
        return str(self.root)

    def send(self, name: str, *, mimetype: str, download_name: str) -> Response:
        path = self.path(name)
        if not path.is_file():
            raise StoredFileMissing(name)
        # A path lets werkzeug answer Range and If-None-Match requests itself.
        return send_file(path, mimetype=mimetype, as_attachment=True, download_name=download_name)


class S3Storage(Storage):
    """An S3-compatible bucket through boto3 (AWS S3, SeaweedFS, Ceph RGW, Garage, …)."""

    kind = "s3"

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        addressing: str = "path",
    ):
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.endpoint = endpoint
        self.region = region or "us-east-1"
        self._credentials = (access_key_id, secret_access_key)
        self._addressing = addressing
        self._clients: dict[str, object] = {}

    # One client per purpose: normal work waits and retries; the readiness check answers fast.
    def client(self, purpose: str = "work"):
        found = self._clients.get(purpose)
        if found is not None:
            return found
        import boto3
        from botocore.config import Config

        quick = purpose == "check"
        config = Config(
            region_name=self.region,
            signature_version="s3v4",
            s3={"addressing_style": self._addressing},
            connect_timeout=2 if quick else 5,
            read_timeout=2 if quick else 60,
            retries={"max_attempts": 1 if quick else 4, "mode": "standard"},
            # Checksums only where S3 requires them: S3-compatible servers differ in which
            # of the newer flexible checksums they accept. We keep our own sha256.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        key_id, secret = self._credentials
        session = boto3.session.Session(
            aws_access_key_id=key_id or None, aws_secret_access_key=secret or None
        )
        found = session.client("s3", endpoint_url=self.endpoint, config=config)
        self._clients[purpose] = found
        return found

    def key(self, name: str) -> str:
        return self.prefix + check_name(name)

    def _error(self, err: Exception, name: str | None = None) -> StorageError:
        code = getattr(err, "response", {}).get("Error", {}).get("Code", "")
        if code in {"NoSuchKey", "404", "NotFound"} and name is not None:
            return StoredFileMissing(name)
        return StorageError(f"S3 {type(err).__name__} {code} on {self.describe()}".strip())

    def put(self, name: str, stream: BinaryIO, *, content_type: str | None = None) -> None:
        from boto3.s3.transfer import TransferConfig
        from botocore.exceptions import BotoCoreError, ClientError

        # Our own sha256 goes into the object's metadata, so a migration or a check can
        # compare without downloading. S3 makes the object visible only when the whole upload
        # has arrived: there is never a partial file.
        if not stream.seekable():
            spooled = tempfile.SpooledTemporaryFile(max_size=16 * CHUNK)
            shutil.copyfileobj(stream, spooled, CHUNK)
            spooled.seek(0)
            stream = spooled
        start = stream.tell()
        digest = hashlib.sha256()
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
        stream.seek(start)
        extra: dict = {"Metadata": {"sha256": digest.hexdigest()}}
        if content_type:
            extra["ContentType"] = content_type
        try:
            self.client().upload_fileobj(
                stream,
                self.bucket,
                self.key(name),
                ExtraArgs=extra,
                Config=TransferConfig(multipart_threshold=16 * CHUNK, use_threads=False),
            )
        except (BotoCoreError, ClientError) as err:
            raise self._error(err) from err

    def open(self, name: str) -> BinaryIO:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self.client().get_object(Bucket=self.bucket, Key=self.key(name))
        except (BotoCoreError, ClientError) as err:
            raise self._error(err, name) from err
        return answer["Body"]

    def info(self, name: str) -> StoredInfo | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            head = self.client().head_object(Bucket=self.bucket, Key=self.key(name))
        except ClientError as err:
            if isinstance(self._error(err, name), StoredFileMissing):
                return None
            raise self._error(err) from err
        except BotoCoreError as err:
            raise self._error(err) from err
        return StoredInfo(
            size=int(head["ContentLength"]), sha256=(head.get("Metadata") or {}).get("sha256")
        )

    def delete(self, name: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client().delete_object(Bucket=self.bucket, Key=self.key(name))
        except (BotoCoreError, ClientError) as err:
            raise self._error(err, name) from err

    def names(self) -> Iterator[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            pages = self.client().get_paginator("list_objects_v2")
            for page in pages.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for item in page.get("Contents", []):
                    name = item["Key"][len(self.prefix) :]
                    if _NAME.fullmatch(name):
                        yield name
        except (BotoCoreError, ClientError) as err:
            raise self._error(err) from err

    def check(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client("check").head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as err:
            raise self._error(err) from err

    def describe(self) -> str:
        where = f" at {self.endpoint}" if self.endpoint else ""
        return f"s3://{self.bucket}/{self.prefix}{where}"

    def send(self, name: str, *, mimetype: str, download_name: str) -> Response:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self.client().get_object(Bucket=self.bucket, Key=self.key(name))
        except (BotoCoreError, ClientError) as err:
            raise self._error(err, name) from err
        body = answer["Body"]
        # Streamed in chunks as the client reads: the web node never holds the whole file.
        response = send_file(
            body,
            mimetype=mimetype,
            as_attachment=True,
            download_name=download_name,
            conditional=False,
            etag=False,
        )
        response.content_length = int(answer["ContentLength"])
        sha = (answer.get("Metadata") or {}).get("sha256")
        if sha:
            response.set_etag(sha)
        return response


def storage_from_url(url: str | None, *, upload_dir: str | os.PathLike | None = None, **kw):
    """``''``/``None`` → the upload directory; ``file:///path``; ``s3://bucket/prefix?…``.

    S3 query options: ``endpoint`` (an S3-compatible server's URL; omit for AWS), ``region``,
    ``addressing`` (``path``, the default, which every S3-compatible server understands, or
    ``virtual``). Credentials: keyword arguments, else boto3's usual chain.
    """
    url = (url or "").strip()
    if not url:
        if upload_dir is None:
            raise StorageError("no PORTAL_STORAGE_URL and no PORTAL_UPLOAD_DIR")
        return LocalStorage(upload_dir)
    parts = urlsplit(url)
    if parts.scheme == "file":
        return LocalStorage(parts.path)
    if parts.scheme != "s3":
        raise StorageError(f"PORTAL_STORAGE_URL must be s3://… or file://…, not {parts.scheme}://")
    if parts.username or parts.password:
        raise StorageError(
            "Put S3 credentials in PORTAL_STORAGE_ACCESS_KEY_ID and "
            "PORTAL_STORAGE_SECRET_ACCESS_KEY (or the AWS_* variables), not in the URL."
        )
    if not parts.hostname:
        raise StorageError("PORTAL_STORAGE_URL names no bucket (s3://bucket?endpoint=…)")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = set(query) - {"endpoint", "region", "addressing"}
    if unknown:
        raise StorageError(f"unknown PORTAL_STORAGE_URL option(s): {', '.join(sorted(unknown))}")
    addressing = query.get("addressing", "path")
    if addressing not in {"path", "virtual"}:
        raise StorageError("addressing must be path or virtual")
    return S3Storage(
        parts.hostname,
        prefix=parts.path,
        endpoint=query.get("endpoint") or None,
        region=query.get("region") or None,
        addressing=addressing,
        access_key_id=kw.get("access_key_id"),
        secret_access_key=kw.get("secret_access_key"),
    )


def storage_for(app: Flask) -> Storage:
    found = app.extensions.get(_EXTENSION_KEY)
    if found is None:
        found = storage_from_url(
            app.config.get("STORAGE_URL"),
            upload_dir=app.config.get("UPLOAD_DIR"),
            access_key_id=app.config.get("STORAGE_ACCESS_KEY_ID"),
            secret_access_key=app.config.get("STORAGE_SECRET_ACCESS_KEY"),
        )
        app.extensions[_EXTENSION_KEY] = found
    return found


def get_storage() -> Storage:
    """The current app's storage (made once per app from its settings)."""
    return storage_for(current_app._get_current_object())  # type: ignore[attr-defined]


def init_storage(app: Flask) -> None:
    """Fail at start-up on a malformed PORTAL_STORAGE_URL, not at the first upload."""
    storage_for(app)
