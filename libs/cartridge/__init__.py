"""Cartridge: a continuous AlphaZero training stack for board games.

Library code shared by every service: games (rules), mcts (batched search),
inference (the Evaluator seam, ONNX Runtime), network (PyTorch model and ONNX
export; trainer only), replay (ReplayStore), modelstore (ModelStore) and
config (typed settings). Services live under services/ and never import each
other.
"""
