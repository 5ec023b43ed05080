"""Per-layer gradient statistics during training (notes F3:313-345, 541-567, 1973-2037).

For each layer (a module owning parameters, named by its module path) every
`diagnose.every_steps` updates:

    grad_norm    = sqrt(sum_p ||g_p||^2)            over the layer's parameters, before clipping
    weight_norm  = sqrt(sum_p ||w_p||^2)            before the update
    update_ratio = ||w_after - w_before|| / ||w_before||   (~1e-3 is the usual healthy figure)
    dead_frac    = fraction of the ReLU's units (features, or channels of a feature map) that
                   output 0 for every sample of the batch (ReLU modules only, else empty)

Vanishing gradients show as grad norms falling by orders of magnitude toward the input
layers; exploding ones as norms growing without bound; a stall with a large gradient norm
(an ill-conditioned ravine, F3:541-567) as a flat loss with steady large norms.

`layer_norms` is the functional core (one multi-tensor norm over all tensors, summed per
layer on the device). `GradStats` is the callback: on the other steps it only compares two
integers, so it adds no host sync; on a statistics step it reads the norms once.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from trainlab.train.callbacks import Callback
from trainlab.train.checkpoint import atomic_write_text

FIELDS = ("epoch", "step", "layer", "grad_norm", "weight_norm", "update_ratio", "dead_frac")


def layer_of(param_name: str) -> str:
    """The module path of a parameter name ('net.1.weight' -> 'net.1'; 'w' -> '')."""
    return param_name.rpartition(".")[0]


def layer_norms(tensors: Sequence[Tensor], index: Tensor, layers: int) -> Tensor:
    """sqrt of the per-layer sums of squared norms: tensors[i] belongs to layer index[i]."""
    if not tensors:
        return torch.zeros(layers)
    norms = torch.stack(torch._foreach_norm(list(tensors))).to(torch.float64)  # (P,)
    sq = torch.zeros(layers, dtype=torch.float64, device=norms.device)
    return sq.index_add_(0, index.to(norms.device), norms**2).sqrt()  # (L,)


def dead_units(out: Tensor) -> Tensor:
    """(units,) bool: the unit never fired on this batch; units are dim 1 (features or
    channels), every other dim (batch, positions) is reduced."""
    fired = out > 0
    if fired.ndim > 2:
        fired = fired.flatten(2).any(-1)  # (B, C)
    return ~fired.any(0) if fired.ndim == 2 else ~fired


class GradStats(Callback):
    """Writes per-layer statistics to `path` (CSV, long format: one row per layer and
    statistics step) every `every_steps` updates. A task with several optimizers (a GAN)
    gets them at its first `update` of the step: the gradients of every module are read
    then, so those of a module whose backward comes later in the step are missed."""

    def __init__(self, path: Path | str, every_steps: int = 50, *, dead_relu: bool = True) -> None:
        if not isinstance(every_steps, int) or every_steps < 1:
            raise ValueError(f"every_steps: expected a positive integer, got {every_steps!r}")
        self.path, self.every, self.dead_relu = Path(path), every_steps, dead_relu
        self._hooks: list[Any] = []
        self._dead: dict[str, Tensor] = {}
        self._pending: dict[str, Any] | None = None

    @classmethod
    def from_config(cls, config: Any, run: Any) -> GradStats | None:
        """The callback `diagnose` asks for on run directory `run` (None if disabled). With
        `train.compile` the dead-ReLU hooks are off: adding and removing forward hooks would
        make the compiled modules recompile on every statistics step."""
        d = config.diagnose
        if run is None or not d.enabled:
            return None
        dead = d.dead_relu and not config.train.compile
        return cls(run.path / "diagnostics.csv", d.every_steps, dead_relu=dead)

    # ----------------------------------------------------------------- set-up
    def on_fit_start(self, trainer: Any) -> None:
        mods = trainer.task.modules
        named = [
            (f"{k}.{n}" if len(mods) > 1 else n, p)
            for k, m in mods.items()
            for n, p in m.named_parameters()
            if p.requires_grad
        ]
        self.layers = list(dict.fromkeys(layer_of(n) or n for n, _ in named))
        pos = {name: i for i, name in enumerate(self.layers)}
        self.params = [p for _, p in named]
        self.index = torch.tensor([pos[layer_of(n) or n] for n, _ in named])
        self.relus = [
            (f"{k}.{n}" if len(mods) > 1 else n, mod)
            for k, m in mods.items()
            for n, mod in m.named_modules()
            if isinstance(mod, nn.ReLU)
        ]
        self._truncate(trainer.step)
        self._arm(trainer)

    def _truncate(self, step: int) -> None:
        """A resumed run drops rows after its checkpoint's step (they are taken again)."""
        if not self.path.is_file():
            return
        with self.path.open(newline="", encoding="utf-8") as f:
            rows = [r for r in csv.DictReader(f) if int(r["step"]) <= step]
        self._write(rows, "w")

    def _write(self, rows: list[dict[str, Any]], mode: str) -> None:
        new = mode == "w" or not self.path.is_file()
        with self.path.open(mode, newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=FIELDS, lineterminator="\n")
            if new:
                w.writeheader()
            w.writerows(rows)

    def _is_stats_step(self, update: int) -> bool:
        return update % self.every == 0

    def _arm(self, trainer: Any) -> None:
        """Forward hooks on the ReLUs for the coming update if it is a statistics step (so
        the other steps run no hook at all)."""
        if not self.dead_relu or self._hooks or not self._is_stats_step(trainer.step + 1):
            return
        self._dead = {}
        for name, mod in self.relus:
            self._hooks.append(mod.register_forward_hook(self._relu_hook(name)))

    def _relu_hook(self, name: str) -> Any:
        def hook(_mod: nn.Module, _inp: Any, out: Tensor) -> None:
            if torch.is_grad_enabled():  # the training forward, not an evaluation
                dead = dead_units(out.detach())
                prev = self._dead.get(name)
                self._dead[name] = dead if prev is None else prev & dead  # over micro-batches

        return hook

    def _disarm(self) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks = []

    # ----------------------------------------------------------------- the steps
    def on_before_update(self, trainer: Any, step: Any, updater: Any) -> None:
        if not self._is_stats_step(step.index + 1) or self._pending is not None:
            return
        self._disarm()
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]
        weights = [p.detach() for p in self.params]
        self._pending = {
            "epoch": step.epoch + 1,
            "step": step.index + 1,
            "grad": layer_norms(grads, self.index, len(self.layers)),
            "weight": layer_norms(weights, self.index, len(self.layers)),
            "before": [w.clone() for w in weights],
        }

    def on_step_end(self, trainer: Any, loss: Tensor | None, batch_size: int) -> None:
        pend = self._pending
        if pend is None or trainer.step != pend["step"]:
            self._arm(trainer)
            return
        self._pending = None
        deltas = [p.detach() - b for p, b in zip(self.params, pend["before"], strict=True)]
        upd = layer_norms(deltas, self.index, len(self.layers))
        ratio = upd / pend["weight"].clamp_min(1e-30)
        g, w, r = pend["grad"].tolist(), pend["weight"].tolist(), ratio.tolist()  # the sync
        dead = {k: float(v.float().mean()) for k, v in self._dead.items()}
        rows = [
            {"epoch": pend["epoch"], "step": pend["step"], "layer": name,
             "grad_norm": g[i], "weight_norm": w[i], "update_ratio": r[i], "dead_frac": ""}
            for i, name in enumerate(self.layers)
        ]  # fmt: skip
        rows += [
            {"epoch": pend["epoch"], "step": pend["step"], "layer": name, "grad_norm": "",
             "weight_norm": "", "update_ratio": "", "dead_frac": frac}
            for name, frac in dead.items()
        ]  # fmt: skip
        self._dead = {}
        self._write(rows, "a")
        self._arm(trainer)

    @property
    def interrupted_path(self) -> Path:
        return self.path.parent / "interrupted.json"

    def on_interrupt(self, trainer: Any) -> None:
        """Record what ended the run (called inside the Trainer's except block), so
        `trainlab diagnose` can report on a run that diverged or crashed."""
        self._disarm()
        err = sys.exc_info()[1]
        record = {
            "reason": type(err).__name__ if err is not None else "unknown",
            "message": str(err) if err is not None else "",
            "epoch": trainer.epoch + 1,
            "step": trainer.step,
        }
        atomic_write_text(self.interrupted_path, json.dumps(record, indent=2) + "\n")

    def on_fit_end(self, trainer: Any, summary: dict[str, Any]) -> None:
        self._disarm()
        self.interrupted_path.unlink(missing_ok=True)  # resumed and finished after all


def read_diagnostics(path: Path | str) -> list[dict[str, Any]]:
    """The rows of a diagnostics.csv with numbers as floats (NaN where empty)."""
    out = []
    with Path(path).open(newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            row: dict[str, Any] = {"epoch": int(r["epoch"]), "step": int(r["step"])}
            row["layer"] = r["layer"]
            for k in FIELDS[3:]:
                row[k] = float(r[k]) if r[k] not in ("", None) else math.nan
            out.append(row)
    return out
