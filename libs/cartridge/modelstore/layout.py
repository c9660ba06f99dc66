"""Names and encodings shared by every backend, so both stores lay models out identically."""

from __future__ import annotations

import hashlib
import json
import re
import time
from typing import Any

from cartridge.modelstore.base import CorruptModelError, MissingArtifactError, ModelInfo

ONNX_NAME = "model.onnx"
INT8_NAME = "model.int8.onnx"
CHECKPOINT_NAME = "checkpoint.pt"
META_NAME = "meta.json"
# Put into a version's folder when its delete starts: the version is unlisted from then
# on, and a delete cut short (a killed trainer pruning) is found and finished later.
DELETING_NAME = ".deleting"
POINTERS = ("latest", "best")

# Six digits keep versions sorted as text up to v999999.
_VERSION_RE = re.compile(r"^v(\d{6,})$")


def version_name(version: int) -> str:
    if version < 1:
        raise ValueError(f"model versions start at 1, got {version}")
    return f"v{version:06d}"


def parse_version_name(name: str) -> int | None:
    match = _VERSION_RE.match(name)
    return int(match.group(1)) if match else None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def new_info(
    env_id: str, version: int, onnx: bytes, checkpoint: bytes, *, step: int,
    network: dict[str, Any], run: dict[str, Any] | None = None, int8: bytes | None = None,
) -> ModelInfo:
    return ModelInfo(
        env_id=env_id,
        version=version,
        step=step,
        network=dict(network),
        sha256=sha256_hex(onnx),
        checkpoint_sha256=sha256_hex(checkpoint),
        onnx_bytes=len(onnx),
        checkpoint_bytes=len(checkpoint),
        created_at=time.time(),
        run=run,
        int8_sha256=None if int8 is None else sha256_hex(int8),
        int8_bytes=0 if int8 is None else len(int8),
    )


def int8_sha256(info: ModelInfo, *, where: str) -> str:
    """The sha256 the version's int8 model must have; MissingArtifactError when it has none."""
    if info.int8_sha256 is None:
        raise MissingArtifactError(
            f"{where}: {info.env_id} version {info.version} was published without an int8 "
            f"model ({INT8_NAME}); the trainer publishes one when the game's actors play int8 "
            f"([selfplay.<game>] or [inference] precision) or with [training] publish_int8 = "
            f"true"
        )
    return info.int8_sha256


def encode_info(info: ModelInfo) -> bytes:
    return json.dumps(info.to_json(), indent=2, sort_keys=True).encode()


def decode_info(data: bytes, *, where: str, version: int, env_id: str) -> ModelInfo:
    """Parse meta.json; anything unreadable or naming another model is corrupt."""
    try:
        info = ModelInfo.from_json(json.loads(data))
    except (ValueError, TypeError) as err:
        raise CorruptModelError(f"{where}: unreadable model metadata ({err})") from None
    if info.version != version or info.env_id != env_id:
        raise CorruptModelError(
            f"{where}: metadata names {info.env_id} version {info.version}, "
            f"expected {env_id} version {version}"
        )
    return info


def encode_pointer(info: ModelInfo) -> bytes:
    return json.dumps({"version": info.version, "sha256": info.sha256}).encode()


def decode_pointer(data: bytes, *, where: str) -> int:
    try:
        version = json.loads(data)["version"]
    except (ValueError, TypeError, KeyError) as err:
        raise CorruptModelError(f"{where}: unreadable pointer ({err})") from None
    if not isinstance(version, int) or version < 1:
        raise CorruptModelError(f"{where}: pointer names no valid version ({version!r})")
    return version


def verify(data: bytes, expected_sha256: str, *, where: str) -> bytes:
    actual = sha256_hex(data)
    if actual != expected_sha256:
        raise CorruptModelError(
            f"{where}: sha256 {actual} does not match the metadata's {expected_sha256}"
        )
    return data
