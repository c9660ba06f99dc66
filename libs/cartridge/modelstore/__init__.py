"""The ModelStore seam: versioned ONNX + checkpoint + metadata, pointers written last."""

from cartridge.modelstore.base import (
    CorruptModelError,
    ModelInfo,
    ModelStore,
    ModelStoreConnectionError,
    ModelStoreError,
    ModelStoreUnavailableError,
)

__all__ = [
    "CorruptModelError",
    "ModelInfo",
    "ModelStore",
    "ModelStoreConnectionError",
    "ModelStoreError",
    "ModelStoreUnavailableError",
]
