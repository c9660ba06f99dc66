"""Batched PUCT search over many games at once, with the trees in arrays.

One `BatchedMcts` owns a tree per game slot. A simulation step descends every
active tree in lock-step (numpy over slots, one depth level at a time), expands
one leaf per slot, evaluates all new leaves with ONE evaluator call (equal
positions in the batch evaluated once), and backs the values up. Python touches
only the leaves (to apply the rules); statistics live in `[slots, nodes, A]`
arrays, mctx-style edge statistics:

    N[g, n, a]      visit count of edge (n, a)          int32
    W[g, n, a]      total value of edge (n, a), from the point of view of the
                    side to move at node n               float32
    P[g, n, a]      prior (with root noise in self-play) float32
    child[g, n, a]  node index of the child, -1 = not expanded

Values are negamax: a node's value is for its side to move; every ply flips
sides (a pass is a ply), so the edge into a leaf gets -v, the next edge up +v.

First-play urgency: an unvisited edge is scored Q = V(n) - fpu_reduction, where
V(n) is the node's running mean value (network value and all backed-up values).
Terminal nodes are never evaluated: their value is the game result, and they
absorb every simulation that reaches them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from cartridge.games.base import Game
from cartridge.inference.base import Evaluator
from cartridge.mcts.config import SearchConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchResult:
    # [k, A] float32, the policy target: PUCT's root visit distribution, Gumbel's
    # improved policy softmax(logits + sigma(completedQ)).
    visits: np.ndarray
    # [k] float32, the root's value for its side to move: PUCT the mean over its visits,
    # Gumbel the improved policy's expected completed Q.
    root_values: np.ndarray
    slots: np.ndarray  # [k] int, the slots searched
    # [k] int, the move the search itself chose (Gumbel's halving winner); None: the
    # caller picks from `visits` (PUCT: choose_actions).
    actions: np.ndarray | None = None


class BatchedMcts:
    """Search trees for `num_slots` games, advanced together.

    `add_noise` mixes Dirichlet noise into root priors: True in self-play only.
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
        self.game = game
        self.evaluator = evaluator
        self.config = config
        self.add_noise = add_noise
        self.rng = rng
        self.num_slots = num_slots
        # The root plus one node per simulation always fits; reused subtrees may
        # use the rest, and are dropped (fresh root) when they would not fit.
        self.capacity = 2 * (config.num_simulations + 1)
        shape = (num_slots, self.capacity, game.num_actions)
        self.N = np.zeros(shape, dtype=np.int32)
        self.W = np.zeros(shape, dtype=np.float32)
        self.P = np.zeros(shape, dtype=np.float32)
        self.child = np.full(shape, -1, dtype=np.int32)
        self.legal = np.zeros(shape, dtype=bool)
        self.value = np.zeros((num_slots, self.capacity), dtype=np.float32)  # eval or result
        self.terminal = np.zeros((num_slots, self.capacity), dtype=bool)
        self.evaluated = np.zeros((num_slots, self.capacity), dtype=bool)
        self.size = np.zeros(num_slots, dtype=np.int64)  # nodes in use per slot
        self.states: list[list[Any]] = [[] for _ in range(num_slots)]
        self.active = np.zeros(num_slots, dtype=bool)
        self.reuse_dropped = 0  # subtrees too big to keep (a count for diagnostics)

    # ----------------------------------------------------------------- slots
    def reset(self, slot: int, state: Any) -> None:
        """Start a fresh tree for `slot` at `state`."""
        self._clear(slot)
        self.states[slot] = [state]
        self.size[slot] = 1
        self.terminal[slot, 0] = self.game.is_terminal(state)
        if self.terminal[slot, 0]:
            self.value[slot, 0] = self.game.terminal_value(state)
        self.active[slot] = not self.terminal[slot, 0]

    def release(self, slot: int) -> None:
        """The slot's game is over: stop searching it until the next reset."""
        self.active[slot] = False
        self.states[slot] = []

    def root_state(self, slot: int) -> Any:
        return self.states[slot][0]

    def advance(self, slot: int, action: int) -> Any:
        """Play `action` at the root: its subtree (with statistics) becomes the tree.

        Returns the new root state. Falls back to a fresh tree when the child
        was never expanded.
        """
        new_root = int(self.child[slot, 0, action])
        if new_root < 0:
            state = self.game.apply(self.states[slot][0], int(action))
            self.reset(slot, state)
            return state
        keep = self._subtree(slot, new_root)
        if len(keep) + self.config.num_simulations + 1 > self.capacity:
            self.reuse_dropped += 1
            state = self.states[slot][new_root]
            self.reset(slot, state)
            return state
        self._compact(slot, keep)
        state = self.states[slot][0]
        self.active[slot] = not self.terminal[slot, 0]
        return state

    # ---------------------------------------------------------------- search
    def search(
        self, slots: np.ndarray | None = None, simulations: np.ndarray | None = None,
        noisy: np.ndarray | None = None,
    ) -> SearchResult:
        """Run `simulations[i]` new simulations in `slots[i]` (default: every active slot,
        `num_simulations` each; a budget is 1..num_simulations, the trees' capacity).

        A slot whose budget is spent drops out of the lock-step descent: each step is
        one evaluator call for the slots still going. With `add_noise`, the roots that
        `noisy[i]` marks get Dirichlet noise; by default those searched with the full
        `num_simulations`: a smaller budget is a fast search (playout cap randomization),
        played but never a training target.
        """
        slots = self._slots_to_search(slots)
        budgets = self._budgets(slots, simulations)
        if len(slots) == 0:
            empty = np.zeros((0, self.game.num_actions), dtype=np.float32)
            return SearchResult(empty, np.zeros(0, dtype=np.float32), slots)
        self._expand_roots(slots, slots[self._noisy(budgets, noisy)])
        for step in range(int(budgets.max())):
            self._simulate(slots[budgets > step])
        visits = self.N[slots, 0].astype(np.float32)
        totals = visits.sum(axis=1)
        root_values = (self.value[slots, 0] + self.W[slots, 0].sum(axis=1)) / (1.0 + totals)
        return SearchResult(visits / totals[:, None], root_values.astype(np.float32), slots)

    def _slots_to_search(self, slots: np.ndarray | None) -> np.ndarray:
        """The given (default: active) slots as indices; a finished game is an error."""
        if slots is None:
            slots = np.flatnonzero(self.active)
        slots = np.asarray(slots, dtype=np.int64)
        if self.terminal[slots, 0].any():
            bad = int(slots[self.terminal[slots, 0]][0])
            raise ValueError(f"slot {bad}: cannot search a finished game")
        return slots

    def _budgets(self, slots: np.ndarray, simulations: np.ndarray | None) -> np.ndarray:
        full = self.config.num_simulations
        if simulations is None:
            return np.full(len(slots), full, dtype=np.int64)
        budgets = np.asarray(simulations, dtype=np.int64)
        if budgets.shape != slots.shape:
            raise ValueError(f"{len(budgets)} simulation budgets for {len(slots)} slots")
        if len(budgets) and not (budgets.min() >= 1 and budgets.max() <= full):
            raise ValueError(f"simulation budgets must be in 1..{full} (num_simulations), "
                             f"got {budgets.min()}..{budgets.max()}")
        return budgets

    def _noisy(self, budgets: np.ndarray, noisy: np.ndarray | None) -> np.ndarray:
        """Which searched roots get exploration noise: none without `add_noise`, else
        `noisy` (default: the full-budget ones)."""
        if noisy is None:
            noisy = budgets == self.config.num_simulations
        noisy = np.asarray(noisy, dtype=bool)
        if noisy.shape != budgets.shape:
            raise ValueError(f"{len(noisy)} noise flags for {len(budgets)} slots")
        return noisy & self.add_noise

    def _expand_roots(self, slots: np.ndarray, noisy: np.ndarray) -> None:
        """Evaluate the roots of `slots` not evaluated yet; noise into the `noisy` ones."""
        self._evaluate_roots(slots)
        if self.add_noise and self.config.dirichlet_epsilon > 0 and len(noisy):
            legal = self.legal[noisy, 0]  # [k, A]
            noise = self.rng.gamma(self.config.dirichlet_alpha, size=legal.shape) * legal
            noise /= np.maximum(noise.sum(axis=1, keepdims=True), 1e-12)
            eps = self.config.dirichlet_epsilon
            self.P[noisy, 0] = (1 - eps) * self.P[noisy, 0] + eps * noise

    def _evaluate_roots(self, slots: np.ndarray) -> None:
        unevaluated = slots[~self.evaluated[slots, 0]]
        if len(unevaluated):
            states = [self.states[g][0] for g in unevaluated]
            self._evaluate_into(unevaluated, np.zeros(len(unevaluated), dtype=np.int64), states)

    def _select_actions(self, g: np.ndarray, n: np.ndarray) -> np.ndarray:
        """The edge to descend at node n of slot g (rows): PUCT with first-play urgency."""
        cfg = self.config
        Ns = self.N[g, n]  # [d, A]
        Ws = self.W[g, n]
        n_sum = Ns.sum(axis=1)
        parent_v = (self.value[g, n] + Ws.sum(axis=1)) / (1.0 + n_sum)
        q = np.where(Ns > 0, Ws / np.maximum(Ns, 1), (parent_v - cfg.fpu_reduction)[:, None])
        u = cfg.c_puct * self.P[g, n] * (np.sqrt(np.maximum(n_sum, 1))[:, None] / (1.0 + Ns))
        score = np.where(self.legal[g, n], q + u, -np.inf)
        return score.argmax(axis=1)

    def _simulate(self, slots: np.ndarray) -> None:
        k = len(slots)
        nodes = np.zeros(k, dtype=np.int64)
        path_slot, path_node, path_action, path_row = [], [], [], []
        descending = np.arange(k)  # rows (into `slots`) still going down
        leaf_parent = np.full(k, -1, dtype=np.int64)
        leaf_action = np.full(k, -1, dtype=np.int64)
        leaf_node = np.full(k, -1, dtype=np.int64)  # existing terminal node reached
        depth = 0
        while len(descending):
            g = slots[descending]
            n = nodes[descending]
            actions = self._select_actions(g, n)
            path_slot.append(g)
            path_node.append(n)
            path_action.append(actions)
            path_row.append(descending)
            children = self.child[g, n, actions]
            fresh = children < 0
            rows_fresh = descending[fresh]
            leaf_parent[rows_fresh] = n[fresh]
            leaf_action[rows_fresh] = actions[fresh]
            known = ~fresh
            at_terminal = known & self.terminal[g, np.maximum(children, 0)]
            leaf_node[descending[at_terminal]] = children[at_terminal]
            going = known & ~at_terminal
            nodes[descending[going]] = children[going]
            descending = descending[going]
            depth += 1

        values = np.zeros(k, dtype=np.float32)  # leaf value, leaf's side to move
        reached = leaf_node >= 0
        values[reached] = self.value[slots[reached], leaf_node[reached]]
        expand_rows = np.flatnonzero(~reached)
        if len(expand_rows):
            values[expand_rows] = self._expand_leaves(
                slots[expand_rows], leaf_parent[expand_rows], leaf_action[expand_rows]
            )

        # Backup: the edge at depth d of a path of length L gets (-1)^(L-d) * v.
        lengths = np.zeros(k, dtype=np.int64)
        for rows in path_row:
            lengths[rows] += 1
        steps = zip(path_slot, path_node, path_action, path_row, strict=True)
        for d, (g, n, a, rows) in enumerate(steps):
            sign = np.where((lengths[rows] - d) % 2 == 0, 1.0, -1.0).astype(np.float32)
            self.N[g, n, a] += 1
            self.W[g, n, a] += sign * values[rows]

    def _expand_leaves(self, g: np.ndarray, parent: np.ndarray, action: np.ndarray) -> np.ndarray:
        """Create the child nodes, evaluate the non-terminal ones; their values."""
        game = self.game
        new = self.size[g].copy()
        self.size[g] += 1
        self.child[g, parent, action] = new
        values = np.zeros(len(g), dtype=np.float32)
        to_eval: list[int] = []
        states = []
        for i in range(len(g)):
            slot = int(g[i])
            state = game.apply(self.states[slot][parent[i]], int(action[i]))
            self.states[slot].append(state)
            if game.is_terminal(state):
                self.terminal[slot, new[i]] = True
                values[i] = self.value[slot, new[i]] = game.terminal_value(state)
            else:
                to_eval.append(i)
                states.append(state)
        if to_eval:
            rows = np.asarray(to_eval)
            values[rows] = self._evaluate_into(g[rows], new[rows], states)
        return values

    def _evaluate_into(self, g: np.ndarray, n: np.ndarray, states: list[Any]) -> np.ndarray:
        """One evaluator call for these nodes (equal positions once); fills P, legal, value."""
        game = self.game
        index_of: dict[Any, int] = {}
        unique_states = []
        where = np.empty(len(states), dtype=np.int64)
        for i, state in enumerate(states):
            key = game.key(state)
            j = index_of.get(key)
            if j is None:
                j = index_of[key] = len(unique_states)
                unique_states.append(state)
            where[i] = j
        obs = game.encode_batch(unique_states)
        masks = game.legal_mask_batch(unique_states)
        priors, values = self.evaluator.evaluate(obs, masks)
        self.P[g, n] = priors[where]
        self.legal[g, n] = masks[where]
        self.value[g, n] = values[where]
        self.evaluated[g, n] = True
        return values[where]

    # ------------------------------------------------------------- tree reuse
    def _subtree(self, slot: int, root: int) -> np.ndarray:
        """Nodes under `root` (root first), breadth first."""
        levels = [np.array([root])]
        frontier = levels[0]
        while len(frontier):
            kids = self.child[slot, frontier].reshape(-1)
            frontier = kids[kids >= 0]
            levels.append(frontier)
        return np.concatenate(levels)

    def _compact(self, slot: int, keep: np.ndarray) -> None:
        """Renumber the kept nodes 0..len(keep)-1 (keep[0] becomes the root)."""
        remap = np.full(self.capacity, -1, dtype=np.int32)
        remap[keep] = np.arange(len(keep), dtype=np.int32)
        count = len(keep)
        for array in (self.N, self.W, self.P, self.legal):
            array[slot, :count] = array[slot, keep]
            array[slot, count:] = 0
        old_child = self.child[slot, keep]
        self.child[slot, :count] = np.where(old_child >= 0, remap[np.maximum(old_child, 0)], -1)
        self.child[slot, count:] = -1
        for array in (self.value, self.terminal, self.evaluated):
            array[slot, :count] = array[slot, keep]
            array[slot, count:] = 0
        states = self.states[slot]
        self.states[slot] = [states[i] for i in keep]
        self.size[slot] = count

    def _clear(self, slot: int) -> None:
        used = int(self.size[slot])
        for array in (self.N, self.W, self.P, self.legal):
            array[slot, :used] = 0
        self.child[slot, :used] = -1
        for array in (self.value, self.terminal, self.evaluated):
            array[slot, :used] = 0
        self.size[slot] = 0


def choose_actions(
    visits: np.ndarray, plies: np.ndarray, temp_threshold: int, rng: np.random.Generator
) -> np.ndarray:
    """Move choice from root visit distributions [k, A].

    Before `temp_threshold` plies: sample in proportion to visits (temperature 1);
    after: the most visited move, ties broken at random. The stored policy target
    stays the visit distribution either way.
    """
    k = len(visits)
    actions = np.empty(k, dtype=np.int64)
    sample = plies < temp_threshold
    if sample.any():
        probs = visits[sample]
        cumulative = np.cumsum(probs, axis=1)
        draws = rng.random(int(sample.sum()))[:, None] * cumulative[:, -1:]
        actions[sample] = np.minimum((cumulative <= draws).sum(axis=1), visits.shape[1] - 1)
    greedy = ~sample
    if greedy.any():
        v = visits[greedy]
        best = v == v.max(axis=1, keepdims=True)
        noise = rng.random(best.shape)
        actions[greedy] = np.where(best, noise, -1.0).argmax(axis=1)
    return actions
