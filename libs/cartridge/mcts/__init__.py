"""Batched PUCT search (AlphaZero notation: N, W, Q, P, c_puct)."""

from cartridge.mcts.config import SearchConfig
from cartridge.mcts.search import BatchedMcts, SearchResult, choose_actions

__all__ = ["BatchedMcts", "SearchConfig", "SearchResult", "choose_actions"]
