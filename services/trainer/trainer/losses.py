"""The AlphaZero loss: policy cross-entropy against the search's policy target (the
root visit distribution, or Gumbel's improved policy) plus value mean squared error
against the game outcome."""

from __future__ import annotations

import torch
from torch.nn import functional

# Logit given to illegal actions: the network is trained on the same masked
# softmax the actors use, so it spends no capacity on learning the rules.
_ILLEGAL_LOGIT = -1e9


def alphazero_loss(
    policy_logits: torch.Tensor,  # [B, A]
    values: torch.Tensor,  # [B] in [-1, 1]
    target_policies: torch.Tensor,  # [B, A], rows sum to 1, zero on illegal actions
    legal_masks: torch.Tensor,  # [B, A] bool
    target_values: torch.Tensor,  # [B] game outcome for the side to move
) -> tuple[torch.Tensor, torch.Tensor]:
    """(policy_loss, value_loss), each a float32 scalar averaged over the batch."""
    logits = policy_logits.float().masked_fill(~legal_masks, _ILLEGAL_LOGIT)
    policy_loss = -(target_policies * functional.log_softmax(logits, dim=1)).sum(dim=1).mean()
    value_loss = functional.mse_loss(values.float(), target_values)
    return policy_loss, value_loss
