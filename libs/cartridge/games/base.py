"""The `Game` seam: pure rules shared by actor, trainer, evaluator and web.

A game is a stateless object; states are small immutable values the game
creates and interprets. Every game alternates sides each ply (a pass is an
action of its own), so search can negate values from one ply to the next.

Observations are float32 planes `[C, H, W]` from the point of view of the side
to move. Actions are integers in `[0, num_actions)`.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np

State = TypeVar("State")


class IllegalActionError(ValueError):
    """An action that is not legal in the given state (or out of range)."""


@dataclass(frozen=True)
class Symmetry:
    """A symmetry of the board, as gather indices.

    `cell_src[i]` is the flat board cell whose content moves to cell `i`, so a
    transformed observation is `obs.reshape(C, H*W)[:, cell_src]`.
    `action_src[a]` likewise is the action whose policy mass moves to action `a`.
    Gathers (rather than functions) let a whole batch be augmented with one
    `np.take_along_axis`.
    """

    name: str
    cell_src: np.ndarray  # [H*W] int64
    action_src: np.ndarray  # [A] int64


class Game(abc.ABC, Generic[State]):
    """Rules of one two-player, zero-sum, alternating board game."""

    id: str
    num_actions: int
    board_shape: tuple[int, int]  # (H, W)
    observation_shape: tuple[int, int, int]  # (C, H, W)

    @abc.abstractmethod
    def initial_state(self) -> State: ...

    @abc.abstractmethod
    def legal_mask(self, state: State) -> np.ndarray:
        """[A] bool; all False only in terminal states."""

    @abc.abstractmethod
    def legal_actions(self, state: State) -> list[int]: ...

    @abc.abstractmethod
    def apply(self, state: State, action: int) -> State:
        """The state after `action`; raises IllegalActionError for an illegal one."""

    @abc.abstractmethod
    def is_terminal(self, state: State) -> bool: ...

    @abc.abstractmethod
    def terminal_value(self, state: State) -> float:
        """Outcome of a finished game for the side to move in it: +1, 0 or -1."""

    @abc.abstractmethod
    def to_play(self, state: State) -> int:
        """0 for the first player (X, yellow/first, dark), 1 for the second."""

    @abc.abstractmethod
    def encode(self, state: State) -> np.ndarray:
        """Observation [C, H, W] float32 from the side to move's point of view."""

    def encode_batch(self, states: list[State]) -> np.ndarray:
        """[B, C, H, W] observations; games override this with a vectorised version."""
        return np.stack([self.encode(s) for s in states])

    def legal_mask_batch(self, states: list[State]) -> np.ndarray:
        """[B, A] legal masks; games override this with a vectorised version."""
        return np.stack([self.legal_mask(s) for s in states])

    @abc.abstractmethod
    def key(self, state: State) -> Any:
        """A hashable value equal for equal positions (used to dedupe evaluations)."""

    @abc.abstractmethod
    def symmetries(self) -> list[Symmetry]:
        """All board symmetries, identity first."""

    @abc.abstractmethod
    def render(self, state: State) -> str:
        """The board as text, top row first: "X" the first player's pieces, "O" the
        second's, "." empty; one line per row (the web page draws from `rows`)."""

    def rows(self, state: State) -> list[str]:
        return self.render(state).splitlines()

    def apply_all(self, actions: list[int] | tuple[int, ...]) -> State:
        """The state reached from the initial one by `actions`.

        Raises IllegalActionError naming the first bad action and its index.
        """
        state = self.initial_state()
        for i, action in enumerate(actions):
            if self.is_terminal(state):
                raise IllegalActionError(
                    f"{self.id}: action #{i} ({action}) played after the game ended"
                )
            try:
                state = self.apply(state, action)
            except IllegalActionError as err:
                raise IllegalActionError(f"action #{i}: {err}") from None
        return state

    def check_action(self, action: int) -> None:
        if not isinstance(action, int | np.integer) or not 0 <= action < self.num_actions:
            raise IllegalActionError(
                f"{self.id}: action {action!r} is out of range 0..{self.num_actions - 1}"
            )


def square_symmetries(size: int, num_actions: int) -> list[Symmetry]:
    """The 8 symmetries of a square board; actions beyond the board (pass) stay put."""
    cells = np.arange(size * size).reshape(size, size)
    views = {
        "identity": cells,
        "rot90": np.rot90(cells, 1),
        "rot180": np.rot90(cells, 2),
        "rot270": np.rot90(cells, 3),
        "flip_lr": np.fliplr(cells),
        "flip_ud": np.flipud(cells),
        "transpose": cells.T,
        "anti_transpose": np.rot90(cells, 2).T,
    }
    result = []
    for name, view in views.items():
        cell_src = np.ascontiguousarray(view).reshape(-1).astype(np.int64)
        action_src = np.arange(num_actions, dtype=np.int64)
        action_src[: size * size] = cell_src
        result.append(Symmetry(name, cell_src, action_src))
    return result


def augment(
    observations: np.ndarray,
    policies: np.ndarray,
    masks: np.ndarray,
    symmetries: list[Symmetry],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One random symmetry per sample.

    observations [B, C, H, W], policies [B, A] and legal masks [B, A] move together.
    """
    batch, channels, height, width = observations.shape
    cell_src = np.stack([s.cell_src for s in symmetries])  # [S, H*W]
    action_src = np.stack([s.action_src for s in symmetries])  # [S, A]
    choice = rng.integers(len(symmetries), size=batch)
    flat = observations.reshape(batch, channels, height * width)
    obs_index = np.broadcast_to(cell_src[choice][:, None, :], flat.shape)
    out_obs = np.take_along_axis(flat, obs_index, axis=2).reshape(observations.shape)
    action_index = action_src[choice]
    out_pol = np.take_along_axis(policies, action_index, axis=1)
    out_mask = np.take_along_axis(masks, action_index, axis=1)
    return out_obs, out_pol, out_mask
