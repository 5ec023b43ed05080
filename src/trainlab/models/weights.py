"""Loading weights from disk: `load_pretrained(model, path)` (no downloads, no pickled code).

The file is read with `torch.load(..., weights_only=True)`, so loading never executes code.
Accepted contents: a state_dict, or a dict holding one under "state_dict", "model",
"model_state", "module" or "modules" (training checkpoints; a trainlab checkpoint holds
its modules under "modules" -> "model"), or a `.safetensors` file; a leading "module." (DDP) or
"_orig_mod." (torch.compile) prefix is stripped. Keys must match the model's (the timm
layout for the ResNet/ConvNeXt/ViT families); otherwise the error lists the missing,
unexpected and wrongly shaped keys. `exclude` drops keys by glob pattern (e.g. the
classifier `"fc.*"` / `"head.*"` when fine-tuning to other classes), and a ViT's
`pos_embed` is resampled to the model's patch grid when they differ.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping, Sequence
from typing import cast

import torch
from torch import Tensor, nn

_WRAPPERS = ("state_dict", "model", "model_state", "module", "modules")
_PREFIXES = ("module.", "_orig_mod.")


class WeightsMismatchError(ValueError):
    """The checkpoint's keys or shapes do not fit the model; the message lists them all."""


def _unwrap(obj: object, path: str) -> dict[str, Tensor]:
    while isinstance(obj, Mapping) and not any(isinstance(v, Tensor) for v in obj.values()):
        inner = next((obj[k] for k in _WRAPPERS if k in obj), None)
        if inner is None:
            raise WeightsMismatchError(
                f"{path}: no state_dict found; top-level keys are {sorted(map(str, obj))[:20]}"
            )
        obj = inner
    if not isinstance(obj, Mapping):
        raise WeightsMismatchError(
            f"{path}: expected a state_dict mapping, got {type(obj).__name__}"
        )
    out = {}
    for k, v in obj.items():
        for p in _PREFIXES:
            if k.startswith(p):
                k = k[len(p) :]
        out[k] = v
    return out


def _fmt(keys: Sequence[str], limit: int = 30) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def load_pretrained(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    strict: bool = True,
    exclude: Sequence[str] = (),
    map_location: str | torch.device = "cpu",
) -> dict[str, list[str]]:
    """Load a state_dict file from disk into `model`; return the keys that were skipped.

    With `strict` (default), any missing key, unexpected key or shape mismatch raises
    `WeightsMismatchError` naming all of them and nothing is loaded. Without `strict`,
    the matching tensors are loaded and the rest are returned as
    `{"missing": [...], "unexpected": [...], "mismatched": [...], "excluded": [...]}`.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load_pretrained: no file at {path!r}")
    try:
        if path.endswith(".safetensors"):
            from safetensors.torch import load_file

            obj = load_file(path, device=str(map_location))
        else:
            obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # unpicklable / corrupt / not a torch file
        raise WeightsMismatchError(f"{path}: cannot be read as weights ({e})") from e
    state = _unwrap(obj, path)
    excluded = sorted(k for k in state if any(fnmatch.fnmatch(k, p) for p in exclude))
    state = {k: v for k, v in state.items() if k not in excluded}

    own = model.state_dict()
    if (
        "pos_embed" in state
        and "pos_embed" in own
        and hasattr(model, "grid_size")
        and state["pos_embed"].shape != own["pos_embed"].shape
    ):
        from trainlab.models.vit import resample_pos_embed

        state["pos_embed"] = resample_pos_embed(
            state["pos_embed"], cast(Sequence[int], model.grid_size)
        )
    missing = sorted(
        k for k in own if k not in state and not any(fnmatch.fnmatch(k, p) for p in exclude)
    )
    unexpected = sorted(k for k in state if k not in own)
    mismatched = sorted(
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in state
        if k in own and state[k].shape != own[k].shape
    )
    report = {
        "missing": missing,
        "unexpected": unexpected,
        "mismatched": mismatched,
        "excluded": excluded,
    }
    if strict and (missing or unexpected or mismatched):
        lines = [f"{path} does not fit {type(model).__name__}:"]
        for label, keys in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("shape mismatch", mismatched),
        ):
            if keys:
                lines.append(f"  {label} ({len(keys)}): {_fmt(keys)}")
        raise WeightsMismatchError("\n".join(lines))
    bad = {m.split(":")[0] for m in mismatched}
    loadable = {k: v for k, v in state.items() if k in own and k not in bad}
    model.load_state_dict(loadable, strict=False)
    return report
