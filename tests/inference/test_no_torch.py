"""Inference code must not pull in torch: actors and the web image do not ship it."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
import cartridge.inference
from cartridge.inference import OnnxEvaluator, UniformEvaluator
import cartridge.inference.onnx
assert "onnxruntime" in sys.modules, "the check must really load the ONNX evaluator"
leaked = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
print(",".join(leaked))
"""


def test_inference_package_does_not_import_torch():
    result = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"torch modules imported: {result.stdout.strip()}"


def test_uniform_evaluator_does_not_need_onnxruntime():
    code = "import sys, cartridge.inference; print('onnxruntime' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
