"""What the arena plays next: pure functions of the versions it can see.

- Versions are worked on newest first: when versions arrive faster than they
  can be rated, the newest is rated first and the ones skipped are filled in
  later, when nothing newer waits (the oldest last). The work per version is
  finite, so nothing queues up without bound.
- A version's rating opponents: every anchor, the current `best`, the previous
  version, and `history` earlier versions spread evenly over the rest of the
  history, so the ladder stays connected as models outgrow the anchors.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def model_name(version: int) -> str:
    return f"v{version}"


def parse_model_name(name: str) -> int | None:
    """The version of a "vN" player, None for an anchor."""
    if name.startswith("v") and name[1:].isdigit():
        return int(name[1:])
    return None


def work_order(versions: Sequence[int]) -> list[int]:
    """Newest first; the skipped ones after it, the oldest last."""
    return sorted(set(versions), reverse=True)


def rating_opponents(version: int, versions: Sequence[int], best: int | None,
                     anchors: Sequence[str], history: int) -> list[str]:
    """Anchors first, then best, the previous version and `history` spread earlier ones."""
    earlier = sorted(v for v in set(versions) if v < version)
    chosen: list[int] = []
    if best is not None and best in earlier:
        chosen.append(best)
    if earlier and earlier[-1] not in chosen:
        chosen.append(earlier[-1])
    rest = [v for v in earlier if v not in chosen]
    if history > 0 and rest:
        picks = np.linspace(0, len(rest) - 1, num=min(history, len(rest))).round().astype(int)
        chosen.extend(rest[i] for i in dict.fromkeys(picks.tolist()))
    return [*anchors, *(model_name(v) for v in chosen)]


def match_key(purpose: str, player_a: str, player_b: str, num_simulations: int,
              openings: int) -> str:
    """The match's natural key: the same match is never recorded twice. The search
    strength and the number of openings are part of it, as they change the match."""
    return f"{purpose}|{player_a}|{player_b}|s{num_simulations}|o{openings}"
