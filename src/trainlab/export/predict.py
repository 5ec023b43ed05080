"""Apply a finished model to new inputs and write one row per sample.

outputs = model((x - input_mean) / input_std)        the run's own standardization
classification  p = softmax(outputs)                 prediction = argmax, p per class
multi-label     p = sigmoid(outputs)                 labels with p >= threshold
regression      y = outputs * target_scale + target_mean   (back in the data's units)
segmentation    mask = argmax over classes per pixel (written to an .npz)
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from trainlab.data.inputs import Inputs
from trainlab.data.normalize import standardize
from trainlab.errors import ConfigError
from trainlab.train.checkpoint import atomic_write_bytes, atomic_write_text


@torch.no_grad()
def model_outputs(
    model: nn.Module, x: np.ndarray | Tensor, meta: dict[str, Any], *, batch_size: int = 512
) -> Tensor:
    """The model's raw outputs (CPU, float32) on inputs `x` in the data's own units."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    device = next(model.parameters()).device
    xt = standardize(torch.as_tensor(x, dtype=torch.float32), meta["input_mean"], meta["input_std"])
    was_training = model.training
    model.eval()
    try:
        outs = [
            model(xt[i : i + batch_size].to(device)).float().cpu()
            for i in range(0, len(xt), batch_size)
        ]
    finally:
        model.train(was_training)
    return torch.cat(outs)


def prediction_table(
    outputs: Tensor, meta: dict[str, Any], inputs: Inputs, *, threshold: float = 0.5
) -> tuple[list[str], list[list[Any]]]:
    """(header, rows): id, the prediction, per-class probabilities, and the true target when
    the inputs have one."""
    task = meta["task"]
    names = meta.get("class_names") or [str(k) for k in range(outputs.shape[-1])]
    truth = _truth(inputs, meta)
    if task == "classification":
        p = torch.softmax(outputs, dim=1)
        header = ["id", "prediction", *(f"p_{n}" for n in names)]
        rows = [
            [names[int(k)], *row] for k, row in zip(p.argmax(1).tolist(), p.tolist(), strict=True)
        ]
    elif task == "multilabel":
        p = torch.sigmoid(outputs)
        header = ["id", "prediction", *(f"p_{n}" for n in names)]
        rows = [
            [";".join(n for n, v in zip(names, row, strict=True) if v >= threshold), *row]
            for row in p.tolist()
        ]
    elif task == "regression":
        y = outputs.reshape(len(outputs), -1) * meta["target_scale"] + meta["target_mean"]
        header = ["id", "prediction"]
        rows = [[float(v[0])] for v in y.tolist()]
    else:
        raise ConfigError(f"{task} predictions are masks: write them with --out PATH.npz")
    body = [[i, *r] for i, r in zip(inputs.ids, rows, strict=True)]
    if truth is not None:
        header.append("target")
        body = [[*r, t] for r, t in zip(body, truth, strict=True)]
    return header, body


def _truth(inputs: Inputs, meta: dict[str, Any]) -> list[Any] | None:
    if inputs.y is None or meta["task"] not in ("classification", "regression"):
        return None
    if inputs.class_names:
        return [inputs.class_names[int(v)] for v in inputs.y]
    return [v.item() if hasattr(v, "item") else v for v in inputs.y]


def write_table(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    """The table as CSV, written atomically; floats at full float32 precision."""
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow([f"{v:.9g}" if isinstance(v, float) else v for v in r])
    atomic_write_text(path, buf.getvalue())


def write_masks(path: Path, outputs: Tensor, inputs: Inputs) -> None:
    """Segmentation: the predicted class per pixel, `masks` (N, H, W) int64, with `ids`."""
    import io

    buf = io.BytesIO()
    np.savez_compressed(buf, masks=outputs.argmax(1).numpy(), ids=np.array(inputs.ids))
    atomic_write_bytes(path, buf.getvalue())
