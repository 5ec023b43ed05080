"""Write a model in a format that leaves trainlab: safetensors, TorchScript or ONNX.

- safetensors: the state dict (no code, loads anywhere; rebuild the module from the card's
  `model.name` and `model.args` with `trainlab.models.create_model`), the card in its header.
- TorchScript: `torch.jit.trace` of the eval-mode model (torch deprecates TorchScript in favour
  of torch.export; it is still what many C++/mobile runtimes load).
- ONNX: `torch.onnx.export(..., dynamo=True)` with a dynamic batch axis, opset 18; needs the
  `onnx` extra (onnx, onnxscript; onnxruntime to verify).

Every file is written atomically (temporary file, fsync, rename), and `verify` runs the
written artifact against the PyTorch model on the same inputs.
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from trainlab.errors import ConfigError
from trainlab.train.checkpoint import atomic_write_bytes

FORMATS = ("safetensors", "torchscript", "onnx")
FILENAMES = {
    "safetensors": "model.safetensors",
    "torchscript": "model.torchscript.pt",
    "onnx": "model.onnx",
}
ONNX_OPSET = 18


def _need(module: str, fmt: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(
            f"format {fmt!r} needs the {module} package: pip install 'trainlab[onnx]'"
        ) from None


def write(model: nn.Module, fmt: str, path: Path, example: Tensor, card: dict[str, Any]) -> Path:
    """Write `model` (put in eval mode) as `fmt` to `path`; `example` is one input batch
    (standardized, on the model's device) to trace with."""
    if fmt not in FORMATS:
        raise ConfigError(f"format {fmt!r}: unknown; expected one of {', '.join(FORMATS)}")
    model.eval()
    if fmt == "safetensors":
        from safetensors.torch import save

        # clones: tied (shared) tensors are stored once each, as safetensors requires
        tensors = {k: v.detach().cpu().clone().contiguous() for k, v in model.state_dict().items()}
        data = save(tensors, metadata={"trainlab": json.dumps(card)})
    elif fmt == "torchscript":
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit's own notice
            traced = torch.jit.trace(model, example)
            buf = io.BytesIO()
            torch.jit.save(traced, buf)
        data = buf.getvalue()
    else:
        _need("onnx", fmt), _need("onnxscript", fmt)
        batch = torch.export.Dim("batch", min=1)
        try:
            program = torch.onnx.export(
                model,
                (example,),
                dynamo=True,
                input_names=["input"],
                output_names=["output"],
                dynamic_shapes=({0: batch},),
                opset_version=ONNX_OPSET,
                verbose=False,
            )
        except Exception as e:  # the exporter raises many types; name the first line
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise ConfigError(f"ONNX export failed for this model: {first}") from None
        assert program is not None
        data = program.model_proto.SerializeToString()
    atomic_write_bytes(path, data)
    return path


def run_exported(fmt: str, path: Path, x: Tensor, model: nn.Module | None = None) -> Tensor:
    """Outputs of the artifact at `path` on `x` (CPU): ONNX through onnxruntime, TorchScript
    through torch.jit.load, safetensors loaded into `model` (a module of the same shape)."""
    x = x.detach().cpu()
    if fmt == "onnx":
        ort = _need("onnxruntime", fmt)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        (out,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
        return torch.from_numpy(out)
    if fmt == "torchscript":
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore", DeprecationWarning)
            loaded = torch.jit.load(str(path), map_location="cpu")
            return loaded(x)
    if model is None:
        raise ValueError("run_exported: safetensors weights need the module to load them into")
    from safetensors.torch import load_file

    model.load_state_dict(load_file(str(path)))
    with torch.no_grad():
        return model.eval().cpu()(x)


def verify(model: nn.Module, fmt: str, path: Path, x: Tensor) -> float:
    """max |exported(x) - model(x)| over a batch `x` (a batch size other than the traced one
    shows that the batch axis is dynamic)."""
    model = model.eval()
    with torch.no_grad():
        expected = model(x.to(next(model.parameters()).device)).detach().cpu().float()
    rebuilt = None
    if fmt == "safetensors":
        import copy

        rebuilt = copy.deepcopy(model).cpu()
        with torch.no_grad():
            for p in rebuilt.parameters():
                p.zero_()  # the weights must come from the file
    got = run_exported(fmt, path, x, rebuilt).float()
    if got.shape != expected.shape:
        raise ConfigError(
            f"{path}: output shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
        )
    return float((got - expected).abs().max())
