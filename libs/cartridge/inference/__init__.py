"""The Evaluator seam: observations + legal masks in, priors + values out. No torch here."""

from cartridge.inference.base import Evaluator, UniformEvaluator, masked_softmax

__all__ = ["Evaluator", "UniformEvaluator", "masked_softmax"]
