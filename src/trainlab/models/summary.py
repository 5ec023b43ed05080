"""Per-layer parameter and FLOP summaries (notes F0:88-91: FLOPs as the compute measure).

FLOPs come from `torch.utils.flop_counter.FlopCounterMode`, which counts matrix products and
convolutions as 2 FLOPs per multiply-add, so a model's FLOPs are twice the "multiply-adds"
(MACs) that papers usually publish (ResNet-50: 4.1 G MACs = 8.2 GFLOPs at 224x224).
Operators it has no formula for (activations, normalization, pooling, elementwise adds)
count 0; the summary names them in a warning instead of silently ignoring them.

Each module's *own* FLOPs are its total minus its children's totals, so the rows add up
to the model total without double counting (the matmuls inside attention land on the
attention module). The model can live on the `meta` device: nothing is allocated.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode, flop_registry

# Operators that only move or reshape data (no arithmetic): not worth a warning.
_DATA_MOVEMENT = {
    "alias", "as_strided", "as_strided_", "cat", "clone", "constant_pad_nd", "contiguous", "copy_", "_to_copy", "detach", "empty",
    "empty_like", "empty_strided", "expand", "fill_", "full", "lift_fresh", "new_empty",
    "new_zeros", "ones", "ones_like", "permute", "select", "slice", "split", "split_with_sizes",
    "squeeze", "stack", "t", "transpose", "unbind", "unsqueeze", "view", "_unsafe_view",
    "zeros", "zeros_like", "_reshape_alias", "reshape", "flatten", "unflatten",
}  # fmt: skip


class _OpRecorder(TorchDispatchMode):
    """Records the name of every aten operator that runs."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: set = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.add(func._overloadpacket)
        return func(*args, **(kwargs or {}))


@dataclass
class LayerRow:
    """One row of the table: a module's own parameters and FLOPs."""

    name: str
    kind: str
    params: int
    flops: int


@dataclass
class ModelSummary:
    """Result of `summarize`; `table()` renders it as text."""

    model: str
    input_shape: tuple[int, ...]
    batch_size: int
    rows: list[LayerRow]
    total_params: int
    trainable_params: int
    total_flops: int
    uncounted_ops: list[str] = field(default_factory=list)

    @property
    def macs(self) -> float:
        return self.total_flops / 2

    def warnings(self) -> list[str]:
        if not self.uncounted_ops:
            return []
        return [
            "warning: torch.utils.flop_counter has no formula for these operators, "
            "counted as 0 FLOPs: " + ", ".join(self.uncounted_ops)
        ]

    def table(self) -> str:
        width = max([len(r.name) for r in self.rows] + [5])
        kw = max([len(r.kind) for r in self.rows] + [4])
        head = f"{'layer':<{width}}  {'type':<{kw}}  {'params':>12}  {'FLOPs':>10}"
        lines = [head, "-" * len(head)]
        for r in self.rows:
            lines.append(
                f"{r.name:<{width}}  {r.kind:<{kw}}  {r.params:>12,}  {human(r.flops):>10}"
            )
        lines.append("-" * len(head))
        shape = "x".join(map(str, self.input_shape))
        lines += [
            f"{self.model}: {self.total_params:,} parameters ({self.trainable_params:,} trainable)",
            f"FLOPs for one forward pass of {self.batch_size} x {shape}: "
            f"{human(self.total_flops)} ({self.total_flops:,})",
            "FLOPs = 2 x multiply-adds (torch.utils.flop_counter): "
            f"{human(self.macs)} multiply-adds",
        ]
        return "\n".join(lines + self.warnings())


def human(n: float) -> str:
    """`4.1e9 -> '4.10 G'`."""
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n:.0f}"


def parse_shape(spec: str | Sequence[int]) -> tuple[int, ...]:
    """`"3x224x224"` (or a sequence) -> `(3, 224, 224)`; `ValueError` when malformed."""
    if isinstance(spec, str):
        try:
            shape = tuple(int(p) for p in spec.lower().replace(",", "x").split("x"))
        except ValueError:
            shape = ()
    else:
        shape = tuple(int(p) for p in spec)
    if not shape or any(s < 1 for s in shape):
        raise ValueError(f"input shape must look like 3x224x224 (positive ints), got {spec!r}")
    return shape


def summarize(
    model: nn.Module,
    input_shape: str | Sequence[int],
    *,
    batch_size: int = 1,
    depth: int | None = None,
    name: str | None = None,
) -> ModelSummary:
    """Run one forward pass of zeros `(batch_size, *input_shape)` and count params and FLOPs.

    The input is created on the model's device (use `meta` for big models: no memory,
    no compute). `depth` aggregates rows to module names with at most `depth` components
    (`None`: one row per module that owns parameters or FLOPs). The model is run in eval
    mode and restored afterwards.
    """
    shape = parse_shape(input_shape)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if depth is not None and depth < 1:
        raise ValueError(f"depth must be >= 1 or None, got {depth}")
    p = next(model.parameters(), None)
    device = p.device if p is not None else torch.device("cpu")
    dtype = p.dtype if p is not None and p.is_floating_point() else torch.float32
    x = torch.zeros((batch_size, *shape), device=device, dtype=dtype)
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    recorder = _OpRecorder()
    try:
        with torch.no_grad(), counter, recorder:
            model(x)
    finally:
        model.train(was_training)

    root = type(model).__name__
    totals: dict[str, int] = defaultdict(int)
    for key, per_op in counter.get_flop_counts().items():
        if key == root:
            totals[""] = sum(per_op.values())
        elif key.startswith(root + "."):
            totals[key[len(root) + 1 :]] = sum(per_op.values())

    def total(mname: str, module: nn.Module) -> int:
        # a container that is never called (ModuleList, ModuleDict) has no count of its
        # own: its total is its children's, so it gets 0 FLOPs and its parent no deficit
        if mname not in totals:
            totals[mname] = sum(
                total(f"{mname}.{c}" if mname else c, child) for c, child in module.named_children()
            )
        return totals[mname]

    rows: dict[str, LayerRow] = {}
    for mname, module in model.named_modules():
        own_params = sum(t.numel() for t in module.parameters(recurse=False))
        child_flops = sum(
            total(f"{mname}.{c}" if mname else c, child) for c, child in module.named_children()
        )
        own_flops = total(mname, module) - child_flops
        if own_params == 0 and own_flops == 0:
            continue
        key = mname if depth is None else ".".join(mname.split(".")[:depth])
        kind = type(model.get_submodule(key)).__name__ if key else root
        row = rows.setdefault(key, LayerRow(key or "(model)", kind, 0, 0))
        row.params += own_params
        row.flops += own_flops
    all_params = list(model.parameters())
    uncounted = sorted(
        str(op)
        for op in recorder.ops
        if op not in flop_registry and str(op).split(".")[-1] not in _DATA_MOVEMENT
    )
    return ModelSummary(
        model=name or root,
        input_shape=shape,
        batch_size=batch_size,
        rows=list(rows.values()),
        total_params=sum(t.numel() for t in all_params),
        trainable_params=sum(t.numel() for t in all_params if t.requires_grad),
        total_flops=counter.get_total_flops(),
        uncounted_ops=uncounted,
    )


def describe_model(
    name: str, input_shape: str | Sequence[int] = "3x224x224", *, num_classes: int = 1000,
    depth: int | None = None, **model_kwargs: Any,
) -> ModelSummary:  # fmt: skip
    """Summary of registered model `name` built for `input_shape` on the meta device.

    Nothing is allocated or computed, so even convnext_base at 224x224 takes well under a
    second; `trainlab models show NAME --input 3x224x224` prints `.table()` of this.
    """
    from trainlab.models.registry import create_model

    shape = parse_shape(input_shape)
    with torch.device("meta"):
        model = create_model(name, num_classes=num_classes, in_shape=shape, **model_kwargs)
    return summarize(model, shape, depth=depth, name=name)


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (shared tensors counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
