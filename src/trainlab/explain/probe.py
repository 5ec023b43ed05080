"""Probing (F3: what does layer k know?): a linear classifier on a frozen layer's outputs.

The layer's activations (flattened) are collected in eval mode with no gradients; the probe is
the one SimCLR and MAE are evaluated with (`trainlab.selfsup.probe.fit_linear_probe`): the
features standardized with the training statistics, a multinomial logistic regression with a
small L2 penalty fit by L-BFGS on the full training set, deterministically. The probe's test
accuracy says how linearly decodable the labels are from that layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from trainlab._validate import check_positive_int
from trainlab.explain._common import evaluating, find_module


@dataclass
class ProbeResult:
    accuracy: float  # on the test features
    train_accuracy: float
    features: int  # the probe's input size


@torch.no_grad()
def layer_features(model: nn.Module, layer: str, x: Tensor, *, batch_size: int = 512) -> Tensor:
    """(N, D): module `layer`'s outputs on `x`, flattened per sample."""
    check_positive_int("batch_size", batch_size)
    module = find_module(model, layer)
    seen: list[Tensor] = []
    hook = module.register_forward_hook(lambda m, i, o: seen.append(o.detach().flatten(1)))
    try:
        with evaluating(model):
            for i in range(0, len(x), batch_size):
                model(x[i : i + batch_size])
    finally:
        hook.remove()
    return torch.cat(seen).float()


def probe(
    model: nn.Module,
    layer: str,
    train: tuple[Tensor, Tensor],
    test: tuple[Tensor, Tensor],
    *,
    l2: float = 1e-3,
    iterations: int = 200,
) -> ProbeResult:
    """Fit the linear probe on `train` (x, y) features of `layer`; accuracy on `test`. The
    fit is `trainlab.selfsup.probe.fit_linear_probe`, the linear evaluation of SimCLR/MAE."""
    from trainlab.selfsup.probe import fit_linear_probe

    check_positive_int("iterations", iterations)
    ftr, fte = layer_features(model, layer, train[0]), layer_features(model, layer, test[0])
    ytr, yte = train[1].long().to(ftr.device), test[1].long().to(fte.device)
    k = int(max(ytr.max(), yte.max())) + 1
    lin = fit_linear_probe(ftr, ytr, k, steps=iterations, l2=l2)
    acc = float((lin(fte).argmax(1) == yte).float().mean())
    train_acc = float((lin(ftr).argmax(1) == ytr).float().mean())
    return ProbeResult(acc, train_acc, ftr.shape[1])
