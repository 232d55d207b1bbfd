"""Blob stores in S3 and anything that speaks it (MinIO, Wasabi, Cloudflare R2,
…), and Backblaze B2 through its S3-compatible endpoint.

Objects are content-addressed like the local store
(``<prefix>/YYYY/MM/<photo_id>-<sha256>.<ext>``) and carry their SHA-256 in
object metadata (``x-amz-meta-sha256``).  A put is verified before it counts:

* the source's bytes are hashed while they are read, and refused when they do
  not match the photo's content hash (a single PUT is not even sent; a
  multipart upload is aborted, so no object appears);
* every PUT and part carries its Content-MD5, and a single PUT to S3 also the
  photo's SHA-256 as ``x-amz-checksum-sha256``: S3 checks the body against
  both on arrival and stores nothing when it disagrees (400 BadDigest, AWS S3
  API reference); such a refusal is damage on the way, and the bytes are sent
  again;
* a single PUT is verified by its own answer: the ETag S3 returns for a
  single-part object stored as plaintext or with SSE-S3 is the MD5 of the bytes
  it stored, and it must equal the MD5 computed here from the bytes sent (the
  check AWS's PutObject reference suggests for such objects; its Object type
  says which ETags are an MD5; B2's S3 PutObject answers the same 32-hex ETag).
  That catches a body damaged on the way even where the server does not check
  Content-MD5 (moto does not), with no request more;
* otherwise — a multipart upload (its ETag is the MD5 of its parts' MD5s
  followed by ``-<parts>``), an answer whose ETag is not that MD5 or no ETag —
  the object is HEADed: its size and its SHA-256 metadata must match what was
  sent, and so must the SHA-256 checksum S3 computed where it answers one
  (ChecksumMode=ENABLED).  So must the ETag, unless the answer names SSE-KMS
  (``x-amz-server-side-encryption: aws:kms``, also ``aws:kms:dsse``) or SSE-C:
  then the ETag is not an MD5 of the bytes (AWS S3 API reference, Object), and
  S3's own Content-MD5 check of what it accepted stands for it.  A bucket whose
  default encryption is SSE-KMS therefore costs a HEAD per upload; another
  server's opaque ETag with no such header still fails the check;
* an object that is already there is reused only when the same checks pass
  against the source (no upload: "never uploaded twice"); under SSE-KMS or
  SSE-C, where no SHA-256 checksum vouches for its bytes, they are read back
  first.

Large files go as multipart uploads, one part in memory at a time, whatever
the file size.  Retries with exponential backoff and jitter on throttling,
5xx and connection errors are botocore's ("standard" mode).  Nothing is ever
deleted: a bad object is overwritten by a good upload (on a versioned bucket
the bad version stays).

B2 differs in what it accepts (Backblaze's S3-compatible API docs): SigV4
only, no ACLs, no storage classes, and boto3 ≥ 1.36's default checksum headers
are refused (x-amz-checksum-* and x-amz-checksum-mode are listed as
unsupported), so the client only sends checksums when an operation requires
them, and the store neither sends the SHA-256 checksum nor asks for it.
Credentials are B2 application keys (key id + application key).
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
from datetime import datetime, timedelta, timezone
from typing import BinaryIO, Iterator

from .. import credentials
from ..errors import ConfigError, SourceError, StoreError, UnsafeLocator, VerificationError
from ..library.layout import path_problem
from ..options import Option
from .base import BlobKey, BlobStore, Check, StoreContext, StoredBlob, TempCleanup

MiB = 1024 * 1024
DEFAULT_MULTIPART_THRESHOLD = 64 * MiB
DEFAULT_PART_SIZE = 16 * MiB
MIN_PART_SIZE = 5 * MiB
SHA_KEY = "sha256"
#: from this many puts on, replicate's preload lists the bucket instead of a HEAD per object
PRELOAD_AT = 100
#: an unfinished multipart upload of photosync's is aborted once it is this old: an upload
#: only ever runs for the length of one put (a 4 GB video at 1 MB/s: about 70 minutes), so a
#: day old means its client was killed; aborting a live one only fails that put (the next
#: run sends it again).  S3's own lifecycle rule for this counts in days too.
STALE_UPLOAD_HOURS = 24
#: the names photosync gives objects (layout.blob_name): other tools' uploads are left alone
_BLOB_NAME = re.compile(r"^(?:[0-9]{4}/[0-9]{2}|undated)/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
                        r"-[0-9a-f]{64}\.[a-z0-9]+$")

_CREDENTIAL_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken",
                     "ExpiredToken", "InvalidSecurity", "Unauthorized", "Forbidden", "403"}


def _options(b2: bool) -> tuple[Option, ...]:
    region = ("The bucket's region, e.g. us-west-004 (its endpoint is s3.REGION.backblazeb2.com)." if b2 else
              "The bucket's region, e.g. eu-west-1.")
    out = [
        Option("bucket", "The bucket.", required=True, schema={"minLength": 3}),
        Option("prefix", "A folder inside the bucket."),
        Option("region", region),
        Option("endpoint_url", "An S3-compatible endpoint (MinIO, Wasabi, Cloudflare R2, B2...)" +
               ("; instead of --region." if b2 else "."), metavar="URL",
               schema={"pattern": "^https?://", "description": "an http:// or https:// URL"}),
    ]
    if not b2:  # B2 has no storage classes (Backblaze's S3-compatible API docs)
        out.append(Option("storage_class", "The objects' storage class, e.g. STANDARD_IA, GLACIER_IR."))
    out += [
        Option("profile", "An AWS shared-credentials profile to use (a name, not a secret)."),
        Option("access_key_id", "Application key id." if b2 else "Access key id.", secret=True,
               prompt="Application key id" if b2 else "Access key id"),
        Option("secret_access_key", "Application key." if b2 else "Secret access key.", secret=True,
               prompt="Application key" if b2 else "Secret access key"),
        Option("multipart_threshold", "Files from this size (bytes) on go as multipart uploads.", "int",
               default=DEFAULT_MULTIPART_THRESHOLD, schema={"minimum": MIN_PART_SIZE}, advanced=True),
        Option("part_size", "Size of a multipart upload's parts (bytes).", "int", default=DEFAULT_PART_SIZE,
               schema={"minimum": MIN_PART_SIZE}, advanced=True),
        Option("max_attempts", "Tries of a request that fails transiently (botocore's standard retries).", "int",
               default=8, schema={"minimum": 1, "maximum": 30}, advanced=True),
    ]
    return tuple(out)


class S3Store(BlobStore):
    """S3, or anything that speaks it (MinIO, Wasabi, Cloudflare R2...)."""

    type_name = "s3"
    options = _options(b2=False)
    #: extra botocore client settings (B2 narrows the checksums sent)
    client_options: dict = {}
    #: S3's flexible checksums: a single PUT carries the photo's SHA-256 as x-amz-checksum-sha256,
    #: which S3 checks on arrival and keeps, and a HEAD asks for it back (ChecksumMode=ENABLED)
    flexible_checksums = True

    def __init__(self, name: str, config: dict, env: StoreContext) -> None:
        super().__init__(name, config, env)
        self.bucket = config.get("bucket")
        if not self.bucket:
            raise ConfigError(f"store {name}: an {self.type_name} store needs a 'bucket'")
        self.prefix = (config.get("prefix") or "").strip("/")
        self.storage_class = config.get("storage_class")
        self.multipart_threshold = int(config.get("multipart_threshold", DEFAULT_MULTIPART_THRESHOLD))
        self.part_size = max(MIN_PART_SIZE, int(config.get("part_size", DEFAULT_PART_SIZE)))
        self._client = None
        #: names known to be in the bucket (a listing), or None: ask with HEAD
        self._listed: set[str] | None = None

    @classmethod
    def keys_hint(cls, name: str, config: dict) -> str | None:
        if config.get("profile"):
            return None
        return f"Keys: photosync store login {name} (or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)"

    # -- the client ------------------------------------------------------------------------
    @property
    def client(self):
        if self._client is None:
            self._client = self._make_client()
        return self._client

    def _make_client(self):
        import boto3
        from botocore.config import Config

        secrets = credentials.load(self.env.ctx, "stores", self.name)
        profile = self.config.get("profile")
        session = boto3.session.Session(profile_name=profile) if profile and not secrets else boto3.session.Session()
        kwargs = {}
        if secrets:
            kwargs = {
                "aws_access_key_id": secrets.get("access_key_id"),
                "aws_secret_access_key": secrets.get("secret_access_key"),
            }
        config = Config(
            retries={"mode": "standard", "max_attempts": int(self.config.get("max_attempts", 8))},
            max_pool_connections=32,
            signature_version="s3v4",
            connect_timeout=20,
            read_timeout=120,
            **self.client_options,
        )
        return session.client(
            "s3",
            region_name=self.config.get("region") or None,
            endpoint_url=self.config.get("endpoint_url") or None,
            config=config,
            **kwargs,
        )

    def _key(self, locator: str) -> str:
        """The object key of ``locator``: refused when it has a '..' or '.' segment, is absolute or
        has a backslash (S3 keeps such names as they are, but a sync of the bucket to a folder, or
        another S3-compatible server, may read them as a way out of the prefix)."""
        problem = path_problem(locator, backslash=True)
        if problem is not None:
            raise UnsafeLocator(f"store {self.name}: locator {locator!r} is not a key inside "
                                f"{self.uri(locator)} ({problem}); refused")
        return f"{self.prefix}/{locator}" if self.prefix else locator

    def uri(self, locator: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}/{locator}" if self.prefix else f"s3://{self.bucket}/{locator}"

    def describe(self) -> str:
        where = self.config.get("endpoint_url") or "AWS"
        return f"{self.name} ({self.type_name} bucket {self.bucket} at {where})"

    def _explain(self, error: Exception) -> StoreError:
        """A store error a person can act on, naming what to set."""
        from botocore.exceptions import (
            ClientError,
            EndpointConnectionError,
            NoCredentialsError,
            PartialCredentialsError,
            ProfileNotFound,
        )

        login = f"photosync store login {self.name}"
        if isinstance(error, (NoCredentialsError, PartialCredentialsError)):
            return StoreError(
                f"store {self.name}: no credentials: run '{login}', or set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or name an AWS profile in the store's 'profile'"
            )
        if isinstance(error, ProfileNotFound):
            return StoreError(f"store {self.name}: {error}; fix 'profile' in config/user-preferences.json or run '{login}'")
        if isinstance(error, EndpointConnectionError):
            return StoreError(f"store {self.name}: cannot reach {error.kwargs.get('endpoint_url', 'the endpoint')} "
                              "(after retries)")
        if isinstance(error, ClientError):
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in _CREDENTIAL_CODES:
                return StoreError(f"store {self.name}: the credentials were refused ({code}); run '{login}' "
                                  "with a valid key, or check AWS_ACCESS_KEY_ID / the profile")
            if code in ("NoSuchBucket", "404") and "Bucket" in str(error.operation_name):
                return StoreError(f"store {self.name}: bucket {self.bucket} does not exist")
            if code == "NoSuchBucket":
                return StoreError(f"store {self.name}: bucket {self.bucket} does not exist")
            if code == "BadDigest":
                return _BadDigest(f"the server refused the bytes as damaged on the way ({error})")
            return StoreError(f"store {self.name}: {error}")
        return StoreError(f"store {self.name}: {error}")

    def _call(self, method: str, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, method)(**kwargs)
        except (BotoCoreError, ClientError) as e:
            raise self._explain(e) from None

    def _head(self, locator: str) -> dict | None:
        from botocore.exceptions import BotoCoreError, ClientError

        extra = {"ChecksumMode": "ENABLED"} if self.flexible_checksums else {}
        try:
            return self.client.head_object(Bucket=self.bucket, Key=self._key(locator), **extra)
        except ClientError as e:
            if str(e.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self._explain(e) from None
        except BotoCoreError as e:
            raise self._explain(e) from None

    # -- the contract --------------------------------------------------------------------------
    def unavailable(self) -> str | None:
        try:
            self._call("head_bucket", Bucket=self.bucket)
        except StoreError as e:
            return str(e).split(": ", 1)[-1]
        return None

    def has(self, key: BlobKey) -> StoredBlob | None:
        head = self._head(key.name)
        if head is None or head.get("Metadata", {}).get(SHA_KEY) != key.digest:
            return None
        return StoredBlob(key.name, int(head["ContentLength"]), key.content_hash)

    def stat(self, locator: str) -> int | None:
        head = self._head(locator)
        return None if head is None else int(head["ContentLength"])

    def open(self, locator: str) -> BinaryIO:
        from botocore.exceptions import ClientError

        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(locator))["Body"]
        except ClientError as e:
            if str(e.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey"):
                raise StoreError(f"{self.uri(locator)} is missing") from None
            raise self._explain(e) from None
        return _Body(body, self)  # type: ignore[return-value]  # _Body is a read-only file by duck typing

    def list(self) -> Iterator[tuple[str, int]]:
        paginator = self.client.get_paginator("list_objects_v2")
        start = f"{self.prefix}/" if self.prefix else ""
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=start):
                for obj in page.get("Contents", []):
                    yield obj["Key"][len(start):], int(obj["Size"])
        except Exception as e:  # botocore errors, explained
            raise self._explain(e) from None

    def clean_temp(self, thorough: bool = False) -> TempCleanup:
        """Abort photosync's own multipart uploads that a killed client left
        unfinished (their parts are stored, and billed, until then), once they
        are ``STALE_UPLOAD_HOURS`` old; uploads of other tools, and of other
        prefixes, are left alone.  One listing request per 1,000 uploads."""
        cutoff = datetime.now(timezone.utc) - timedelta(hours=STALE_UPLOAD_HOURS)
        start = f"{self.prefix}/" if self.prefix else ""
        removed = removed_bytes = kept = 0
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            for page in self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix=start):
                for up in page.get("Uploads", []):
                    if not _BLOB_NAME.match(up["Key"][len(start):]):
                        continue
                    if up["Initiated"] > cutoff:
                        kept += 1
                        continue
                    size = 0
                    for parts in self.client.get_paginator("list_parts").paginate(
                            Bucket=self.bucket, Key=up["Key"], UploadId=up["UploadId"]):
                        size += sum(int(p.get("Size", 0)) for p in parts.get("Parts", []))
                    self.client.abort_multipart_upload(Bucket=self.bucket, Key=up["Key"], UploadId=up["UploadId"])
                    removed += 1
                    removed_bytes += size
        except (BotoCoreError, ClientError) as e:
            raise self._explain(e) from None
        return TempCleanup(removed, removed_bytes, kept)

    def preload(self, count: int) -> None:
        """Before many uploads, one listing (1,000 names a request) replaces a
        HEAD per object: a name not listed is not there."""
        if count >= PRELOAD_AT:
            self._listed = {name for name, _size in self.list()}

    def put(self, key: BlobKey, stream: BinaryIO, size: int | None = None) -> StoredBlob:
        head = None if self._listed is not None and key.name not in self._listed else self._head(key.name)
        if head is not None and not _seekable(stream):
            # the check below reads the source whole, and a damaged object is then sent again from
            # it: a stream that cannot seek (another store's copy) is spooled to a temporary file
            # first, or the upload would read nothing and blame the source (found by the store
            # contract suite)
            with _spool(stream) as spooled:
                return self.put(key, spooled, size)
        if head is not None:
            digest, etag, n = self._fingerprint(stream, multipart=str(head.get("ETag", "")).count("-") > 0)
            if digest != key.digest:
                raise VerificationError(f"the bytes read from the source hash to sha256:{digest}, not "
                                        f"{key.content_hash}; the source changed since discover or is corrupt")
            if self._mismatch(head, key, etag, n) is None and (
                    not _opaque_etag(head) or _sha256_checksum(head) is not None
                    or super().verify(key.name, key.content_hash).ok):
                # where neither the ETag nor a SHA-256 checksum S3 computed vouches for the bytes
                # (SSE-KMS and an object that came without one), they are read back: an object
                # another tool overwrote, keeping the metadata, is never taken for the photo
                return StoredBlob(key.name, n, key.content_hash, reused=True)
            _rewind(stream)
        attempts = 3
        for attempt in range(attempts):
            try:
                etag, n, answered = self._upload(key, stream, size)
            except _BadDigest as e:
                # the server compared the body with its Content-MD5 (or SHA-256 checksum) and
                # stored nothing (AWS S3: BadDigest, 400): damage on the way, sent again
                problem = str(e)
            else:
                if answered == etag and "-" not in etag:
                    # a single PUT whose answer is the MD5 of the bytes sent: the server stored these
                    # bytes (with the metadata of the same signed request); no HEAD (it was 36 % of an
                    # upload thread's time, issue 13)
                    return StoredBlob(key.name, n, key.content_hash)
                head = self._head(key.name)
                mismatch = "no object after the upload" if head is None else self._mismatch(head, key, etag, n)
                if mismatch is None:
                    return StoredBlob(key.name, n, key.content_hash)
                problem = f"the stored object differs from what was sent ({mismatch})"
            if attempt + 1 == attempts or not _rewind(stream):
                raise VerificationError(f"{self.uri(key.name)}: {problem}")
        raise AssertionError("unreachable")

    def verify(self, locator: str, content_hash: str) -> Check:
        try:
            head = self._head(locator)
        except UnsafeLocator as e:
            return Check(False, f"not checked: {e}")
        if head is None:
            return Check(False, "missing")
        if head.get("Metadata", {}).get(SHA_KEY) not in (None, content_hash.split(":", 1)[1]):
            return Check(False, "corrupt: its sha256 metadata names other bytes", int(head["ContentLength"]))
        return super().verify(locator, content_hash)

    # -- helpers -------------------------------------------------------------------------------
    @staticmethod
    def _mismatch(head: dict, key: BlobKey, etag: str, size: int) -> str | None:
        """How a HEAD shows the object is not the ``size`` bytes of ``key`` that get ``etag``, or
        None.  Size and SHA-256 metadata always count, and a SHA-256 checksum S3 computed from the
        bytes where it answers one.  The ETag counts where it is an MD5 (plaintext and SSE-S3;
        multipart: the MD5 of the parts' MD5s).  Under SSE-KMS or SSE-C it is not (AWS S3 API
        reference, Object), and the bytes were checked by S3 on arrival instead: every PUT and
        part is sent with its Content-MD5, and S3 stores nothing when the body disagrees
        (BadDigest)."""
        if int(head.get("ContentLength", -1)) != size:
            return f"size {head.get('ContentLength')} vs {size}"
        if head.get("Metadata", {}).get(SHA_KEY) != key.digest:
            return f"its sha256 metadata is {head.get('Metadata', {}).get(SHA_KEY)}, not {key.digest}"
        checksum = _sha256_checksum(head)
        if checksum is not None and checksum != base64.b64encode(bytes.fromhex(key.digest)).decode():
            return f"its SHA-256 checksum {checksum} is not the photo's"
        if not _opaque_etag(head) and str(head.get("ETag", "")).strip('"') != etag:
            return f"ETag {head.get('ETag')} vs {etag}"
        return None

    def _fingerprint(self, stream: BinaryIO, multipart: bool) -> tuple[str, str, int]:
        """(sha256, the ETag an upload of these bytes gets, size), streamed."""
        sha = hashlib.sha256()
        part_md5s = []
        whole = hashlib.md5()
        n = 0
        while chunk := _read(stream, self.part_size):
            sha.update(chunk)
            whole.update(chunk)
            part_md5s.append(hashlib.md5(chunk).digest())
            n += len(chunk)
        if multipart:
            etag = hashlib.md5(b"".join(part_md5s)).hexdigest() + f"-{len(part_md5s)}"
        else:
            etag = whole.hexdigest()
        return sha.hexdigest(), etag, n

    def _checksum(self, key: BlobKey) -> dict:
        """The photo's SHA-256 as a flexible checksum of a single PUT, where the service takes one:
        S3 computes the body's own and refuses a body that disagrees (BadDigest), keeps it with
        the object and answers it to a HEAD with ChecksumMode=ENABLED (AWS S3 API reference,
        PutObject and HeadObject).  Not for B2: its S3 API refuses x-amz-checksum-* headers
        (Backblaze's S3-compatible API docs, unsupported features)."""
        if not self.flexible_checksums:
            return {}
        return {"ChecksumAlgorithm": "SHA256", "ChecksumSHA256": base64.b64encode(bytes.fromhex(key.digest)).decode()}

    def _extra(self, key: BlobKey) -> dict:
        extra = {"Metadata": {SHA_KEY: key.digest}}
        if self.storage_class:
            extra["StorageClass"] = self.storage_class
        return extra

    def _upload(self, key: BlobKey, stream: BinaryIO, size: int | None) -> tuple[str, int, str | None]:
        """Send the bytes; return (the ETag they must get, size, the ETag a single PUT was
        answered with, or None).  Raises VerificationError, before anything is stored, when
        they are not the photo's bytes."""
        if _is_big(stream, self.multipart_threshold):
            return *self._multipart(key, stream, b""), None
        first = _read(stream, self.multipart_threshold + 1)
        if len(first) <= self.multipart_threshold:
            digest = hashlib.sha256(first).hexdigest()
            if digest != key.digest:
                raise VerificationError(f"the bytes read from the source hash to sha256:{digest}, not "
                                        f"{key.content_hash}; the source changed since discover or is corrupt")
            md5 = hashlib.md5(first)
            r = self._call("put_object", Bucket=self.bucket, Key=self._key(key.name), Body=first,
                           ContentMD5=base64.b64encode(md5.digest()).decode(), **self._checksum(key),
                           **self._extra(key))
            answered = r.get("ETag")
            return md5.hexdigest(), len(first), answered.strip('"').lower() if isinstance(answered, str) else None
        return *self._multipart(key, stream, first), None

    def _multipart(self, key: BlobKey, stream: BinaryIO, first: bytes) -> tuple[str, int]:
        upload = self._call("create_multipart_upload", Bucket=self.bucket, Key=self._key(key.name),
                            **self._extra(key))
        upload_id = upload["UploadId"]
        sha = hashlib.sha256()
        parts, md5s, n = [], [], 0
        seekable = _rewind(stream)  # a file: parts are sent as sections of it, never held in memory
        pending = b"" if seekable else first
        body: _Section | bytes  # a section of the file, or the bytes read from a stream
        try:
            number = 1
            while True:
                if seekable:
                    start = n
                    md5 = hashlib.md5()
                    size = 0
                    while size < self.part_size and (chunk := _read(stream, min(MiB, self.part_size - size))):
                        md5.update(chunk)
                        sha.update(chunk)
                        size += len(chunk)
                    if not size:
                        break
                    body = _Section(stream, start, size)
                    digest = md5.digest()
                else:
                    while len(pending) < self.part_size and (more := _read(stream, self.part_size - len(pending))):
                        pending += more
                    if not pending:
                        break
                    body, pending = pending[: self.part_size], pending[self.part_size :]
                    size = len(body)
                    sha.update(body)
                    digest = hashlib.md5(body).digest()
                md5s.append(digest)
                n += size
                r = self._call("upload_part", Bucket=self.bucket, Key=self._key(key.name), UploadId=upload_id,
                               PartNumber=number, Body=body, ContentLength=size,
                               ContentMD5=base64.b64encode(digest).decode())
                parts.append({"PartNumber": number, "ETag": r["ETag"]})
                number += 1
                if seekable:
                    stream.seek(n)
            if sha.hexdigest() != key.digest:
                raise VerificationError(f"the bytes read from the source hash to sha256:{sha.hexdigest()}, not "
                                        f"{key.content_hash}; the source changed since discover or is corrupt")
            self._call("complete_multipart_upload", Bucket=self.bucket, Key=self._key(key.name), UploadId=upload_id,
                       MultipartUpload={"Parts": parts})
        except BaseException:
            try:  # an unfinished upload never becomes an object
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=self._key(key.name), UploadId=upload_id)
            except Exception:
                pass
            raise
        return hashlib.md5(b"".join(md5s)).hexdigest() + f"-{len(md5s)}", n


class _Section:
    """A window [start, start+size) of a seekable file, as a file object
    botocore can read, hash and rewind: a part is sent straight from the file."""

    def __init__(self, f: BinaryIO, start: int, size: int):
        self.f, self.start, self.size, self.pos = f, start, size, 0

    def read(self, n: int = -1) -> bytes:
        left = self.size - self.pos
        if n is None or n < 0 or n > left:
            n = left
        if n <= 0:
            return b""
        self.f.seek(self.start + self.pos)
        data = self.f.read(n)
        self.pos += len(data)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.pos, 2: self.size}[whence]
        self.pos = max(0, min(self.size, base + offset))
        return self.pos

    def tell(self) -> int:
        return self.pos

    def seekable(self) -> bool:
        return True

    def __len__(self) -> int:
        return self.size


class B2Store(S3Store):
    """Backblaze B2 through its S3-compatible endpoint (s3.<region>.backblazeb2.com)."""

    type_name = "b2"
    options = _options(b2=True)
    client_options = {
        "request_checksum_calculation": "when_required",
        "response_checksum_validation": "when_required",
    }
    flexible_checksums = False

    @classmethod
    def check_config(cls, config: dict, library_root) -> dict:
        if not config.get("region") and not config.get("endpoint_url"):
            raise ConfigError("a b2 store needs --region (e.g. us-west-004: the bucket's endpoint) or --endpoint-url")
        return config

    def __init__(self, name, config, env):
        if not config.get("endpoint_url") and config.get("region"):
            config = {**config, "endpoint_url": f"https://s3.{config['region']}.backblazeb2.com"}
        if not config.get("endpoint_url"):
            raise ConfigError(f"store {name}: a b2 store needs --region (e.g. us-west-004) or --endpoint-url")
        if config.get("storage_class"):
            raise ConfigError(f"store {name}: B2 has no storage classes")
        super().__init__(name, config, env)


class _BadDigest(StoreError):
    """The server compared an upload's body with its Content-MD5 or checksum and refused it."""


def _opaque_etag(answer: dict) -> bool:
    """True when a PUT or HEAD answer says the object is stored with SSE-KMS (also DSSE-KMS,
    ``aws:kms:dsse``) or SSE-C: then its ETag is not the MD5 of its bytes (AWS S3 API reference,
    Object: "encrypted by SSE-C or SSE-KMS, have ETags that are not an MD5 digest of their object
    data"), and S3 names the encryption in x-amz-server-side-encryption(-customer-algorithm)."""
    return str(answer.get("ServerSideEncryption") or "").startswith("aws:kms") or bool(
        answer.get("SSECustomerAlgorithm"))


def _sha256_checksum(head: dict) -> str | None:
    """The object's own SHA-256 as S3 answers it (base64), or None: none was stored with it, or it
    is a multipart object's checksum of its parts' checksums (``…-<parts>``, type COMPOSITE)."""
    checksum = head.get("ChecksumSHA256")
    if not checksum or "-" in checksum or head.get("ChecksumType") == "COMPOSITE":
        return None
    return checksum


def _read(stream: BinaryIO, n: int) -> bytes:
    """Up to n bytes (fewer only at the end); a read error is the source's."""
    out = bytearray()
    try:
        while len(out) < n:
            chunk = stream.read(n - len(out))
            if not chunk:
                break
            out += chunk
    except OSError as e:
        raise SourceError(f"reading the source failed: {e.strerror or e}") from None
    return bytes(out)


def _is_big(stream: BinaryIO, threshold: int) -> bool:
    """True when a file is known (by its size) to need a multipart upload."""
    try:
        import os

        return os.fstat(stream.fileno()).st_size > threshold
    except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
        return False


def _spool(stream: BinaryIO):
    """A seekable copy of ``stream`` in a temporary file (memory does not grow with the blob)."""
    import tempfile

    spooled = tempfile.TemporaryFile()
    try:
        while chunk := _read(stream, MiB):
            spooled.write(chunk)
        spooled.seek(0)
    except BaseException:
        spooled.close()
        raise
    return spooled


def _seekable(stream: BinaryIO) -> bool:
    try:
        return bool(stream.seekable())
    except (OSError, AttributeError, ValueError):
        return False


def _rewind(stream: BinaryIO) -> bool:
    try:
        if stream.seekable():
            stream.seek(0)
            return True
    except (OSError, AttributeError, ValueError):
        pass
    return False


class _Body:
    """A downloaded object as a file-like stream; network errors become StoreError."""

    def __init__(self, body, store: S3Store):
        self.body = body
        self.store = store

    def read(self, n: int = -1) -> bytes:
        try:
            return self.body.read(None if n is None or n < 0 else n)
        except Exception as e:  # urllib3 / botocore read errors
            raise StoreError(f"store {self.store.name}: download failed: {e}") from None

    def close(self) -> None:
        self.body.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
