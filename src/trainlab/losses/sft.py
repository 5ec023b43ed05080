"""The supervised fine-tuning loss: next-token cross-entropy with teacher forcing over the
answer tokens only (notes F3:4598-4667).

    L_SFT = - sum_i sum_{t in answer_i} log P(y_{i,t} | y_{i,<t}, x_i)

With a causal language model's logits `z` (B, L, V) over the whole sequence (prompt and
answer, the true tokens fed in: teacher forcing), position t predicts token t + 1, so
the logits `z[:, :-1]` are scored against `tokens[:, 1:]` where `answer_mask[:, 1:]` is
True; prompt and padding positions contribute nothing. `reduction='mean'` divides by the
number of answer tokens in the batch (the usual per-token mean, as Hugging Face's
`ignore_index=-100` labels give), `'sum'` is the notes' sum, `'none'` the (B, L-1) terms
(zero off the answer).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from trainlab.losses._common import check_reduction


def sft_loss(
    logits: Tensor, tokens: Tensor, answer_mask: Tensor, reduction: str = "mean"
) -> Tensor:
    """`logits` (B, L, V), `tokens` (B, L) ids, `answer_mask` (B, L) bool: True at answer
    tokens (the targets)."""
    check_reduction(reduction)
    if logits.ndim != 3 or tokens.shape != logits.shape[:2] or answer_mask.shape != tokens.shape:
        raise ValueError(
            f"sft_loss: expected logits (B, L, V) with tokens and answer_mask (B, L); got "
            f"{tuple(logits.shape)}, {tuple(tokens.shape)}, {tuple(answer_mask.shape)}"
        )
    target = tokens[:, 1:]  # (B, L-1): position t predicts token t+1
    keep = answer_mask[:, 1:].bool()
    terms = F.cross_entropy(logits[:, :-1].transpose(1, 2), target, reduction="none")
    terms = terms * keep  # (B, L-1), zero at prompt and padding
    if reduction == "none":
        return terms
    if reduction == "sum":
        return terms.sum()
    return terms.sum() / keep.sum().clamp(min=1)


class SFTLoss(nn.Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        check_reduction(reduction)
        self.reduction = reduction

    def forward(self, logits: Tensor, tokens: Tensor, answer_mask: Tensor) -> Tensor:
        return sft_loss(logits, tokens, answer_mask, self.reduction)
