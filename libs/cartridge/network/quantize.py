"""fp32 ONNX -> int8 ONNX: static quantization calibrated on real positions.

ONNX Runtime's `quantize_static`, set up for CPU self-play:

- QDQ format (QuantizeLinear/DequantizeLinear pairs around each op), the form ONNX
  Runtime's CPU kernels fuse into integer convolutions and matrix products;
- weights int8, one scale per output channel (residual convolutions vary a lot from
  channel to channel), reduced to 7 bits: on x86 CPUs without VNNI the 8-bit product
  instruction can saturate, and the actors that play the model may run on such CPUs
  whatever machine quantized it;
- activations uint8, their ranges the min/max seen over the calibration observations
  (the trainer gives the last positions it trained on).

The model goes through ONNX Runtime's quantization pre-processing first (shape
inference and graph optimisation, as its documentation asks). Measured on a trained
Connect Four network (5x64 resnet) on a busy 2-core AVX2 machine without VNNI:
this QDQ uint8/int8 form ran about 1.7x the fp32 model's evaluations per second at
batch 128, QOperator and int8 activations slower (bench/int8.py). The fp32 model's
metadata (game, shape, step; see cartridge.network.export) is carried over and
`cartridge.precision = int8` added, so `OnnxEvaluator` checks the int8 model like the
fp32 one and says which one it plays.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

from cartridge.inference.onnx import INPUT_NAME, METADATA_PRECISION

log = logging.getLogger(__name__)

# Observations per calibration inference call.
CALIBRATION_BATCH = 128


class QuantizationError(RuntimeError):
    """The model or the calibration data cannot be quantized; the message says which."""


class _Observations(CalibrationDataReader):
    """Feeds the calibration observations to ONNX Runtime in batches."""

    def __init__(self, observations: np.ndarray, batch: int = CALIBRATION_BATCH) -> None:
        self._batches = iter([observations[i:i + batch]
                              for i in range(0, len(observations), batch)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._batches, None)
        return None if batch is None else {INPUT_NAME: batch}


def quantize_int8(onnx_fp32: bytes, observations: np.ndarray) -> bytes:
    """The int8 ONNX model of `onnx_fp32` (an export of cartridge.network.export),
    calibrated on `observations` [N, C, H, W] (N >= 1, finite) of its game."""
    fp32 = _load(onnx_fp32)
    calibration = _check_observations(observations, fp32)
    with tempfile.TemporaryDirectory(prefix="cartridge-int8-") as folder:
        prepared, quantized = Path(folder) / "prepared.onnx", Path(folder) / "int8.onnx"
        try:
            # Symbolic shape inference serves transformers; ONNX's own does for these nets.
            quant_pre_process(fp32, prepared, skip_symbolic_shape=True)
            quantize_static(
                prepared, quantized, _Observations(calibration),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                reduce_range=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.MinMax,
            )
            model = onnx.load(quantized)
        except Exception as err:  # ORT's own error types, ValueError, onnx checker errors
            raise QuantizationError(
                f"quantizing the model to int8 failed: {type(err).__name__}: "
                f"{str(err).strip()[:300]}"
            ) from err
    metadata = {entry.key: entry.value for entry in fp32.metadata_props}
    metadata[METADATA_PRECISION] = "int8"
    del model.metadata_props[:]
    for key, value in metadata.items():
        model.metadata_props.add(key=key, value=value)
    data = model.SerializeToString()
    log.debug("quantized %d bytes of fp32 ONNX to %d bytes of int8 on %d observations",
              len(onnx_fp32), len(data), len(calibration))
    return data


def _load(onnx_fp32: bytes) -> onnx.ModelProto:
    try:
        model = onnx.load_from_string(onnx_fp32)
    except Exception as err:  # protobuf's DecodeError and friends
        raise QuantizationError(
            f"not an ONNX model ({len(onnx_fp32)} bytes): {type(err).__name__}: {err}"
        ) from None
    inputs = [tensor.name for tensor in model.graph.input]
    if inputs != [INPUT_NAME]:
        raise QuantizationError(f"the model's inputs are {inputs}, expected [{INPUT_NAME!r}]")
    return model


def _check_observations(observations: np.ndarray, model: onnx.ModelProto) -> np.ndarray:
    """Calibration observations as contiguous float32 of the model's input shape."""
    dims = model.graph.input[0].type.tensor_type.shape.dim
    shape = tuple(dim.dim_value for dim in dims[1:])
    observations = np.asarray(observations)
    if observations.ndim != 4 or observations.shape[1:] != shape:
        raise QuantizationError(
            f"calibration observations have shape {observations.shape}, the model takes "
            f"[N, {', '.join(map(str, shape))}]"
        )
    if len(observations) == 0:
        raise QuantizationError("no calibration observations: int8 ranges need at least one")
    if not np.isfinite(observations).all():
        raise QuantizationError("calibration observations hold NaN or infinite values")
    return np.ascontiguousarray(observations, dtype=np.float32)
