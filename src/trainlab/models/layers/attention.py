"""Multi-head self-attention and the pre-norm Transformer block (notes F3:1623-1969, 2086-2148).

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V                  (Vaswani et al. 2017)
    head_i = Attention(X W_q^i, X W_k^i, X W_v^i),  MHSA(X) = concat(head_1..head_h) W_o

The block is pre-norm (as in ViT, Dosovitskiy et al. 2021, and timm), which trains without
warm-up tricks better than the original post-norm:

    x = x + drop_path(ls1(attn(norm1(x))));  x = x + drop_path(ls2(mlp(norm2(x))))

`MultiHeadSelfAttention` uses `F.scaled_dot_product_attention` (flash / memory-efficient
kernels where available); `attention` is the literal formula, kept as the readable
reference the tests compare against.

Masks (text models): `mask` is boolean, True = may attend, broadcastable to
`(B, heads, N_q, N_k)`; `padding_mask(tokens, pad_id)` gives `(B, 1, 1, N)` (no query
attends to a padding key) and `causal=True` adds the GPT-style lower triangle
`causal_mask(N)` (query i sees keys j <= i). Prefix tuning (`trainlab.finetune.prefix`)
sets `attn.prefix`, a callable returning `(K_p, V_p)` of shape `(P, dim)` each: they are
concatenated in front of every sample's keys and values, and every query, causal or not,
may attend to all P of them. Names (`qkv`, `proj`, `norm1`, `ls1.gamma`, ...) are
timm's `vision_transformer.py`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from trainlab.models.layers.drop import DropPath
from trainlab.models.layers.mlp import Mlp


def attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None) -> Tensor:
    """`softmax(q k^T / sqrt(d_k)) v` for `(..., T, d)` tensors; `mask` True = attend."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., T_q, T_k)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(dim=-1) @ v


def padding_mask(tokens: Tensor, pad_id: int) -> Tensor:
    """`(B, N)` token ids -> `(B, 1, 1, N)` bool, True where the key is not padding."""
    return (tokens != pad_id)[:, None, None, :]


def causal_mask(n: int, device: torch.device | None = None) -> Tensor:
    """`(n, n)` bool lower triangle: query i attends to keys j <= i."""
    return torch.ones(n, n, dtype=torch.bool, device=device).tril()


PrefixFn = Callable[[], tuple[Tensor, Tensor]]


class MultiHeadSelfAttention(nn.Module):
    """`num_heads` heads of width `dim / num_heads` over `(B, N, dim)` tokens."""

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        *,
        qkv_bias: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        if num_heads < 1 or dim % num_heads:
            raise ValueError(f"num_heads={num_heads} must divide dim={dim}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.attn_drop = attn_drop
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop) if proj_drop > 0 else nn.Identity()
        # prefix tuning's (K_p, V_p) source; a plain attribute, not a submodule (the
        # parameters live in the model's `prefix_tuning` module)
        self.prefix: PrefixFn | None = None

    def _with_prefix(
        self, k: Tensor, v: Tensor, mask: Tensor | None, causal: bool
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        assert self.prefix is not None
        b, _, n, _ = k.shape
        kp, vp = self.prefix()  # (P, C) each
        p = kp.shape[0]
        # (P, C) -> (B, heads, P, head_dim)
        kp, vp = (
            t.to(k.dtype).reshape(1, p, self.num_heads, self.head_dim).transpose(1, 2)
            for t in (kp, vp)
        )
        k = torch.cat((kp.expand(b, -1, -1, -1), k), dim=2)
        v = torch.cat((vp.expand(b, -1, -1, -1), v), dim=2)
        if causal:
            tri = causal_mask(n, k.device)
            mask = tri if mask is None else mask & tri
        if mask is not None:  # every query may attend to the P prefix keys
            mask = mask.expand(*mask.shape[:-2], n, n)
            mask = F.pad(mask, (p, 0), value=True)
        return k, v, mask

    def forward(self, x: Tensor, mask: Tensor | None = None, *, causal: bool = False) -> Tensor:
        b, n, c = x.shape
        # (B, N, 3C) -> (3, B, heads, N, head_dim)
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        if self.prefix is not None:
            k, v, mask = self._with_prefix(k, v, mask, causal)  # (B, heads, P + N, head_dim)
            causal = False  # folded into mask
        drop = self.attn_drop if self.training else 0.0
        if causal and mask is not None:
            mask, causal = mask & causal_mask(n, x.device), False
        # (B, heads, N, head_dim)
        x = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=drop, is_causal=causal
        )
        x = x.transpose(1, 2).reshape(b, n, c)
        return self.proj_drop(self.proj(x))


class LayerScale(nn.Module):
    """Per-channel scale `gamma * x` (CaiT, Touvron et al. 2021), init `init_value`."""

    def __init__(self, dim: int, init_value: float = 1e-5) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), float(init_value)))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gamma


class TransformerBlock(nn.Module):
    """Pre-norm encoder block: LN -> MHSA -> residual, LN -> MLP(GELU) -> residual."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        *,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        init_values: float | None = None,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = MultiHeadSelfAttention(
            dim, num_heads, qkv_bias=qkv_bias, attn_drop=attn_drop, proj_drop=drop
        )
        self.ls1 = LayerScale(dim, init_values) if init_values is not None else nn.Identity()
        self.drop_path1 = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)
        self.ls2 = LayerScale(dim, init_values) if init_values is not None else nn.Identity()
        self.drop_path2 = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(
        self, x: Tensor, mask: Tensor | None = None, *, causal: bool = False
    ) -> Tensor:  # (B, N, dim) -> (B, N, dim)
        x = x + self.drop_path1(self.ls1(self.attn(self.norm1(x), mask, causal=causal)))
        return x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))
