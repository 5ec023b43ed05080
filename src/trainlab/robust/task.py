"""Adversarial training and backdoor runs as engine tasks.

Adversarial training solves the notes' min-max problem (F3:3700-3760)

    min_theta E_(x, y) [ max_{||delta||_p <= eps} L(theta, x + delta, y) ]

by approximating the inner max with an attack on every training batch and taking the
optimizer step on the attacked batch:

- `robust.method = pgd`: PGD with a random start, `robust.steps` steps of
  alpha = 2.5 * eps / steps (Madry et al. 2018, "Towards deep learning models resistant to
  adversarial attacks");
- `robust.method = fgsm`: "fast" adversarial training, one FGSM step of alpha = 1.25 * eps
  from a uniform random point of the ball, projected back (Wong, Rice and Kolter 2020,
  "Fast is better than free"): PGD with steps = 1.

`robust.mix` is the fraction of each batch replaced by its adversarial examples (the first
round(mix * B) of a shuffled batch; 1: Madry's all-adversarial training, 0.5: Goodfellow
et al.'s half-and-half). The attack runs on the model in eval mode (`attack_mode`), so it
neither updates batch-norm statistics nor touches the gradients; its random start is drawn
from the task's own generator, which is checkpointed: resume stays bit-exact.

`BackdoorTask` is supervised training that also reports the backdoor's attack success rate
on triggered validation and test inputs (`attack_success`); the poisoned training split
comes from `robust.poison_rate` (see `trainlab.robust.poison`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from trainlab.errors import ConfigError
from trainlab.metrics import ClassificationMetrics, RunningMetrics
from trainlab.robust.attacks import pgd
from trainlab.robust.config import input_space, trigger_of
from trainlab.train.supervised import SupervisedTask
from trainlab.train.task import TaskContext

#: offset added to the run's seed for the attack's generator
ATTACK_SEED_OFFSET = 104729


class AdversarialTask(SupervisedTask):
    """PGD (Madry) or fast-FGSM (Wong) adversarial training; see the module docstring."""

    def setup(self, ctx: TaskContext) -> None:
        super().setup(ctx)
        if self.kind != "classification":
            raise ConfigError(f"task.name = 'adversarial': needs classification, not {self.kind}")
        r = ctx.config.robust
        self.method, self.mix = r.method, r.mix
        self.steps = r.steps if r.method == "pgd" else 1
        alpha = r.alpha
        if alpha is None:
            alpha = 2.5 * r.eps / r.steps if r.method == "pgd" else 1.25 * r.eps
        self.threat = input_space(ctx.data, ctx.config).threat(r.eps, alpha, r.norm)
        self.bounds = tuple(b.to(ctx.device) for b in self.threat.bounds or ())
        self.eps = self.threat.eps.to(ctx.device)
        self.alpha = self.threat.alpha.to(ctx.device)  # type: ignore[union-attr]
        self.generator = torch.Generator(ctx.device).manual_seed(
            ctx.config.seed + ATTACK_SEED_OFFSET
        )

    def train_inputs(self, x: Tensor, target: Tensor) -> Tensor:
        k = round(self.mix * x.shape[0])
        if k == 0 or not bool(self.eps.max() > 0):
            return x
        low, high = self.bounds
        head = torch.maximum(torch.minimum(x[:k], high), low)  # augmented inputs may stray
        adv = pgd(
            self.model,
            head,
            target[:k],
            self.eps,
            self.alpha,
            self.steps,
            norm=self.threat.norm,
            random_start=True,
            bounds=(low, high),
            generator=self.generator,
        )
        return adv if k == x.shape[0] else torch.cat([adv, x[k:]])

    def state_dict(self) -> dict[str, Any]:
        return super().state_dict() | {"attack_generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.generator.set_state(state["attack_generator"].cpu())


class BackdoorMetrics(ClassificationMetrics):
    """Classification metrics plus `attack_success`: the fraction of triggered inputs of a
    true class other than the target that the model assigns to the target."""

    def reset(self) -> None:
        super().reset()
        self.state["bd_hits"] = self._zeros(dtype=torch.int64)
        self.state["bd_count"] = self._zeros(dtype=torch.int64)

    def add_triggered(self, output: Tensor, target: Tensor, target_class: int) -> None:
        keep = target != target_class
        self.state["bd_hits"] += ((output.argmax(1) == target_class) & keep).sum()
        self.state["bd_count"] += keep.sum()

    def compute(self) -> dict[str, float]:
        out = super().compute()
        if int(self.state["bd_count"]):
            out["attack_success"] = float(self.state["bd_hits"]) / float(self.state["bd_count"])
        return out


class BackdoorTask(SupervisedTask):
    """Supervised training whose evaluation also measures the backdoor's attack success."""

    def setup(self, ctx: TaskContext) -> None:
        super().setup(ctx)
        if self.kind != "classification":
            raise ConfigError(f"task.name = 'backdoor': needs classification, not {self.kind}")
        space = input_space(ctx.data, ctx.config)
        self.trigger = trigger_of(space, ctx.data.in_shape, ctx.config)
        self.target_class = ctx.config.robust.poison_target

    def metrics(self, device: torch.device, *, detailed: bool = False) -> RunningMetrics:
        return BackdoorMetrics(device, ignore_index=self.ignore_index, detailed=detailed)

    def validation_step(self, batch: Any, metrics: RunningMetrics) -> None:
        super().validation_step(batch, metrics)
        x, y = batch
        if isinstance(metrics, BackdoorMetrics):
            out = self.model(self._inputs(self.trigger.apply(x)))
            metrics.add_triggered(out, y, self.target_class)
