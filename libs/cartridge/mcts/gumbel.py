"""Gumbel AlphaZero search (Danihelka et al., ICLR 2022, "Policy improvement by
planning with Gumbel") on `BatchedMcts`'s array trees.

The trees, the lock-step batching (one evaluator call per simulation step for every
game), expansion, evaluation and backup are `BatchedMcts`'s; only the choice of
edges, the move and the policy target differ:

- Root: m = min(gumbel_considered, legal moves) actions drawn without replacement by
  Gumbel-top-k, the top m of g + logits with g ~ Gumbel(0, 1) (g = 0 in evaluation,
  where the whole search is deterministic, in playout-cap fast searches, and in
  self-play past its root_noise_plies).
  Sequential halving spreads a slot's budget n over ceil(log2 m) phases: in each
  phase every surviving action gets max(1, floor(n / (phases * survivors))) visits
  of this search, round robin (the last phase takes whatever budget is left); when
  a phase ends the top half by g + logits + sigma(completedQ) survive. The move is
  the best of the last survivors by that score (among those this search visited).
  Each slot follows its own schedule (its m and its budget), as arrays.
- Below the root: the paper's deterministic selection,
  argmax_a pi'(a) - N(a) / (1 + sum_b N(b)), with pi' = softmax(logits + sigma(completedQ)).
- completedQ(a) = Q(a) for visited edges, else v_mix, the mixed value approximation
  v_mix = (v + sum_b N(b) / sum_{b visited} P(b) * sum_{a visited} P(a) Q(a)) / (1 + sum_b N(b)),
  where v is the network's value of the node.
- sigma(q) = (c_visit + max_b N(b)) * c_scale * q, with q mapped from [-1, 1] to [0, 1]
  by (q + 1) / 2. Our values have known bounds, so this fixed map replaces the paper's
  min-max normalisation over the tree's values (meant for MuZero's unbounded
  returns, and it would stretch tiny differences between Q values into large ones).

The policy target (`SearchResult.visits`) is the improved policy
pi' = softmax(logits + sigma(completedQ)) at the root over legal moves, not the
visit counts; `SearchResult.actions` holds the halving winners.

Tree reuse (`advance`) is sound here: the kept subtree's N and W are plain value
statistics of its edges, gathered by the deterministic in-tree rule, which does not
depend on the old root's Gumbel noise. The next search draws fresh noise at its root
and runs halving over its own new visits only; the reused visits still count in Q,
v_mix and max N (more evidence about the same positions), as they would had this
search made them.
"""

from __future__ import annotations

import numpy as np

from cartridge.games.base import Game
from cartridge.inference.base import Evaluator, masked_softmax
from cartridge.mcts.config import SearchConfig
from cartridge.mcts.search import BatchedMcts, SearchResult

TINY = 1e-30  # floor for priors before the log, and for divisions by prior mass


class GumbelMcts(BatchedMcts):
    """Gumbel search trees for `num_slots` games, advanced together.

    `add_noise` draws the root's Gumbel noise: True in self-play only.
    """

    def __init__(
        self,
        game: Game,
        evaluator: Evaluator,
        config: SearchConfig,
        *,
        num_slots: int,
        rng: np.random.Generator,
        add_noise: bool,
    ) -> None:
        super().__init__(game, evaluator, config, num_slots=num_slots, rng=rng,
                         add_noise=add_noise)
        self.root_action = np.full(num_slots, -1, dtype=np.int64)  # this step's root edge

    def search(self, slots: np.ndarray | None = None, simulations: np.ndarray | None = None,
               noisy: np.ndarray | None = None) -> SearchResult:
        """Search the given (default: active) slots; `simulations[i]` is the budget of
        `slots[i]` (default: num_simulations for all). With `add_noise`, the roots that
        `noisy[i]` marks draw Gumbel noise (default: those with the full budget)."""
        slots = self._slots_to_search(slots)
        budgets = self._budgets(slots, simulations)
        if len(slots) == 0:
            empty = np.zeros((0, self.game.num_actions), dtype=np.float32)
            return SearchResult(empty, np.zeros(0, dtype=np.float32), slots,
                                np.zeros(0, dtype=np.int64))
        self._evaluate_roots(slots)
        legal = self.legal[slots, 0]  # [k, A]
        logits = prior_logits(self.P[slots, 0], legal)  # [k, A], -inf on illegal
        # By default noise at full-budget roots only: a smaller budget is a fast search
        # (playout cap randomization), played greedily and never a training target.
        noise = np.where(self._noisy(budgets, noisy)[:, None],
                         self.rng.gumbel(size=legal.shape), 0.0)
        considered = np.minimum(self.config.gumbel_considered, legal.sum(axis=1))
        survivors = top_k(np.where(legal, noise + logits, -np.inf), considered)  # [k, A]
        counts, ends = halving_schedule(considered, budgets)  # [k, P] each
        before = self.N[slots, 0].copy()  # reused visits: halving counts only new ones

        for step in range(int(budgets.max())):
            rows = np.flatnonzero(budgets > step)
            g = slots[rows]
            score = noise[rows] + logits[rows] + self._root_sigma(g)
            ending = ends[rows] == step  # [r, P]: a phase of this row ends here
            halve = np.flatnonzero(ending.any(axis=1))
            if len(halve):
                keep = counts[rows[halve], ending[halve].argmax(axis=1) + 1]
                alive = np.where(survivors[rows[halve]], score[halve], -np.inf)
                survivors[rows[halve]] = top_k(alive, keep)
            # Round robin: a survivor with the fewest visits of this search, best first.
            new_visits = self.N[g, 0] - before[rows]
            searched = np.where(survivors[rows], new_visits, np.inf)
            due = searched == searched.min(axis=1, keepdims=True)
            self.root_action[g] = np.where(due, score, -np.inf).argmax(axis=1)
            self._simulate(g)

        q = self._completed_q(slots, np.zeros(len(slots), dtype=np.int64))
        scores = logits + sigma(q, self.N[slots, 0], self.config)
        finalists = survivors & (self.N[slots, 0] > before)
        actions = np.where(finalists, noise + scores, -np.inf).argmax(axis=1)
        policy = masked_softmax(scores, legal)
        # The improved policy's value, not the mean over root visits: sequential halving
        # spreads visits over every considered move, losing ones too, so their mean reads
        # a won position as near level.
        root_values = (policy * np.where(legal, q, 0.0)).sum(axis=1)
        return SearchResult(policy, root_values.astype(np.float32), slots, actions)

    def _root_sigma(self, g: np.ndarray) -> np.ndarray:
        """sigma(completedQ) at the roots of slots g: [r, A]."""
        return self._sigma_q(g, np.zeros(len(g), dtype=np.int64))

    def _completed_q(self, g: np.ndarray, n: np.ndarray) -> np.ndarray:
        return completed_q(self.N[g, n], self.W[g, n], self.P[g, n], self.value[g, n])

    def _sigma_q(self, g: np.ndarray, n: np.ndarray) -> np.ndarray:
        return sigma(self._completed_q(g, n), self.N[g, n], self.config)

    def _select_actions(self, g: np.ndarray, n: np.ndarray) -> np.ndarray:
        """The root's edge from sequential halving; below it argmax pi' - N / (1 + sum N)."""
        actions = np.empty(len(g), dtype=np.int64)
        at_root = n == 0
        actions[at_root] = self.root_action[g[at_root]]
        inner = np.flatnonzero(~at_root)
        if len(inner):
            gi, ni = g[inner], n[inner]
            legal = self.legal[gi, ni]
            Ns = self.N[gi, ni]
            improved = masked_softmax(prior_logits(self.P[gi, ni], legal) + self._sigma_q(gi, ni),
                                      legal)
            score = improved - Ns / (1.0 + Ns.sum(axis=1, keepdims=True))
            actions[inner] = np.where(legal, score, -np.inf).argmax(axis=1)
        return actions


def prior_logits(priors: np.ndarray, legal: np.ndarray) -> np.ndarray:
    """Logits of the network's priors (up to a constant per row); -inf on illegal moves."""
    return np.where(legal, np.log(np.maximum(priors, TINY)), -np.inf)


def completed_q(N: np.ndarray, W: np.ndarray, P: np.ndarray, value: np.ndarray) -> np.ndarray:
    """[d, A]: Q(a) where visited, else v_mix (values in [-1, 1], node's side to move)."""
    visited = N > 0
    q = W / np.maximum(N, 1)
    n_sum = N.sum(axis=1)
    prior_visited = np.where(visited, P, 0.0).sum(axis=1)
    weighted_q = np.where(visited, P * q, 0.0).sum(axis=1)
    v_mix = (value + n_sum * weighted_q / np.maximum(prior_visited, TINY)) / (1.0 + n_sum)
    return np.where(visited, q, v_mix[:, None])


def sigma(q: np.ndarray, N: np.ndarray, config: SearchConfig) -> np.ndarray:
    """(c_visit + max_b N(b)) * c_scale * q, q mapped from [-1, 1] to [0, 1]: [d, A]."""
    scale = (config.gumbel_c_visit + N.max(axis=1, keepdims=True)) * config.gumbel_c_scale
    return scale * (q + 1.0) / 2.0


def top_k(scores: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """[k, A] bool: the `counts[i]` best finite scores of each row (ties: lower action)."""
    order = np.argsort(-scores, axis=1, kind="stable")
    ranks = np.argsort(order, axis=1)
    return (ranks < np.asarray(counts)[:, None]) & np.isfinite(scores)


def halving_schedule(considered: np.ndarray, budgets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sequential halving per slot, from its m (`considered`) and budget n.

    Returns (survivors, ends), both [k, P] int: in phase p, survivors[:, p] actions
    get equal visits, and the phase ends after ends[:, p] simulations of the search.
    ceil(log2 m) phases (at least one); survivors halve (rounding up) so the last
    phase has two (one when m = 1); a phase gives each survivor
    max(1, floor(n / (phases * survivors))) visits, the last takes the rest. Columns
    past a slot's last phase, and phases the budget never reaches, end at n.
    """
    considered = np.maximum(np.asarray(considered, dtype=np.int64), 1)
    budgets = np.asarray(budgets, dtype=np.int64)
    phases = np.maximum(1, np.ceil(np.log2(considered))).astype(np.int64)
    width = int(phases.max())
    survivors = np.empty((len(considered), width), dtype=np.int64)
    survivors[:, 0] = considered
    for p in range(1, width):
        survivors[:, p] = (survivors[:, p - 1] + 1) // 2
    per_action = np.maximum(1, budgets[:, None] // (phases[:, None] * survivors))
    ends = np.minimum(np.cumsum(per_action * survivors, axis=1), budgets[:, None])
    last_or_later = np.arange(width)[None, :] >= phases[:, None] - 1
    return survivors, np.where(last_or_later, budgets[:, None], ends)
