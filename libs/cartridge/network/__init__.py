"""The PyTorch policy/value network and its ONNX export. Imports torch: trainer only."""

from cartridge.network.export import export_onnx
from cartridge.network.model import build_network

__all__ = ["build_network", "export_onnx"]
