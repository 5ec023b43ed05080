"""The training-time augmentation of a batch, in the standard order, as one module.

horizontal flip -> RandAugment -> random erasing -> Mixup/CutMix, applied on the training
device after batching. The trainer's batches are already standardized, so RandAugment (whose
ops are defined on intensities in [0, 1]) maps them back with the data's ``mean``/``std``,
clamps to [0, 1], augments and standardizes again; flip, erasing and mixing work on the
standardized tensors directly. With mixing on, targets come out as soft targets that carry
the label smoothing (applied once: the training loss must then not smooth again).
Every stage owns a generator seeded from ``seed``; all of their states are part of
``state_dict()``, so a resumed run augments exactly as the uninterrupted one.
"""

from __future__ import annotations

import torch
from torch import Tensor

from trainlab._validate import check_probability

from ._common import SeededGenerator
from .basic import horizontal_flip
from .mixup import Mixup
from .rand_augment import RandAugment
from .random_erasing import RandomErasing


class TrainAugment(torch.nn.Module):
    """``x, target = TrainAugment(...)(x, y)``: images (N, C, H, W), class indices (N,)."""

    def __init__(
        self,
        num_classes: int,
        *,
        mean: Tensor | None = None,
        std: Tensor | None = None,
        hflip: float = 0.0,
        randaugment_n: int = 0,
        randaugment_m: float = 9.0,
        randaugment_mstd: float = 0.0,
        erasing_prob: float = 0.0,
        erasing_mode: str = "pixel",
        erasing_count: int = 1,
        mixup_alpha: float = 0.0,
        cutmix_alpha: float = 0.0,
        switch_prob: float = 0.5,
        mix_prob: float = 1.0,
        mix_mode: str = "batch",
        label_smoothing: float = 0.0,
        smoothing: str = "standard",
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.hflip = check_probability("hflip", hflip)
        self._flip_gen = SeededGenerator(seed)
        self.rand_augment = (
            RandAugment(randaugment_n, randaugment_m, magnitude_std=randaugment_mstd, seed=seed + 1)
            if randaugment_n > 0
            else None
        )
        self.erasing = (
            RandomErasing(erasing_prob, mode=erasing_mode, count=erasing_count, seed=seed + 2)
            if erasing_prob > 0
            else None
        )
        self.mixup = (
            Mixup(
                num_classes,
                mixup_alpha=mixup_alpha,
                cutmix_alpha=cutmix_alpha,
                switch_prob=switch_prob,
                prob=mix_prob,
                mode=mix_mode,
                label_smoothing=label_smoothing,
                smoothing=smoothing,
                seed=seed + 3,
            )
            if mixup_alpha > 0 or cutmix_alpha > 0
            else None
        )
        self.mean = mean
        self.std = std

    @property
    def mixes(self) -> bool:
        """Whether targets come out soft (Mixup/CutMix on)."""
        return self.mixup is not None

    @property
    def active(self) -> bool:
        return self.hflip > 0 or any(
            m is not None for m in (self.rand_augment, self.erasing, self.mixup)
        )

    def forward(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        if self.hflip > 0:
            x = horizontal_flip(x, prob=self.hflip, generator=self._flip_gen.get(x.device))  # type: ignore[assignment]
        if self.rand_augment is not None:
            if self.mean is not None and self.std is not None:
                # kept on the batches' device: later batches copy nothing (a blocking
                # host-to-device copy per batch otherwise)
                self.mean, self.std = self.mean.to(x.device), self.std.to(x.device)
                mean, std = self.mean, self.std
                raw = (x * std + mean).clamp_(0.0, 1.0)  # back to intensities in [0, 1]
                x = (self.rand_augment(raw) - mean) / std
            else:
                x = self.rand_augment(x.clamp(0.0, 1.0))
        if self.erasing is not None:
            x = self.erasing(x)
        if self.mixup is not None:
            x, y = self.mixup(x, y)
        return x, y

    def get_extra_state(self) -> dict:
        return {"flip": self._flip_gen.state()}

    def set_extra_state(self, state: dict) -> None:
        self._flip_gen.load(state["flip"])
