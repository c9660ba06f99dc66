"""The model store interface every backend implements (filesystem, S3).

Layout, per game id (env id), in both backends:

    <env_id>/v000042/model.onnx
    <env_id>/v000042/model.int8.onnx  (optional: the same network quantized to int8)
    <env_id>/v000042/checkpoint.pt
    <env_id>/v000042/meta.json     (ModelInfo as JSON, with every blob's sha256)
    <env_id>/latest                (pointer: {"version": 42, "sha256": ...}) written last
    <env_id>/best                  (pointer written by promote())

A reader goes pointer -> meta -> blob and verifies the blob's sha256, so a
half-written or corrupt model is never loaded.
"""

from __future__ import annotations

import abc
import hashlib
from dataclasses import asdict, dataclass
from typing import Any, Literal

# Precision: which ONNX artifact of a version, model.onnx (fp32) or model.int8.onnx.
from cartridge.config.settings import Precision

Pointer = Literal["latest", "best"]


class CorruptModelError(RuntimeError):
    """A blob whose sha256 does not match its metadata, or a pointer to a missing version.

    The message names the file or object key.
    """


class MissingArtifactError(CorruptModelError):
    """A version published without the artifact asked for (an int8 model): refused like
    a corrupt one, never replaced by another artifact. The message names the version
    and the artifact."""


class ModelStoreError(RuntimeError):
    """A store operation failed for a reason other than a corrupt or missing model."""


class ModelStoreUnavailableError(ModelStoreError):
    """The store cannot be reached right now (network, timeout, 5xx): retry later."""


class ModelStoreConnectionError(ModelStoreError):
    """The store is unusable at start-up (wrong endpoint, bad credentials, no permission).

    The message names the endpoint and bucket, never the secret.
    """


class ModelStoreUnreachableError(ModelStoreConnectionError, ModelStoreUnavailableError):
    """At start-up, no server answers: a start-up error to services that fail fast, a
    reason to wait to those that wait (the arena)."""


@dataclass(frozen=True)
class ModelInfo:
    env_id: str
    version: int
    step: int  # training step the weights come from
    network: dict[str, Any]  # network config (kind, blocks, channels, ...)
    sha256: str  # of model.onnx
    checkpoint_sha256: str  # of checkpoint.pt
    onnx_bytes: int
    checkpoint_bytes: int
    created_at: float  # unix seconds
    # What produced it: the run's start facts (commit, command, seed, versions, host; see
    # cartridge.runs.facts) and its resolved settings; None for models published without.
    run: dict[str, Any] | None = None
    # model.int8.onnx: its sha256 and size; None and 0 for a version published without one
    # (before int8 existed, or by a trainer whose game's actors play fp32).
    int8_sha256: str | None = None
    int8_bytes: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelInfo:
        return cls(**data)


class ModelStore(abc.ABC):
    """Versioned models of one game."""

    env_id: str

    @abc.abstractmethod
    def publish(
        self, onnx: bytes, checkpoint: bytes, *, step: int, network: dict[str, Any],
        run: dict[str, Any] | None = None, int8: bytes | None = None,
    ) -> ModelInfo:
        """Store a new version (the next integer): blobs, then meta, then `latest` last.
        `run` goes into the metadata as is (ModelInfo.run); `int8`, when given, is stored
        as the version's model.int8.onnx."""

    @abc.abstractmethod
    def pointer(self, name: Pointer = "latest") -> int | None:
        """The version a pointer names, or None when it does not exist yet."""

    @abc.abstractmethod
    def info(self, version: int) -> ModelInfo:
        """Metadata of a version; CorruptModelError naming the key if missing or unreadable."""

    @abc.abstractmethod
    def load_onnx(self, version: int) -> bytes:
        """The ONNX bytes, sha256-verified (CorruptModelError naming the file on mismatch)."""

    @abc.abstractmethod
    def load_int8(self, version: int) -> bytes:
        """The int8 ONNX bytes, sha256-verified; MissingArtifactError naming the version
        and the artifact when the version was published without one."""

    def load_model(self, version: int, precision: Precision) -> bytes:
        """The ONNX bytes of `precision`: model.onnx (fp32) or model.int8.onnx (int8)."""
        if precision == "int8":
            return self.load_int8(version)
        if precision == "fp32":
            return self.load_onnx(version)
        raise ValueError(f"unknown model precision {precision!r}; expected fp32 or int8")

    @abc.abstractmethod
    def load_checkpoint(self, version: int) -> bytes:
        """The training checkpoint bytes, sha256-verified."""

    @abc.abstractmethod
    def versions(self) -> list[int]:
        """All stored versions, ascending."""

    @abc.abstractmethod
    def promote(self, version: int) -> None:
        """Point `best` at an existing version."""

    @abc.abstractmethod
    def delete(self, version: int) -> None:
        """Remove a version and everything stored for it. It is marked first, which
        unlists it at once: readers never list a version whose blobs are going, and a
        delete cut short is named by unfinished_deletes() for a later pass to finish.
        ModelStoreError, naming it, for a version `latest` or `best` points at."""

    @abc.abstractmethod
    def unfinished_deletes(self) -> list[int]:
        """Versions whose delete started and did not finish, oldest first."""

    def latest(self) -> ModelInfo | None:
        version = self.pointer("latest")
        return None if version is None else self.info(version)

    def _previous_attempt(self, onnx: bytes, step: int) -> ModelInfo | None:
        """The newest version when it holds this very model at this step: a publish
        retried after its reply, or its `latest` write, was lost (a store outage mid-
        publish). Publishing it again would store the checkpoint twice."""
        versions = self.versions()
        if not versions:
            return None
        info = self.info(versions[-1])
        same = info.step == step and info.sha256 == hashlib.sha256(onnx).hexdigest()
        return info if same else None
