"""Supervised fine-tuning of a small language model as an engine task (`task.name = sft`;
notes F3:4598-4667).

Each batch holds whole sequences `[CLS] prompt answer [SEP]` (the `arith` corpus); the
decoder reads them with teacher forcing and `trainlab.losses.sft_loss` scores only the
answer tokens (those after `sep`, default "="). Validation reports

- `loss`: the answer-token cross-entropy (a per-token mean, the best-checkpoint metric),
- `token_acc`: teacher-forced next-token accuracy on answer tokens,
- `exact`: the fraction of prompts whose greedy continuation (`TextDecoder.generate`,
  stopping at [SEP]) is exactly the answer.

The model is the config's (`model.name`, default `text_decoder`), built through the
engine, so `model.pretrained` and the `finetune` section (LoRA, adapters, prefix) apply.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from trainlab.data.text import TOKENIZER, answer_mask, require_tokens
from trainlab.errors import ConfigError
from trainlab.losses.sft import sft_loss
from trainlab.metrics import MeanMetrics, RunningMetrics
from trainlab.train.step import Step
from trainlab.train.task import Task, TaskContext


def greedy_exact(model: Any, tokens: Tensor, sep_id: int, stop_id: int) -> Tensor:
    """(B,) bool: whether greedy decoding after each row's `sep` reproduces its answer
    (the tokens after `sep` up to and including `stop_id`); `model` has `generate` (a
    `TextDecoder`, possibly wrapped by a fine-tuning method). Rows are decoded in groups of
    equal prompt length, so every prompt is its own unpadded prefix."""
    cut = (tokens == sep_id).int().argmax(1) + 1  # prompt lengths (B,)
    ok = torch.zeros(tokens.shape[0], dtype=torch.bool, device=tokens.device)
    for length in cut.unique().tolist():
        rows = (cut == length).nonzero().squeeze(1)
        seqs = tokens[rows]
        out = model.generate(seqs[:, :length], tokens.shape[1] - length, stop_id=stop_id)
        want, got = seqs[:, length:], out[:, length:]
        got = torch.nn.functional.pad(got, (0, want.shape[1] - got.shape[1]), value=stop_id)
        real = want != TOKENIZER.pad_id  # compare the answer and its [SEP]; ignore padding
        ok[rows] = ((got == want) | ~real).all(1)
    return ok


class SFTTask(Task):
    """Next-token cross-entropy on answer tokens; `sep`: the token that ends a prompt."""

    def __init__(self, sep: str = "=", exact: bool = True) -> None:
        super().__init__()
        self.sep_id = TOKENIZER.id(sep)
        self.exact = bool(exact)

    def setup(self, ctx: TaskContext) -> None:
        require_tokens(ctx.data, "sft")
        name = ctx.config.model.name
        model = ctx.create_model("text_decoder" if name == "auto" else name)
        if not hasattr(model, "generate"):
            raise ConfigError(
                f"task.name = 'sft' needs a language model (text_decoder); got {name!r}"
            )
        self.modules = {"model": model}

    @property
    def model(self) -> nn.Module:
        return self.modules["model"]

    def _loss(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        logits = self.model(x)  # (B, L, V), teacher forcing: the true tokens are the input
        mask = answer_mask(x)
        return sft_loss(logits, x, mask), logits, mask

    def training_step(self, batch: Any, step: Step) -> None:
        x, _ = batch
        loss, _, _ = self._loss(x)
        step.backward(loss)
        step.update()
        step.log("loss", loss)

    def validation_step(self, batch: Any, metrics: RunningMetrics) -> None:
        assert isinstance(metrics, MeanMetrics)
        x, _ = batch
        loss, logits, mask = self._loss(x)
        keep = mask[:, 1:]
        n = int(keep.sum())
        hits = (logits[:, :-1].argmax(-1) == x[:, 1:]) & keep
        metrics.add("loss", loss, n)
        metrics.add("token_acc", hits.sum() / max(n, 1), n)
        if self.exact:
            ok = greedy_exact(self.model, x, self.sep_id, TOKENIZER.sep_id)
            metrics.add("exact", ok.float().mean(), len(x))
