"""Small Transformer text models: a BERT-style encoder and a GPT-style decoder.

Both embed token ids with learned token and absolute position embeddings and run pre-norm
`TransformerBlock`s (the ViT's blocks, notes F3:1623-2148):

    h = tok_embed(ids) + pos_embed[:L]                         (B, L, D)
    encoder (Devlin et al. 2019): blocks with a padding mask     (no query sees [PAD] keys)
        logits = head(LN(h)[:, 0])                             (B, K) from [CLS]
        mlm_logits = mlm_head(LN(h))                           (B, L, V)
    decoder (Radford et al. 2018): blocks with the causal mask   (query i sees keys <= i)
        logits = lm_head(LN(h))                                (B, L, V), next-token scores

Token ids come from `trainlab.data.text` (PAD=0, [CLS], [SEP], [MASK]); `vocab_size`
defaults to its tokenizer's. Ids arriving as floats (a generic data path) are cast back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from trainlab.models._common import check_rate, trunc_normal_init
from trainlab.models.layers import TransformerBlock, padding_mask
from trainlab.models.registry import register_model


class _TextTransformer(nn.Module):
    """Embeddings, `depth` pre-norm blocks, final LayerNorm; `causal` picks the decoder mask."""

    causal = False

    def __init__(
        self,
        vocab_size: int,
        max_len: int,
        *,
        embed_dim: int = 64,
        depth: int = 2,
        num_heads: int = 4,
        mlp_ratio: float = 4.0,
        drop_rate: float = 0.0,
        pad_id: int = 0,
    ) -> None:
        super().__init__()
        for name, v in (("vocab_size", vocab_size), ("max_len", max_len), ("depth", depth)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}: expected an int >= 1, got {v!r}")
        check_rate("drop_rate", drop_rate)
        if not 0 <= pad_id < vocab_size:
            raise ValueError(f"pad_id: expected an id in [0, {vocab_size}), got {pad_id}")
        self.vocab_size, self.max_len, self.pad_id = vocab_size, max_len, pad_id
        self.tok_embed = nn.Embedding(vocab_size, embed_dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, max_len, embed_dim))
        self.drop = nn.Dropout(drop_rate) if drop_rate > 0 else nn.Identity()
        self.blocks = nn.ModuleList(
            TransformerBlock(
                embed_dim, num_heads, mlp_ratio=mlp_ratio, drop=drop_rate, attn_drop=drop_rate
            )
            for _ in range(depth)
        )
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.num_features = embed_dim

    def _init(self) -> None:
        trunc_normal_init(self, std=0.02)
        nn.init.normal_(self.tok_embed.weight, std=0.02)
        nn.init.trunc_normal_(self.pos_embed, std=0.02, a=-0.04, b=0.04)

    def forward_features(self, ids: Tensor) -> Tensor:  # (B, L) -> (B, L, D)
        if ids.is_floating_point():
            ids = ids.long()
        n = ids.shape[1]
        if n > self.max_len:
            raise ValueError(f"sequence of {n} tokens is longer than max_len={self.max_len}")
        h = self.drop(self.tok_embed(ids) + self.pos_embed[:, :n])
        mask = None if self.causal else padding_mask(ids, self.pad_id)  # (B, 1, 1, L)
        for block in self.blocks:
            h = block(h, mask, causal=self.causal)
        return self.norm(h)


class TextEncoder(_TextTransformer):
    """BERT-style encoder: sequence classification from [CLS], MLM scores per token."""

    def __init__(self, vocab_size: int, max_len: int, num_classes: int, **kwargs: Any) -> None:
        super().__init__(vocab_size, max_len, **kwargs)
        d = self.num_features
        self.head = nn.Linear(d, num_classes)
        self.mlm_head = nn.Linear(d, vocab_size)
        self._init()

    def forward(self, ids: Tensor) -> Tensor:  # (B, L) -> (B, K)
        return self.head(self.forward_features(ids)[:, 0])

    def mlm_logits(self, ids: Tensor) -> Tensor:  # (B, L) -> (B, L, V)
        return self.mlm_head(self.forward_features(ids))


class TextDecoder(_TextTransformer):
    """GPT-style decoder: causal self-attention, next-token scores at every position."""

    causal = True

    def __init__(self, vocab_size: int, max_len: int, **kwargs: Any) -> None:
        super().__init__(vocab_size, max_len, **kwargs)
        self.lm_head = nn.Linear(self.num_features, vocab_size)
        self._init()

    def forward(self, ids: Tensor) -> Tensor:  # (B, L) -> (B, L, V)
        return self.lm_head(self.forward_features(ids))

    @torch.no_grad()
    def generate(self, prompt: Tensor, max_new: int, *, stop_id: int | None = None) -> Tensor:
        """Greedy decoding: append argmax tokens to `(B, T)` prompts (equal lengths) until
        `max_new` tokens or every row produced `stop_id`; returns `(B, T + new)`."""
        out = prompt
        done = torch.zeros(prompt.shape[0], dtype=torch.bool, device=prompt.device)
        for _ in range(max_new):
            if out.shape[1] >= self.max_len:
                break
            nxt = self(out)[:, -1].argmax(-1)  # (B,)
            if stop_id is not None:
                nxt = torch.where(done, torch.full_like(nxt, stop_id), nxt)
                done |= nxt == stop_id
            out = torch.cat((out, nxt[:, None]), dim=1)
            if stop_id is not None and bool(done.all()):
                break
        return out


def _text_args(name: str, in_shape: Sequence[int], vocab_size: int | None) -> tuple[int, int]:
    shape = tuple(int(s) for s in in_shape)
    if len(shape) != 1 or shape[0] < 1:
        raise ValueError(f"{name} needs token sequences in_shape=(L,), got {shape}")
    if vocab_size is None:
        from trainlab.data.text import TOKENIZER

        vocab_size = TOKENIZER.vocab_size
    return vocab_size, shape[0]


@register_model
def text_encoder(
    *, num_classes: int, in_shape: Sequence[int], vocab_size: int | None = None, **kwargs: Any
) -> TextEncoder:
    """BERT-style encoder (D=64, 2 blocks, 4 heads by default) over (L,) token ids."""
    vocab, length = _text_args("text_encoder", in_shape, vocab_size)
    return TextEncoder(vocab, length, num_classes, **kwargs)


@register_model
def text_decoder(
    *, num_classes: int, in_shape: Sequence[int], vocab_size: int | None = None, **kwargs: Any
) -> TextDecoder:
    """GPT-style decoder over (L,) token ids; it predicts tokens (`num_classes` unused)."""
    vocab, length = _text_args("text_decoder", in_shape, vocab_size)
    return TextDecoder(vocab, length, **kwargs)
