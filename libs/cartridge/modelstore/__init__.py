"""The ModelStore seam: versioned ONNX + checkpoint + metadata, pointers written last."""

from cartridge.modelstore.base import CorruptModelError, ModelInfo, ModelStore

__all__ = ["CorruptModelError", "ModelInfo", "ModelStore"]
