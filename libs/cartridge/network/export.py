"""PyTorch network -> ONNX bytes that an `OnnxEvaluator` loads without torch.

The graph has one input `observations` [batch, C, H, W] float32 with a dynamic
batch axis and two outputs, `policy_logits` [batch, A] and `value` [batch].
A win/draw/loss value head is exported as its expected value, P(win) - P(loss), so
every reader of models sees the same scalar `value` whatever head trained it.
`metadata_props` carry what a loader needs to refuse a model built for another
game or shape (the format's names live in cartridge.inference.onnx).

Exporter: the TorchScript-based one (`dynamo=False`). It exports the default
networks in ~0.05 s against ~1.5 s for the torch.export-based one (measured on
torch 2.13), and export runs at every checkpoint. It is deprecated upstream but
still shipped; the tests catch the day it goes. In eval mode it folds batch
norm into the convolutions, so no folding pass of our own is needed.
"""

from __future__ import annotations

import io
import json
import logging
import warnings

import onnx
import torch
from torch import nn

from cartridge.config.settings import NetworkConfig
from cartridge.games.base import Game
from cartridge.inference.onnx import (
    INPUT_NAME,
    METADATA_ENV_ID,
    METADATA_INPUT_SHAPE,
    METADATA_NETWORK,
    METADATA_NUM_ACTIONS,
    METADATA_STEP,
    OUTPUT_NAMES,
)
from cartridge.network.model import build_network, expected_value

log = logging.getLogger(__name__)

# Opset 17 is read by every onnxruntime >= 1.14, so actors may lag the trainer.
_OPSET = 17


def export_onnx(model: nn.Module, game: Game, config: NetworkConfig, *, step: int) -> bytes:
    """Serialise `model` (built by `build_network(game, config)`) as ONNX with metadata.

    Works on a CPU, eval-mode copy of the weights, so the caller's model (maybe
    on CUDA, in train mode, compiled) is left exactly as it was.
    """
    snapshot = _cpu_eval_copy(model, game, config)
    example = torch.zeros((1, *game.observation_shape), dtype=torch.float32)
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="torch.onnx")
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export")
        torch.onnx.export(
            snapshot,
            (example,),
            buffer,
            dynamo=False,
            input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES),
            dynamic_axes={name: {0: "batch"} for name in (INPUT_NAME, *OUTPUT_NAMES)},
            opset_version=_OPSET,
            do_constant_folding=True,
        )
    proto = onnx.load_from_string(buffer.getvalue())
    metadata = {
        METADATA_ENV_ID: game.id,
        METADATA_NETWORK: config.model_dump_json(),
        METADATA_INPUT_SHAPE: json.dumps(list(game.observation_shape)),
        METADATA_NUM_ACTIONS: str(game.num_actions),
        METADATA_STEP: str(step),
    }
    del proto.metadata_props[:]
    for key, value in metadata.items():
        proto.metadata_props.add(key=key, value=value)
    data = proto.SerializeToString()
    log.debug("exported %s %s step %d: %d bytes", game.id, config, step, len(data))
    return data


def _cpu_eval_copy(model: nn.Module, game: Game, config: NetworkConfig) -> nn.Module:
    # torch.compile wraps the module; its weights live on the original.
    source = getattr(model, "_orig_mod", model)
    snapshot = build_network(game, config)
    state = {name: tensor.detach().to("cpu", torch.float32).contiguous()
             for name, tensor in source.state_dict().items()}
    # Strict: a model that does not match `config` is a bug, not something to export.
    snapshot.load_state_dict(state, strict=True)
    return _ScalarValue(snapshot.eval())


class _ScalarValue(nn.Module):
    """The network with its value output as the scalar searches read."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, value_output = self.network(obs)
        return logits, expected_value(value_output)
