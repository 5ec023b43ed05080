"""Stems: patchify (ViT, ConvNeXt; notes F0:93-102) and the rule that adapts them to small inputs.

A patchify stem is a convolution with `kernel_size == stride == p`: every output pixel sees
one non-overlapping `p x p` patch, i.e. it flattens each patch and applies one shared
linear map (ViT's patch embedding, ConvNeXt's 4x4/stride-4 stem).

Small inputs: a stem built for 224x224 downsamples by 4 (CNNs) or 16 (ViT); on an 8x8 or
32x32 input that leaves too little (or nothing) for the later stages. `adapt_stride`
picks the largest stride, among the standard one divided by powers of two, that still
leaves at least `min_out` pixels per side.
"""

from __future__ import annotations

from torch import Tensor, nn


def adapt_stride(size: int, standard: int, min_out: int) -> int:
    """Largest `s` in `standard, standard/2, ..., 1` with `size // s >= min_out` (else 1)."""
    s = standard
    while s > 1 and size // s < min_out:
        s //= 2
    return max(s, 1)


def patchify(x: Tensor, p: int) -> Tensor:
    """`(B, C, H, W)` -> `(B, (H/p)(W/p), C p p)`: the flattened non-overlapping patches."""
    b, c, h, w = x.shape
    x = x[:, :, : h - h % p, : w - w % p].reshape(b, c, h // p, p, w // p, p)
    return x.permute(0, 2, 4, 1, 3, 5).reshape(b, (h // p) * (w // p), c * p * p)


class PatchEmbed(nn.Module):
    """Conv(k = s = patch_size) then flatten to tokens `(B, N, dim)` (timm: `patch_embed.proj`).

    Equivalent to `patchify(x, p) @ W^T + b` with `W = proj.weight.flatten(1)`.
    """

    def __init__(self, in_chans: int, dim: int, patch_size: int = 16) -> None:
        super().__init__()
        if patch_size < 1:
            raise ValueError(f"patch_size must be >= 1, got {patch_size}")
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_chans, dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)  # (B, dim, h, w) -> (B, h*w, dim)
