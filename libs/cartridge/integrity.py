"""Integrity checks ("prechecks"): the rules are proven against published figures.

Every check is a plain function returning `Figure`s (a measured value next to
the value it must have), so `cartridge check` prints them and the tests assert
them. The checks:

- perft: the number of move sequences of each length from the start, against
  published tables; for tic-tac-toe also every complete game, by outcome.
- encoder round-trip: a decoder reads the board back from observations of
  random positions and must reproduce `render()`; the planes must swap sides
  after every move (the side to move's point of view).
- symmetries: each one is a permutation whose inverse is in the set (round
  trip = identity), they are distinct, and they commute with the rules: the
  mapped action sequence from the mapped start reaches the mapped observation
  and legal mask at every ply (this catches gathers applied the wrong way).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from cartridge.games import Game, IllegalActionError, Symmetry, get_game
from cartridge.games.othello import Othello, make_state

# Move sequences of length d = 1, 2, ... from the start; a game that ended earlier
# contributes nothing to the longer lengths, an Othello pass counts as a ply.
PERFT: dict[str, tuple[int, ...]] = {
    # Tic-tac-toe, the whole tree (sum = 549,945 sequences; the count by length
    # is the classic one, e.g. Henry Bottomley's "How many Tic-Tac-Toe games").
    "tictactoe": (9, 72, 504, 3024, 15120, 54720, 148176, 200448, 127872),
    # Connect Four: 7^d while no column can fill and nobody can win (d < 7);
    # d = 7 loses the 7 sequences that stack seven stones in one column.
    # d = 8 = 5,673,234 is the published count of games by ply that the issue quotes.
    "connect4": (7, 49, 343, 2401, 16807, 117649, 823536, 5673234),
    # Othello: OEIS A124004 "number of possible Reversi games at the end of the
    # n-th ply" (1, 4, 12, 56, ...), which agrees with Aart Bik's Othello perft
    # tables to depth 9; the two differ from depth 10 on, where passes occur.
    "othello": (4, 12, 56, 244, 1396, 8200, 55092, 390216, 3005288),
}
# Depths cheap enough for tests and `cartridge check --quick` (a second or less each).
QUICK_DEPTH = {"tictactoe": 9, "connect4": 7, "othello": 7}
SYMMETRY_COUNT = {"tictactoe": 8, "connect4": 2, "othello": 8}
# Random games per game for the round-trip checks (each symmetry replays every game).
RANDOM_GAMES = {"tictactoe": 200, "connect4": 60, "othello": 12}


class GameCount(NamedTuple):
    total: int
    first_wins: int
    second_wins: int
    draws: int


# Every complete tic-tac-toe game (a game ends at a line or a full board).
TICTACTOE_GAMES = GameCount(total=255168, first_wins=131184, second_wins=77904, draws=46080)


@dataclass(frozen=True)
class Figure:
    """One measured figure next to the value it must have."""

    check: str  # perft, games, encoder, symmetry
    game: str
    name: str
    value: int
    expected: int
    detail: str = ""  # the first failure, when there is one

    @property
    def ok(self) -> bool:
        return self.value == self.expected


Progress = Callable[[str], None]


# --- perft ---------------------------------------------------------------------------


def perft_counts(game: Game, depth: int, *, progress: Progress | None = None) -> list[int]:
    """[perft(1), ..., perft(depth)] from the start, in one walk of the tree.

    `progress` hears about each finished root move (the deep walks take seconds).
    """
    counts = [0] * depth
    root = game.initial_state()
    actions = game.legal_actions(root)
    counts[0] = len(actions)
    for i, action in enumerate(actions):
        if depth > 1:
            _perft_walk(game, game.apply(root, action), 1, depth, counts)
        if progress is not None:
            progress(f"{game.id} perft to depth {depth}: root move {i + 1}/{len(actions)}")
    return counts


def _perft_walk(game: Game, state: Any, ply: int, depth: int, counts: list[int]) -> None:
    # Children are only counted at the last ply (no apply there): the bulk of the tree.
    actions = game.legal_actions(state)
    counts[ply] += len(actions)
    if ply + 1 < depth:
        for action in actions:
            _perft_walk(game, game.apply(state, action), ply + 1, depth, counts)


def count_games(game: Game) -> GameCount:
    """Every complete game from the start, by outcome (small games only)."""
    first, second, draws = _count_games(game, game.initial_state())
    return GameCount(first + second + draws, first, second, draws)


def _count_games(game: Game, state: Any) -> tuple[int, int, int]:
    if game.is_terminal(state):
        value = game.terminal_value(state)  # for the side to move at the end
        if value == 0:
            return (0, 0, 1)
        winner = game.to_play(state) if value > 0 else 1 - game.to_play(state)
        return (1, 0, 0) if winner == 0 else (0, 1, 0)
    first = second = draws = 0
    for action in game.legal_actions(state):
        f, s, d = _count_games(game, game.apply(state, action))
        first, second, draws = first + f, second + s, draws + d
    return (first, second, draws)


def perft_figures(game: Game, depth: int, *, progress: Progress | None = None) -> list[Figure]:
    expected = PERFT[game.id]
    if depth > len(expected):
        raise ValueError(f"{game.id}: no published perft beyond depth {len(expected)}")
    counts = perft_counts(game, depth, progress=progress)
    return [
        Figure("perft", game.id, f"depth {d}", counts[d - 1], expected[d - 1])
        for d in range(1, depth + 1)
    ]


def tictactoe_game_figures() -> list[Figure]:
    counted = count_games(get_game("tictactoe"))
    names = {"total": "complete games", "first_wins": "X wins", "second_wins": "O wins",
             "draws": "draws"}
    return [
        Figure("games", "tictactoe", names[field], getattr(counted, field),
               getattr(TICTACTOE_GAMES, field))
        for field in GameCount._fields
    ]


# --- random games --------------------------------------------------------------------


def random_game(game: Game, rng: np.random.Generator) -> tuple[list[int], list[Any]]:
    """Actions of one uniformly random complete game and the states it passes (start first)."""
    state = game.initial_state()
    actions, states = [], [state]
    while not game.is_terminal(state):
        legal = game.legal_actions(state)
        action = legal[int(rng.integers(len(legal)))]
        state = game.apply(state, action)
        actions.append(action)
        states.append(state)
    return actions, states


def random_games(game: Game, count: int, seed: int) -> Iterator[tuple[list[int], list[Any]]]:
    rng = np.random.default_rng(seed)
    for _ in range(count):
        yield random_game(game, rng)


# --- encoder -------------------------------------------------------------------------


def decode_board(observation: np.ndarray, to_play: int) -> str:
    """The board as `render()` draws it (X = first player), read back from an observation."""
    mine, theirs = observation[0] == 1, observation[1] == 1
    first, second = (mine, theirs) if to_play == 0 else (theirs, mine)
    glyphs = np.where(first, "X", np.where(second, "O", "."))
    return "\n".join("".join(row) for row in glyphs)


def encoder_problem(game: Game, before: Any, after: Any | None) -> str | None:
    """What is wrong with the encoding of `before` (and the step to `after`), or None."""
    obs = game.encode(before)
    if obs.shape != game.observation_shape or obs.dtype != np.float32:
        return f"shape/dtype {obs.shape} {obs.dtype}"
    if not np.isin(obs, (0.0, 1.0)).all() or (obs[0] * obs[1]).any():
        return "planes are not disjoint 0/1 stones"
    decoded, drawn = decode_board(obs, game.to_play(before)), game.render(before)
    if decoded != drawn:
        return f"decoded\n{decoded}\nbut render() draws\n{drawn}"
    if after is None:
        return None
    # The side that moved keeps its stones and they become "theirs"; the side now to
    # move can only have lost stones (Othello flips); a move adds one stone, a pass none.
    nxt = game.encode(after).astype(bool)
    now = obs.astype(bool)
    added = int(nxt.sum()) - int(now.sum())
    if (now[0] & ~nxt[1]).any() or (nxt[0] & ~now[1]).any() or added not in (0, 1):
        return "planes did not swap to the new side to move"
    return None


def encoder_figures(game: Game, games: int, seed: int = 0) -> list[Figure]:
    positions, failures, first = 0, 0, ""
    for _, states in random_games(game, games, seed):
        for i, state in enumerate(states):
            after = states[i + 1] if i + 1 < len(states) else None
            problem = encoder_problem(game, state, after)
            positions += 1
            if problem is not None:
                failures += 1
                first = first or f"{problem}\nat\n{game.render(state)}"
    return [Figure("encoder", game.id, f"round-trip mismatches ({positions} positions)",
                   failures, 0, first)]


# --- symmetries ----------------------------------------------------------------------


def transform_observation(symmetry: Symmetry, observation: np.ndarray) -> np.ndarray:
    channels = observation.shape[0]
    flat = observation.reshape(channels, -1)[:, symmetry.cell_src]
    return flat.reshape(observation.shape)


def transform_policy(symmetry: Symmetry, policy: np.ndarray) -> np.ndarray:
    """Also for legal masks: anything indexed by action."""
    return policy[symmetry.action_src]


def map_action(symmetry: Symmetry, action: int) -> int:
    """Where `action` lands: policy mass at `action` moves to the returned index."""
    return int(np.flatnonzero(symmetry.action_src == action)[0])


def inverse(symmetry: Symmetry) -> Symmetry:
    return Symmetry(f"{symmetry.name}^-1", np.argsort(symmetry.cell_src),
                    np.argsort(symmetry.action_src))


def find_inverse(symmetries: list[Symmetry], symmetry: Symmetry) -> Symmetry | None:
    """The member of `symmetries` that undoes `symmetry` (a group contains it)."""
    wanted = inverse(symmetry)
    for other in symmetries:
        if np.array_equal(other.cell_src, wanted.cell_src) and np.array_equal(
            other.action_src, wanted.action_src
        ):
            return other
    return None


def _is_permutation(index: np.ndarray, size: int) -> bool:
    return index.shape == (size,) and np.array_equal(np.sort(index), np.arange(size))


def distinct_symmetries(game: Game) -> int:
    return len({(s.cell_src.tobytes(), s.action_src.tobytes()) for s in game.symmetries()})


def round_trip_problem(game: Game, symmetry: Symmetry, observation: np.ndarray,
                       policy: np.ndarray) -> str | None:
    """Applying `symmetry` then its inverse (from the set) must give back obs and policy."""
    cells = game.board_shape[0] * game.board_shape[1]
    if not (_is_permutation(symmetry.cell_src, cells)
            and _is_permutation(symmetry.action_src, game.num_actions)):
        return f"{symmetry.name}: gathers are not permutations"
    undo = find_inverse(game.symmetries(), symmetry)
    if undo is None:
        return f"{symmetry.name}: its inverse is not among the symmetries"
    back_obs = transform_observation(undo, transform_observation(symmetry, observation))
    back_policy = transform_policy(undo, transform_policy(symmetry, policy))
    if not (np.array_equal(back_obs, observation) and np.array_equal(back_policy, policy)):
        return f"{symmetry.name} then {undo.name} is not the identity"
    return None


def symmetric_start(game: Game, symmetry: Symmetry) -> Any:
    """The start position seen through `symmetry`, as a state.

    Tic-tac-toe and Connect Four start empty. Othello's start maps to itself only
    under half the square's symmetries (rot90 swaps the colours of the centre),
    so the mapped start is built from the mapped discs.
    """
    start = game.initial_state()
    observation = game.encode(start)
    mapped = transform_observation(symmetry, observation)
    if np.array_equal(mapped, observation):
        return start
    if isinstance(game, Othello):
        weights = 1 << np.arange(64, dtype=object)
        mine, theirs = (int((plane.reshape(-1).astype(int) * weights).sum()) for plane in mapped)
        return make_state(mine, theirs, game.to_play(start))
    raise ValueError(f"{game.id}: the start is not invariant under {symmetry.name}")


def commute_problem(game: Game, symmetry: Symmetry, actions: list[int],
                    states: list[Any]) -> str | None:
    """Replays the mapped `actions` from the mapped start and compares every ply."""
    state = symmetric_start(game, symmetry)
    for ply, original in enumerate(states):
        if ply > 0:
            try:
                state = game.apply(state, map_action(symmetry, actions[ply - 1]))
            except IllegalActionError as err:
                return f"{symmetry.name}: mapped move rejected after {actions[:ply - 1]}: {err}"
        obs_want = transform_observation(symmetry, game.encode(original))
        mask_want = transform_policy(symmetry, game.legal_mask(original))
        if not np.array_equal(game.encode(state), obs_want):
            return f"{symmetry.name}: observation differs after {actions[:ply]}"
        if not np.array_equal(game.legal_mask(state), mask_want):
            return f"{symmetry.name}: legal mask differs after {actions[:ply]}"
    if not game.is_terminal(state) or game.terminal_value(state) != game.terminal_value(
        states[-1]
    ):
        return f"{symmetry.name}: outcome differs after {actions}"
    return None


def symmetry_figures(game: Game, games: int, seed: int = 0) -> list[Figure]:
    symmetries = game.symmetries()
    rng = np.random.default_rng(seed)
    identity_first = int(
        np.array_equal(symmetries[0].cell_src, np.arange(symmetries[0].cell_src.size))
        and np.array_equal(symmetries[0].action_src, np.arange(game.num_actions))
    )
    checked = round_trip_failures = commute_failures = 0
    first_round_trip = first_commute = ""
    for actions, states in random_games(game, games, seed):
        sample = states[int(rng.integers(len(states)))]
        policy = rng.random(game.num_actions).astype(np.float32)
        for symmetry in symmetries:
            checked += 1
            problem = round_trip_problem(game, symmetry, game.encode(sample), policy)
            if problem is not None:
                round_trip_failures += 1
                first_round_trip = first_round_trip or problem
            problem = commute_problem(game, symmetry, actions, states)
            if problem is not None:
                commute_failures += 1
                first_commute = first_commute or problem
    return [
        Figure("symmetry", game.id, "distinct symmetries", distinct_symmetries(game),
               SYMMETRY_COUNT[game.id]),
        Figure("symmetry", game.id, "identity listed first", identity_first, 1),
        Figure("symmetry", game.id, f"round-trip failures ({checked} cases)",
               round_trip_failures, 0, first_round_trip),
        Figure("symmetry", game.id, f"rules-commute failures ({checked} replays)",
               commute_failures, 0, first_commute),
    ]


# --- everything ----------------------------------------------------------------------


def all_figures(*, quick: bool = False, progress: Progress | None = None) -> Iterator[Figure]:
    """Every check for every game, cheapest first; `quick` stops perft at QUICK_DEPTH."""
    say = progress or (lambda _message: None)
    for game_id in ("tictactoe", "connect4", "othello"):
        game = get_game(game_id)
        say(f"{game_id}: encoder and symmetry round-trips")
        yield from encoder_figures(game, RANDOM_GAMES[game_id])
        yield from symmetry_figures(game, RANDOM_GAMES[game_id])
    say("tictactoe: counting every complete game")
    yield from tictactoe_game_figures()
    for game_id in ("tictactoe", "connect4", "othello"):
        depth = QUICK_DEPTH[game_id] if quick else len(PERFT[game_id])
        say(f"{game_id}: perft to depth {depth}")
        slow = depth > QUICK_DEPTH[game_id]  # only the deep walks report root moves
        yield from perft_figures(get_game(game_id), depth, progress=progress if slow else None)
