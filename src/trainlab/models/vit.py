"""Vision Transformer (Dosovitskiy et al. 2021; notes F0:93-102, F3:1623-2148).

    tokens = [cls; patchify(x) W_e] + pos_embed                 (B, 1 + N, D)
    depth x pre-norm TransformerBlock(D, heads, mlp 4D)
    logits = head(LayerNorm(tokens)[:, 0])                      (class token)

Keys follow timm's `vision_transformer.py` (`cls_token`, `pos_embed`, `patch_embed.proj`,
`blocks.0.attn.qkv`, `blocks.0.mlp.fc1`, `norm`, `head`). With patch 16 at 224x224:
vit_tiny (D=192, 3 heads) 5,717,416 parameters, vit_small (D=384, 6 heads) 22,050,664.

Small inputs: `patch_size=None` picks the largest of 16, 8, 4, 2, 1 that leaves a grid of
>= 8 patches per side (224 -> 16, 64 -> 8, 32 -> 4, 8 -> 1); `pos_embed` has one entry per
patch of the given `in_shape`. `resample_pos_embed` adapts a checkpoint to another grid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from trainlab.models._common import check_rate, image_shape, trunc_normal_init
from trainlab.models.layers import PatchEmbed, TransformerBlock, adapt_stride, drop_path_rates
from trainlab.models.registry import register_model


class VisionTransformer(nn.Module):
    """ViT with a class token and learned absolute position embeddings."""

    def __init__(
        self,
        img_size: tuple[int, int] = (224, 224),
        patch_size: int = 16,
        *,
        in_chans: int = 3,
        num_classes: int = 1000,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        init_values: float | None = None,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        drop_path_rule: str = "linear",
    ) -> None:
        super().__init__()
        check_rate("drop_rate", drop_rate)
        check_rate("attn_drop_rate", attn_drop_rate)
        grid = (img_size[0] // patch_size, img_size[1] // patch_size)
        if min(grid) < 1:
            raise ValueError(f"patch_size={patch_size} is larger than the image {img_size}")
        self.grid_size = grid
        self.patch_embed = PatchEmbed(in_chans, embed_dim, patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + grid[0] * grid[1], embed_dim))
        self.pos_drop = nn.Dropout(drop_rate) if drop_rate > 0 else nn.Identity()
        check_rate("drop_path_rate", drop_path_rate)
        dpr = drop_path_rates(drop_path_rate, depth, rule=drop_path_rule)
        self.blocks = nn.Sequential(
            *(
                TransformerBlock(
                    embed_dim,
                    num_heads,
                    mlp_ratio=mlp_ratio,
                    qkv_bias=qkv_bias,
                    drop=drop_rate,
                    attn_drop=attn_drop_rate,
                    drop_path=dpr[i],
                    init_values=init_values,
                )
                for i in range(depth)
            )
        )
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.head_drop = nn.Dropout(drop_rate) if drop_rate > 0 else nn.Identity()
        self.head = nn.Linear(embed_dim, num_classes)
        self.num_features = embed_dim
        trunc_normal_init(self, std=0.02)
        nn.init.trunc_normal_(self.pos_embed, std=0.02, a=-0.04, b=0.04)
        nn.init.normal_(self.cls_token, std=1e-6)

    def forward_features(self, x: Tensor) -> Tensor:  # (B, C, H, W) -> (B, 1 + N, D)
        x = self.patch_embed(x)  # (B, N, D)
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        x = self.pos_drop(torch.cat((cls, x), dim=1) + self.pos_embed)
        return self.norm(self.blocks(x))

    def forward_head(self, x: Tensor) -> Tensor:
        return self.head(self.head_drop(x[:, 0]))  # the class token

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))


def resample_pos_embed(pos_embed: Tensor, new_grid: Sequence[int], num_prefix: int = 1) -> Tensor:
    """Bicubic-resize `(1, prefix + h*w, D)` position embeddings to `new_grid` (square old grid)."""
    prefix, grid = pos_embed[:, :num_prefix], pos_embed[:, num_prefix:]
    old = math.isqrt(grid.shape[1])
    if old * old != grid.shape[1]:
        raise ValueError(f"pos_embed grid of {grid.shape[1]} tokens is not square")
    d = grid.shape[-1]
    grid = grid.reshape(1, old, old, d).permute(0, 3, 1, 2).float()  # (1, D, h, w)
    grid = F.interpolate(grid, size=tuple(new_grid), mode="bicubic", align_corners=False)
    grid = grid.permute(0, 2, 3, 1).reshape(1, -1, d).to(pos_embed.dtype)
    return torch.cat((prefix, grid), dim=1)


def _vit(
    name: str,
    dim: int,
    heads: int,
    *,
    num_classes: int,
    in_shape: Sequence[int],
    patch_size: int | None = None,
    depth: int = 12,
    **kwargs: Any,
) -> VisionTransformer:
    c, h, w = image_shape(name, in_shape)
    if patch_size is None:
        patch_size = adapt_stride(min(h, w), 16, min_out=8)
    return VisionTransformer(
        (h, w),
        patch_size,
        in_chans=c,
        num_classes=num_classes,
        embed_dim=dim,
        depth=depth,
        num_heads=heads,
        **kwargs,
    )


@register_model
def vit_tiny(*, num_classes: int, in_shape: Sequence[int], **kwargs: Any) -> VisionTransformer:
    """ViT-Ti/16: D=192, 12 blocks, 3 heads (DeiT-Ti). kwargs: patch_size, drop_path_rate, ..."""
    return _vit("vit_tiny", 192, 3, num_classes=num_classes, in_shape=in_shape, **kwargs)


@register_model
def vit_small(*, num_classes: int, in_shape: Sequence[int], **kwargs: Any) -> VisionTransformer:
    """ViT-S/16: D=384, 12 blocks, 6 heads. kwargs: patch_size, drop_path_rate, ..."""
    return _vit("vit_small", 384, 6, num_classes=num_classes, in_shape=in_shape, **kwargs)
