"""BERT-style masked language modelling as an engine task (`task.name = mlm`; Devlin et
al. 2019, notes F3:2560-2905).

`mask_tokens`: each ordinary token (not [PAD]/[CLS]/[SEP]/[MASK]) is chosen with
probability `p` = 0.15; of the chosen, 80% become [MASK], 10% a random ordinary token and
10% stay as they are. The encoder (`TextEncoder.mlm_logits`) predicts the original token
at the chosen positions only (cross-entropy over them; the rest are not scored).

Validation masks each batch with a generator seeded from the run's seed and the batch's
content (the same positions at every evaluation, so epochs compare) and reports `loss`,
`masked_acc` (the fraction of chosen positions predicted right, the primary metric) and
`unigram_acc`: the accuracy of always answering the most frequent ordinary token of the
training split, the baseline an MLM has to beat.
"""

from __future__ import annotations

from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from trainlab.data.bundle import Split
from trainlab.data.text import TOKENIZER, CharTokenizer, require_tokens
from trainlab.errors import ConfigError
from trainlab.metrics import MeanMetrics, RunningMetrics
from trainlab.train.step import Step
from trainlab.train.task import Task, TaskContext


def mask_tokens(
    tokens: Tensor,
    generator: torch.Generator,
    *,
    tokenizer: CharTokenizer = TOKENIZER,
    p: float = 0.15,
    p_mask: float = 0.8,
    p_random: float = 0.1,
) -> tuple[Tensor, Tensor]:
    """`(inputs, chosen)`: the corrupted (B, L) ids and the (B, L) bool positions to predict."""
    if not 0 < p < 1:
        raise ValueError(f"p: expected a probability in (0, 1), got {p!r}")
    if not (p_mask >= 0 and p_random >= 0 and p_mask + p_random <= 1):
        raise ValueError(
            f"p_mask, p_random: expected >= 0 with a sum <= 1, got {p_mask!r}, {p_random!r}"
        )
    first = len(tokenizer.specials)  # ordinary tokens are ids first..vocab_size-1
    ordinary = tokens >= first
    u = torch.rand(tokens.shape, generator=generator, device=tokens.device)
    chosen = ordinary & (u < p)
    v = torch.rand(tokens.shape, generator=generator, device=tokens.device)
    rand_ids = torch.randint(
        first, tokenizer.vocab_size, tokens.shape, generator=generator, device=tokens.device
    )
    inputs = torch.where(chosen & (v < p_mask), tokenizer.mask_id, tokens)
    to_random = chosen & (v >= p_mask) & (v < p_mask + p_random)
    return torch.where(to_random, rand_ids, inputs), chosen


class MLMTask(Task):
    """Masked-token prediction with the text encoder; `p`: the chosen fraction (0.15)."""

    def __init__(self, p: float = 0.15, p_mask: float = 0.8, p_random: float = 0.1) -> None:
        super().__init__()
        if not 0 < p < 1:
            raise ValueError(f"task.args.p: expected a probability in (0, 1), got {p!r}")
        self.p, self.p_mask, self.p_random = float(p), float(p_mask), float(p_random)

    def setup(self, ctx: TaskContext) -> None:
        require_tokens(ctx.data, "mlm")
        train = cast(Split, ctx.data.train)
        name = ctx.config.model.name
        model = ctx.create_model("text_encoder" if name == "auto" else name)
        if not hasattr(model, "mlm_logits"):
            raise ConfigError(f"task.name = 'mlm' needs an encoder (text_encoder); got {name!r}")
        self.modules = {"model": model}
        self.seed = ctx.config.seed
        self.generator = torch.Generator(ctx.device).manual_seed(self.seed)
        ids = train.x[train.x >= len(TOKENIZER.specials)]
        self.unigram = int(torch.bincount(ids.flatten()).argmax())  # most frequent token

    @property
    def model(self) -> nn.Module:
        return self.modules["model"]

    def _loss(self, x: Tensor, gen: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        inputs, chosen = mask_tokens(x, gen, p=self.p, p_mask=self.p_mask, p_random=self.p_random)
        logits = cast(Any, self.model).mlm_logits(inputs)  # (B, L, V)
        loss = F.cross_entropy(logits[chosen], x[chosen]) if chosen.any() else logits.sum() * 0
        return loss, logits, chosen

    def training_step(self, batch: Any, step: Step) -> None:
        x, _ = batch
        loss, _, _ = self._loss(x, self.generator)
        step.backward(loss)
        step.update()
        step.log("loss", loss)

    def validation_step(self, batch: Any, metrics: RunningMetrics) -> None:
        assert isinstance(metrics, MeanMetrics)
        x, _ = batch
        gen = torch.Generator(x.device).manual_seed(self.seed * 1_000_003 + int(x.sum()))
        loss, logits, chosen = self._loss(x, gen)
        n = int(chosen.sum())
        target = x[chosen]
        metrics.add("loss", loss, n)
        metrics.add("masked_acc", (logits[chosen].argmax(-1) == target).float().mean(), n)
        metrics.add("unigram_acc", (target == self.unigram).float().mean(), n)

    def metrics(self, device: torch.device, *, detailed: bool = False) -> RunningMetrics:
        return MeanMetrics(device, primary="masked_acc", higher_is_better=True)

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
