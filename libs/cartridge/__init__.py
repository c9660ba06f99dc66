"""Cartridge: a continuous AlphaZero training stack for board games.

Library code shared by every service, one concept per package or module:

- games       the Game seam: rules, observations, symmetries (tictactoe, connect4, othello)
- mcts        batched PUCT search with the trees in arrays
- selfplay    many concurrent self-play games driven by one batched search
- inference   the Evaluator seam: ONNX Runtime and the uniform evaluator (no torch)
- network     the PyTorch policy/value network and its ONNX export (trainer only)
- replay      the ReplayStore seam: SQLite and PostgreSQL, the actors' ReplayWriter
- modelstore  the ModelStore seam: filesystem and S3, ModelWatcher, ModelPublisher, retention
- players     opponents and matches for strength checks (random, one-ply, minimax, MCTS)
- arena       openings, matches, anchors, Bradley-Terry ratings, the gate, benchmarks
- journal     the shared SQL store (SQLAlchemy; SQLite | PostgreSQL): matches, ratings,
              benchmarks, promotions, training history, actor heartbeats
- metrics     Prometheus metrics of the actor and the trainer
- config      typed settings: config.toml < CARTRIDGE_<SECTION>_<KEY> < flags
- runs        run directories: config.toml, meta.json, status.json, pid; listing, stopping
- cli         the `cartridge` command (check, move, models, ratings, run, runs)

Services live under services/ (actor, trainer, arena) and never import each other.
"""
