"""`diagnose_run`: read a run directory and write `diagnosis.md` and `diagnose/*.png`.

What it reads (each optional but the config): `metrics.csv` (epoch rows),
`metrics_steps.*` (step loss, grad norm), `diagnostics.csv` (per-layer statistics,
`trainlab.diagnose.grad_stats`), `interrupted.json` (what ended a crashed or diverged run),
`summary.json` (test metrics), the last checkpoint (else the best) and the run's data. From
the logs it takes the verdict (`trainlab.diagnose.verdict`); from the checkpoint, on a batch of
training samples in eval mode: the gradient norm, the top-k and the smallest Hessian
eigenvalues (Lanczos), the critical-point class, the trace (Hutchinson, with its interval),
the spectral density (SLQ) and a 1-D landscape. Whatever is missing is listed as not
computed, with the reason, so a run that diverged in its first epoch still gets a report.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, cast

from trainlab.diagnose.grad_stats import read_diagnostics
from trainlab.diagnose.verdict import decide, evidence
from trainlab.errors import CheckpointError, ConfigError


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (OSError, ValueError):
        return None


def _curvature(
    config: Any, state: dict[str, Any], *, k: int, iters: int, samples: int, seed: int
) -> dict[str, Any]:
    """Curvature figures of the checkpoint's model on `samples` training samples."""
    import torch

    from trainlab.diagnose.density import hutchinson_trace, spectral_density
    from trainlab.diagnose.hessian import HessianOperator, classify_critical_point, lanczos
    from trainlab.diagnose.landscape import filter_normalized_direction, loss_surface_1d
    from trainlab.losses import loss_from_config
    from trainlab.train.build import build_data, build_model

    meta = state["data"]
    model = build_model(config, meta["num_outputs"], tuple(meta["in_shape"]), task=meta["task"])
    model.load_state_dict(state["modules"]["model"])
    model.eval()
    params = [p for p in model.parameters() if p.requires_grad]
    n = sum(p.numel() for p in params)
    if k > n:
        raise ConfigError(f"--top-k = {k}: larger than the number of parameters ({n})")
    split: Any = build_data(config).train
    if hasattr(split, "x"):  # the in-memory Split
        x, y = split.x[:samples], split.y[:samples]
    else:  # a Dataset of (x, y) items
        items = [split[i] for i in range(min(samples, len(split)))]
        x = torch.stack([torch.as_tensor(a) for a, _ in items])
        y = torch.stack([torch.as_tensor(b) for _, b in items])
    criterion = loss_from_config(config, meta["task"])

    def loss_of(m: torch.nn.Module) -> torch.Tensor:
        return criterion(m(x), y)

    op = HessianOperator(lambda: loss_of(model), params)
    gen = torch.Generator().manual_seed(seed)
    grad_norm = float(torch.linalg.vector_norm(op.gradient()))
    # one Lanczos run for both ends: the top k and the smallest Ritz values
    theta = lanczos(op, iters=max(iters, k + 1), k=k, tol=1e-4, generator=gen)[0]
    top, smallest = theta.flip(0)[:k].tolist(), float(theta[0])
    kind = classify_critical_point(grad_norm, smallest, top[0])
    tr = hutchinson_trace(op, 10, generator=gen)
    sd = spectral_density(op, iters=min(iters, n), probes=1, generator=gen)
    lo, hi = float(sd.nodes.min()), float(sd.nodes.max())
    pad = 0.05 * max(hi - lo, 1e-12)
    grid = torch.linspace(lo - pad, hi + pad, 200, dtype=torch.float64)
    density = sd.density(grid, sigma=max((hi - lo) / 100, 1e-12))
    alphas = torch.linspace(-1.0, 1.0, 21, dtype=torch.float64)
    d = filter_normalized_direction(model, generator=gen)
    surface = loss_surface_1d(model, loss_of, d, alphas)
    return {
        "samples": len(x),
        "parameters": n,
        "loss": op.loss(),
        "grad_norm": grad_norm,
        "critical_point": kind,
        "top_eigenvalues": top,
        "min_eigenvalue": smallest,
        "trace": {"mean": tr.mean, "low": tr.low, "high": tr.high, "confidence": tr.confidence},
        "hvps": op.hvps,
        "_density": (grid.tolist(), density.tolist()),
        "_landscape": (alphas.tolist(), surface.tolist()),
    }


def diagnose_run(
    run_dir: Path | str,
    *,
    curvature: bool = True,
    k: int = 3,
    iters: int = 30,
    samples: int = 256,
    seed: int = 0,
) -> dict[str, Any]:
    """Diagnose the run at `run_dir`; writes `diagnosis.md` and `diagnose/*.png` there and
    returns the verdict, evidence, curvature, files and what could not be computed."""
    from trainlab.diagnose import plots
    from trainlab.recipes import validate
    from trainlab.train import RunDir
    from trainlab.train.logger import read_steps

    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ConfigError(f"--top-k = {k!r}: expected a positive integer")
    run = RunDir.open(run_dir)  # a missing path or a folder without config.yaml: one line
    config = validate(run.read_config())
    path = run.path
    history = read_steps(run.metrics)
    steps = read_steps(path / f"metrics_steps.{config.log.format}")
    diag_path = path / "diagnostics.csv"
    layers = read_diagnostics(diag_path) if diag_path.is_file() else []
    interrupted = _read_json(path / "interrupted.json")
    summary = _read_json(run.summary)
    missing: list[str] = []
    if not history:
        missing.append("metrics.csv: no epoch completed, so no epoch curves")
    if not layers:
        missing.append("diagnostics.csv: no per-layer gradient statistics (diagnose.enabled "
                       "off, or the run ended before diagnose.every_steps updates)")  # fmt: skip
    ckpt = run.last if run.last.is_file() else run.best if run.best.is_file() else None
    state = None
    if ckpt is not None:
        from trainlab.train import load_checkpoint

        try:
            state = load_checkpoint(ckpt)
        except CheckpointError as e:
            missing.append(f"{ckpt.name}: unreadable ({e})")
    else:
        missing.append("checkpoints: none (the run stopped before its first epoch ended), "
                       "so no curvature, spectrum or landscape")  # fmt: skip
    meta = state["data"] if state else None
    ev = evidence(
        history,
        steps,
        layers,
        task=meta["task"] if meta else None,
        num_classes=meta["num_outputs"] if meta and meta["task"] == "classification" else None,
        val_size=meta["sizes"][1] if meta else None,
        interrupted=interrupted,
    )
    verdict = decide(ev)
    curv = None
    if state is not None and "model" not in state["modules"]:
        missing.append("curvature: the task has no module named 'model'")
    elif state is not None and curvature:
        curv = _curvature(config, state, k=k, iters=iters, samples=samples, seed=seed)
    elif state is not None:
        missing.append("curvature: skipped (--no-curvature)")
    out_dir = path / "diagnose"
    files = [plots.plot_loss(history, steps, verdict.name, out_dir / "loss.png")]
    heat = plots.plot_grad_heatmap(layers, out_dir / "grad_norms.png")
    files += [heat] if heat else []
    if curv is not None:
        grid, density = cast(Any, curv.pop("_density"))
        alphas, losses = cast(Any, curv.pop("_landscape"))
        files.append(plots.plot_spectrum(grid, density, out_dir / "spectrum.png"))
        files.append(plots.plot_landscape(alphas, losses, out_dir / "landscape.png"))
    result = verdict.as_dict() | {
        "run_dir": str(path),
        "checkpoint": ckpt.name if ckpt is not None and state is not None else None,
        "curvature": curv,
        "test": (summary or {}).get("test"),
        "not_computed": missing,
        "files": [str(f.relative_to(path)) for f in files] + ["diagnosis.md"],
    }
    from trainlab.train.checkpoint import atomic_write_text

    atomic_write_text(path / "diagnosis.md", markdown(result))
    return result


def _num(x: Any) -> str:
    if isinstance(x, float):
        return "nan" if math.isnan(x) else f"{x:.4g}"
    return str(x)


def markdown(result: dict[str, Any]) -> str:
    """diagnosis.md: verdict, reasons, next steps, evidence, curvature, gaps, pictures."""
    lines = [f"# Diagnosis of {result['run_dir']}", "", f"**Verdict: {result['verdict']}**", ""]
    lines += [f"- {r}" for r in result["reasons"]] + ["", "## Next steps", ""]
    lines += [f"1. {s}" for s in result["next_steps"]]
    if result["also"]:
        lines += ["", "## Also noticed", ""] + [f"- {a}" for a in result["also"]]
    lines += ["", "## Evidence", "", "| quantity | value |", "| --- | --- |"]
    lines += [f"| {k} | {_num(v)} |" for k, v in result["evidence"].items()]
    curv = result.get("curvature")
    if curv:
        tr = curv["trace"]
        lines += ["", f"## Curvature ({result['checkpoint']}, {curv['samples']} training "
                  "samples, eval mode)", ""]  # fmt: skip
        lines += [
            f"- loss {_num(curv['loss'])}, gradient norm {_num(curv['grad_norm'])}: "
            f"**{curv['critical_point']}**",
            "- top eigenvalues: " + ", ".join(_num(v) for v in curv["top_eigenvalues"]),
            f"- smallest eigenvalue: {_num(curv['min_eigenvalue'])}",
            f"- trace (Hutchinson): {_num(tr['mean'])} [{_num(tr['low'])}, {_num(tr['high'])}] "
            f"at {tr['confidence']:.0%}",
            f"- {curv['hvps']} Hessian-vector products over {curv['parameters']} parameters",
        ]
    if result.get("test"):
        lines += ["", "## Test (best checkpoint)", ""]
        lines += [f"- {k}: {_num(v)}" for k, v in result["test"].items()]
    if result["not_computed"]:
        lines += ["", "## Not computed", ""] + [f"- {m}" for m in result["not_computed"]]
    pics = [f for f in result["files"] if f.endswith(".png")]
    lines += ["", "## Pictures", ""] + [f"![{Path(f).stem}]({f})" for f in pics]
    return "\n".join(lines) + "\n"
