"""The AlphaZero loss: policy cross-entropy against the search's policy target (the
root visit distribution, or Gumbel's improved policy) plus a value loss against the
value target (the game's result, maybe mixed with the search's value): squared error
for a scalar value head, cross-entropy for a win/draw/loss head."""

from __future__ import annotations

import torch
from torch.nn import functional

# Logit given to illegal actions: the network is trained on the same masked
# softmax the actors use, so it spends no capacity on learning the rules.
_ILLEGAL_LOGIT = -1e9


def alphazero_loss(
    policy_logits: torch.Tensor,  # [B, A]
    values: torch.Tensor,  # [B] in [-1, 1], or [B, 3] win/draw/loss logits
    target_policies: torch.Tensor,  # [B, A], rows sum to 1, zero on illegal actions
    legal_masks: torch.Tensor,  # [B, A] bool
    target_values: torch.Tensor,  # [B] game outcome for the side to move
) -> tuple[torch.Tensor, torch.Tensor]:
    """(policy_loss, value_loss), each a float32 scalar averaged over the batch."""
    logits = policy_logits.float().masked_fill(~legal_masks, _ILLEGAL_LOGIT)
    policy_loss = -(target_policies * functional.log_softmax(logits, dim=1)).sum(dim=1).mean()
    if values.ndim == 1:
        value_loss = functional.mse_loss(values.float(), target_values)
    else:
        value_loss = -(outcome_distribution(target_values)
                       * functional.log_softmax(values.float(), dim=1)).sum(dim=1).mean()
    return policy_loss, value_loss


def outcome_distribution(target_values: torch.Tensor) -> torch.Tensor:
    """[B] targets in [-1, 1] -> [B, 3] (win, draw, loss) probabilities whose expected
    value P(win) - P(loss) is the target: results 1 / 0 / -1 are one class each, and a
    target between two results (a result mixed with a search value) splits between them."""
    win = target_values.clamp(min=0)
    loss = (-target_values).clamp(min=0)
    return torch.stack([win, 1 - win - loss, loss], dim=1)
