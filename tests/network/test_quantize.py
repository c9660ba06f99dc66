"""quantize_int8: a real exported network, quantized, runs in OnnxEvaluator and stays
close to the fp32 model; bad inputs are clear errors."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from cartridge.config.settings import NetworkConfig
from cartridge.games import get_game
from cartridge.inference import OnnxEvaluator
from cartridge.network import build_network, export_onnx
from cartridge.network.quantize import QuantizationError, quantize_int8
from tests.conftest import play_random_positions

GAME = get_game("connect4")
NETWORK = NetworkConfig(kind="resnet", blocks=2, channels=32)


@pytest.fixture(scope="module")
def fp32() -> bytes:
    """A network with decided outputs: fresh heads are near-uniform and near-zero, on
    which any two models "agree"; these depend clearly on the position."""
    torch.manual_seed(7)
    model = build_network(GAME, NETWORK)
    with torch.no_grad():
        model.policy_out.weight.normal_(std=0.5)
        model.value_out.weight.normal_(std=2.0)
    return export_onnx(model, GAME, NETWORK, step=42)


@pytest.fixture(scope="module")
def int8(fp32: bytes) -> bytes:
    calibration, _ = play_random_positions(GAME, 512, seed=1)
    return quantize_int8(fp32, calibration)


def evaluator(data: bytes, version: int) -> OnnxEvaluator:
    return OnnxEvaluator(data, game=GAME, model_version=version, provider="cpu",
                         intra_op_threads=1)


def test_the_int8_model_is_quantized_and_keeps_the_metadata(fp32: bytes, int8: bytes) -> None:
    model = onnx.load_from_string(int8)
    ops = {node.op_type for node in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    int8_weights = [t for t in model.graph.initializer if t.data_type == onnx.TensorProto.INT8]
    assert len(int8_weights) >= 2 * NETWORK.blocks  # every residual convolution, at least
    assert len(int8) < len(fp32) / 2
    loaded = evaluator(int8, version=3)
    assert loaded.precision == "int8"
    assert loaded.metadata["cartridge.step"] == "42"  # the export's metadata, carried over
    assert evaluator(fp32, version=3).precision == "fp32"


def test_int8_agrees_with_fp32_on_positions_it_was_not_calibrated_on(
    fp32: bytes, int8: bytes
) -> None:
    observations, masks = play_random_positions(GAME, 400, seed=2)
    priors32, values32 = evaluator(fp32, 1).evaluate(observations, masks)
    priors8, values8 = evaluator(int8, 1).evaluate(observations, masks)
    assert values32.std() > 0.2  # the values vary, so closeness means something
    assert np.abs(values8 - values32).mean() < 0.1
    agreement = (priors8.argmax(axis=1) == priors32.argmax(axis=1)).mean()
    assert agreement >= 0.85
    total_variation = 0.5 * np.abs(priors8 - priors32).sum(axis=1)
    assert total_variation.mean() < 0.1
    np.testing.assert_allclose(priors8.sum(axis=1), 1, atol=1e-5)
    assert np.all(priors8[~masks] == 0)


def test_garbage_bytes_are_a_clear_error() -> None:
    observations, _ = play_random_positions(GAME, 8)
    with pytest.raises(QuantizationError, match="not an ONNX model"):
        quantize_int8(b"not a model", observations)


@pytest.mark.parametrize(
    ("observations", "message"),
    [
        (np.zeros((0, 2, 6, 7), np.float32), "no calibration observations"),
        (np.zeros((4, 2, 3, 3), np.float32), r"shape \(4, 2, 3, 3\).*\[N, 2, 6, 7\]"),
        (np.full((4, 2, 6, 7), np.nan, np.float32), "NaN"),
    ],
    ids=["empty", "other-game", "nan"],
)
def test_bad_calibration_data_is_a_clear_error(fp32: bytes, observations: np.ndarray,
                                                message: str) -> None:
    with pytest.raises(QuantizationError, match=message):
        quantize_int8(fp32, observations)
