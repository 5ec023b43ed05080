"""An embedded, seeded, synthetic text corpus and its character tokenizer (no download).

The corpus is arithmetic question-answer pairs ``"a+b=c"`` and ``"a-b=c"`` with operands
``0 <= a, b < max_operand`` (subtraction keeps ``a >= b``). Each pair is one sequence

    [CLS] a op b = c [SEP] [PAD] ...        (ids: PAD 0, CLS 1, SEP 2, MASK 3, then chars)

so the same rows serve every text task: the encoder (BERT-style) reads `[CLS]` and masks
`[MASK]`; the decoder (GPT-style) uses `[CLS]` as its begin-of-sequence token and `[SEP]` as
its end; supervised fine-tuning treats the tokens after `=` as the answer (prompt and padding
are masked out of its loss). The classification label `y` is the last digit of the answer
(10 classes), which depends on the operands' last digits and the operator: a task an
attention model has to learn, not read off one position.

`load_arith()` is the `--data arith` source: `x` (N, L) int64 token ids (kept as integers
and never standardized by `load_dataset`), `y` (N,) int64.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from trainlab.data.bundle import DataBundle, RawData
from trainlab.errors import ConfigError

PAD, CLS, SEP, MASK = "[PAD]", "[CLS]", "[SEP]", "[MASK]"
SPECIALS = (PAD, CLS, SEP, MASK)
CHARS = "0123456789+-="


@dataclass(frozen=True)
class CharTokenizer:
    """Characters to ids after the special tokens (PAD=0, CLS=1, SEP=2, MASK=3)."""

    chars: str = CHARS
    specials: tuple[str, ...] = SPECIALS

    @property
    def vocab(self) -> list[str]:
        return [*self.specials, *self.chars]

    @property
    def vocab_size(self) -> int:
        return len(self.specials) + len(self.chars)

    def id(self, token: str) -> int:
        """The id of a special token or a character."""
        vocab = self.vocab
        if token not in vocab:
            raise ValueError(f"token {token!r} is not in the vocabulary {vocab}")
        return vocab.index(token)

    @property
    def pad_id(self) -> int:
        return self.id(PAD)

    @property
    def cls_id(self) -> int:
        return self.id(CLS)

    @property
    def sep_id(self) -> int:
        return self.id(SEP)

    @property
    def mask_id(self) -> int:
        return self.id(MASK)

    def encode(self, text: str, *, length: int | None = None, wrap: bool = True) -> list[int]:
        """`[CLS] text [SEP]` (`wrap`) as ids, right-padded with PAD to `length`."""
        base = len(self.specials)
        bad = sorted({c for c in text if c not in self.chars})
        if bad:
            raise ValueError(f"text {text!r} has characters {bad} outside {self.chars!r}")
        ids = [base + self.chars.index(c) for c in text]
        if wrap:
            ids = [self.cls_id, *ids, self.sep_id]
        if length is not None:
            if len(ids) > length:
                raise ValueError(f"text {text!r} needs {len(ids)} tokens, more than {length}")
            ids += [self.pad_id] * (length - len(ids))
        return ids

    def decode(self, ids: Sequence[int] | Tensor, *, skip_special: bool = True) -> str:
        vocab = self.vocab
        out = []
        for i in [int(t) for t in ids]:
            if skip_special and i < len(self.specials):
                continue
            out.append(vocab[i])
        return "".join(out)


TOKENIZER = CharTokenizer()


def arithmetic_pairs(
    n: int, *, seed: int = 0, max_operand: int = 100, ops: str = "+-"
) -> list[tuple[str, str]]:
    """`n` distinct seeded (prompt, answer) pairs such as ("12+7=", "19")."""
    if max_operand < 2:
        raise ValueError(f"max_operand: expected an int >= 2, got {max_operand}")
    if not ops or any(o not in "+-" for o in ops):
        raise ValueError(f"ops: expected a non-empty string of '+' and '-', got {ops!r}")
    every = [
        (a, o, b)
        for o in ops
        for a in range(max_operand)
        for b in range(max_operand)
        if o == "+" or a >= b
    ]
    if not 1 <= n <= len(every):
        raise ValueError(f"n: expected 1..{len(every)} distinct pairs, got {n}")
    rng = np.random.default_rng(seed)
    chosen = rng.permutation(len(every))[:n]
    out = []
    for i in chosen:
        a, o, b = every[int(i)]
        out.append((f"{a}{o}{b}=", str(a + b if o == "+" else a - b)))
    return out


def encode_pairs(pairs: Sequence[tuple[str, str]], tokenizer: CharTokenizer = TOKENIZER) -> Tensor:
    """(N, L) int64 ids of `[CLS] prompt answer [SEP]`, padded to the longest."""
    length = max(len(p) + len(a) for p, a in pairs) + 2
    return torch.tensor([tokenizer.encode(p + a, length=length) for p, a in pairs])


def load_arith(n: int = 4000, seed: int = 0) -> RawData:
    """The `arith` corpus as RawData: token ids `x` and the answer's last digit `y`."""
    pairs = arithmetic_pairs(n, seed=seed)
    x = encode_pairs(pairs).numpy()
    y = np.array([int(a[-1]) for _, a in pairs], dtype=np.int64)
    return RawData(
        x=x, y=y, task="classification", class_names=[str(c) for c in range(10)], tokens=True
    )


def answer_mask(tokens: Tensor, tokenizer: CharTokenizer = TOKENIZER, sep: str = "=") -> Tensor:
    """(B, L) bool: True at the answer tokens, those after the first `sep` (the closing
    [SEP] included, so a model learns to stop), False at the prompt and at padding."""
    after = (tokens == tokenizer.id(sep)).long().cumsum(1) > 0
    is_sep = tokens == tokenizer.id(sep)
    return after & ~is_sep & (tokens != tokenizer.pad_id)


def split_prompts(
    tokens: Tensor, tokenizer: CharTokenizer = TOKENIZER, sep: str = "="
) -> list[tuple[Tensor, str]]:
    """Each row's prompt ids (`[CLS] ... =`) and its answer text, for greedy decoding."""
    out = []
    for row in tokens:
        ids = row.tolist()
        cut = ids.index(tokenizer.id(sep)) + 1
        out.append((row[:cut], tokenizer.decode(ids[cut:])))
    return out


def require_tokens(data: DataBundle, task: str) -> None:
    """A `ConfigError` unless `data` is token sequences (in memory, int64, (N, L))."""
    x = getattr(data.train, "x", None)
    if len(data.in_shape) != 1 or x is None or x.is_floating_point():
        raise ConfigError(
            f"task.name = {task!r} needs token sequences (--data arith); got samples of "
            f"shape {tuple(data.in_shape)}"
        )
