"""Exponential moving average of a model's weights (the "EMA" of the modern recipe).

    ema_t = d_t * ema_{t-1} + (1 - d_t) * w_t,     ema_0 = w_0 (the weights at creation).

With a constant decay d this is the closed form ema_t = d^t w_0 + sum_k (1 - d) d^(t-k) w_k.
Warmup lowers the decay early on, when ema_0 is still far from good weights:
``"tf"``: d_t = min(d, (1 + t) / (10 + t)) (TensorFlow's ``ExponentialMovingAverage`` with
num_updates); ``"power"``: d_t = min(d, 1 - (1 + t / gamma)^(-power)) (timm's ``ModelEmaV3``,
gamma = 1, power = 3/4 by default). Floating-point parameters are averaged (with
``torch._foreach_lerp_``); buffers (BatchNorm statistics, counters) are copied unless
``average_buffers``. The trainer evaluates the EMA weights with :meth:`WeightEMA.swapped`
and checkpoints :meth:`WeightEMA.state_dict` (tensors and numbers only: it loads with
``torch.load(weights_only=True)``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn

from trainlab._validate import check_in_range

WARMUPS = (None, "tf", "power")


class WeightEMA:
    """An EMA of ``model``'s weights, updated with :meth:`update` after each optimizer step."""

    def __init__(
        self,
        model: nn.Module,
        decay: float = 0.9999,
        *,
        warmup: str | None = None,
        warmup_gamma: float = 1.0,
        warmup_power: float = 0.75,
        average_buffers: bool = False,
        device: str | torch.device | None = None,
    ) -> None:
        check_in_range("decay", decay, 0.0, 1.0)
        if warmup not in WARMUPS:
            raise ValueError(f"warmup: expected one of {WARMUPS}, got {warmup!r}")
        if not warmup_gamma > 0 or not warmup_power > 0:
            raise ValueError(
                f"warmup_gamma, warmup_power: expected numbers > 0, got {warmup_gamma!r}, "
                f"{warmup_power!r}"
            )
        self.decay, self.warmup = float(decay), warmup
        self.warmup_gamma, self.warmup_power = float(warmup_gamma), float(warmup_power)
        self.average_buffers = average_buffers
        self.step = 0
        with torch.no_grad():
            self.shadow: dict[str, Tensor] = {
                k: v.detach().clone().to(device) if device is not None else v.detach().clone()
                for k, v in model.state_dict().items()
            }
        self._avg = {
            name
            for name, p in model.named_parameters()
            if p.is_floating_point() and name in self.shadow
        }
        if average_buffers:
            self._avg |= {k for k, v in self.shadow.items() if v.is_floating_point()}

    def current_decay(self, step: int | None = None) -> float:
        """The decay d_t used by update number ``step`` (1-based; default: the next one)."""
        t = self.step + 1 if step is None else step
        if self.warmup == "tf":
            return min(self.decay, (1.0 + t) / (10.0 + t))
        if self.warmup == "power":
            return min(self.decay, 1.0 - (1.0 + t / self.warmup_gamma) ** -self.warmup_power)
        return self.decay

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """ema <- d ema + (1 - d) w for averaged entries; copy the others."""
        d = self.current_decay()
        self.step += 1
        state = model.state_dict()
        if set(state) != set(self.shadow):
            raise ValueError("model: its state_dict keys differ from the ones the EMA tracks")
        avg_e, avg_w = [], []
        for k, v in state.items():
            if k in self._avg:
                avg_e.append(self.shadow[k])
                avg_w.append(v.detach().to(self.shadow[k].device, self.shadow[k].dtype))
            else:
                self.shadow[k].copy_(v)
        if avg_e:
            torch._foreach_lerp_(avg_e, avg_w, 1.0 - d)

    @torch.no_grad()
    def copy_to(self, model: nn.Module) -> None:
        """Load the averaged weights into ``model``."""
        model.load_state_dict(self.shadow)

    @contextmanager
    def swapped(self, model: nn.Module) -> Iterator[nn.Module]:
        """Evaluate with the EMA weights inside the block; the live weights come back after."""
        with torch.no_grad():
            live = {k: v.detach().clone() for k, v in model.state_dict().items()}
            model.load_state_dict(self.shadow)
        try:
            yield model
        finally:
            with torch.no_grad():
                model.load_state_dict(live)

    def state_dict(self) -> dict:
        return {"decay": self.decay, "step": self.step, "shadow": dict(self.shadow)}

    def load_state_dict(self, state: dict) -> None:
        missing = set(self.shadow) ^ set(state["shadow"])
        if missing:
            raise ValueError(f"state: keys differ from the tracked model's: {sorted(missing)}")
        with torch.no_grad():
            for k, v in state["shadow"].items():
                self.shadow[k].copy_(v)
        self.decay, self.step = float(state["decay"]), int(state["step"])
