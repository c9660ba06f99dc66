"""S3ModelStore: models in an S3 bucket (MinIO in the stack) through the `minio` client.

    <prefix>/<env_id>/v000042/{.claim, model.onnx, model.int8.onnx (optional), checkpoint.pt,
                               meta.json}
    <prefix>/<env_id>/latest, best   (small JSON pointers)

A publisher claims a version with a conditional PUT (`If-None-Match: *`) of the
version's `.claim` object, so racing publishers get distinct versions; it then
uploads the blobs, the metadata, and moves `latest` last with a PUT conditional
on the pointer's ETag, so `latest` never moves backwards. Conditional writes are
plain S3 (AWS, MinIO); a server that ignores them degrades to last-writer-wins.
delete() reads the pointers, then puts a `.deleting` marker that unlists the version
before its objects go (a delete cut short is finished later); S3 has no lock, so a promote()
racing it could still name the version being deleted: callers that promote (the arena)
declare the versions they may promote as protected from retention.

Errors: unreachable endpoint, timeouts and 5xx raise ModelStoreUnavailableError
(retry later); a missing or corrupt object raises CorruptModelError naming its
key; start-up problems raise ModelStoreConnectionError naming endpoint and bucket.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Iterator
from typing import Any

import certifi
import urllib3
from minio import Minio
from minio.error import InvalidResponseError, S3Error, ServerError

from cartridge.modelstore import layout
from cartridge.modelstore.base import (
    CorruptModelError,
    ModelInfo,
    ModelStore,
    ModelStoreConnectionError,
    ModelStoreError,
    ModelStoreUnavailableError,
    ModelStoreUnreachableError,
    Pointer,
)

log = logging.getLogger(__name__)

_CLAIM_NAME = ".claim"
_MISSING_CODES = {"NoSuchKey", "NoSuchObject"}
_CONFLICT_CODES = {"PreconditionFailed", "ConditionalRequestConflict"}
_TRANSIENT_CODES = {
    "SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout",
    "XMinioServerNotInitialized",
}
_CREDENTIAL_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"}
_POINTER_ATTEMPTS = 20


class _PreconditionFailedError(Exception):
    """A conditional PUT lost a race."""


class S3ModelStore(ModelStore):
    def __init__(
        self,
        *,
        endpoint: str,
        bucket: str,
        env_id: str,
        access_key: str,
        secret_key: str,
        prefix: str = "models",
        region: str = "",
        secure: bool = True,
        connect_timeout: float = 2.0,
        read_timeout: float = 30.0,
        retries: int = 2,
    ) -> None:
        """Connects and checks the bucket (creating it, private, if missing).

        Timeouts and retries are short so an unreachable store fails within a few
        seconds and callers' own backoff loops stay in charge.
        """
        self.endpoint = endpoint
        self.bucket = bucket
        self.env_id = env_id
        self.base = "/".join(part for part in (prefix.strip("/"), env_id) if part)
        self._url = f"{'https' if secure else 'http'}://{endpoint}"
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
            retries=urllib3.Retry(
                total=retries, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]
            ),
            maxsize=8,
            cert_reqs="CERT_REQUIRED",
            ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
        )
        try:
            self.client = Minio(
                endpoint, access_key=access_key, secret_key=secret_key, secure=secure,
                region=region or None, http_client=http,
            )
        except ValueError as err:
            raise ModelStoreConnectionError(
                f"bad S3 endpoint {endpoint!r} for bucket {bucket!r}: {err} "
                f"(give host:port; TLS is chosen by s3_secure)"
            ) from None
        self._region = region
        self._check_bucket()

    def __repr__(self) -> str:
        return f"S3ModelStore({self._url}, s3://{self.bucket}/{self.base})"

    # -- start-up ----------------------------------------------------------------

    def _check_bucket(self) -> None:
        """List the game's prefix once (creating the bucket if missing) so a wrong
        endpoint, rejected credentials or a missing permission fail here, clearly."""
        where = f"S3 endpoint {self._url} bucket {self.bucket!r}"
        try:
            try:
                next(iter(self.client.list_objects(self.bucket, prefix=self.base + "/")), None)
            except S3Error as err:
                if err.code != "NoSuchBucket":
                    raise
                # New buckets are private: no bucket policy is ever set.
                self.client.make_bucket(self.bucket, location=self._region or None)
                log.info("created bucket %r at %s", self.bucket, self._url)
        except S3Error as err:
            if err.code in _CREDENTIAL_CODES:
                reason = f"credentials rejected ({err.code})"
            elif err.code == "AccessDenied":
                reason = "permission denied (AccessDenied): the credentials may not use this bucket"
            else:
                reason = f"{err.code}: {err.message}"
            raise ModelStoreConnectionError(f"{where}: {reason}") from None
        except (urllib3.exceptions.HTTPError, ServerError, InvalidResponseError) as err:
            raise ModelStoreUnreachableError(
                f"{where}: cannot reach the server ({_describe_network_error(err)})"
            ) from None
        except ValueError as err:  # the client validates names before sending anything
            raise ModelStoreConnectionError(f"{where}: {err}") from None

    # -- writing -----------------------------------------------------------------

    def publish(
        self, onnx: bytes, checkpoint: bytes, *, step: int, network: dict[str, Any],
        run: dict[str, Any] | None = None, int8: bytes | None = None,
    ) -> ModelInfo:
        earlier = self._previous_attempt(onnx, step)
        if earlier is not None:
            self._advance_latest(earlier)
            return earlier
        version = self._claim_version()
        info = layout.new_info(self.env_id, version, onnx, checkpoint, step=step,
                               network=network, run=run, int8=int8)
        self._put(self._blob_key(version, layout.ONNX_NAME), onnx)
        if int8 is not None:
            self._put(self._blob_key(version, layout.INT8_NAME), int8)
        self._put(self._blob_key(version, layout.CHECKPOINT_NAME), checkpoint)
        self._put(self._blob_key(version, layout.META_NAME), layout.encode_info(info))
        self._advance_latest(info)
        return info

    def promote(self, version: int) -> None:
        info = self.info(version)
        marker = self._blob_key(version, layout.DELETING_NAME)
        if self._get(marker)[0] is not None:
            raise ModelStoreError(f"{self._where(marker)}: not promoted, its delete has started")
        self._put(self._pointer_key("best"), layout.encode_pointer(info))

    def delete(self, version: int) -> None:
        for name in layout.POINTERS:
            if self.pointer(name) == version:
                where = self._where(self._blob_key(version, layout.META_NAME))
                raise ModelStoreError(f"{where}: not deleted, `{name}` points at it")
        # The marker unlists the version; it goes last, so a delete cut short is named
        # by unfinished_deletes(). Removing an object that does not exist (no int8
        # model, a delete finished twice) succeeds in S3.
        self._put(self._blob_key(version, layout.DELETING_NAME), b"")
        for name in (layout.META_NAME, layout.ONNX_NAME, layout.INT8_NAME,
                     layout.CHECKPOINT_NAME, _CLAIM_NAME, layout.DELETING_NAME):
            key = self._blob_key(version, name)
            with self._errors(key):
                self.client.remove_object(self.bucket, key)

    def unfinished_deletes(self) -> list[int]:
        return sorted(self._listed(layout.DELETING_NAME)[layout.DELETING_NAME])

    def _claim_version(self) -> int:
        version = self._highest_claimed() + 1
        while True:
            try:
                self._put(self._blob_key(version, _CLAIM_NAME), b"", headers={"If-None-Match": "*"})
                return version
            except _PreconditionFailedError:
                version += 1

    def _advance_latest(self, info: ModelInfo) -> None:
        key = self._pointer_key("latest")
        for _ in range(_POINTER_ATTEMPTS):
            data, etag = self._get(key)
            current = None if data is None else layout.decode_pointer(data, where=self._where(key))
            if current is not None and current >= info.version:
                return  # a racing publisher already moved it past us
            condition = {"If-Match": etag} if data is not None else {"If-None-Match": "*"}
            try:
                self._put(key, layout.encode_pointer(info), headers=condition)
                return
            except _PreconditionFailedError:
                continue
        raise ModelStoreError(f"{self._where(key)}: could not move the pointer to v{info.version}")

    def _put(self, key: str, data: bytes, *, headers: dict[str, str] | None = None) -> None:
        with self._errors(key):
            try:
                if headers:
                    # Conditional headers must reach the server as-is; put_object would
                    # turn them into x-amz-meta-* user metadata.
                    self.client._put_object(
                        self.bucket, key, data,
                        headers={"Content-Type": "application/octet-stream", **headers},
                    )
                else:
                    self.client.put_object(self.bucket, key, io.BytesIO(data), len(data))
            except S3Error as err:
                if err.code in _CONFLICT_CODES:
                    raise _PreconditionFailedError from None
                raise

    # -- reading -----------------------------------------------------------------

    def pointer(self, name: Pointer = "latest") -> int | None:
        if name not in layout.POINTERS:
            raise ValueError(f"unknown pointer {name!r}; pointers: {', '.join(layout.POINTERS)}")
        key = self._pointer_key(name)
        data, _ = self._get(key)
        return None if data is None else layout.decode_pointer(data, where=self._where(key))

    def info(self, version: int) -> ModelInfo:
        key = self._blob_key(version, layout.META_NAME)
        data, _ = self._get(key)
        if data is None:
            raise CorruptModelError(f"{self._where(key)}: version {version} is missing")
        return layout.decode_info(data, where=self._where(key), version=version, env_id=self.env_id)

    def load_onnx(self, version: int) -> bytes:
        return self._read_verified(version, layout.ONNX_NAME, self.info(version).sha256)

    def load_int8(self, version: int) -> bytes:
        info = self.info(version)
        where = self._where(self._blob_key(version, layout.INT8_NAME))
        return self._read_verified(version, layout.INT8_NAME,
                                   layout.int8_sha256(info, where=where))

    def load_checkpoint(self, version: int) -> bytes:
        info = self.info(version)
        return self._read_verified(version, layout.CHECKPOINT_NAME, info.checkpoint_sha256)

    def versions(self) -> list[int]:
        # A version counts once its metadata exists (claimed-but-unfinished ones do not)
        # and until its delete starts.
        listed = self._listed(layout.META_NAME, layout.DELETING_NAME)
        return sorted(listed[layout.META_NAME] - listed[layout.DELETING_NAME])

    def _listed(self, *names: str) -> dict[str, set[int]]:
        """For each of `names`, the versions that hold an object of that name."""
        found: dict[str, set[int]] = {name: set() for name in names}
        with self._errors(self.base + "/"):
            listing = self.client.list_objects(self.bucket, prefix=self.base + "/", recursive=True)
            for item in listing:
                folder, _, name = item.object_name[len(self.base) + 1:].partition("/")
                version = layout.parse_version_name(folder)
                if version is not None and name in found:
                    found[name].add(version)
        return found

    def _highest_claimed(self) -> int:
        highest = 0
        with self._errors(self.base + "/"):
            for item in self.client.list_objects(self.bucket, prefix=self.base + "/"):
                folder = item.object_name[len(self.base) + 1:].rstrip("/")
                highest = max(highest, layout.parse_version_name(folder) or 0)
        return highest

    def _read_verified(self, version: int, name: str, sha256: str) -> bytes:
        key = self._blob_key(version, name)
        data, _ = self._get(key)
        if data is None:
            raise CorruptModelError(f"{self._where(key)}: missing")
        return layout.verify(data, sha256, where=self._where(key))

    def _get(self, key: str) -> tuple[bytes | None, str | None]:
        """(body, ETag), or (None, None) when the object does not exist."""
        with self._errors(key):
            try:
                response = self.client.get_object(self.bucket, key)
            except S3Error as err:
                if err.code in _MISSING_CODES:
                    return None, None
                raise
            try:
                return response.read(), response.headers.get("ETag")
            finally:
                response.close()
                response.release_conn()

    # -- names and errors --------------------------------------------------------

    def _blob_key(self, version: int, name: str) -> str:
        return f"{self.base}/{layout.version_name(version)}/{name}"

    def _pointer_key(self, name: str) -> str:
        return f"{self.base}/{name}"

    def _where(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    @contextlib.contextmanager
    def _errors(self, key: str) -> Iterator[None]:
        """Translate client errors into the store's: transient ones can be retried."""
        try:
            yield
        except S3Error as err:
            if err.code in _TRANSIENT_CODES:
                raise ModelStoreUnavailableError(
                    f"{self._where(key)} at {self._url}: {err.code}"
                ) from None
            raise ModelStoreError(
                f"{self._where(key)} at {self._url}: {err.code}: {err.message}"
            ) from None
        except (urllib3.exceptions.HTTPError, ServerError, InvalidResponseError) as err:
            raise ModelStoreUnavailableError(
                f"{self._where(key)}: S3 endpoint {self._url} unreachable "
                f"({_describe_network_error(err)})"
            ) from None


def _describe_network_error(err: Exception) -> str:
    reason = getattr(err, "reason", None)  # MaxRetryError wraps the last underlying error
    return f"{type(err).__name__}: {reason or err}"
