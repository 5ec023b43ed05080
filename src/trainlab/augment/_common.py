"""Shared helpers of trainlab.augment: input validation and generator-driven sampling.

Every random draw takes an explicit ``torch.Generator``. Small parameter draws (lambdas,
boxes, op choices) happen on the generator's device and move to the images' device once;
they are a few numbers per image, so this costs nothing next to the image work.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from trainlab._validate import check_int


def check_images(x: object, name: str = "x") -> tuple[Tensor, bool]:
    """Validate an image batch (N, C, H, W) or a single image (C, H, W).

    Returns the batch as 4-D and whether the input was a single image.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if x.dim() not in (3, 4):
        raise ValueError(
            f"{name}: expected an image (C, H, W) or a batch (N, C, H, W), got shape "
            f"{tuple(x.shape)} (rank {x.dim()})"
        )
    if x.dtype != torch.uint8 and not x.is_floating_point():
        raise ValueError(f"{name}: expected dtype uint8 or a floating dtype, got {x.dtype}")
    single = x.dim() == 3
    return (x.unsqueeze(0) if single else x), single


def check_generator(generator: object, name: str = "generator") -> torch.Generator:
    if not isinstance(generator, torch.Generator):
        raise TypeError(
            f"{name}: expected a torch.Generator (randomness is always explicit), "
            f"got {type(generator).__name__}"
        )
    return generator


def channel_values(value: float | tuple[float, ...] | Tensor, channels: int, name: str) -> Tensor:
    """One number, or one per channel, as float64 (C,)."""
    v = torch.as_tensor(value, dtype=torch.float64).reshape(-1)
    if v.numel() not in (1, channels):
        raise ValueError(f"{name}: expected 1 or {channels} values, got {v.tolist()}")
    return v.expand(channels)


def fill_values(x: Tensor, value: float | tuple[float, ...] | Tensor, name: str) -> Tensor:
    """A fill colour (one number, or one per channel) in the units of the images ``x``
    (levels 0..255, rounded, for uint8), on their device, shaped (1, C, 1, 1)."""
    c = x.shape[1]
    f = channel_values(value, c, name)
    if x.dtype == torch.uint8:
        f = f.round().clamp(0, 255)
    return f.to(dtype=x.dtype, device=x.device).view(1, c, 1, 1)


def rand(shape: tuple[int, ...], generator: torch.Generator, device: torch.device) -> Tensor:
    """Uniform [0, 1) float32 numbers drawn with ``generator``, delivered on ``device``."""
    return torch.rand(shape, generator=generator, device=generator.device).to(device)


def _log_gamma_sample(shape: tuple[int, ...], alpha: float, generator: torch.Generator) -> Tensor:
    """log of Gamma(alpha, 1) samples, float64, drawn with ``generator``.

    Marsaglia & Tsang (2000), "A simple method for generating gamma variables": for
    a >= 1, d = a - 1/3, c = 1/sqrt(9d), draw z ~ N(0, 1), u ~ U(0, 1), v = (1 + c z)^3 and
    accept d*v when v > 0 and log u < z^2/2 + d - d v + d log v (acceptance > 95%). For a < 1,
    Gamma(a) = Gamma(a + 1) * U^(1/a); working in logs keeps small alphas from underflowing.
    (torch.distributions.Gamma cannot take a generator, hence this sampler.)
    """
    dev = generator.device
    a = alpha if alpha >= 1.0 else alpha + 1.0
    d = a - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    n = math.prod(shape)
    out = torch.empty(n, dtype=torch.float64, device=dev)
    todo = torch.arange(n, device=dev)
    while todo.numel() > 0:
        m = todo.numel()
        z = torch.randn(m, generator=generator, device=dev, dtype=torch.float64)
        u = torch.rand(m, generator=generator, device=dev, dtype=torch.float64)
        v = (1.0 + c * z) ** 3
        ok = v > 0
        logv = torch.log(torch.where(ok, v, torch.ones_like(v)))
        ok &= torch.log(u) < 0.5 * z * z + d - d * v + d * logv
        out[todo[ok]] = math.log(d) + logv[ok]
        todo = todo[~ok]
    if alpha < 1.0:
        u = torch.rand(n, generator=generator, device=dev, dtype=torch.float64)
        out += torch.log(u) / alpha
    return out.reshape(shape)


def sample_beta(
    shape: tuple[int, ...], alpha: float, generator: torch.Generator, device: torch.device
) -> Tensor:
    """Beta(alpha, alpha) samples (float64) drawn with ``generator``, delivered on ``device``.

    Beta(a, b) = Ga / (Ga + Gb) with Ga ~ Gamma(a), Gb ~ Gamma(b), computed as
    sigmoid(log Ga - log Gb) so that it stays exact for tiny alphas.
    """
    la = _log_gamma_sample(shape, alpha, generator)
    lb = _log_gamma_sample(shape, alpha, generator)
    return torch.sigmoid(la - lb).to(device)


class SeededGenerator:
    """A torch.Generator created lazily on the device of the first batch, from ``seed``.

    ``state()`` / ``load()`` give a checkpointable dict (seed, device, generator state), so
    the module forms of the augmentations resume exactly.
    """

    def __init__(self, seed: int) -> None:
        self.seed = check_int("seed", seed, lo=0)
        self._gen: torch.Generator | None = None
        self._pending: Tensor | None = None

    def get(self, device: torch.device) -> torch.Generator:
        if self._gen is None:
            self._gen = torch.Generator(device=device)
            self._gen.manual_seed(self.seed)
            if self._pending is not None:
                self._gen.set_state(self._pending)
                self._pending = None
        return self._gen

    def state(self) -> dict:
        st = self._gen.get_state() if self._gen is not None else self._pending
        return {"seed": self.seed, "rng_state": st}

    def load(self, state: dict) -> None:
        self.seed = int(state["seed"])
        st = state.get("rng_state")
        self._gen, self._pending = None, (st.detach().cpu().clone() if st is not None else None)


class SeededModule(torch.nn.Module):
    """Base of the augmentations' module forms: owns ``self.generator``, a
    :class:`SeededGenerator`, whose state is the module's extra state in ``state_dict()``."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.generator = SeededGenerator(seed)

    def get_extra_state(self) -> dict:
        return self.generator.state()

    def set_extra_state(self, state: dict) -> None:
        self.generator.load(state)


def _row_view(x: Tensor) -> Tensor:
    """(N, ...) contiguous -> (N, R) rows reinterpreted as the widest integer type dividing
    the row size: torch's index_select/index_copy on 4-D uint8/float tensors is many times
    slower on CPU than on wide 2-D rows (measured 20x-70x at 128x3x224x224)."""
    rows = x.reshape(x.shape[0], math.prod(x.shape[1:]))
    nbytes = rows.shape[1] * x.element_size()
    for dt, size in ((torch.int64, 8), (torch.int32, 4), (torch.int16, 2)):
        if nbytes % size == 0 and x.element_size() <= size:
            return rows.view(torch.uint8).view(dt) if x.element_size() != size else rows.view(dt)
    return rows


def take_rows(x: Tensor, index: Tensor, out: Tensor | None = None) -> Tensor:
    """x[index] along dim 0 (a copy, into ``out`` when given), fast on CPU for images:
    ``index_select`` over wide integer rows into a preallocated buffer (measured 1.5-3x
    faster than advanced indexing, which is itself far faster than on 4-D tensors)."""
    x = x.contiguous()
    if out is None:
        out = torch.empty((index.numel(), *x.shape[1:]), dtype=x.dtype, device=x.device)
    torch.index_select(_row_view(x), 0, index, out=_row_view(out))
    return out


def put_rows(out: Tensor, index: Tensor, src: Tensor) -> Tensor:
    """out[index] = src along dim 0, in place; ``out`` and ``src`` contiguous."""
    _row_view(out).index_copy_(0, index, _row_view(src.contiguous()))
    return out
