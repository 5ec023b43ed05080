"""Prefix tuning: trained key/value vectors in front of every attention layer's keys and
values (Li and Liang 2021; notes F3:2960-3046, its six steps).

    1. one shared trainable prefix matrix P (l_p x d); the model is frozen
    2. per layer i: K_p = MLP_k^i(P), V_p = MLP_v^i(P)         (reparameterization)
    3. Q_x, K_x, V_x from the layer's input as usual
    4. K = [K_p; K_x], V = [V_p; V_x]                            (the query is unchanged)
    5. Attention(Q_x, K, V): every token also attends to the l_p prefix positions
    6. residual, norm, MLP as usual; on to the next layer

MLP^i = Linear(d, h) -> tanh -> Linear(h, d) (the paper's tanh MLP, `hidden` = h), so the
trained parameters are l_p d + L * 2 (2 d h + h + d). The notes' P is shared by all layers
(the parameter saving they explain); the paper's original gives P per layer through one
larger MLP. The MLPs' output layers start at zero, so K_p = V_p = 0: the prefix then only
takes a share P / (P + sum_j exp(s_j)) of each query's attention towards a zero value, and
the first updates grow it from there (a random start let the prefix dominate the
attention of a small model and collapsed its predictions to one class). After training `PrefixTuning.freeze_prefix()` stores each layer's K_p, V_p and
drops the MLPs (the paper's inference form: same outputs, less work).
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor, nn

from trainlab.models.layers import MultiHeadSelfAttention

MODULE_NAME = "prefix_tuning"


def _mlp(dim: int, hidden: int) -> nn.Sequential:
    out = nn.Linear(hidden, dim)
    nn.init.zeros_(out.weight)  # K_p = V_p = 0 at first: a gentle start (see above)
    nn.init.zeros_(out.bias)
    return nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), out)


class PrefixTuning(nn.Module):
    """The shared prefix P and one (MLP_k, MLP_v) pair per attention layer."""

    def __init__(
        self,
        dim: int,
        num_layers: int,
        prefix_len: int = 8,
        hidden: int = 32,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        for name, v in (("prefix_len", prefix_len), ("hidden", hidden), ("dim", dim)):
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ValueError(f"{name}: expected an int > 0, got {v!r}")
        self.prefix = nn.Parameter(torch.randn(prefix_len, dim, generator=generator) * 0.02)
        self.key = nn.ModuleList(_mlp(dim, hidden) for _ in range(num_layers))
        self.value = nn.ModuleList(_mlp(dim, hidden) for _ in range(num_layers))
        self.frozen_kv: list[tuple[Tensor, Tensor]] | None = None

    def kv(self, layer: int) -> tuple[Tensor, Tensor]:
        """`(K_p, V_p)`, each `(l_p, d)`, for attention layer `layer`."""
        if self.frozen_kv is not None:
            return self.frozen_kv[layer]
        return self.key[layer](self.prefix), self.value[layer](self.prefix)

    @torch.no_grad()
    def freeze_prefix(self) -> None:
        """Compute every layer's K_p, V_p once and use them from now on (inference)."""
        self.frozen_kv = [
            (self.key[i](self.prefix).detach(), self.value[i](self.prefix).detach())
            for i in range(len(self.key))
        ]


def attention_layers(model: nn.Module) -> list[tuple[str, MultiHeadSelfAttention]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, MultiHeadSelfAttention)]


def apply_prefix(
    model: nn.Module, prefix_len: int = 8, hidden: int = 32, *, seed: int = 0
) -> PrefixTuning:
    """Give every `MultiHeadSelfAttention` of `model` a trained prefix, in place; the
    `PrefixTuning` module is registered on the model as `prefix_tuning` (so it moves,
    checkpoints and trains with it). Raises `ValueError` for a model without attention."""
    layers = attention_layers(model)
    if not layers:
        raise ValueError(
            f"prefix tuning needs attention layers (MultiHeadSelfAttention); "
            f"{type(model).__name__} has none: use finetune.method=lora or adapter"
        )
    if hasattr(model, MODULE_NAME):
        raise ValueError(f"{type(model).__name__} already has a prefix ({MODULE_NAME})")
    dims = {m.proj.in_features for _, m in layers}
    if len(dims) != 1:
        raise ValueError(f"prefix tuning needs one width for every attention layer, got {dims}")
    p = next(iter(model.parameters()))
    gen = torch.Generator().manual_seed(seed)
    tuning = PrefixTuning(dims.pop(), len(layers), prefix_len, hidden, generator=gen)
    tuning.to(device=p.device, dtype=p.dtype)
    model.add_module(MODULE_NAME, tuning)
    for i, (_, attn) in enumerate(layers):
        attn.prefix = functools.partial(tuning.kv, i)
    return tuning
