"""The ModelStore seam: versioned ONNX (fp32, optionally int8) + checkpoint + metadata,
pointers written last."""

from cartridge.modelstore.base import (
    CorruptModelError,
    MissingArtifactError,
    ModelInfo,
    ModelStore,
    ModelStoreConnectionError,
    ModelStoreError,
    ModelStoreUnavailableError,
)

__all__ = [
    "CorruptModelError",
    "MissingArtifactError",
    "ModelInfo",
    "ModelStore",
    "ModelStoreConnectionError",
    "ModelStoreError",
    "ModelStoreUnavailableError",
]
