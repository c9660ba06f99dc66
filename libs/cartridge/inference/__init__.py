"""The Evaluator seam: observations + legal masks in, priors + values out. No torch here.

`OnnxEvaluator` and its errors load lazily, so code that only needs the
uniform evaluator (tests, bootstrap) does not pay for importing onnxruntime.
"""

from typing import Any

from cartridge.inference.base import Evaluator, UniformEvaluator, masked_softmax

__all__ = [
    "Evaluator",
    "ModelLoadError",
    "ModelMismatchError",
    "OnnxEvaluator",
    "UniformEvaluator",
    "masked_softmax",
]

_LAZY = {"OnnxEvaluator", "ModelLoadError", "ModelMismatchError"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from cartridge.inference import onnx

        return getattr(onnx, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
