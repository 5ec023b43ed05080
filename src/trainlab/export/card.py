"""The model card: the small JSON next to exported weights, all a user needs to apply them.

    {"format": "trainlab-model", "version": 1,
     "model": {"name": "cnn", "args": {"num_classes": 10, "in_shape": [1, 8, 8], ...}},
     "task": "classification", "in_shape": [1, 8, 8], "num_outputs": 10,
     "class_names": ["0", ...], "input_mean": [[[8.1]]], "input_std": [[[6.0]]],
     "target_mean": 0.0, "target_scale": 1.0, "features": null,
     "weights": "model.safetensors", "source_run": "...", "checkpoint": "best.pt", "epoch": 7}

Inputs are standardized per channel (per feature for vectors) before the model:
x' = (x - input_mean) / input_std, the statistics as nested lists shaped to broadcast against
one sample ((C, 1, 1) for images, (F,) for vectors). Outputs are logits (classification, multi-label,
segmentation) or the standardized target (regression): y = out * target_scale + target_mean.
`features` (CSV runs) lists each feature column with its one-hot categories.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from trainlab.errors import CheckpointError

FORMAT, VERSION = "trainlab-model", 1


def _plain(v: Any) -> Any:
    if isinstance(v, torch.Tensor):
        return v.tolist()  # nested lists keep the broadcasting shape, e.g. (C, 1, 1)
    if isinstance(v, tuple):
        return [_plain(e) for e in v]
    if isinstance(v, dict):
        return {k: _plain(e) for k, e in v.items()}
    if isinstance(v, list):
        return [_plain(e) for e in v]
    return v


def make_card(
    model_name: str, model_args: dict[str, Any], meta: dict[str, Any], **extra: Any
) -> dict:
    """The card of a model built as `create_model(model_name, **model_args)` on data `meta`
    (`DataBundle.meta()`, as checkpoints hold it); `extra` keys are added as they are."""
    keys = ("task", "in_shape", "num_outputs", "class_names", "input_mean", "input_std",
            "target_mean", "target_scale", "ignore_index")  # fmt: skip
    card = {"format": FORMAT, "version": VERSION}
    card["model"] = {"name": model_name, "args": _plain(model_args)}
    card |= {k: _plain(meta.get(k)) for k in keys}
    card["features"] = meta.get("features")
    card |= _plain(extra)
    json.dumps(card)  # a card that cannot be written is a bug here, not at the user's
    return card


def write_card(card: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")


def read_card(path: Path) -> dict[str, Any]:
    """A model card, checked for its format and version (a CheckpointError otherwise)."""
    try:
        card = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: not a readable model card ({e})") from None
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a trainlab model card")
    if card.get("version") != VERSION:
        raise CheckpointError(f"{path}: card version {card.get('version')}, expected {VERSION}")
    return card


def meta_of(card: dict[str, Any]) -> dict[str, Any]:
    """The card as data metadata (`DataBundle.meta()` keys, statistics as tensors)."""
    meta = dict(card)
    for k in ("input_mean", "input_std"):
        meta[k] = torch.tensor(card[k], dtype=torch.float32)
    return meta
