"""One typed settings model for every service.

Sources, lowest to highest priority: `config.toml` (every default, commented),
`CARTRIDGE_<SECTION>_<KEY>` environment variables, then command-line flags
(passed in by entry points as `overrides`). An unknown key, section or
`CARTRIDGE_*` variable, a bad value or a missing file raises `SettingsError`
naming the culprit. Library code never loads settings: entry points do, and
hand each component the small section it needs.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from cartridge.games.registry import GAME_IDS

ENV_PREFIX = "CARTRIDGE_"
# Variables under the prefix that are not settings keys: the config file's path, and
# the test suite's and benchmarks' own knobs (e.g. CARTRIDGE_TEST_POSTGRES_URL).
_NON_KEY_VARIABLES = {"CARTRIDGE_CONFIG"}
_NON_KEY_PREFIXES = ("CARTRIDGE_TEST_", "CARTRIDGE_BENCH_")
# Secrets: set only by their CARTRIDGE_* variable (or the alternative named here),
# never by config.toml or a flag.
_ENVIRONMENT_ONLY_KEYS = {
    ("storage", "s3_access_key"): "[storage] s3_credentials_file",
    ("storage", "s3_secret_key"): "[storage] s3_credentials_file",
    ("storage", "postgres_password"): "libpq's PGPASSWORD",
}


class SettingsError(ValueError):
    """Bad configuration; the message names the key, value or file."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class CommonSettings(Section):
    env_id: str = "tictactoe"
    data_dir: Path = Path("./data")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("env_id")
    @classmethod
    def _known_game(cls, value: str) -> str:
        if value not in GAME_IDS:
            raise ValueError(f"unknown game {value!r}; known games: {', '.join(GAME_IDS)}")
        return value


class NetworkConfig(Section):
    """kind "resnet": `blocks` residual blocks of `channels` 3x3 conv channels.
    kind "mlp": `blocks` hidden layers of `channels` units.
    value_head "scalar": one tanh output trained on squared error; "wdl": win/draw/loss
    logits trained on cross-entropy. Exported models give a scalar value either way."""

    kind: Literal["resnet", "mlp"]
    blocks: int = Field(ge=1, le=64)
    channels: int = Field(ge=4, le=1024)
    value_head: Literal["scalar", "wdl"] = "scalar"


def network_with_defaults(network: Any) -> Any:
    """A network shape recorded earlier (a checkpoint's, a run's first start) with the
    keys added to NetworkConfig since (value_head) at their defaults, which is what it
    was built with; as it is if it is not a valid shape. Comparable with model_dump()."""
    try:
        return NetworkConfig.model_validate(network).model_dump()
    except ValidationError:
        return network


class NetworkSettings(Section):
    tictactoe: NetworkConfig
    connect4: NetworkConfig
    othello: NetworkConfig

    def for_game(self, env_id: str) -> NetworkConfig:
        return getattr(self, env_id)


class MctsSettings(Section):
    num_simulations: int = Field(ge=1)
    c_puct: float = Field(gt=0)
    dirichlet_alpha: float = Field(gt=0)
    dirichlet_epsilon: float = Field(ge=0, le=1)
    temp_threshold: int = Field(ge=0)
    fpu_reduction: float = Field(ge=0, le=2)
    algorithm: Literal["puct", "gumbel"]
    gumbel_considered: int = Field(ge=1)
    gumbel_c_visit: float = Field(ge=0)
    gumbel_c_scale: float = Field(gt=0)


Precision = Literal["fp32", "int8"]  # the model actors play: model.onnx | model.int8.onnx


class GameSelfPlay(Section):
    """[selfplay.<game>]: one game's self-play search over [mcts], the model precision
    its actors play over [inference]'s, and its random openings and value targets over
    [selfplay]'s. A key left out keeps the wider table's value; the arena, the web
    service and `cartridge move` always use [mcts] and fp32."""

    algorithm: Literal["puct", "gumbel"] | None = None
    num_simulations: int | None = Field(default=None, ge=1)
    gumbel_considered: int | None = Field(default=None, ge=1)
    precision: Precision | None = None
    random_opening_plies: int | None = Field(default=None, ge=0)  # over [selfplay]'s
    search_value_weight: float | None = Field(default=None, ge=0, le=1)  # over [selfplay]'s


class SelfPlaySettings(Section):
    """Playout cap randomization (KataGo): a move gets the full self-play search, noised
    and recorded, with probability `full_search_fraction`, else a fast unrecorded one.
    `search_value_weight` mixes the search's root value into the value targets;
    `random_opening_plies` starts each game with up to that many random moves;
    `root_noise_plies` keeps root noise to each game's first plies. Per game,
    [selfplay.<game>] changes the search self-play trains with."""

    full_search_fraction: float = Field(default=1.0, gt=0, le=1)  # 1 = off
    fast_simulations: int = Field(default=8, ge=1)  # below the full search's simulations
    search_value_weight: float = Field(default=0.0, ge=0, le=1)  # 0 = the game's result
    random_opening_plies: int = Field(default=0, ge=0)  # 0 = every game from the start
    root_noise_plies: int = Field(default=-1, ge=-1)  # -1 = root noise on every ply
    tictactoe: GameSelfPlay = GameSelfPlay()
    connect4: GameSelfPlay = GameSelfPlay()
    othello: GameSelfPlay = GameSelfPlay()

    def search(self, env_id: str, mcts: MctsSettings) -> MctsSettings:
        """The search actors play `env_id` with: [mcts], with [selfplay.<env_id>] on top."""
        game: GameSelfPlay = getattr(self, env_id)
        return mcts.model_copy(update=game.model_dump(
            exclude_none=True,
            exclude={"precision", "random_opening_plies", "search_value_weight"}))

    def opening_plies(self, env_id: str) -> int:
        """The most random moves `env_id`'s self-play games open with:
        [selfplay.<env_id>] random_opening_plies, else [selfplay]'s."""
        return self._per_game(env_id, "random_opening_plies")

    def value_weight(self, env_id: str) -> float:
        """The share of the root value in `env_id`'s value targets:
        [selfplay.<env_id>] search_value_weight, else [selfplay]'s."""
        return self._per_game(env_id, "search_value_weight")

    def _per_game(self, env_id: str, key: str) -> Any:
        own = getattr(getattr(self, env_id), key)
        return getattr(self, key) if own is None else own


class InferenceSettings(Section):
    provider: Literal["auto", "cpu", "cuda", "rocm"] = "auto"
    intra_op_threads: int = Field(default=0, ge=0)
    spinning: Literal["auto", "on", "off"] = "off"
    precision: Precision = "fp32"  # the model actors play; per game: [selfplay.<game>]


class ActorSettings(Section):
    actor_id: str = ""
    concurrent_games: int = Field(ge=1, le=4096)
    max_episodes: int = Field(ge=-1)
    reload_interval: float = Field(gt=0)
    model_follow: Literal["latest", "best"] = "latest"
    seed: int = Field(default=0, ge=0)
    metrics_port: int = Field(default=0, ge=0, le=65535)


class TrainingSettings(Section):
    steps: int = Field(ge=0)
    batch_size: int = Field(ge=1)
    lr: float = Field(gt=0)
    weight_decay: float = Field(ge=0)
    grad_clip: float = Field(ge=0)
    checkpoint_interval: int = Field(ge=1)
    publish_int8: bool = False  # model.int8.onnx with every version, whatever actors play
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    lr_schedule: bool = True
    lr_min_ratio: float = Field(ge=0, le=1)
    warmup_steps: int = Field(ge=0)
    ema_decay: float = Field(default=0.0, ge=0, lt=1)
    amp: bool = True
    wait_interval: float = Field(gt=0)
    max_wait: float = Field(ge=0)
    min_positions: int = Field(ge=1)
    max_samples_per_position: float = Field(gt=0)
    prefetch_batches: int = Field(ge=1)
    stats: Path = Path("stats.json")
    seed: int = Field(default=0, ge=0)
    metrics_port: int = Field(default=0, ge=0, le=65535)
    when_done: Literal["exit", "idle"] = "exit"
    threads: int = Field(default=0, ge=0)


class ReplaySettings(Section):
    window: int = Field(ge=1)
    capacity: int = Field(ge=1)
    writer_queue_games: int = Field(ge=1)


class RunSettings(Section):
    """`cartridge run`: the whole loop on one machine."""

    actors: int = Field(default=0, ge=0, le=256)  # 0 = fit the machine
    arena: bool = True  # start the arena beside the loop (ratings, benchmarks, the gate)
    web: bool = True  # start the web service ([web] host, port) beside the loop


class WebSettings(Section):
    """`python -m web`: the play page and its API."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)  # 0 = any free port
    search_threads: int = Field(default=2, ge=1, le=64)
    max_queued: int = Field(default=8, ge=0, le=4096)
    max_simulations: int = Field(default=1600, ge=1, le=100_000)
    model_cache: int = Field(default=4, ge=1, le=64)


class ArenaSettings(Section):
    """The arena service: rates every model version, gates promotion to `best`."""

    num_simulations: int = Field(default=64, ge=1, le=100_000)
    openings: int = Field(default=0, ge=0)  # per match, 0 = the game's whole set
    history_opponents: int = Field(default=3, ge=0, le=32)
    gate: Literal["off", "match"] = "off"
    gate_confidence: float = Field(default=0.95, ge=0.5, lt=1.0)
    threads: int = Field(default=0, ge=0, le=256)  # 0 = the CPU budget
    pause: float = Field(default=1.0, ge=0)
    poll_interval: float = Field(default=5.0, gt=0)
    metrics_port: int = Field(default=0, ge=0, le=65535)
    connect4_positions: str = ""  # labelled positions file; "" = no Connect Four benchmark
    connect4_solver: bool = False  # Connect Four: a perfect anchor by BitBully (optional extra)


class StorageSettings(Section):
    replay_backend: Literal["sqlite", "postgres"] = "sqlite"
    sqlite_path: Path = Path("replay.db")
    postgres_url: str = ""
    postgres_pool_size: int = Field(default=4, ge=1, le=64)
    # Environment only (CARTRIDGE_STORAGE_POSTGRES_PASSWORD); empty = libpq's PGPASSWORD.
    postgres_password: SecretStr = SecretStr("")
    model_backend: Literal["filesystem", "s3"] = "filesystem"
    model_dir: Path = Path("models")
    # Retention (modelstore/retention.py): newest versions kept, 0 = keep every version;
    # every N-th version kept as a thinned history, 0 = none.
    model_keep_last: int = Field(default=20, ge=0)
    model_keep_every: int = Field(default=50, ge=0)
    # S3 / MinIO model store (model_backend = "s3").
    s3_endpoint: str = "localhost:9000"
    s3_bucket: str = Field(default="cartridge", pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    s3_prefix: str = Field(default="models", pattern=r"^[A-Za-z0-9._/-]*$")
    s3_region: str = ""
    s3_secure: bool = False
    s3_credentials_file: str = ""
    # Environment only (see _ENVIRONMENT_ONLY_KEYS); SecretStr keeps them out of reprs.
    s3_access_key: SecretStr = SecretStr("")
    s3_secret_key: SecretStr = SecretStr("")
    # The journal (matches, ratings, promotions, training history): SQLite or PostgreSQL.
    journal_backend: Literal["sqlite", "postgres"] = "sqlite"
    journal_sqlite_path: Path = Path("journal.db")

    @field_validator("s3_endpoint")
    @classmethod
    def _host_port(cls, value: str) -> str:
        if not value or "://" in value or "/" in value:
            raise ValueError("give host:port without scheme or path; s3_secure chooses TLS")
        return value


class Settings(BaseSettings):
    """Every section; see config.toml for what each key does."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True)

    common: CommonSettings
    network: NetworkSettings
    mcts: MctsSettings
    selfplay: SelfPlaySettings = SelfPlaySettings()
    inference: InferenceSettings
    actor: ActorSettings
    training: TrainingSettings
    replay: ReplaySettings
    storage: StorageSettings
    run: RunSettings = RunSettings()
    web: WebSettings = WebSettings()
    arena: ArenaSettings = ArenaSettings()

    @model_validator(mode="after")
    def _fast_search_fits(self) -> Settings:
        if self.selfplay.full_search_fraction == 1:
            return self  # off: the fast budget is never used
        env_id, fast = self.common.env_id, self.selfplay.fast_simulations
        full = self.selfplay.search(env_id, self.mcts).num_simulations
        if fast >= full:
            key = (f"selfplay.{env_id}.num_simulations"
                   if getattr(self.selfplay, env_id).num_simulations is not None
                   else "mcts.num_simulations")
            raise ValueError(
                f"selfplay.fast_simulations = {fast} must be less than {key} = {full} "
                f"({env_id}'s self-play search; a fast search is a shorter full one)")
        return self

    def actor_precision(self, env_id: str) -> Precision:
        """The model actors play `env_id` with: [selfplay.<env_id>] precision, else
        [inference] precision."""
        game: GameSelfPlay = getattr(self.selfplay, env_id)
        return game.precision or self.inference.precision

    def publishes_int8(self, env_id: str) -> bool:
        """Whether the trainer of `env_id` publishes model.int8.onnx with each version:
        [training] publish_int8, or this game's actors play int8 (they skip a version
        without one)."""
        return self.training.publish_int8 or self.actor_precision(env_id) == "int8"

    def data_path(self, path: Path) -> Path:
        """Relative paths in [storage] and [training] live under [common] data_dir."""
        return path if path.is_absolute() else self.common.data_dir / path

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Sources are merged by load_settings() so each can be checked and named.
        return (init_settings,)


def _section_fields(model: type[BaseModel]) -> dict[str, Any]:
    return {name: field.annotation for name, field in model.model_fields.items()}


def _environment_overrides(environ: dict[str, str]) -> dict[str, Any]:
    """Map CARTRIDGE_<SECTION>_<KEY> (nested: CARTRIDGE_NETWORK_CONNECT4_BLOCKS) to a dict."""
    result: dict[str, Any] = {}
    for variable, value in environ.items():
        if (not variable.startswith(ENV_PREFIX) or variable in _NON_KEY_VARIABLES
                or variable.startswith(_NON_KEY_PREFIXES)):
            continue
        path = _resolve_variable(variable[len(ENV_PREFIX):].lower(), Settings)
        if path is None:
            raise SettingsError(
                f"unknown environment variable {variable}: it names no setting "
                f"(expected CARTRIDGE_<SECTION>_<KEY>, e.g. CARTRIDGE_COMMON_ENV_ID)"
            )
        node = result
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return result


def _resolve_variable(rest: str, model: type[BaseModel]) -> list[str] | None:
    for name, annotation in _section_fields(model).items():
        if rest == name and not _is_model(annotation):
            return [name]
        if rest.startswith(name + "_") and _is_model(annotation):
            tail = _resolve_variable(rest[len(name) + 1:], annotation)
            if tail is not None:
                return [name, *tail]
    return None


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def default_config_path() -> Path:
    return Path(os.environ.get("CARTRIDGE_CONFIG", "config.toml"))


def load_settings(
    config_path: Path | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """config.toml < environment < overrides (flags), validated as a whole.

    `overrides` is {section: {key: value}} with None values left out.
    """
    path = config_path or default_config_path()
    try:
        with path.open("rb") as handle:
            from_file = tomllib.load(handle)
    except FileNotFoundError:
        raise SettingsError(
            f"config file not found: {path.resolve()} (pass --config PATH or set "
            "CARTRIDGE_CONFIG; the repository's config.toml holds every default)"
        ) from None
    except tomllib.TOMLDecodeError as err:
        raise SettingsError(f"config file {path} is not valid TOML: {err}") from None

    from_env = _environment_overrides(dict(os.environ if environ is None else environ))
    from_flags = {s: {k: v for k, v in keys.items() if v is not None}
                  for s, keys in (overrides or {}).items()}
    _reject_environment_only(from_file, f"config file {path}")
    _reject_environment_only(from_flags, "command-line flags")
    merged = _deep_merge(_deep_merge(from_file, from_env), from_flags)
    try:
        return Settings(**merged)
    except ValidationError as err:
        raise SettingsError(_describe(err, path)) from None


def _reject_environment_only(source: dict[str, Any], where: str) -> None:
    for (section, key), alternative in _ENVIRONMENT_ONLY_KEYS.items():
        if isinstance(source.get(section), dict) and key in source[section]:
            variable = f"{ENV_PREFIX}{section.upper()}_{key.upper()}"
            raise SettingsError(
                f"{section}.{key} must not be set in {where}: credentials come only from "
                f"the environment variable {variable} or {alternative}"
            )


def _describe(err: ValidationError, path: Path) -> str:
    lines = [f"invalid configuration ({path}, CARTRIDGE_* environment, flags):"]
    for problem in err.errors():
        key = ".".join(str(part) for part in problem["loc"])
        if problem["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key")
        elif problem["type"] == "missing":
            lines.append(f"  {key}: missing")
        elif not key:  # a check across keys; its message names them
            lines.append(f"  {problem['msg'].removeprefix('Value error, ')}")
        else:
            lines.append(f"  {key} = {problem.get('input')!r}: {problem['msg']}")
    return "\n".join(lines)
