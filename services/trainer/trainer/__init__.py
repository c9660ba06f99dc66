"""Cartridge trainer: samples the replay buffer, trains the policy/value network,
checkpoints and publishes ONNX models to the model store. See loop.py for the
phases and cli.py for the entry point (`python -m trainer`)."""
