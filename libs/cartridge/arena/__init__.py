"""The arena's pure library: how strong is a model, and does it deserve `best`?

- openings   the fixed, documented opening positions every match starts from
- match      two players over every opening from both seats, all games batched
- agents     the network alone (argmax policy) and network + evaluation-mode search
- anchors    fixed opponents: random (rating 0), one-ply, alpha-beta, perfect
- alphabeta  fixed-depth alpha-beta minimax; heuristics: its static evaluations
- ratings    Bradley-Terry maximum likelihood on the Elo scale with 95% intervals
- gate       candidate vs incumbent: a one-sided sign test over paired games
- benchmark  tic-tac-toe perfect-play benchmark (value kept, losses against every reply)
- connect4_benchmark  Connect Four mistake rates by stage on solver-labelled positions

No I/O here: the arena service (services/arena) plays, records and promotes.
"""
