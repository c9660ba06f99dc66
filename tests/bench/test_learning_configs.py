"""The learning benchmark's configurations (bench/learning.py CONFIGS) reach the run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bench.learning import CONFIG, CONFIGS, _trained_search
from cartridge.config import load_settings

GAMES = ("tictactoe", "connect4", "othello")


def _flat(section: dict[str, Any], prefix: str = "CARTRIDGE") -> Iterator[tuple[str, Any]]:
    """(CARTRIDGE_<SECTION>_<KEY>, value) for every setting, nested tables included."""
    for key, value in section.items():
        name = f"{prefix}_{key.upper()}"
        if isinstance(value, dict):
            yield from _flat(value, name)
        else:
            yield name, value


@pytest.mark.parametrize("name", [name for name in CONFIGS if name != "defaults"])
def test_every_variable_of_a_configuration_sets_its_key(name: str) -> None:
    """The settings ignore an unknown CARTRIDGE_* variable: a misspelt one would make
    the curve measure the defaults under another name."""
    for variable, value in CONFIGS[name].items():
        settings = dict(_flat(load_settings(CONFIG, environ={variable: value}).model_dump()))
        assert variable in settings, f"{name}: {variable} names no setting"
        assert _same(settings[variable], value), f"{name}: {variable}={value} not set"


def _same(setting: Any, variable: str) -> bool:
    """A setting equals the variable's text: "false" for False, "2" for 2.0."""
    if isinstance(setting, bool) or not isinstance(setting, int | float):
        return str(setting).lower() == variable.lower()
    return float(setting) == float(variable)


@pytest.mark.parametrize("env_id", GAMES)
def test_the_search_configurations_set_every_games_self_play_search(env_id: str) -> None:
    gumbel = _trained_search(CONFIGS["gumbel32"], env_id)
    assert (gumbel["algorithm"], gumbel["num_simulations"],
            gumbel["gumbel_considered"]) == ("gumbel", 32, 4)
    puct = _trained_search(CONFIGS["puct200"], env_id)
    assert (puct["algorithm"], puct["num_simulations"]) == ("puct", 200)
    capped = _trained_search(CONFIGS["pcr"], env_id)
    assert (capped["algorithm"], capped["full_search_fraction"],
            capped["fast_simulations"]) == ("puct", 0.25, 50)


def test_random_openings_are_recorded_with_the_search_only_when_on() -> None:
    # Curves from before the key recorded no random_opening_plies: they must still
    # compare equal to a configuration without openings, and differ from one with.
    assert "random_opening_plies" not in _trained_search(CONFIGS["noopenings"], "connect4")
    assert _trained_search(CONFIGS["defaults"], "connect4")["random_opening_plies"] == 10
    assert "random_opening_plies" not in _trained_search(CONFIGS["defaults"], "tictactoe")


@pytest.mark.parametrize("env_id", GAMES)
def test_the_opening_configurations_set_every_games_random_openings(env_id: str) -> None:
    # Per game, over the game's own table: a global key would not reach a game that sets one.
    for name, plies in (("noopenings", 0), ("randomopen4", 4), ("randomopen", 10),
                        ("randomopen20", 20)):
        assert _trained_search(CONFIGS[name], env_id).get("random_opening_plies", 0) == plies


def test_root_noise_plies_are_recorded_with_the_search_only_when_set() -> None:
    # Curves from before the key noised every ply and recorded nothing: they must still
    # compare equal to a configuration that leaves it at -1.
    assert "root_noise_plies" not in _trained_search(CONFIGS["defaults"], "connect4")
    assert _trained_search(CONFIGS["noise15"], "connect4")["root_noise_plies"] == 15


@pytest.mark.parametrize("env_id", GAMES)
def test_the_value_target_configurations_set_every_games_weight(env_id: str) -> None:
    # Recorded when on only: curves from before the key trained on results alone and must
    # compare equal to "resultvalue", not to Connect Four's defaults since.
    assert _trained_search(CONFIGS["valuemix"], env_id)["search_value_weight"] == 0.5
    assert "search_value_weight" not in _trained_search(CONFIGS["resultvalue"], env_id)
    defaults = _trained_search(CONFIGS["defaults"], env_id).get("search_value_weight", 0)
    assert defaults == (0.5 if env_id == "connect4" else 0)
