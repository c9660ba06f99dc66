"""OnnxEvaluator: masked priors, values, metadata checks, clear load errors, providers."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from cartridge.config.settings import InferenceSettings
from cartridge.games import GAME_IDS, get_game
from cartridge.inference import ModelLoadError, ModelMismatchError, OnnxEvaluator
from cartridge.inference.onnx import evaluator_from_settings
from cartridge.threads import cpu_budget, resolve_inference

# Building a model needs the trainer side (torch); the evaluator itself does not.
torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
from cartridge.config.settings import NetworkConfig  # noqa: E402
from cartridge.network import build_network, export_onnx  # noqa: E402

CONFIGS = {
    "tictactoe": NetworkConfig(kind="mlp", blocks=2, channels=32),
    "connect4": NetworkConfig(kind="resnet", blocks=2, channels=16),
    "othello": NetworkConfig(kind="resnet", blocks=2, channels=16),
}


def make_model(game_id: str, step: int = 0) -> bytes:
    game = get_game(game_id)
    torch.manual_seed(step)
    model = build_network(game, CONFIGS[game_id])
    with torch.no_grad():  # sharper outputs than a fresh, near-uniform network
        model.policy_out.weight.normal_(std=0.5)
        model.value_out.weight.normal_(std=2.0)
    return export_onnx(model, game, CONFIGS[game_id], step=step)


@pytest.fixture(scope="module")
def models() -> dict[str, bytes]:
    return {game_id: make_model(game_id, step=5) for game_id in GAME_IDS}


@pytest.mark.parametrize("game_id", GAME_IDS)
def test_priors_are_masked_distributions_and_values_bounded(game_id, models, random_positions):
    game = get_game(game_id)
    evaluator = OnnxEvaluator(models[game_id], game=game, model_version=3, provider="cpu")
    assert evaluator.model_version == 3
    obs, masks = random_positions(game, 64)
    masks[0] = False  # a terminal position: no legal action
    priors, values = evaluator.evaluate(obs, masks)
    assert priors.shape == masks.shape and priors.dtype == np.float32
    assert values.shape == (64,) and values.dtype == np.float32
    assert np.all(priors[~masks] == 0)
    np.testing.assert_allclose(priors[1:].sum(axis=1), 1, atol=1e-5)
    assert np.all(priors[0] == 0)
    assert np.all(np.abs(values) <= 1)
    assert values.std() > 0  # depends on the position, not a constant


def test_matches_the_raw_session(models, random_positions):
    game = get_game("connect4")
    evaluator = OnnxEvaluator(models["connect4"], game=game, model_version=1)
    obs, masks = random_positions(game, 7)
    raw = ort.InferenceSession(models["connect4"], providers=["CPUExecutionProvider"])
    logits, want_values = raw.run(None, {"observations": obs})
    priors, values = evaluator.evaluate(obs, masks)
    want = np.where(masks, np.exp(logits - logits.max(1, keepdims=True)), 0)
    np.testing.assert_allclose(priors, want / want.sum(1, keepdims=True), atol=1e-6)
    np.testing.assert_allclose(values, want_values, atol=1e-6)


@pytest.mark.parametrize("batch", [1, 7, 256])
def test_any_batch_size(batch, models, random_positions):
    game = get_game("othello")
    evaluator = OnnxEvaluator(models["othello"], game=game, model_version=1)
    obs, masks = random_positions(game, batch)
    priors, values = evaluator.evaluate(obs, masks)
    assert priors.shape == (batch, 65) and values.shape == (batch,)


def test_empty_batch(models):
    game = get_game("tictactoe")
    evaluator = OnnxEvaluator(models["tictactoe"], game=game, model_version=1)
    priors, values = evaluator.evaluate(
        np.zeros((0, *game.observation_shape), np.float32), np.zeros((0, 9), bool)
    )
    assert priors.shape == (0, 9) and values.shape == (0,)


def test_wrong_input_shapes_are_refused(models):
    game = get_game("connect4")
    evaluator = OnnxEvaluator(models["connect4"], game=game, model_version=1)
    with pytest.raises(ValueError, match="observations"):
        evaluator.evaluate(np.zeros((2, 2, 7, 6), np.float32), np.ones((2, 7), bool))
    with pytest.raises(ValueError, match="legal_masks"):
        evaluator.evaluate(np.zeros((2, 2, 6, 7), np.float32), np.ones((3, 7), bool))


def test_metadata_round_trip(models):
    evaluator = OnnxEvaluator(models["othello"], game=get_game("othello"), model_version=9)
    assert evaluator.metadata["cartridge.env_id"] == "othello"
    assert evaluator.metadata["cartridge.input_shape"] == "[2, 8, 8]"
    assert evaluator.metadata["cartridge.num_actions"] == "65"
    assert evaluator.metadata["cartridge.step"] == "5"
    assert NetworkConfig.model_validate_json(evaluator.metadata["cartridge.network"]) == (
        CONFIGS["othello"]
    )


def test_model_for_another_game_is_refused(models):
    with pytest.raises(ModelMismatchError) as caught:
        OnnxEvaluator(models["connect4"], game=get_game("othello"), model_version=4)
    message = str(caught.value)
    assert "version 4" in message
    assert "cartridge.env_id is connect4" in message
    assert "cartridge.input_shape is [2, 6, 7]" in message
    assert "cartridge.num_actions is 7" in message


def test_model_without_metadata_is_refused(models):
    proto = onnx.load_from_string(models["tictactoe"])
    del proto.metadata_props[:]
    with pytest.raises(ModelMismatchError, match=r"cartridge\.env_id is missing"):
        OnnxEvaluator(proto.SerializeToString(), game=get_game("tictactoe"), model_version=1)


def test_model_with_other_names_is_refused(models):
    proto = onnx.load_from_string(models["tictactoe"])
    proto.graph.output[1].name = "v"
    for node in proto.graph.node:
        node.output[:] = ["v" if name == "value" else name for name in node.output]
    with pytest.raises(ModelMismatchError, match="outputs are"):
        OnnxEvaluator(proto.SerializeToString(), game=get_game("tictactoe"), model_version=1)


@pytest.mark.parametrize("data", [b"", b"not an onnx model", b"\x08\x07" * 100], ids=str)
def test_garbage_bytes_raise_a_clear_error(data):
    with pytest.raises(ModelLoadError, match="not a loadable ONNX model"):
        OnnxEvaluator(data, game=get_game("connect4"), model_version=2)


def test_truncated_model_raises_a_clear_error(models):
    data = models["connect4"]
    with pytest.raises(ModelLoadError, match="version 2"):
        OnnxEvaluator(data[: len(data) // 2], game=get_game("connect4"), model_version=2)


def test_cpu_provider(models):
    evaluator = OnnxEvaluator(
        models["connect4"], game=get_game("connect4"), model_version=1,
        provider="cpu", intra_op_threads=1,
    )
    assert evaluator.providers == ["CPUExecutionProvider"]


def test_auto_provider_prefers_an_accelerator(models):
    evaluator = OnnxEvaluator(models["connect4"], game=get_game("connect4"), model_version=1)
    available = ort.get_available_providers()
    accelerators = [p for p in ("CUDAExecutionProvider", "ROCMExecutionProvider")
                    if p in available]
    assert evaluator.providers[0] == (accelerators[0] if accelerators else "CPUExecutionProvider")


@pytest.mark.parametrize("provider", ["cuda", "rocm"])
def test_missing_accelerator_is_a_clear_error(provider, models):
    name = {"cuda": "CUDAExecutionProvider", "rocm": "ROCMExecutionProvider"}[provider]
    if name in ort.get_available_providers():
        pytest.skip(f"{name} is available here")
    with pytest.raises(ValueError, match=f"provider '{provider}' requested"):
        OnnxEvaluator(models["connect4"], game=get_game("connect4"), model_version=1,
                      provider=provider)


def test_bad_settings_are_refused(models):
    game = get_game("connect4")
    with pytest.raises(ValueError, match="unknown inference provider"):
        OnnxEvaluator(models["connect4"], game=game, model_version=1, provider="tpu")
    with pytest.raises(ValueError, match="intra_op_threads"):
        OnnxEvaluator(models["connect4"], game=game, model_version=1, intra_op_threads=-1)


@pytest.mark.parametrize("threads", [1, 2])
def test_intra_op_threads_reaches_the_session(models, threads):
    evaluator = OnnxEvaluator(models["connect4"], game=get_game("connect4"), model_version=1,
                              provider="cpu", intra_op_threads=threads)
    assert evaluator._session.get_session_options().intra_op_num_threads == threads


@pytest.mark.parametrize(("spinning", "entry"), [("on", "1"), ("off", "0")])
def test_spinning_setting_reaches_the_session(models, spinning, entry):
    inference = InferenceSettings(provider="cpu", intra_op_threads=2, spinning=spinning)
    evaluator = evaluator_from_settings(models["connect4"], game=get_game("connect4"),
                                        model_version=1, inference=inference)
    options = evaluator._session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == entry
    assert options.intra_op_num_threads == 2


def test_unresolved_settings_are_refused(models):
    with pytest.raises(ValueError, match="spinning must be resolved"):
        evaluator_from_settings(models["connect4"], game=get_game("connect4"), model_version=1,
                                inference=InferenceSettings(spinning="auto"))


def test_resolved_settings_take_the_cpu_budget_and_spin_by_default():
    resolved = resolve_inference(InferenceSettings(intra_op_threads=0, spinning="auto"))
    assert resolved.intra_op_threads == cpu_budget().cpus
    assert resolved.spinning == "on"
    kept = resolve_inference(InferenceSettings(intra_op_threads=3, spinning="off"))
    assert (kept.intra_op_threads, kept.spinning) == (3, "off")
