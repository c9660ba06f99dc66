"""Batched tree search: PUCT (AlphaZero notation: N, W, Q, P, c_puct) and Gumbel AlphaZero."""

from cartridge.mcts.config import SearchConfig
from cartridge.mcts.factory import make_search
from cartridge.mcts.gumbel import GumbelMcts
from cartridge.mcts.search import BatchedMcts, SearchResult, choose_actions

__all__ = ["BatchedMcts", "GumbelMcts", "SearchConfig", "SearchResult", "choose_actions",
           "make_search"]
