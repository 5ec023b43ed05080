"""LoRA: low-rank adaptation of frozen linear and convolution layers (Hu et al. 2021;
notes F3:3049-3150).

    h = W0 x + (alpha / r) B A x,     A in R^{r x k} random, B in R^{d x r} = 0

W0 (and its bias) stay frozen; only A and B train, r (d + k) parameters per layer instead of
d k. B = 0 makes the initial output exactly the base model's. After training the update
folds into the base weight at zero inference cost: `merge_lora` sets W = W0 + (alpha/r) B A
(and the LoRA path is skipped), `unmerge_lora` subtracts it again, `unload_lora` replaces
every wrapper by its (merged) base layer, giving back the original architecture.

A k x k convolution gets A as a k x k convolution to r channels (the base's stride, padding
and dilation) and B as a 1 x 1 convolution back to the output channels, so
B A = (out, r) @ (r, in * k * k) is a weight of the base's shape. Init as in peft: A
Kaiming-uniform (a = sqrt(5), torch's Linear default, from an explicit generator), B zeros.
Dropout acts on the input of the LoRA path only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from trainlab.finetune.targets import match_modules, set_submodule

DEFAULT_TARGETS = ("qkv",)


def lora_delta(a: Tensor, b: Tensor, scaling: float) -> Tensor:
    """`scaling * B @ A` as a `(d, k)` matrix (A: (r, k), B: (d, r), conv weights flattened)."""
    return scaling * (b.flatten(1) @ a.flatten(1))


def _check(r: int, alpha: float, dropout: float) -> None:
    if isinstance(r, bool) or not isinstance(r, int) or r <= 0:
        raise ValueError(f"r: expected an int > 0, got {r!r}")
    if not alpha > 0:
        raise ValueError(f"alpha: expected a number > 0, got {alpha!r}")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout: expected a rate in [0, 1), got {dropout!r}")


class _LoRABase(nn.Module):
    """Shared state: the frozen base layer, A, B, scaling, the merged flag."""

    base: nn.Linear | nn.Conv2d
    lora_A: nn.Parameter
    lora_B: nn.Parameter

    def _setup(
        self,
        base: nn.Linear | nn.Conv2d,
        r: int,
        alpha: float,
        dropout: float,
        a_shape: Sequence[int],
    ) -> None:
        _check(r, alpha, dropout)
        self.base = base
        for p in base.parameters():
            p.requires_grad_(False)
        self.r, self.alpha, self.scaling = r, float(alpha), float(alpha) / r
        w = base.weight
        self.lora_A = nn.Parameter(torch.empty(*a_shape, device=w.device, dtype=w.dtype))
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.merged = False

    def reset_lora(self, generator: torch.Generator | None = None) -> None:
        """A ~ Kaiming-uniform(a=sqrt(5)) from `generator`, B = 0."""
        fan_in = self.lora_A[0].numel()
        bound = 1.0 / math.sqrt(fan_in)  # kaiming_uniform_(a=sqrt(5)) gives 1/sqrt(fan_in)
        with torch.no_grad():
            u = torch.rand(self.lora_A.shape, generator=generator, dtype=torch.float32)
            self.lora_A.copy_((u * 2 - 1) * bound)
            self.lora_B.zero_()

    def delta_weight(self) -> Tensor:
        """`(alpha/r) B A` in the base weight's shape."""
        d = lora_delta(self.lora_A, self.lora_B, self.scaling)
        return d.reshape(self.base.weight.shape)

    @torch.no_grad()
    def merge(self) -> None:
        if not self.merged:
            self.base.weight += self.delta_weight().to(self.base.weight.dtype)
            self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        if self.merged:
            self.base.weight -= self.delta_weight().to(self.base.weight.dtype)
            self.merged = False

    def extra_repr(self) -> str:
        return f"r={self.r}, alpha={self.alpha:g}, merged={self.merged}"


class LoRALinear(_LoRABase):
    """`base(x) + (alpha/r) B(A(dropout(x)))` around a frozen `nn.Linear`."""

    def __init__(
        self,
        base: nn.Linear,
        r: int = 8,
        alpha: float = 8.0,
        dropout: float = 0.0,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"base: expected an nn.Linear, got {type(base).__name__}")
        self._setup(base, r, alpha, dropout, (r, base.in_features))
        w = base.weight
        self.lora_B = nn.Parameter(
            torch.zeros(base.out_features, r, device=w.device, dtype=w.dtype)
        )
        self.reset_lora(generator)

    def forward(self, x: Tensor) -> Tensor:
        out = self.base(x)
        if self.merged:
            return out
        # (..., k) -> (..., r) -> (..., d)
        return out + F.linear(F.linear(self.dropout(x), self.lora_A), self.lora_B) * self.scaling


class LoRAConv2d(_LoRABase):
    """`base(x) + (alpha/r) B(A(dropout(x)))` around a frozen `nn.Conv2d` (groups = 1):
    A a conv of the base's kernel to r channels, B a 1 x 1 conv to the output channels."""

    def __init__(
        self,
        base: nn.Conv2d,
        r: int = 8,
        alpha: float = 8.0,
        dropout: float = 0.0,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(base, nn.Conv2d):
            raise TypeError(f"base: expected an nn.Conv2d, got {type(base).__name__}")
        if base.groups != 1 or not isinstance(base.padding, tuple):
            raise ValueError(
                f"LoRA on a convolution needs groups=1 and numeric padding; got groups="
                f"{base.groups}, padding={base.padding!r}"
            )
        kh, kw = base.kernel_size
        self._setup(base, r, alpha, dropout, (r, base.in_channels, kh, kw))
        w = base.weight
        self.lora_B = nn.Parameter(
            torch.zeros(base.out_channels, r, 1, 1, device=w.device, dtype=w.dtype)
        )
        self.reset_lora(generator)

    def forward(self, x: Tensor) -> Tensor:
        out = self.base(x)
        if self.merged:
            return out
        c = cast(nn.Conv2d, self.base)
        z = F.conv2d(self.dropout(x), self.lora_A, None, c.stride, c.padding, c.dilation)
        return out + F.conv2d(z, self.lora_B) * self.scaling  # (B, r, H', W') -> (B, out, ..)


LORA_LAYERS = (LoRALinear, LoRAConv2d)


def apply_lora(
    model: nn.Module,
    targets: Sequence[str] = DEFAULT_TARGETS,
    r: int = 8,
    alpha: float = 8.0,
    dropout: float = 0.0,
    *,
    seed: int = 0,
) -> list[str]:
    """Wrap every `nn.Linear` / `nn.Conv2d` whose name matches `targets` (globs or name
    suffixes, e.g. `["qkv"]`, `["blocks.*.mlp.fc1"]`) in a LoRA layer, in place; A is drawn
    from a generator seeded with `seed`. The wrapped base layers are frozen (the rest of the
    model is left as it is: `trainlab.finetune.freeze_base` freezes it). Returns the names."""
    _check(r, alpha, dropout)
    found = match_modules(model, targets, (nn.Linear, nn.Conv2d), what="finetune.targets")
    found = [(n, m) for n, m in found if not isinstance(m, LORA_LAYERS)]
    gen = torch.Generator().manual_seed(seed)
    for name, module in found:  # Linear and Conv2d have no submodules: no nesting
        cls = LoRALinear if isinstance(module, nn.Linear) else LoRAConv2d
        set_submodule(model, name, cls(module, r, alpha, dropout, generator=gen))  # type: ignore[arg-type]
    return [n for n, _ in found]


def lora_layers(model: nn.Module) -> list[tuple[str, _LoRABase]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, LORA_LAYERS)]


def merge_lora(model: nn.Module) -> int:
    """Fold `W0 + (alpha/r) B A` into every LoRA layer's base weight (the LoRA path is then
    skipped); returns how many layers were merged."""
    layers = lora_layers(model)
    for _, m in layers:
        m.merge()
    return len(layers)


def unmerge_lora(model: nn.Module) -> int:
    """Undo `merge_lora` (W0 restored to float rounding); returns how many layers."""
    layers = lora_layers(model)
    for _, m in layers:
        m.unmerge()
    return len(layers)


def unload_lora(model: nn.Module, *, merge: bool = True) -> nn.Module:
    """Replace every LoRA layer by its base layer (merged first if `merge`), in place: the
    model has its original architecture and state_dict keys again. Returns `model`."""
    for name, m in lora_layers(model):
        if merge:
            m.merge()
        else:
            m.unmerge()
        set_submodule(model, name, m.base)
    return model
