"""Masked autoencoder (He et al. 2021; notes F4:1782-1876) as the engine task `mae`.

The image is cut into L non-overlapping p x p patches (``patchify``). Per image a random
``ae.mask_ratio`` of them (0.75 in the paper) is hidden: a seeded uniform noise per patch is
sorted and the first ``L_keep = round(L (1 - ratio))`` (at least one) are kept. The
encoder (a ViT: linear patch embedding + learned positions, pre-norm transformer blocks) sees
*only the visible patches*; a lightweight decoder (narrower, fewer blocks) gets the encoded
visible tokens back in place, a shared learned mask token at every hidden position, its own
positions, and predicts every patch's pixels. The loss is the notes' masked reconstruction
loss (`trainlab.losses.masked_mse_loss`) on the *hidden patches only*:

    L = sum_i m_i |x_hat_i - x_i|^2 / sum_i m_i      (m_i = 1 for a masked patch's pixels)

so the visible patches' outputs do not enter it. As a backbone (`encoder()`), the encoder
reads every patch (no masking) and mean-pools its tokens to one feature vector per image.

Metrics: `loss` (the masked loss on the evaluation data, masks drawn with a generator seeded
anew per evaluation) and `mse` (primary: the error of the masked patches' predictions, the
same number per pixel) next to `baseline_mse`, the training split's mean image on those
pixels. `plots/reconstructions.png`: input, masked input, reconstruction (visible patches
pasted back, as in the paper's figures).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from trainlab.data import Split
from trainlab.errors import ConfigError
from trainlab.generative.grid import save_image_grid
from trainlab.losses import masked_mse_loss
from trainlab.metrics import MeanMetrics, RunningMetrics
from trainlab.models.layers import TransformerBlock
from trainlab.models.layers.stem import patchify
from trainlab.train.registry import register_task
from trainlab.train.step import Step, eval_mode
from trainlab.train.task import OptimizerSpec, Task, TaskContext

__all__ = ["MAETask", "MaskedAutoencoder", "random_masking", "unpatchify"]

_EVAL_SEED = 4_000_037


def unpatchify(patches: Tensor, p: int, shape: tuple[int, int, int]) -> Tensor:
    """Inverse of `patchify`: (B, L, C p p) -> (B, C, H, W)."""
    c, h, w = shape
    b = patches.shape[0]
    x = patches.reshape(b, h // p, w // p, c, p, p).permute(0, 3, 1, 4, 2, 5)
    return x.reshape(b, c, h, w)


def random_masking(
    batch: int, length: int, ratio: float, *, generator: torch.Generator, device: torch.device
) -> tuple[Tensor, Tensor]:
    """(kept patch indices (B, L_keep), mask (B, L) bool, True = hidden) per image."""
    if not 0 < ratio < 1:
        raise ValueError(f"ratio: expected a mask ratio in (0, 1), got {ratio!r}")
    keep = max(1, round(length * (1 - ratio)))
    noise = torch.rand(batch, length, generator=generator, device=device)
    order = noise.argsort(1)
    kept = order[:, :keep]  # (B, L_keep)
    mask = torch.ones(batch, length, dtype=torch.bool, device=device)
    mask.scatter_(1, kept, False)
    return kept, mask


class MaskedAutoencoder(nn.Module):
    """ViT encoder over visible patches + lightweight decoder; see the module docstring."""

    def __init__(
        self,
        in_shape: tuple[int, ...],
        patch_size: int,
        dim: int = 64,
        depth: int = 4,
        heads: int = 4,
        decoder_dim: int = 32,
        decoder_depth: int = 1,
    ) -> None:
        super().__init__()
        if len(in_shape) != 3 or in_shape[1] % patch_size or in_shape[2] % patch_size:
            raise ValueError(
                f"patch_size {patch_size}: expected images (C, H, W) with H and W multiples "
                f"of it, got sample shape {tuple(in_shape)}"
            )
        if dim % heads or decoder_dim % heads:
            raise ValueError(
                f"dim {dim}, decoder_dim {decoder_dim}: expected multiples of heads {heads}"
            )
        c, h, w = in_shape
        self.shape, self.p = (c, h, w), patch_size
        self.length, pdim = (h // patch_size) * (w // patch_size), c * patch_size**2
        self.embed = nn.Linear(pdim, dim)
        self.pos = nn.Parameter(torch.zeros(1, self.length, dim))
        self.blocks = nn.Sequential(*[TransformerBlock(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.dec_embed = nn.Linear(dim, decoder_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_dim))
        self.dec_pos = nn.Parameter(torch.zeros(1, self.length, decoder_dim))
        self.dec_blocks = nn.Sequential(
            *[TransformerBlock(decoder_dim, heads) for _ in range(decoder_depth)]
        )
        self.dec_norm = nn.LayerNorm(decoder_dim)
        self.pred = nn.Linear(decoder_dim, pdim)
        for t in (self.pos, self.mask_token, self.dec_pos):
            nn.init.normal_(t, std=0.02)

    def encode_visible(self, x: Tensor, kept: Tensor | None) -> Tensor:
        """Encoded tokens (B, L_keep, dim) of the kept patches (all of them for None)."""
        tokens = self.embed(patchify(x, self.p)) + self.pos  # (B, L, dim)
        if kept is not None:
            tokens = tokens.gather(1, kept.unsqueeze(-1).expand(-1, -1, tokens.shape[-1]))
        return self.norm(self.blocks(tokens))

    def features(self, x: Tensor) -> Tensor:
        """The backbone's features: mean of the encoder's tokens over every patch (B, dim)."""
        return self.encode_visible(x, None).mean(1)

    def forward(self, x: Tensor, kept: Tensor) -> Tensor:
        """Predicted patches (B, L, C p p) from the visible patches `kept` (B, L_keep)."""
        enc = self.dec_embed(self.encode_visible(x, kept))  # (B, L_keep, Dd)
        b, dd = enc.shape[0], enc.shape[-1]
        full = self.mask_token.expand(b, self.length, dd).clone()
        full = full.scatter(1, kept.unsqueeze(-1).expand(-1, -1, dd), enc)  # back in place
        return self.pred(self.dec_norm(self.dec_blocks(full + self.dec_pos)))

    def loss(self, pred: Tensor, x: Tensor, mask: Tensor) -> Tensor:
        """The masked-patch MSE (B, L) `mask`, True = hidden: the only patches scored."""
        return masked_mse_loss(pred.float(), patchify(x, self.p).float(), mask)


class _Features(nn.Module):
    def __init__(self, mae: MaskedAutoencoder) -> None:
        super().__init__()
        self.mae = mae

    def forward(self, x: Tensor) -> Tensor:
        return self.mae.features(x)


@register_task("mae")
class MAETask(Task):
    """Masked autoencoder pre-training; see the module docstring."""

    def setup(self, ctx: TaskContext) -> None:
        cfg, data = ctx.config.ae, ctx.data
        self.cfg, self.data, self.device, self.seed = cfg, data, ctx.device, ctx.config.seed
        shape = tuple(data.in_shape)
        if len(shape) != 3:
            raise ConfigError(
                f"task.name = 'mae' needs images (C, H, W); {data.source} has samples of "
                f"shape {shape}"
            )
        p = cfg.patch_size or max(1, shape[1] // 4)
        try:
            model = MaskedAutoencoder(
                shape, p, cfg.dim, cfg.depth, cfg.heads, cfg.decoder_dim, cfg.decoder_depth
            )
        except ValueError as e:
            raise ConfigError(f"ae: {e}") from None
        self.modules = {"mae": model}
        self.gen = torch.Generator(device=ctx.device).manual_seed(self.seed)
        self._eval_gen = torch.Generator(device=ctx.device).manual_seed(self.seed + _EVAL_SEED)
        train = data.train
        self.mean_image = train.x.mean(0).to(ctx.device) if isinstance(train, Split) else None

    @property
    def mae(self) -> MaskedAutoencoder:
        return self.modules["mae"]  # type: ignore[return-value]

    def optimizers(self) -> dict[str, OptimizerSpec]:
        return {"main": OptimizerSpec(self.mae, ema=True)}

    def encoder(self) -> nn.Module:
        """The pretrained encoder as a backbone: x -> mean-pooled tokens (B, dim)."""
        return _Features(self.mae)

    def _masked(self, x: Tensor, gen: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        kept, mask = random_masking(
            x.shape[0], self.mae.length, self.cfg.mask_ratio, generator=gen, device=x.device
        )
        return self.mae(x, kept), kept, mask

    def training_step(self, batch: Any, step: Step) -> None:
        x = batch[0]
        pred, _, mask = self._masked(x, self.gen)
        loss = self.mae.loss(pred, x, mask)
        step.backward(loss)
        step.update()
        step.log("loss", loss)

    def metrics(self, device: torch.device, *, detailed: bool = False) -> RunningMetrics:
        self._eval_gen = torch.Generator(device=self.device).manual_seed(self.seed + _EVAL_SEED)
        return MeanMetrics(device, primary="mse")

    def validation_step(self, batch: Any, metrics: RunningMetrics) -> None:
        assert isinstance(metrics, MeanMetrics)
        x = batch[0].float()
        pred, _, mask = self._masked(x, self._eval_gen)
        n = x.shape[0]
        loss = self.mae.loss(pred, x, mask)
        metrics.add("loss", loss, n)
        metrics.add("mse", loss, n)
        if self.mean_image is not None:
            mean = self.mean_image.expand_as(x)
            metrics.add("baseline_mse", self.mae.loss(patchify(mean, self.mae.p), x, mask), n)

    def save_test_plots(self, metrics: RunningMetrics, plots: Any) -> dict[str, str]:
        split = self.data.test if self.data.test is not None else self.data.train
        if not isinstance(split, Split):
            return {}
        x = split.x[:32].to(self.device)
        m = self.mae
        with eval_mode(self.modules):
            pred, _, mask = self._masked(x, torch.Generator(self.device).manual_seed(self.seed))
        patches = patchify(x, m.p)
        hidden = mask.unsqueeze(-1)
        shown = unpatchify(patches.masked_fill(hidden, 0.0), m.p, m.shape)
        pasted = unpatchify(torch.where(hidden, pred.to(patches.dtype), patches), m.p, m.shape)
        grid = torch.stack([x, shown, pasted], 1).flatten(0, 1)
        path = save_image_grid(
            grid, plots / "reconstructions.png", mean=self.data.input_mean,
            std=self.data.input_std, nrow=12, upscale=4,
        )  # fmt: skip
        return {"reconstructions": str(path)}

    def state_dict(self) -> dict[str, Any]:
        return {"gen": self.gen.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.gen.set_state(state["gen"].cpu())
