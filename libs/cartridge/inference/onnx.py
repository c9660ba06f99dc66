"""`OnnxEvaluator`: the production Evaluator, a network exported by the trainer run
on ONNX Runtime. Never imports torch: actors and the web image do not ship it.

The model's metadata (written by `cartridge.network.export`) is checked against
the game before the first evaluation, so a model trained for another game or
board shape fails at load with a message naming the difference, not with a
shape error deep inside a search.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np
import onnxruntime as ort

from cartridge.config.settings import InferenceSettings
from cartridge.games.base import Game
from cartridge.inference.base import masked_softmax

log = logging.getLogger(__name__)

# The model format: graph names and metadata keys. Defined here, on the torch-free
# side, and imported by cartridge.network.export, which writes them.
INPUT_NAME = "observations"
OUTPUT_NAMES = ("policy_logits", "value")
METADATA_ENV_ID = "cartridge.env_id"
METADATA_NETWORK = "cartridge.network"  # JSON of the NetworkConfig
METADATA_INPUT_SHAPE = "cartridge.input_shape"  # JSON [C, H, W]
METADATA_NUM_ACTIONS = "cartridge.num_actions"
METADATA_STEP = "cartridge.step"  # training step the weights come from
# "int8" in models quantized by cartridge.network.quantize; absent (= fp32) in exports.
METADATA_PRECISION = "cartridge.precision"

_CPU = "CPUExecutionProvider"
_ACCELERATORS = {"cuda": "CUDAExecutionProvider", "rocm": "ROCMExecutionProvider"}


class ModelLoadError(ValueError):
    """The bytes are not an ONNX model ONNX Runtime can load."""


class ModelMismatchError(ValueError):
    """The model was exported for another game, board shape or action space."""


def select_providers(provider: str) -> list[str]:
    """Execution providers for `provider` ("auto" | "cpu" | "cuda" | "rocm"), CPU last.

    "auto" takes CUDA, else ROCm, when this onnxruntime build offers it; asking
    for an accelerator the build lacks is an error rather than a silent CPU run.
    """
    available = ort.get_available_providers()
    if provider == "cpu":
        return [_CPU]
    if provider == "auto":
        for name in _ACCELERATORS.values():
            if name in available:
                return [name, _CPU]
        return [_CPU]
    if provider in _ACCELERATORS:
        name = _ACCELERATORS[provider]
        if name not in available:
            raise ValueError(
                f"inference provider {provider!r} requested but this onnxruntime build "
                f"offers only {', '.join(available)} (install onnxruntime-gpu for CUDA, "
                f"onnxruntime-rocm for ROCm, or set provider = \"auto\" or \"cpu\")"
            )
        return [name, _CPU]
    raise ValueError(f"unknown inference provider {provider!r}; expected auto, cpu, cuda or rocm")


def _session_options(intra_op_threads: int, spinning: bool) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # One small graph per call: parallelism within operators, not across them.
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = intra_op_threads  # 0 = ONNX Runtime's default
    options.inter_op_num_threads = 1
    # Idle pool threads spin for a while before sleeping: faster on cores of one's own,
    # cycles taken from other processes where cores are shared.
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    options.log_severity_level = 3  # errors only; warnings surface as Python errors below
    return options


class OnnxEvaluator:
    """Batched priors and values from an exported network on ONNX Runtime."""

    def __init__(
        self,
        onnx_bytes: bytes,
        *,
        game: Game,
        model_version: int,
        provider: str = "auto",
        intra_op_threads: int = 0,
        spinning: bool = True,
    ) -> None:
        if intra_op_threads < 0:
            raise ValueError(f"intra_op_threads must be >= 0, got {intra_op_threads}")
        self.game = game
        self.model_version = model_version
        providers = select_providers(provider)
        try:
            self._session = ort.InferenceSession(
                onnx_bytes, sess_options=_session_options(intra_op_threads, spinning),
                providers=providers,
            )
        except Exception as err:  # ORT raises its own pybind types (InvalidProtobuf, Fail, ...)
            raise ModelLoadError(
                f"model version {model_version} ({len(onnx_bytes)} bytes) is not a loadable "
                f"ONNX model: {type(err).__name__}: {str(err).strip()[:300]}"
            ) from None
        self.metadata: dict[str, str] = dict(self._session.get_modelmeta().custom_metadata_map)
        self.providers: list[str] = self._session.get_providers()
        self.precision = self.metadata.get(METADATA_PRECISION, "fp32")
        self._check_model()
        log.info(
            "loaded model version %d (%s) for %s on %s",
            model_version, self.precision, game.id, ", ".join(self.providers),
        )

    def _check_model(self) -> None:
        """Metadata and graph signature must match the game this evaluator serves."""
        expected: dict[str, Any] = {
            METADATA_ENV_ID: self.game.id,
            METADATA_INPUT_SHAPE: list(self.game.observation_shape),
            METADATA_NUM_ACTIONS: self.game.num_actions,
        }
        problems = []
        for key, want in expected.items():
            raw = self.metadata.get(key)
            if raw is None:
                problems.append(f"{key} is missing from the model's metadata")
                continue
            got = raw if key == METADATA_ENV_ID else _parse_json(raw)
            if got != want:
                problems.append(f"{key} is {raw} but the game {self.game.id} needs {want}")
        inputs = [i.name for i in self._session.get_inputs()]
        outputs = [o.name for o in self._session.get_outputs()]
        if inputs != [INPUT_NAME]:
            problems.append(f"inputs are {inputs}, expected [{INPUT_NAME!r}]")
        if sorted(outputs) != sorted(OUTPUT_NAMES):
            problems.append(f"outputs are {outputs}, expected {list(OUTPUT_NAMES)}")
        if problems:
            raise ModelMismatchError(
                f"model version {self.model_version} does not fit {self.game.id}: "
                + "; ".join(problems)
            )

    def evaluate(
        self, observations: np.ndarray, legal_masks: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """observations [B, C, H, W] float32, legal_masks [B, A] bool ->
        priors [B, A] float32 (masked softmax), values [B] float32 in [-1, 1]."""
        batch = len(observations)
        if observations.shape[1:] != self.game.observation_shape:
            raise ValueError(
                f"observations have shape {observations.shape}, expected "
                f"[B, {', '.join(map(str, self.game.observation_shape))}]"
            )
        if legal_masks.shape != (batch, self.game.num_actions):
            raise ValueError(
                f"legal_masks have shape {legal_masks.shape}, "
                f"expected ({batch}, {self.game.num_actions})"
            )
        if batch == 0:
            return (np.zeros((0, self.game.num_actions), np.float32), np.zeros(0, np.float32))
        feed = {INPUT_NAME: np.ascontiguousarray(observations, dtype=np.float32)}
        logits, values = self._session.run(list(OUTPUT_NAMES), feed)
        return masked_softmax(logits, legal_masks), values.astype(np.float32, copy=False)


def evaluator_from_settings(onnx_bytes: bytes, *, game: Game, model_version: int,
                            inference: InferenceSettings) -> OnnxEvaluator:
    """An evaluator as [inference] says; `inference` comes resolved for this process
    (cartridge.threads.resolve_inference: thread count and spinning fixed)."""
    if inference.spinning == "auto":
        raise ValueError("[inference] spinning must be resolved (on/off) before loading models")
    return OnnxEvaluator(onnx_bytes, game=game, model_version=model_version,
                         provider=inference.provider, intra_op_threads=inference.intra_op_threads,
                         spinning=inference.spinning == "on")


def _parse_json(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw
