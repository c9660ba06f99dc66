"""Bytes of one published model version (ONNX + checkpoint) for a game's configured
network, and what [storage] retention bounds the model store to.

    PYTHONPATH=services/trainer .venv/bin/python scripts/model_size.py --env connect4

The checkpoint is measured after one optimiser step, so AdamW's two moments per
weight are in it, as in every checkpoint the trainer publishes, and with [training]
ema_decay the weights' moving average.
"""

from __future__ import annotations

import argparse
import logging

import numpy as np

from cartridge.config.settings import load_settings
from cartridge.games import get_game
from cartridge.network import build_network, export_onnx
from trainer import checkpoint
from trainer.averaging import WeightAverage
from trainer.optimise import make_optimizer

log = logging.getLogger("model_size")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="connect4")
    env_id = parser.parse_args().env
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = load_settings(environ={})
    game, config = get_game(env_id), settings.network.for_game(env_id)
    model = build_network(game, config)
    optimizer = make_optimizer(model, lr=settings.training.lr,
                               weight_decay=settings.training.weight_decay)
    sum(p.sum() for p in model.parameters()).backward()
    optimizer.step()
    decay = settings.training.ema_decay
    state = checkpoint.capture(step=1, env_id=env_id, network=config.model_dump(), model=model,
                               optimizer=optimizer, sampler_rng=np.random.default_rng(0),
                               average=WeightAverage(model, decay) if decay > 0 else None)
    per_version = len(export_onnx(model, game, config, step=1)) + len(checkpoint.to_bytes(state))
    storage, training = settings.storage, settings.training
    published = training.steps // training.checkpoint_interval
    thinned = published // storage.model_keep_every if storage.model_keep_every else 0
    kept = min(published, storage.model_keep_last + thinned + 2) \
        if storage.model_keep_last else published
    log.info("%s %s: %.2f MB per version; %d versions published over %d steps, "
             "retention keeps at most %d: %.0f MB (all: %.0f MB)", env_id, config.model_dump(),
             per_version / 1e6, published, training.steps, kept, kept * per_version / 1e6,
             published * per_version / 1e6)


if __name__ == "__main__":
    main()
