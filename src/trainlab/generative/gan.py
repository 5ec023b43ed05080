"""GAN training as engine tasks: `gan` (unconditional) and `cgan` (class-conditional).

The game (Goodfellow et al. 2014; notes F3:1069-1140, F4:1663-1780) alternates two updates
per batch of real samples x, through the engine's two optimizers "d" and "g":

1. discriminator ("d"): fakes G(z) are detached; ``L_D(D(x), D(G(z)))`` (+ a gradient
   penalty: R1 on reals, or WGAN-GP at interpolates), backward, update;
2. generator ("g"), every `gan.d_steps`-th batch (counted over the whole run, so it resumes
   exactly): D's parameters are frozen, ``L_G(D(G(z)))``, backward, update, then the EMA of
   the generator (`gan.ema_decay`; the module `g_ema`, evaluated and drawn instead of `g`).

`gan.loss` picks the pair from `trainlab.losses`: `minimax` (D: -V, G: E log(1 - D(G(z)))),
`non_saturating` (G: -E log D(G(z)), the notes' fix for the vanishing gradient when D wins),
`hinge` (BigGAN), `wasserstein` (D: E D(G(z)) - E D(x), G: -E D(G(z)); use it with
`gan.penalty: wgan-gp` or spectral norm). Image data get the DCGAN pair, vector data the MLP
pair (`gan.arch`). A cGAN's generator and discriminator also read the label (class
embedding; projection discriminator); its fakes are drawn for the real batch's labels.

Evaluation (validation, test, `trainlab eval`): for each real batch as many samples are
drawn with a generator seeded anew per evaluation (the same z every epoch), and the score
net (`trainlab.generative.classifier`) gives FID (primary, lower is better) and IS.
A sample grid `plots/samples_epochNNN.png` is written when each epoch starts (NNN epochs
done) and `plots/samples.png` at the end (the best checkpoint's generator), from fixed z.

Randomness: z and the interpolation factors come from the task's own generator, seeded
from `seed` and checkpointed with the task state; the process's RNG is left to the engine.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any, cast

import torch
from torch import Tensor, nn

from trainlab.errors import ConfigError
from trainlab.generative.classifier import ScoreNet, fit_classifier
from trainlab.generative.grid import save_image_grid
from trainlab.generative.metrics import GANMetrics
from trainlab.generative.models import (
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
)
from trainlab.generative.penalties import gradient_penalty, r1_penalty
from trainlab.losses import (
    discriminator_loss,
    generator_loss_minimax,
    generator_loss_nonsaturating,
    hinge_discriminator_loss,
    hinge_generator_loss,
)
from trainlab.metrics import RunningMetrics
from trainlab.regularize import WeightEMA
from trainlab.train.registry import register_task
from trainlab.train.step import Step, eval_mode
from trainlab.train.task import OptimizerSpec, Task, TaskContext

__all__ = ["ConditionalGANTask", "GANTask", "d_loss", "g_loss"]

_EVAL_SEED, _GRID_SEED = 1_000_003, 2_000_003
_POINTS = 1000  # samples in the scatter plot of 2-D data


def d_loss(kind: str, d_real: Tensor, d_fake: Tensor) -> Tensor:
    """The discriminator's loss of `gan.loss = kind` on logits/scores of reals and fakes."""
    if kind == "hinge":
        return hinge_discriminator_loss(d_real, d_fake)  # type: ignore[return-value]
    if kind == "wasserstein":
        return d_fake.float().mean() - d_real.float().mean()
    return discriminator_loss(d_real, d_fake)  # type: ignore[return-value]


def g_loss(kind: str, d_fake: Tensor) -> Tensor:
    """The generator's loss of `gan.loss = kind` on D's logits/scores of its samples."""
    if kind == "minimax":
        return generator_loss_minimax(d_fake)
    if kind == "non_saturating":
        return generator_loss_nonsaturating(d_fake)
    return hinge_generator_loss(d_fake)  # hinge and wasserstein: -E D(G(z))


def _data_range(data: Any) -> tuple[float, float] | None:
    """(min, max) of the in-memory training split, widened by 5% of the span each side
    (None for a lazy split: the generator's output is then linear). Images only: the MLP
    pair's vectors (2-D toy data) keep a linear output, as is standard there."""
    from trainlab.data import Split

    if not isinstance(data.train, Split):
        return None
    lo, hi = float(data.train.x.min()), float(data.train.x.max())
    pad = 0.05 * (hi - lo)
    return lo - pad, hi + pad


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """`module`'s parameters without gradients inside the block (the generator's step)."""
    flags = [(p, p.requires_grad) for p in module.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, f in flags:
            p.requires_grad_(f)


@register_task("gan")
class GANTask(Task):
    """Unconditional GAN; see the module docstring."""

    conditional = False

    # ------------------------------------------------------------------ building
    def setup(self, ctx: TaskContext) -> None:
        config, data = ctx.config, ctx.data
        self.cfg, self.seed, self.device = config.gan, config.seed, ctx.device
        self.run, self.data = ctx.run, data
        name = self.name or type(self).__name__
        if config.train.accumulate != 1:
            raise ConfigError(
                f"task.name = {name!r}: train.accumulate = {config.train.accumulate}; "
                "a GAN's alternating updates need train.accumulate = 1"
            )
        labels = data.labeled and data.task == "classification"
        if self.conditional and not labels:
            raise ConfigError(
                f"task.name = {name!r} needs class labels; {data.source} has "
                f"{'none' if not data.labeled else data.task + ' targets'}: use task.name = 'gan'"
            )
        self.num_classes = data.num_outputs if self.conditional else 0
        g, d = self._players(ctx, name)
        self.modules = {"g": g, "d": d}
        if self.cfg.ema_decay > 0:
            self.modules["g_ema"] = copy.deepcopy(g).requires_grad_(False)
        self._ema: WeightEMA | None = None
        self._ema_step = 0
        self.modules["score"] = self._score_net(ctx, labels)
        self.gen = torch.Generator(device=ctx.device).manual_seed(self.seed)
        self._eval_gen = torch.Generator(device=ctx.device).manual_seed(self.seed + _EVAL_SEED)
        self._epoch = 0

    def _players(self, ctx: TaskContext, name: str) -> tuple[nn.Module, nn.Module]:
        c, shape = self.cfg, tuple(ctx.data.in_shape)
        image = len(shape) == 3
        arch = c.arch if c.arch != "auto" else ("dcgan" if image else "mlp")
        if arch == "dcgan" and not image:
            raise ConfigError(
                f"task.name = {name!r} with gan.arch = 'dcgan' needs images (C, H, W); "
                f"{ctx.data.source} has samples of shape {shape}: use gan.arch = 'mlp' or 'auto'"
            )
        sn, rng = c.spectral_norm, _data_range(ctx.data)
        try:
            if arch == "dcgan":
                g: nn.Module = DCGANGenerator(shape, c.z_dim, c.width, self.num_classes, rng)
                d: nn.Module = DCGANDiscriminator(
                    shape, c.width, self.num_classes, norm=c.penalty == "none", spectral_norm=sn
                )
            else:
                g = MLPGenerator(shape, c.z_dim, c.width, c.depth, self.num_classes)
                d = MLPDiscriminator(shape, c.width, c.depth, self.num_classes, spectral_norm=sn)
        except ValueError as e:
            raise ConfigError(f"task.name = {name!r} on {ctx.data.source}: {e}") from None
        return g, d

    def _score_net(self, ctx: TaskContext, labels: bool) -> ScoreNet:
        from trainlab.generative.score_runs import auto_classifier, run_classifier

        which = self.cfg.classifier
        if which == "none" or (which == "auto" and not labels):
            return ScoreNet(None)
        if which == "auto":
            return auto_classifier(ctx.data, self.seed)
        return run_classifier(which, ctx.data)

    def optimizers(self) -> dict[str, OptimizerSpec]:
        c = self.cfg
        specs = {}
        for key, lr in (("d", c.lr_d), ("g", c.lr_g)):
            over: dict[str, Any] = {"betas": c.betas} | ({"lr": lr} if lr is not None else {})
            specs[key] = OptimizerSpec(self.modules[key], overrides=over)
        return specs

    # ------------------------------------------------------------------ pieces
    def _inputs(self, batch: Any) -> tuple[Tensor, Tensor | None]:
        """(real samples, condition): the labels for a cGAN, else None."""
        x, y = batch[0], batch[1]
        return x, (y if self.conditional else None)

    def _generate(self, g: nn.Module, c: Tensor | None, n: int, gen: torch.Generator) -> Tensor:
        z = torch.randn(n, self.cfg.z_dim, generator=gen, device=self.device)
        return g(z, c)

    def _discriminate(self, v: Tensor, c: Tensor | None) -> Tensor:
        return self.modules["d"](v, c)

    def _generator_loss(self, d_fake: Tensor, fake: Tensor, real: Tensor) -> Tensor:
        return g_loss(self.cfg.loss, d_fake)

    def _sampler(self) -> nn.Module:
        return self.modules.get("g_ema", self.modules["g"])

    def _ema_update(self) -> None:
        if "g_ema" not in self.modules:
            return
        if self._ema is None:  # after the engine moved the modules: track g_ema's own tensors
            self._ema = WeightEMA(self.modules["g_ema"], self.cfg.ema_decay)
            self._ema.shadow = self.modules["g_ema"].state_dict()
            self._ema.step = self._ema_step
        self._ema.update(self.modules["g"])
        self._ema_step = self._ema.step

    # ------------------------------------------------------------------ the maths
    def training_step(self, batch: Any, step: Step) -> None:
        x, c = self._inputs(batch)
        n = x.shape[0]
        g_due = (step.index + 1) % self.cfg.d_steps == 0
        g = self.modules["g"]
        with contextlib.nullcontext() if g_due else torch.no_grad():
            fake = self._generate(g, c, n, self.gen)
        # 1. discriminator
        d_real, d_fake = self._discriminate(x, c), self._discriminate(fake.detach(), c)
        loss_d = d_loss(self.cfg.loss, d_real, d_fake)
        if self.cfg.penalty != "none":
            pen = self._penalty(x, fake, c)
            step.log("penalty", pen)
            loss_d = loss_d + pen
        step.backward(loss_d, "d")
        step.update("d")
        step.log("loss_d", loss_d)
        step.log("loss", loss_d, epoch=False)
        # 2. generator
        if g_due:
            with frozen(self.modules["d"]):
                loss_g = self._generator_loss(self._discriminate(fake, c), fake, x)
            step.backward(loss_g, "g")
            if step.update("g"):
                self._ema_update()
            step.log("loss_g", loss_g)

    def _penalty(self, x: Tensor, fake: Tensor, c: Tensor | None) -> Tensor:
        def disc(v: Tensor) -> Tensor:
            return self._discriminate(v, c)

        w = self.cfg.penalty_weight
        if self.cfg.penalty == "r1":
            return r1_penalty(disc, x, w)
        return gradient_penalty(disc, x, fake, w, generator=self.gen)

    # ------------------------------------------------------------------ evaluation
    def metrics(self, device: torch.device, *, detailed: bool = False) -> RunningMetrics:
        # each evaluation draws the same z: the generator restarts from its seed
        self._eval_gen = torch.Generator(device=self.device).manual_seed(self.seed + _EVAL_SEED)
        score = cast(ScoreNet, self.modules["score"])
        return GANMetrics(device, num_classes=score.num_classes)

    def _ensure_score(self) -> ScoreNet:
        from trainlab.generative.score_runs import train_split

        score = cast(ScoreNet, self.modules["score"])
        if not bool(score.ready):  # 'auto': trained once, on the first evaluation
            x, y = train_split(self.data, self.device)
            assert score.net is not None
            fit_classifier(score.net, x, y, epochs=self.cfg.classifier_epochs, seed=self.seed)
            score.ready.fill_(True)  # type: ignore[operator]
        return score.eval()

    def validation_step(self, batch: Any, metrics: RunningMetrics) -> None:
        assert isinstance(metrics, GANMetrics)
        x, c = self._inputs(batch)
        score = self._ensure_score()
        fake = self._generate(self._sampler(), c, x.shape[0], self._eval_gen)
        real_f, _ = score(x)
        fake_f, probs = score(fake.float())
        metrics.add_samples(real_f, fake_f, probs)
        self._extra_metrics(metrics, x, fake)

    def _extra_metrics(self, metrics: GANMetrics, x: Tensor, fake: Tensor) -> None:
        """More named means for `metrics` (pix2pix: the L1 error)."""

    # ------------------------------------------------------------------ pictures
    def _grid_samples(self, g: nn.Module) -> Tensor:
        image = len(self.data.in_shape) == 3
        n = self.cfg.grid if image else max(self.cfg.grid, _POINTS)
        gen = torch.Generator(device=self.device).manual_seed(self.seed + _GRID_SEED)
        c = None
        if self.conditional:  # one row per class, repeated
            c = torch.arange(n, device=self.device) % self.num_classes
        return self._generate(g, c, n, gen)

    def _grid_nrow(self) -> int | None:
        return self.num_classes if self.conditional else None

    def write_grid(self, path: Any) -> str:
        g = self._sampler()
        with eval_mode({"g": g}):
            samples = self._grid_samples(g)
        return str(
            save_image_grid(
                samples, path, mean=self.data.input_mean, std=self.data.input_std, nrow=self._grid_nrow(),
                upscale=4 if samples.ndim == 4 and samples.shape[-1] <= 16 else 1,
            )
        )  # fmt: skip

    def on_epoch_start(self, epoch: int) -> None:
        self._epoch = epoch
        if self.run is not None and epoch > 0:
            self.write_grid(self.run.plots / f"samples_epoch{epoch:03d}.png")

    def save_test_plots(self, metrics: RunningMetrics, plots: Any) -> dict[str, str]:
        last = self.write_grid(plots / f"samples_epoch{self._epoch + 1:03d}.png")
        return {"samples": self.write_grid(plots / "samples.png"), "last epoch's grid": last}

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {"gen": self.gen.get_state(), "ema_step": self._ema_step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.gen.set_state(state["gen"].cpu())  # generator states are CPU byte tensors
        self._ema_step = int(state["ema_step"])
        if self._ema is not None:
            self._ema.step = self._ema_step


@register_task("cgan")
class ConditionalGANTask(GANTask):
    """Class-conditional GAN (Mirza & Osindero 2014): G(z, y), D(x, y)."""

    conditional = True
