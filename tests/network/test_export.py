"""export_onnx: ONNX Runtime agrees with PyTorch, dynamic batch, metadata, caller untouched."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from cartridge.config.settings import NetworkConfig
from cartridge.games import GAME_IDS, get_game
from cartridge.network import build_network, export_onnx
from cartridge.network.model import expected_value

CONFIGS = [
    NetworkConfig(kind="resnet", blocks=3, channels=32),
    NetworkConfig(kind="mlp", blocks=2, channels=64),
    NetworkConfig(kind="resnet", blocks=2, channels=32, value_head="wdl"),
    NetworkConfig(kind="mlp", blocks=2, channels=64, value_head="wdl"),
]


def config_id(config: NetworkConfig) -> str:
    return f"{config.kind}-{config.value_head}"


def randomise(model: torch.nn.Module, calibration: np.ndarray, seed: int = 0) -> torch.nn.Module:
    """Perturb every weight, then set BN statistics from `calibration` positions as
    training would, so agreement is not agreement on ~zero outputs and folded
    batch norm is exercised with non-trivial statistics and scales."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                scale = torch.rand(module.weight.shape, generator=generator)
                module.weight.copy_(0.5 + 0.2 * scale)
                module.bias.copy_(0.1 * torch.randn(module.bias.shape, generator=generator))
                module.reset_running_stats()
                module.momentum = None  # cumulative average over the calibration batch
            elif isinstance(module, torch.nn.Conv2d | torch.nn.Linear):
                for param in module.parameters():
                    param.add_(0.05 * torch.randn(param.shape, generator=generator))
        model.train()(torch.from_numpy(calibration))
    return model.eval()


def session(data: bytes) -> ort.InferenceSession:
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
@pytest.mark.parametrize("game_id", GAME_IDS)
def test_onnx_runtime_agrees_with_pytorch(game_id, config, random_positions):
    torch.manual_seed(0)
    game = get_game(game_id)
    model = randomise(build_network(game, config), random_positions(game, 64, seed=99)[0])
    sess = session(export_onnx(model, game, config, step=1))
    for batch in (1, 7, 256):
        obs, _ = random_positions(game, batch, seed=batch)
        with torch.no_grad():
            want_logits, value_output = model(torch.from_numpy(obs))
        # A win/draw/loss head exports as its expected value, P(win) - P(loss).
        want_logits, want_value = want_logits.numpy(), expected_value(value_output).numpy()
        logits, value = sess.run(["policy_logits", "value"], {"observations": obs})
        assert logits.shape == (batch, game.num_actions)
        assert value.shape == (batch,)
        if batch == 256:  # outputs must vary across positions, or agreement proves little
            assert want_logits.std(axis=0).mean() > 0.05 and want_value.std() > 1e-3
        np.testing.assert_allclose(logits, want_logits, atol=1e-4, rtol=1e-4)
        np.testing.assert_allclose(value, want_value, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("value_head", ["scalar", "wdl"])
def test_graph_signature_and_metadata(value_head):
    """Either value head gives the same graph signature: readers of models never know."""
    game = get_game("connect4")
    config = NetworkConfig(kind="resnet", blocks=2, channels=16, value_head=value_head)
    proto = onnx.load_from_string(export_onnx(build_network(game, config), game, config, step=42))
    onnx.checker.check_model(proto)

    def dims(value_info):
        return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]

    assert [i.name for i in proto.graph.input] == ["observations"]
    assert dims(proto.graph.input[0]) == ["batch", 2, 6, 7]
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    outputs = {o.name: dims(o) for o in proto.graph.output}
    assert outputs == {"policy_logits": ["batch", 7], "value": ["batch"]}

    metadata = {p.key: p.value for p in proto.metadata_props}
    assert metadata["cartridge.env_id"] == "connect4"
    assert NetworkConfig(**json.loads(metadata["cartridge.network"])) == config
    assert json.loads(metadata["cartridge.input_shape"]) == [2, 6, 7]
    assert int(metadata["cartridge.num_actions"]) == 7
    assert int(metadata["cartridge.step"]) == 42


def test_batch_norm_is_folded():
    game = get_game("othello")
    config = NetworkConfig(kind="resnet", blocks=2, channels=16)
    proto = onnx.load_from_string(export_onnx(build_network(game, config), game, config, step=0))
    ops = {node.op_type for node in proto.graph.node}
    assert "Conv" in ops
    assert "BatchNormalization" not in ops


def test_export_leaves_the_training_model_untouched(random_positions):
    game = get_game("connect4")
    config = NetworkConfig(kind="resnet", blocks=2, channels=16)
    model = randomise(build_network(game, config), random_positions(game, 64)[0]).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    data = export_onnx(model, game, config, step=3)
    assert model.training
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)

    # The export used eval-mode batch norm (running statistics), not batch statistics.
    obs, _ = random_positions(game, 7)
    model.eval()
    with torch.no_grad():
        want = model(torch.from_numpy(obs))[0].numpy()
    got = session(data).run(["policy_logits"], {"observations": obs})[0]
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)


def test_model_that_does_not_match_config_is_refused():
    game = get_game("connect4")
    model = build_network(game, NetworkConfig(kind="resnet", blocks=2, channels=16))
    with pytest.raises(RuntimeError, match="state_dict"):
        export_onnx(model, game, NetworkConfig(kind="resnet", blocks=3, channels=16), step=0)
