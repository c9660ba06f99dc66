"""The policy/value network: a residual conv trunk (board games) or a small MLP (tic-tac-toe).

Both map observations [B, C, H, W] float32 to (policy_logits [B, A], value output),
from the side to move's point of view. The value output is, by `value_head`, either a
value [B] squashed by tanh into [-1, 1] ("scalar") or win/draw/loss logits [B, 3]
("wdl"; `expected_value` turns them into the scalar that searches read). Layout follows
AlphaZero: 3x3 conv stem, residual blocks, a 2-filter policy head and a 1-filter value
head.
"""

from __future__ import annotations

import torch
from torch import nn

from cartridge.config.settings import NetworkConfig
from cartridge.games.base import Game

# Filters of the 1x1 convolutions that open each head (the AlphaZero paper's sizes).
_POLICY_FILTERS = 2
_VALUE_FILTERS = 1
# Outputs of each value head kind; "wdl" classes in the order win, draw, loss.
_VALUE_OUTPUTS = {"scalar": 1, "wdl": 3}


def build_network(game: Game, config: NetworkConfig) -> nn.Module:
    """A freshly initialised network for `game` shaped by `config`."""
    shape = (game.observation_shape, game.num_actions, config.blocks, config.channels,
             config.value_head)
    if config.kind == "resnet":
        return ResNet(*shape)
    if config.kind == "mlp":
        return Mlp(*shape)
    raise ValueError(f"unknown network kind {config.kind!r}; expected 'resnet' or 'mlp'")


def expected_value(value_output: torch.Tensor) -> torch.Tensor:
    """The value in [-1, 1] a network's value output stands for: the output itself from a
    scalar head [B], P(win) - P(loss) from a win/draw/loss head's logits [B, 3]."""
    if value_output.ndim == 1:
        return value_output
    probabilities = torch.softmax(value_output, dim=1)
    return probabilities[:, 0] - probabilities[:, 2]


def _value_activation(raw: torch.Tensor, value_head: str) -> torch.Tensor:
    """[B, 1] -> tanh value [B] for a scalar head; [B, 3] logits pass unchanged."""
    return torch.tanh(raw).squeeze(1) if value_head == "scalar" else raw


def _conv_bn(in_channels: int, out_channels: int, kernel: int) -> nn.Sequential:
    # No conv bias: the batch norm that follows has its own shift.
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_channels),
    )


class ResidualBlock(nn.Module):
    """conv-BN-ReLU-conv-BN, plus the input, then ReLU."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.first = _conv_bn(channels, channels, 3)
        self.second = _conv_bn(channels, channels, 3)
        # Zero the last BN scale so each block starts as the identity: deep
        # stacks then train as stably as shallow ones from step 0.
        nn.init.zeros_(self.second[1].weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.second(torch.relu(self.first(x))))


class ResNet(nn.Module):
    def __init__(
        self,
        observation_shape: tuple[int, int, int],
        num_actions: int,
        blocks: int,
        channels: int,
        value_head: str,
    ) -> None:
        super().__init__()
        self.value_head = value_head
        in_channels, height, width = observation_shape
        cells = height * width
        self.stem = _conv_bn(in_channels, channels, 3)
        self.trunk = nn.Sequential(*(ResidualBlock(channels) for _ in range(blocks)))
        self.policy_conv = _conv_bn(channels, _POLICY_FILTERS, 1)
        self.policy_out = nn.Linear(_POLICY_FILTERS * cells, num_actions)
        self.value_conv = _conv_bn(channels, _VALUE_FILTERS, 1)
        self.value_hidden = nn.Linear(_VALUE_FILTERS * cells, channels)
        self.value_out = nn.Linear(channels, _VALUE_OUTPUTS[value_head])
        _init_weights(self)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.trunk(torch.relu(self.stem(obs)))  # [B, channels, H, W]
        # flatten (not view) copes with channels_last memory layout.
        policy = self.policy_out(torch.flatten(torch.relu(self.policy_conv(x)), 1))  # [B, A]
        v = torch.relu(self.value_hidden(torch.flatten(torch.relu(self.value_conv(x)), 1)))
        value = _value_activation(self.value_out(v), self.value_head)  # [B] or [B, 3]
        # Under bfloat16 autocast the heads come out in bf16; losses want float32.
        return policy.float(), value.float()


class Mlp(nn.Module):
    """Flattened planes -> `blocks` hidden ReLU layers of `channels` units -> two heads."""

    def __init__(
        self,
        observation_shape: tuple[int, int, int],
        num_actions: int,
        blocks: int,
        channels: int,
        value_head: str,
    ) -> None:
        super().__init__()
        self.value_head = value_head
        in_features = observation_shape[0] * observation_shape[1] * observation_shape[2]
        layers: list[nn.Module] = []
        for i in range(blocks):
            layers += [nn.Linear(in_features if i == 0 else channels, channels), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.policy_out = nn.Linear(channels, num_actions)
        self.value_out = nn.Linear(channels, _VALUE_OUTPUTS[value_head])
        _init_weights(self)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.body(torch.flatten(obs, 1))  # [B, channels]
        policy = self.policy_out(x)  # [B, A]
        value = _value_activation(self.value_out(x), self.value_head)  # [B] or [B, 3]
        return policy.float(), value.float()


def _init_weights(model: nn.Module) -> None:
    """He init for ReLU layers; near-zero output layers so a fresh network plays
    close to the uniform evaluator (flat priors, value ~0) instead of random biases."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d | nn.Linear):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    for head in (model.policy_out, model.value_out):
        nn.init.normal_(head.weight, std=1e-3)
        nn.init.zeros_(head.bias)
