"""DANN (Ganin et al. 2016) as an engine task: a feature extractor G_f, a label classifier
G_y and a domain classifier G_d behind a gradient reversal layer.

    min_{G_f, G_y} max_{G_d}   L_y(G_y(G_f(x_s)), y_s) - lambda L_d(G_d(G_f(x)), d)

One backward pass of  L_y + w L_d(G_d(R_lambda(G_f(x))), d)  does both: G_d descends on L_d,
while the reversal layer R makes G_f ascend on it, i.e. learn features the domain classifier
cannot tell apart (d = 0 for source, 1 for target samples; lambda follows `dann_lambda` over
the training progress). `adapt.method = source_only` trains the same networks without the
domain term: the baseline. `adapt.entropy = w` adds w mean_t H(G_y(G_f(x_t))) on the target
batch (entropy minimization, the low-density separation of the notes: DANN aligns only the
marginal feature distributions, and a decision boundary through a dense target region is
pushed out of it; as in VADA, Shu et al. 2018).

Each training batch of labelled source samples is paired with an equal batch of unlabelled
target samples, drawn by the task's own seeded generator (checkpointed: resume is exact).
Validation reports the source accuracy (`acc`, which selects the checkpoint: target labels
are never used for any choice) and, for information, the target-domain test accuracy
(`target_acc`). The target is prepared with the *source's* training statistics: the shift
between the domains is what DANN must bridge.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from trainlab.adapt.grl import dann_lambda, grad_reverse
from trainlab.adapt.target import TargetDomain, target_domain
from trainlab.errors import ConfigError
from trainlab.losses import logit_entropy
from trainlab.metrics import MeanMetrics
from trainlab.train.build import build_model
from trainlab.train.task import Task, TaskContext


class DANNTask(Task):
    """`task.name: dann` with the `adapt` config section (see the module doc)."""

    def setup(self, ctx: TaskContext) -> None:
        a, d = ctx.config.adapt, ctx.data
        if d.task != "classification":
            raise ConfigError(f"task dann trains a classifier; the data's task is {d.task}")
        self.cfg = a
        self.modules = {
            "features": build_model(ctx.config, a.feature_dim, d.in_shape),
            "classifier": nn.Sequential(nn.ReLU(), nn.Linear(a.feature_dim, d.num_outputs)),
            "domain": nn.Sequential(
                nn.ReLU(), nn.Linear(a.feature_dim, a.hidden), nn.ReLU(), nn.Linear(a.hidden, 2)
            ),
        }
        self.target: TargetDomain = target_domain(ctx.config, d)
        self.generator = torch.Generator().manual_seed(ctx.config.seed + 7919)
        t = ctx.config.train
        per_epoch = max(1, len(d.train) // ctx.config.data.batch_size // t.accumulate)  # type: ignore[arg-type]
        self.total_updates = max(1, t.epochs * per_epoch)
        self._target_pending = True
        self._source_test: Any = d.test if hasattr(d.test, "x") else None

    # ------------------------------------------------------------------ helpers
    def classify(self, x: Tensor) -> Tensor:
        return self.modules["classifier"](self.modules["features"](x))

    def lambda_at(self, update: int) -> float:
        return dann_lambda(update / self.total_updates, self.cfg.gamma)

    def _target_batch(self, n: int, device: torch.device) -> Tensor:
        x = self.target.train_x
        idx = torch.randint(0, len(x), (n,), generator=self.generator)
        return x[idx].to(device, non_blocking=True)

    # ------------------------------------------------------------------ the maths
    def training_step(self, batch: Any, step: Any) -> None:
        xs, ys = batch
        with step.autocast():
            if self.cfg.method == "source_only":
                loss = F.cross_entropy(self.classify(xs), ys)
            else:
                xt = self._target_batch(len(xs), xs.device)
                f = self.modules["features"](torch.cat([xs, xt]))
                cls = F.cross_entropy(self.modules["classifier"](f[: len(xs)]), ys)
                lam = self.lambda_at(step.index)
                dom_out = self.modules["domain"](grad_reverse(f, lam))
                d = torch.cat([torch.zeros(len(xs)), torch.ones(len(xt))]).long().to(xs.device)
                dom = F.cross_entropy(dom_out, d)
                loss = cls + self.cfg.domain_weight * dom
                if self.cfg.entropy > 0:
                    ent = logit_entropy(self.modules["classifier"](f[len(xs) :]))  # mean_i H(p_i)
                    loss = loss + self.cfg.entropy * ent
                    step.log("target_entropy", ent)
                step.log("domain_loss", dom)
                step.log("domain_acc", (dom_out.argmax(1) == d).float().mean())
                step.log("lambda", lam)
        step.backward(loss)
        step.update()
        step.log("loss", loss)

    def metrics(self, device: torch.device, *, detailed: bool = False) -> Any:
        self._target_pending = True  # a new evaluation: score the target split once in it
        return MeanMetrics(device, primary="acc", higher_is_better=True)

    def validation_step(self, batch: Any, metrics: Any) -> None:
        x, y = batch
        out = self.classify(x)
        metrics.add("loss", F.cross_entropy(out, y), len(x))
        metrics.add("acc", (out.argmax(1) == y).float().mean(), len(x))
        if self.target.test_y is not None and self._target_pending:
            self._target_pending = False  # once per evaluation: the whole target test split
            metrics.add("target_acc", self.target_accuracy(x.device), len(self.target.test_x))

    @torch.no_grad()
    def target_accuracy(self, device: torch.device, batch_size: int = 512) -> float:
        tx, ty = self.target.test_x, self.target.test_y
        assert ty is not None
        hits = 0
        for i in range(0, len(tx), batch_size):
            out = self.classify(tx[i : i + batch_size].to(device))
            hits += int((out.argmax(1).cpu() == ty[i : i + batch_size]).sum())
        return hits / len(tx)

    @torch.no_grad()
    def embed(self, x: Tensor, batch_size: int = 512) -> Tensor:
        """G_f's features of `x` (for the embedding plot)."""
        f = self.modules["features"]
        dev = next(f.parameters()).device
        return torch.cat(
            [f(x[i : i + batch_size].to(dev)).cpu() for i in range(0, len(x), batch_size)]
        )

    def save_test_plots(self, metrics: Any, plots: Any) -> dict[str, str]:
        """features by domain: the PCA of source and target test features (embedding.png)."""
        from pathlib import Path

        from trainlab.adapt.embedding import embedding_figure

        src = self._source_test
        if src is None:
            return {}
        n = min(len(src.x), len(self.target.test_x), 1000)
        ty = self.target.test_y[:n] if self.target.test_y is not None else None
        title = f"{self.cfg.method}: features of the source and target test samples (PCA)"
        png = embedding_figure(
            self.embed(src.x[:n]), self.embed(self.target.test_x[:n]), src.y[:n].cpu(), ty,
            Path(plots) / "embedding.png", title,
        )  # fmt: skip
        return {"features by domain": str(png)}

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
