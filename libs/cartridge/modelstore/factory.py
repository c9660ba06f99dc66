"""Wiring: the model store [storage] asks for (entry points call this, libraries get the store)."""

from __future__ import annotations

from pathlib import Path

from cartridge.config.settings import Settings, StorageSettings
from cartridge.modelstore.base import ModelStore, ModelStoreConnectionError


def open_model_store(settings: Settings, env_id: str | None = None) -> ModelStore:
    """The filesystem or S3 store of one game ([common] env_id unless given)."""
    storage = settings.storage
    env_id = env_id or settings.common.env_id
    if storage.model_backend == "filesystem":
        from cartridge.modelstore.filesystem import FilesystemModelStore

        return FilesystemModelStore(settings.data_path(storage.model_dir), env_id)

    from cartridge.modelstore.s3 import S3ModelStore

    access_key, secret_key = s3_credentials(storage)
    return S3ModelStore(
        endpoint=storage.s3_endpoint,
        bucket=storage.s3_bucket,
        env_id=env_id,
        access_key=access_key,
        secret_key=secret_key,
        prefix=storage.s3_prefix,
        region=storage.s3_region,
        secure=storage.s3_secure,
    )


def s3_credentials(storage: StorageSettings) -> tuple[str, str]:
    """(access key, secret key): the environment's, else the mounted secret file's.

    The secret file holds `access_key = ...` and `secret_key = ...` lines (`#` comments
    allowed), the shape a Kubernetes Secret or compose secret mounts as one file.
    """
    access_key = storage.s3_access_key.get_secret_value()
    secret_key = storage.s3_secret_key.get_secret_value()
    if not (access_key or secret_key) and storage.s3_credentials_file:
        access_key, secret_key = _read_credentials_file(Path(storage.s3_credentials_file))
    where = f"S3 endpoint {storage.s3_endpoint} bucket {storage.s3_bucket!r}"
    if not (access_key and secret_key):
        raise ModelStoreConnectionError(
            f"{where}: no credentials; set CARTRIDGE_STORAGE_S3_ACCESS_KEY and "
            f"CARTRIDGE_STORAGE_S3_SECRET_KEY, or [storage] s3_credentials_file"
        )
    return access_key, secret_key


def _read_credentials_file(path: Path) -> tuple[str, str]:
    try:
        text = path.read_text()
    except OSError as err:
        raise ModelStoreConnectionError(
            f"cannot read S3 credentials file {path}: {err.strerror}"
        ) from None
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, separator, value = line.partition("=")
        key = key.strip()
        if not separator or key not in ("access_key", "secret_key"):
            # Never echo the line: it may hold the secret.
            raise ModelStoreConnectionError(
                f"S3 credentials file {path}, line {number}: expected "
                f"'access_key = ...' or 'secret_key = ...'"
            )
        values[key] = value.strip().strip("\"'")
    return values.get("access_key", ""), values.get("secret_key", "")
