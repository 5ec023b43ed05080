"""SimCLR (Chen et al. 2020; notes F3:2560-2610) as the engine task `simclr`.

Per batch of images x (labels, if any, are never read during pre-training): two augmented
views v1, v2 (`trainlab.selfsup.views`), the encoder f (the config's `model` with its
linear classification head removed: `model.name = auto` gives the `cnn`), a projection
head g (Linear-ReLU-Linear to `simclr.proj_dim`), and the NT-Xent loss of
(g(f(v1)), g(f(v2))) at temperature `simclr.temperature`. One matrix product per block
of similarities, so the loss scales to large batches (`data.batch_size` in the thousands;
`trainlab.selfsup.nt_xent`).

Metrics: `loss` (NT-Xent on the evaluation data, views drawn with a generator seeded anew
per evaluation) and, when the data are labelled, `probe_acc` (primary): a linear probe
fitted on the frozen encoder's features of the training split (`trainlab.selfsup.probe`)
and scored on the evaluation split. The encoder is `encoder()` for fine-tuning.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from trainlab.data import Split
from trainlab.errors import ConfigError
from trainlab.metrics import MeanMetrics, RunningMetrics
from trainlab.selfsup.nt_xent import nt_xent
from trainlab.selfsup.probe import encode, fit_linear_probe
from trainlab.selfsup.views import two_views
from trainlab.train.registry import register_task
from trainlab.train.step import Step, eval_mode
from trainlab.train.task import OptimizerSpec, Task, TaskContext

__all__ = ["ProbeMetrics", "SimCLRTask", "strip_head"]

_EVAL_SEED = 5_000_011


def strip_head(model: nn.Module) -> tuple[nn.Module, int]:
    """`model` with its final `head` (an nn.Linear) replaced by the identity, and the
    feature size that head read."""
    head = getattr(model, "head", None)
    if not isinstance(head, nn.Linear):
        raise ConfigError(
            f"model {type(model).__name__}: expected a linear `head` to remove for the "
            "encoder (cnn, resnet, convnext and vit models have one)"
        )
    model.head = nn.Identity()
    return model, head.in_features


class ProbeMetrics(MeanMetrics):
    """`loss` means plus `probe_acc`: the evaluation features and labels are kept, and
    `compute` fits the probe with `fit` (train features -> probe) and scores them."""

    def __init__(self, device: torch.device, fit: Any) -> None:
        super().__init__(device, primary="probe_acc", higher_is_better=True)
        self._fit = fit
        self._feats: list[Tensor] = []
        self._labels: list[Tensor] = []

    def add_features(self, feats: Tensor, labels: Tensor) -> None:
        self._feats.append(feats.detach().float())
        self._labels.append(labels.detach())

    def compute(self) -> dict[str, float]:
        out = super().compute()
        if self._feats:
            probe = self._fit()
            pred = probe(torch.cat(self._feats)).argmax(1)
            out["probe_acc"] = float((pred == torch.cat(self._labels)).double().mean())
        return out


@register_task("simclr")
class SimCLRTask(Task):
    """Contrastive pre-training without labels; see the module docstring."""

    def setup(self, ctx: TaskContext) -> None:
        config, data = ctx.config, ctx.data
        self.cfg, self.data, self.device, self.seed = config.simclr, data, ctx.device, config.seed
        if len(data.in_shape) != 3:
            raise ConfigError(
                f"task.name = 'simclr' needs images (C, H, W) for its crops; {data.source} has "
                f"samples of shape {tuple(data.in_shape)}"
            )
        encoder, features = strip_head(ctx.create_model())
        c = self.cfg
        projector = nn.Sequential(
            nn.Linear(features, c.proj_hidden), nn.ReLU(), nn.Linear(c.proj_hidden, c.proj_dim)
        )
        self.modules = {"encoder": encoder, "projector": projector}
        self.gen = torch.Generator(device=ctx.device).manual_seed(self.seed)
        self._eval_gen = torch.Generator(device=ctx.device).manual_seed(self.seed + _EVAL_SEED)
        self.labeled = (
            data.labeled and data.task == "classification" and isinstance(data.train, Split)
        )

    def optimizers(self) -> dict[str, OptimizerSpec]:
        return {"main": OptimizerSpec(nn.ModuleDict(self.modules), ema=True)}

    def encoder(self) -> nn.Module:
        """The pretrained encoder: images -> features (B, F)."""
        return self.modules["encoder"]

    def _loss(self, x: Tensor, gen: torch.Generator) -> Tensor:
        c = self.cfg
        v1, v2 = two_views(
            x, generator=gen, crop_scale=c.crop_scale, flip=c.flip, jitter=c.jitter, noise=c.noise
        )
        f, g = self.modules["encoder"], self.modules["projector"]
        z = g(f(torch.cat([v1, v2])))  # one forward for both views: (2B, proj_dim)
        z1, z2 = z.chunk(2)
        return nt_xent(z1, z2, temperature=c.temperature)

    def training_step(self, batch: Any, step: Step) -> None:
        loss = self._loss(batch[0], self.gen)  # the labels batch[1] are not used
        step.backward(loss)
        step.update()
        step.log("loss", loss)

    def _fit_probe(self) -> Any:
        enc = self.modules["encoder"]
        assert isinstance(self.data.train, Split)
        with eval_mode({"encoder": enc}):
            feats = encode(enc, self.data.train.x.to(self.device))
        return fit_linear_probe(
            feats,
            self.data.train.y.to(self.device),
            self.data.num_outputs,
            steps=self.cfg.probe_epochs,
        )

    def metrics(self, device: torch.device, *, detailed: bool = False) -> RunningMetrics:
        self._eval_gen = torch.Generator(device=self.device).manual_seed(self.seed + _EVAL_SEED)
        if self.labeled:
            return ProbeMetrics(device, self._fit_probe)
        return MeanMetrics(device)

    def validation_step(self, batch: Any, metrics: RunningMetrics) -> None:
        assert isinstance(metrics, MeanMetrics)
        x = batch[0]
        if x.shape[0] > 1:
            metrics.add("loss", self._loss(x, self._eval_gen), x.shape[0])
        if isinstance(metrics, ProbeMetrics):
            metrics.add_features(self.modules["encoder"](x), batch[1])

    def state_dict(self) -> dict[str, Any]:
        return {"gen": self.gen.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.gen.set_state(state["gen"].cpu())
