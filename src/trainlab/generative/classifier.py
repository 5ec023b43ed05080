"""The classifier behind the Inception Score and the Fréchet distance of a GAN run.

IS needs class probabilities and FID a feature space (F3:1301-1323). trainlab takes both
from a classifier trained on the same data: a supervised run named by `gan.classifier:
RUN_DIR` (its best checkpoint), or, with `gan.classifier: auto`, a small CNN (MLP for
vectors) that the GAN run trains once on its training split. The features are the input of
the classifier's last linear layer (its penultimate activations), the probabilities its
softmax. Without labels and without a run, the score net is `pixels`: FID on the images
average-pooled to at most 8 x 8 per channel (vectors as they are), and no IS.

`ScoreNet` wraps the classifier with an affine map from the GAN's standardized inputs to the
classifier's (`x * scale + shift`), so a run standardized with other statistics still reads
the samples right, and a `ready` flag (a buffer: a checkpoint of the GAN restores it with
the weights, so an 'auto' classifier is trained once per run, also across resumes).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["ScoreNet", "fit_classifier", "pixel_features"]

PIXEL_SIDE = 8


def pixel_features(x: Tensor) -> Tensor:
    """(B, C, H, W) images average-pooled to at most 8 x 8 and flattened; vectors flattened."""
    if x.ndim == 4 and x.shape[-1] > PIXEL_SIDE:
        x = F.adaptive_avg_pool2d(x, PIXEL_SIDE)
    return x.flatten(1)


def _last_linear(model: nn.Module) -> nn.Linear:
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(
            f"classifier {type(model).__name__}: no nn.Linear head to read features from"
        )
    return linears[-1]


class ScoreNet(nn.Module):
    """(features (B, F), probabilities (B, K) or None) of samples; see the module docstring."""

    def __init__(
        self,
        classifier: nn.Module | None,
        *,
        scale: Tensor | None = None,
        shift: Tensor | None = None,
        name: str = "pixels",
    ) -> None:
        super().__init__()
        self.net = classifier
        self.name = name
        self.register_buffer("ready", torch.tensor(classifier is None))
        self.register_buffer("scale", scale if scale is not None else torch.ones(()))
        self.register_buffer("shift", shift if shift is not None else torch.zeros(()))
        self._captured: list[Tensor] = []
        self.num_classes = 0  # classes of the probabilities (0: none, pixel features)
        if classifier is not None:
            head = _last_linear(classifier)
            head.register_forward_pre_hook(self._capture)
            self.num_classes = head.out_features

    def _capture(self, module: nn.Module, args: tuple[Tensor, ...]) -> None:
        self._captured.append(args[0])

    @property
    def has_probs(self) -> bool:
        return self.net is not None

    def logits(self, x: Tensor) -> Tensor:
        assert self.net is not None
        return self.net(x * self.scale + self.shift)  # type: ignore[operator]

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        if self.net is None:
            return pixel_features(x).float(), None
        self._captured.clear()
        logits = self.logits(x)
        feats = self._captured[-1].flatten(1)
        self._captured.clear()
        return feats.float(), logits.float().softmax(1)


def fit_classifier(
    net: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    epochs: int,
    seed: int,
    batch_size: int = 64,
    lr: float = 3e-3,
) -> None:
    """Train `net` (already on `x`'s device) on (x, y) with the engine (`trainlab.fit`):
    AdamW with weight decay 1e-4, cross-entropy, cosine from `lr` to 0 without warmup; in
    eval mode after. The order comes from `seed`; the process's RNG and flags are restored."""
    from trainlab.train.fit import fit  # the engine, as every loop in trainlab

    with torch.enable_grad():  # the GAN calls this from its (no-grad) evaluation
        fit(net, (x, y), None, None, restore_best=False, seed=seed, epochs=epochs,
            batch_size=batch_size, device=str(x.device), optim__name="adamw", optim__lr=lr,
            optim__weight_decay=1e-4, sched__name="cosine", sched__warmup_epochs=0,
            log__every_steps=0)  # fmt: skip
    net.eval()
