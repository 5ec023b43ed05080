"""`trainlab export`: a run's weights in a format that leaves trainlab, with a model card."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from trainlab.errors import ConfigError

# exported outputs must match PyTorch's to this, relative to the largest |output| (>= 1):
# float32 kernels that sum in another order differ by ~1e-7 per layer
TOLERANCE = 1e-4

EXAMPLES = """\
examples:
  trainlab export runs/NAME                         model.safetensors + model.json
  trainlab export runs/NAME --format onnx --format torchscript --out deploy/
  trainlab export runs/NAME --ema                   the EMA weights instead
  trainlab predict runs/NAME/export --data new.npz  an export folder predicts like its run
"""


def register(sub: Any) -> None:
    e = sub.add_parser(
        "export",
        help="write a run's best weights as safetensors / TorchScript / ONNX with a model card",
        description="Write a run's best (or last, or EMA) weights in formats that leave "
        "trainlab, with model.json: the model's name and arguments, the input shape, the "
        "class names and the normalization statistics needed to use them. Each artifact is "
        "run against the PyTorch model before the command returns.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    e.add_argument("run_dir", metavar="RUN_DIR", help="a run directory (or an export folder)")
    e.add_argument(
        "--format",
        action="append",
        choices=["safetensors", "torchscript", "onnx"],
        help="repeatable (default: safetensors); onnx needs pip install 'trainlab[onnx]'",
    )
    e.add_argument("--out", metavar="DIR", help="output folder (default: RUN_DIR/export)")
    e.add_argument("--weights", choices=["best", "last"], default="best")
    e.add_argument("--ema", action="store_true", help="the EMA weights (regularize.ema runs)")
    e.add_argument(
        "--adapter-only",
        action="store_true",
        help="fine-tuned runs: only the LoRA / adapter / prefix weights (adapter.safetensors)",
    )
    e.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    import torch

    from trainlab.export import FILENAMES, load_run_model, verify, write, write_card

    found = load_run_model(args.run_dir, weights=args.weights, ema=args.ema)
    method = (found.card.get("finetune") or {}).get("method")
    if args.adapter_only:
        return _adapter_only(args, found, method)
    if method == "lora":  # W + (alpha / r) B A folded in: the base architecture, zero cost
        from trainlab.finetune import unload_lora

        unload_lora(found.model, merge=True)
        found.card["finetune"] = None
        found.card["merged"] = "lora"
    out = Path(args.out) if args.out else Path(args.run_dir) / "export"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"--out {out}: cannot create the folder ({e.strerror})") from None
    shape = tuple(found.card["in_shape"])
    gen = torch.Generator().manual_seed(0)
    example, check = torch.randn(2, *shape, generator=gen), torch.randn(3, *shape, generator=gen)
    with torch.no_grad():
        scale = max(1.0, float(found.model(check).abs().max()))
    formats = list(dict.fromkeys(args.format or ["safetensors"]))
    card = dict(found.card)
    if "safetensors" in formats:
        card["weights"] = FILENAMES["safetensors"]
    failed = 0
    for fmt in formats:
        path = write(found.model, fmt, out / FILENAMES[fmt], example, card)
        diff = verify(found.model, fmt, path, check)
        ok = diff <= TOLERANCE * scale
        failed += not ok
        print(
            f"wrote {path} ({path.stat().st_size:,} bytes); max |difference| from PyTorch on "
            f"{len(check)} inputs: {diff:.2g}" + ("" if ok else " -- TOO LARGE")
        )
    write_card(card | {"files": {f: FILENAMES[f] for f in formats}}, out / "model.json")
    print(f"wrote {out / 'model.json'} ({found.card['checkpoint']}, epoch {found.card['epoch']})")
    return 1 if failed else 0


def _adapter_only(args: argparse.Namespace, found: Any, method: str | None) -> int:
    """The fine-tuning method's own weights, to apply to the base model with trainlab."""
    from safetensors.torch import save

    from trainlab.export import write_card
    from trainlab.finetune import peft_state_dict
    from trainlab.train.checkpoint import atomic_write_bytes

    if method not in ("lora", "adapter", "prefix"):
        raise ConfigError(
            f"--adapter-only: {args.run_dir} was not fine-tuned with lora, adapter or prefix"
        )
    out = Path(args.out) if args.out else Path(args.run_dir) / "export"
    out.mkdir(parents=True, exist_ok=True)
    weights = {k: v.contiguous() for k, v in peft_state_dict(found.model).items()}
    atomic_write_bytes(out / "adapter.safetensors", save(weights))
    card = found.card | {"weights": None, "files": {"adapter": "adapter.safetensors"}}
    write_card(card, out / "model.json")
    n = sum(v.numel() for v in weights.values())
    print(f"wrote {out / 'adapter.safetensors'} ({len(weights)} tensors, {n:,} values, {method})")
    return 0
