"""Linear-probe evaluation of a frozen encoder (the standard protocol of SimCLR and MAE).

The encoder is frozen (eval mode, no gradients); its features of the training split are
standardized with their own mean and std, and a multinomial logistic regression
``softmax(W f + b)`` is fitted to them with full-batch L-BFGS (strong-Wolfe line search) on
cross-entropy + ``l2 |W|^2``, from W = 0, b = 0: no randomness, so the probe accuracy is a
function of the encoder alone. The accuracy is that of the test features.

`load_encoder(run_dir)` rebuilds a finished generative or self-supervised run (its config,
data and task) and returns the pretrained encoder of its best checkpoint, the backbone the
fine-tuning issue starts from.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from trainlab._validate import check_int, check_nonnegative

__all__ = ["encode", "fit_linear_probe", "linear_probe", "load_encoder"]


@torch.no_grad()
def encode(encoder: Callable[[Tensor], Tensor], x: Tensor, batch_size: int = 512) -> Tensor:
    """Features (N, F) of `x` in batches, `encoder` in eval mode (its mode is restored)."""
    was = encoder.training if isinstance(encoder, nn.Module) else None
    if isinstance(encoder, nn.Module):
        encoder.eval()
    try:
        return torch.cat(
            [encoder(x[i : i + batch_size]).float() for i in range(0, len(x), batch_size)]
        )
    finally:
        if isinstance(encoder, nn.Module) and was:
            encoder.train()


def fit_linear_probe(
    features: Tensor, labels: Tensor, num_classes: int, *, steps: int = 200, l2: float = 1e-4
) -> Callable[[Tensor], Tensor]:
    """The fitted probe: a function features (M, F) -> logits (M, K)."""
    steps = check_int("steps", steps, lo=1)
    l2 = check_nonnegative("l2", l2)
    f = features.detach().double()
    mu, sd = f.mean(0), f.std(0).clamp_min(1e-6)
    fs = (f - mu) / sd
    w = torch.zeros(
        f.shape[1], num_classes, dtype=torch.float64, device=f.device, requires_grad=True
    )
    b = torch.zeros(num_classes, dtype=torch.float64, device=f.device, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1, max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(fs @ w + b, labels) + l2 * (w * w).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    w, b = w.detach(), b.detach()
    return lambda g: ((g.double() - mu) / sd) @ w + b


def linear_probe(
    encoder: Callable[[Tensor], Tensor],
    train: tuple[Tensor, Tensor],
    test: tuple[Tensor, Tensor],
    *,
    num_classes: int | None = None,
    steps: int = 200,
    l2: float = 1e-4,
) -> float:
    """Test accuracy of a linear probe on `encoder`'s frozen features ((x, y) pairs)."""
    (xt, yt), (xe, ye) = train, test
    k = num_classes if num_classes is not None else int(max(yt.max(), ye.max())) + 1
    probe = fit_linear_probe(encode(encoder, xt), yt, k, steps=steps, l2=l2)
    pred = probe(encode(encoder, xe)).argmax(1)
    return float((pred == ye.to(pred.device)).double().mean())


def load_encoder(run_dir: str, device: str | torch.device = "cpu") -> nn.Module:
    """The pretrained encoder of a finished `autoencoder`/`dae`/`mae`/`simclr` run."""
    from trainlab.errors import ConfigError
    from trainlab.recipes import validate
    from trainlab.train import RunDir, load_checkpoint
    from trainlab.train.build import build_data
    from trainlab.train.registry import create_task
    from trainlab.train.task import TaskContext

    run = RunDir.open(run_dir)
    config = validate(run.read_config())
    task = create_task(config.task.name, **config.task.args)
    if not hasattr(task, "encoder"):
        raise ConfigError(f"{run_dir}: task {config.task.name!r} has no encoder to take out")
    dev = torch.device(device)
    task.setup(TaskContext(config, build_data(config), dev))
    state = load_checkpoint(run.best if run.best.is_file() else run.last, dev)
    for k, m in task.modules.items():
        m.load_state_dict(state["modules"][k])
        m.to(dev)
    return task.encoder().eval()
