"""`load_settings`: config.toml < CARTRIDGE_* environment < flags, and every way to get
the configuration wrong is a SettingsError that names the culprit. Every test passes
`environ=` so the real environment never leaks in."""

from __future__ import annotations

from pathlib import Path

import pytest

from cartridge.config import SettingsError, load_settings

CONFIG = Path(__file__).resolve().parents[2] / "config.toml"


def config_with(tmp_path: Path, old: str, new: str) -> Path:
    """The repository's config.toml with one piece of text replaced."""
    text = CONFIG.read_text()
    assert old in text
    path = tmp_path / "config.toml"
    path.write_text(text.replace(old, new, 1))
    return path


# ---------------------------------------------------------------------------- precedence


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    path = config_with(tmp_path, "lr = 0.002", "lr = 0.003")
    assert load_settings(path, environ={}).training.lr == 0.003
    environ = {"CARTRIDGE_TRAINING_LR": "0.01"}
    assert load_settings(path, environ=environ).training.lr == 0.01
    flags = {"training": {"lr": 0.05}}
    assert load_settings(path, flags, environ=environ).training.lr == 0.05
    # A flag left unset (None) does not hide the environment, nor the file.
    unset = {"training": {"lr": None}}
    assert load_settings(path, unset, environ=environ).training.lr == 0.01
    assert load_settings(path, unset, environ={}).training.lr == 0.003
    # Keys nobody overrides keep the file's values.
    settings = load_settings(path, flags, environ=environ)
    assert settings.training.batch_size == 256
    assert settings.common.env_id == "tictactoe"


def test_environment_values_are_parsed_to_the_key_types() -> None:
    settings = load_settings(CONFIG, environ={
        "CARTRIDGE_TRAINING_AMP": "false", "CARTRIDGE_ACTOR_CONCURRENT_GAMES": "7",
        "CARTRIDGE_COMMON_ENV_ID": "othello"})
    assert settings.training.amp is False
    assert settings.actor.concurrent_games == 7
    assert settings.common.env_id == "othello"


def test_nested_environment_variable_sets_one_key_of_one_game() -> None:
    settings = load_settings(CONFIG, environ={"CARTRIDGE_NETWORK_CONNECT4_BLOCKS": "7"})
    assert settings.network.connect4.blocks == 7
    # The rest of [network.connect4] and the other games come from the file.
    assert settings.network.connect4.kind == "resnet"
    assert settings.network.connect4.channels == 48
    assert settings.network.othello.blocks == 6
    assert settings.network.tictactoe.blocks == 2


# ------------------------------------------------------------------ unknown names, files


@pytest.mark.parametrize(("old", "new", "named"), [
    ("[mcts]\n", "[mcts]\nnum_simulation = 5\n", "mcts.num_simulation"),
    ("[network.connect4]\n", "[network.connect4]\ndepth = 3\n", "network.connect4.depth"),
    ("[run]\n", "[nonsense]\nx = 1\n\n[run]\n", "nonsense"),
])
def test_unknown_key_or_section_in_the_file_is_named(
    tmp_path: Path, old: str, new: str, named: str
) -> None:
    path = config_with(tmp_path, old, new)
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={})
    assert f"{named}: unknown key" in str(caught.value)


@pytest.mark.parametrize("variable", [
    "CARTRIDGE_MCTS_NUM_SIMULATION",  # a typo of a key
    "CARTRIDGE_NETWORK_CONNECT4",  # a section, not a key
    "CARTRIDGE_NETWORK_CHESS_BLOCKS",  # no such game
    "CARTRIDGE_BOGUS",
    "CARTRIDGE_TESTS_URL",  # only CARTRIDGE_TEST_* is exempt, not every CARTRIDGE_TEST*
])
def test_unknown_environment_variable_is_named(variable: str) -> None:
    with pytest.raises(SettingsError, match=f"unknown environment variable {variable}:"):
        load_settings(CONFIG, environ={variable: "1"})


def test_config_test_and_bench_variables_are_not_settings_keys() -> None:
    environ = {
        "CARTRIDGE_CONFIG": "/nowhere/config.toml",  # the path of the file, read elsewhere
        "CARTRIDGE_TEST_POSTGRES_URL": "postgresql://postgres@127.0.0.1:5432/postgres",
        "CARTRIDGE_TEST_ANYTHING_AT_ALL": "x",
        "CARTRIDGE_BENCH_GAMES": "100",
    }
    assert load_settings(CONFIG, environ=environ) == load_settings(CONFIG, environ={})


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[common\nenv_id = 'tictactoe'\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={})
    assert str(path) in str(caught.value)
    assert "not valid TOML" in str(caught.value)


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(SettingsError, match="config file not found") as caught:
        load_settings(path, environ={})
    assert str(path) in str(caught.value)


def test_missing_key_is_named(tmp_path: Path) -> None:
    path = config_with(tmp_path, "num_simulations = 200\n", "")
    with pytest.raises(SettingsError, match=r"mcts\.num_simulations: missing"):
        load_settings(path, environ={})


# ---------------------------------------------------------------------------- bad values

BAD_VALUES = [
    ("training", "lr", "-0.1", "greater than 0"),
    ("common", "env_id", "chess", "unknown game 'chess'"),
    ("common", "log_level", "LOUD", "'DEBUG', 'INFO', 'WARNING' or 'ERROR'"),
    ("storage", "model_backend", "ftp", "'filesystem' or 's3'"),
    ("actor", "concurrent_games", "many", "valid integer"),
    ("mcts", "algorithm", "alphabeta", "'puct' or 'gumbel'"),
    ("mcts", "gumbel_considered", "0", "greater than or equal to 1"),
    ("mcts", "gumbel_c_visit", "-1", "greater than or equal to 0"),
    ("mcts", "gumbel_c_scale", "0", "greater than 0"),
    ("selfplay", "full_search_fraction", "0", "greater than 0"),
    ("selfplay", "full_search_fraction", "1.5", "less than or equal to 1"),
    ("selfplay", "fast_simulations", "0", "greater than or equal to 1"),
    ("selfplay", "search_value_weight", "-0.1", "greater than or equal to 0"),
    ("selfplay", "search_value_weight", "1.5", "less than or equal to 1"),
    ("selfplay", "random_opening_plies", "-1", "greater than or equal to 0"),
    ("selfplay", "root_noise_plies", "-2", "greater than or equal to -1"),
    ("inference", "precision", "fp16", "'fp32' or 'int8'"),
    ("training", "publish_int8", "sometimes", "valid boolean"),
]


@pytest.mark.parametrize(("section", "key", "value", "reason"), BAD_VALUES)
def test_bad_value_from_the_environment_names_key_and_value(
    section: str, key: str, value: str, reason: str
) -> None:
    variable = f"CARTRIDGE_{section.upper()}_{key.upper()}"
    with pytest.raises(SettingsError) as caught:
        load_settings(CONFIG, environ={variable: value})
    message = str(caught.value)
    assert f"{section}.{key} = {value!r}" in message
    assert reason in message


@pytest.mark.parametrize(("section", "key", "value", "reason"), BAD_VALUES)
def test_bad_value_from_flags_names_the_key(
    section: str, key: str, value: str, reason: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(CONFIG, {section: {key: value}}, environ={})
    assert f"{section}.{key} = " in str(caught.value)
    assert reason in str(caught.value)


def test_bad_value_in_the_file_names_the_key_and_the_file(tmp_path: Path) -> None:
    path = config_with(tmp_path, "c_puct = 1.5", "c_puct = -1.5")
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={})
    assert "mcts.c_puct = -1.5" in str(caught.value)
    assert str(path) in str(caught.value)


def test_random_openings_are_per_game_over_the_selfplay_key() -> None:
    settings = load_settings(CONFIG, environ={})
    assert [settings.selfplay.opening_plies(g) for g in ("tictactoe", "connect4", "othello")] \
        == [0, 10, 10]
    everywhere = load_settings(CONFIG, environ={"CARTRIDGE_SELFPLAY_RANDOM_OPENING_PLIES": "6"})
    assert [everywhere.selfplay.opening_plies(g) for g in ("tictactoe", "connect4", "othello")] \
        == [6, 10, 10]
    off = load_settings(CONFIG, environ={"CARTRIDGE_SELFPLAY_CONNECT4_RANDOM_OPENING_PLIES": "0",
                                         "CARTRIDGE_SELFPLAY_OTHELLO_RANDOM_OPENING_PLIES": "0"})
    assert off.selfplay.opening_plies("connect4") == off.selfplay.opening_plies("othello") == 0
    # The key is no search setting: the search actors play with never sees it.
    search = settings.selfplay.search("connect4", settings.mcts)
    assert "random_opening_plies" not in search.model_dump()
    with pytest.raises(SettingsError) as caught:
        load_settings(CONFIG, environ={"CARTRIDGE_SELFPLAY_CONNECT4_RANDOM_OPENING_PLIES": "-2"})
    assert "selfplay.connect4.random_opening_plies = '-2'" in str(caught.value)


def test_value_targets_are_per_game_over_the_selfplay_key() -> None:
    games = ("tictactoe", "connect4", "othello")
    settings = load_settings(CONFIG, environ={})
    assert [settings.selfplay.value_weight(g) for g in games] == [0.0, 0.5, 0.0]
    everywhere = load_settings(CONFIG, environ={"CARTRIDGE_SELFPLAY_SEARCH_VALUE_WEIGHT": "0.25"})
    assert [everywhere.selfplay.value_weight(g) for g in games] == [0.25, 0.5, 0.25]
    off = load_settings(CONFIG, environ={"CARTRIDGE_SELFPLAY_CONNECT4_SEARCH_VALUE_WEIGHT": "0"})
    assert [off.selfplay.value_weight(g) for g in games] == [0.0, 0.0, 0.0]
    # The key is no search setting: the search actors play with never sees it.
    search = settings.selfplay.search("connect4", settings.mcts)
    assert "search_value_weight" not in search.model_dump()
    with pytest.raises(SettingsError) as caught:
        load_settings(CONFIG, environ={"CARTRIDGE_SELFPLAY_CONNECT4_SEARCH_VALUE_WEIGHT": "1.5"})
    assert "selfplay.connect4.search_value_weight = '1.5'" in str(caught.value)


def test_playout_caps_are_off_by_default_and_set_by_their_keys() -> None:
    settings = load_settings(CONFIG, environ={})
    assert settings.selfplay.full_search_fraction == 1.0
    assert settings.selfplay.fast_simulations == 8
    settings = load_settings(CONFIG, environ={"CARTRIDGE_SELFPLAY_FULL_SEARCH_FRACTION": "0.25",
                                              "CARTRIDGE_SELFPLAY_FAST_SIMULATIONS": "6"})
    assert settings.selfplay.full_search_fraction == 0.25
    assert settings.selfplay.fast_simulations == 6


# Othello's table (the last game's) with its search keys taken out: a game whose
# self-play searches with [mcts].
OTHELLO_SEARCH = 'algorithm = "gumbel"\nnum_simulations = 32\ngumbel_considered = 4\n\n[inference]'


def test_a_fast_search_as_long_as_the_full_one_is_refused_naming_both_keys(
        tmp_path: Path) -> None:
    # Without search keys of its own, Othello's full self-play search is [mcts]'s.
    path = config_with(tmp_path, OTHELLO_SEARCH, "\n[inference]")
    environ = {"CARTRIDGE_SELFPLAY_FULL_SEARCH_FRACTION": "0.25",
               "CARTRIDGE_SELFPLAY_FAST_SIMULATIONS": "200", "CARTRIDGE_COMMON_ENV_ID": "othello"}
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ=environ)
    assert "selfplay.fast_simulations = 200" in str(caught.value)
    assert "mcts.num_simulations = 200" in str(caught.value)
    # Off (fraction 1), the fast budget is never used: small test searches stay valid.
    small = load_settings(path, {"mcts": {"num_simulations": 4}},
                          environ={"CARTRIDGE_COMMON_ENV_ID": "othello"})
    assert small.selfplay.fast_simulations > small.mcts.num_simulations


@pytest.mark.parametrize("env_id", ["tictactoe", "connect4", "othello"])
def test_a_fast_search_as_long_as_the_games_own_full_one_is_refused_naming_its_key(
        env_id: str) -> None:
    # The game's own self-play search ([selfplay.<game>]) has 32 simulations (Connect
    # Four's 16): a fast search of 50 is refused for it, and the message names that key;
    # the default (8) fits.
    environ = {"CARTRIDGE_SELFPLAY_FULL_SEARCH_FRACTION": "0.25",
               "CARTRIDGE_COMMON_ENV_ID": env_id}
    with pytest.raises(SettingsError) as caught:
        load_settings(CONFIG, environ={**environ, "CARTRIDGE_SELFPLAY_FAST_SIMULATIONS": "50"})
    assert "selfplay.fast_simulations = 50" in str(caught.value)
    own = 16 if env_id == "connect4" else 32
    assert f"selfplay.{env_id}.num_simulations = {own}" in str(caught.value)
    fits = load_settings(CONFIG, environ=environ)
    assert fits.selfplay.fast_simulations == 8


def test_a_games_own_search_is_set_by_its_keys_and_bad_values_are_named() -> None:
    settings = load_settings(CONFIG, environ={"CARTRIDGE_SELFPLAY_CONNECT4_ALGORITHM": "puct",
                                              "CARTRIDGE_SELFPLAY_CONNECT4_NUM_SIMULATIONS": "200"})
    search = settings.selfplay.search("connect4", settings.mcts)
    assert (search.algorithm, search.num_simulations) == ("puct", 200)
    with pytest.raises(SettingsError, match=r"selfplay\.othello\.algorithm"):
        load_settings(CONFIG, environ={"CARTRIDGE_SELFPLAY_OTHELLO_ALGORITHM": "alphabeta"})


def test_a_games_own_precision_overrides_inference_and_its_trainer_publishes_int8() -> None:
    settings = load_settings(CONFIG, environ={"CARTRIDGE_SELFPLAY_TICTACTOE_PRECISION": "int8",
                                              "CARTRIDGE_SELFPLAY_OTHELLO_PRECISION": "fp32"})
    assert settings.inference.precision == "fp32"
    assert settings.actor_precision("tictactoe") == "int8"
    assert settings.actor_precision("othello") == "fp32"
    assert settings.publishes_int8("tictactoe") and not settings.publishes_int8("othello")
    # A precision is not a search key: each game's search stays its table's.
    default = load_settings(CONFIG, environ={})
    for env_id in ("tictactoe", "othello"):
        assert settings.selfplay.search(env_id, settings.mcts) == default.selfplay.search(
            env_id, default.mcts)
    everywhere = load_settings(CONFIG, environ={"CARTRIDGE_INFERENCE_PRECISION": "int8",
                                                "CARTRIDGE_SELFPLAY_OTHELLO_PRECISION": "fp32"})
    assert everywhere.actor_precision("tictactoe") == "int8"
    assert everywhere.actor_precision("othello") == "fp32"
    assert not everywhere.publishes_int8("othello")
    asked = load_settings(CONFIG, environ={"CARTRIDGE_TRAINING_PUBLISH_INT8": "true"})
    assert asked.publishes_int8("tictactoe")  # published whatever its actors play
    with pytest.raises(SettingsError, match=r"selfplay\.connect4\.precision"):
        load_settings(CONFIG, environ={"CARTRIDGE_SELFPLAY_CONNECT4_PRECISION": "fp16"})


def test_connect4_and_othello_actors_play_int8_by_default_and_tictactoe_fp32() -> None:
    settings = load_settings(CONFIG, environ={})
    played = {env_id: settings.actor_precision(env_id)
              for env_id in ("tictactoe", "connect4", "othello")}
    assert played == {"tictactoe": "fp32", "connect4": "int8", "othello": "int8"}
    assert settings.publishes_int8("connect4") and settings.publishes_int8("othello")
    assert not settings.publishes_int8("tictactoe")


# ------------------------------------------------------------------------------- paths


def test_relative_storage_paths_live_under_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = load_settings(CONFIG, {"common": {"data_dir": data}}, environ={})
    assert settings.data_path(settings.storage.sqlite_path) == data / "replay.db"
    assert settings.data_path(settings.storage.model_dir) == data / "models"
    assert settings.data_path(settings.training.stats) == data / "stats.json"
    # An absolute path stays where it is.
    elsewhere = tmp_path / "elsewhere" / "replay.db"
    moved = load_settings(CONFIG, {"common": {"data_dir": data}},
                          environ={"CARTRIDGE_STORAGE_SQLITE_PATH": str(elsewhere)})
    assert moved.data_path(moved.storage.sqlite_path) == elsewhere
    # data_dir itself comes from the environment as well.
    from_env = load_settings(CONFIG, environ={"CARTRIDGE_COMMON_DATA_DIR": str(data)})
    assert from_env.data_path(from_env.storage.sqlite_path) == data / "replay.db"
