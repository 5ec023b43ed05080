"""`trainlab explain`: attribution maps of a run's best model on test samples."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from trainlab.errors import ConfigError

METHODS = ("ig", "saliency", "smoothgrad", "lime")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "explain",
        help="attribution maps (integrated gradients, saliency, SmoothGrad, LIME) of a run",
        description="Explain a run's best model on the first K test samples (or --data): one "
        "PNG per sample (input, attribution, overlay, with the true and predicted class) and "
        "scores.csv (prediction, probability and the method's own check: the completeness "
        "error of integrated gradients, the fit R^2 of LIME's surrogate).",
        epilog="examples:\n  trainlab explain runs/NAME --method ig --samples 8 --steps 64\n"
        "  trainlab explain runs/NAME --method lime --patch 2 --lime-samples 1000",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory or an export folder")
    p.add_argument("--method", choices=METHODS, default="ig")
    p.add_argument("--samples", type=int, default=8, metavar="K", help="samples to explain")
    p.add_argument("--data", metavar="PATH", help="explain these inputs instead of the test split")
    p.add_argument("--target", metavar="COLUMN", help="CSV: the target column, if present")
    p.add_argument("--steps", type=int, default=64, help="ig: quadrature nodes")
    p.add_argument("--rule", default="gausslegendre", help="ig: gausslegendre | riemann_*")
    p.add_argument(
        "--baseline",
        choices=["black", "mean"],
        default="black",
        help="ig: the path's start, the black (all-zero) input or the mean input",
    )
    p.add_argument("--noise", type=float, default=0.15, help="smoothgrad: noise level")
    p.add_argument("--noise-samples", type=int, default=50, help="smoothgrad: noisy copies")
    p.add_argument("--patch", type=int, default=2, help="lime: patch size of the grid")
    p.add_argument("--lime-samples", type=int, default=1000, help="lime: perturbations")
    p.add_argument("--seed", type=int, default=0, help="smoothgrad / lime: the generator's seed")
    p.add_argument("--out", metavar="DIR", help="default RUN_DIR/explain/METHOD")
    p.set_defaults(func=cmd_explain)


def _samples(args: argparse.Namespace, found: Any) -> tuple[Any, Any, list[str]]:
    """(standardized x, true labels or None, ids) of the first K samples."""
    import torch

    from trainlab.data.inputs import label_names, read_inputs
    from trainlab.data.normalize import standardize

    meta = found.meta
    if args.data is None:
        from trainlab.export.run_model import open_run
        from trainlab.train.build import build_data

        data = build_data(open_run(found.card["source_run"])[1])
        test: Any = data.test
        if test is None or not hasattr(test, "x"):
            raise ConfigError(f"{args.run_dir}: no in-memory test split to explain; pass --data")
        k = min(args.samples, len(test))
        return test.x[:k], test.y[:k], [str(i) for i in range(k)]
    found_in = read_inputs(args.data, meta, target=args.target)
    k = min(args.samples, len(found_in.x))
    x = standardize(torch.as_tensor(found_in.x[:k]), meta["input_mean"], meta["input_std"])
    y = None
    if found_in.y is not None and meta["task"] == "classification":
        names = meta["class_names"]
        labels = label_names(found_in)[:k]
        y = torch.tensor([names.index(v) if v in names else -1 for v in labels])
    return x, y, found_in.ids[:k]


def cmd_explain(args: argparse.Namespace) -> int:
    import torch

    from trainlab.explain import integrated_gradients, lime, saliency, smoothgrad
    from trainlab.explain.figures import attribution_figure
    from trainlab.export import load_run_model, write_table

    for name in ("samples", "steps", "noise_samples", "patch", "lime_samples"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} {getattr(args, name)}: expected >= 1")
    found = load_run_model(args.run_dir)
    if found.meta["task"] != "classification":
        raise ConfigError(f"explain needs a classifier; this run's task is {found.meta['task']}")
    x, y, ids = _samples(args, found)
    model = found.model
    names = found.meta["class_names"] or [str(i) for i in range(int(found.meta["num_outputs"]))]
    with torch.no_grad():
        probs = torch.softmax(model(x), dim=1)
    pred = probs.argmax(1)
    gen = torch.Generator().manual_seed(args.seed)
    check: list[float | str] = [""] * len(x)
    try:
        if args.method == "ig":
            meta = found.meta
            base = (
                (0 - meta["input_mean"]) / meta["input_std"] if args.baseline == "black" else None
            )
            ig = integrated_gradients(
                model, x, pred, baseline=base, steps=args.steps, rule=args.rule
            )
            maps, check = ig.attributions, [float(v) for v in ig.relative_error]
        elif args.method == "saliency":
            maps = saliency(model, x, pred)
        elif args.method == "smoothgrad":
            maps = smoothgrad(
                model, x, pred, noise=args.noise, samples=args.noise_samples, generator=gen
            )
        else:
            fits = [lime(model, xi, int(p), patch=args.patch, samples=args.lime_samples, generator=gen)
                    for xi, p in zip(x, pred, strict=True)]  # fmt: skip
            maps = torch.stack([f.attributions for f in fits])
            check = [f.r2 for f in fits]
    except ValueError as e:
        raise ConfigError(f"--method {args.method}: {e}") from None
    out = Path(args.out) if args.out else Path(args.run_dir) / "explain" / args.method
    header = ["id", "true", "predicted", "probability", "png"]
    header += {"ig": ["completeness_rel_error"], "lime": ["lime_r2"]}.get(args.method, [])
    rows = []
    for i in range(len(x)):
        true = names[int(y[i])] if y is not None and int(y[i]) >= 0 else ""
        title = (
            f"true {true} · " if true else ""
        ) + f"predicted {names[int(pred[i])]} ({100 * float(probs[i, pred[i]]):.1f}%)"
        png = attribution_figure(
            x[i], maps[i], f"{args.method}: {title}", out / f"sample_{i:03d}.png"
        )
        rows.append([ids[i], true, names[int(pred[i])], float(probs[i, pred[i]]), png.name])
        if args.method in ("ig", "lime"):
            rows[-1].append(check[i])
    write_table(out / "scores.csv", header, rows)
    note = ""
    if args.method == "ig":
        note = (
            f"; completeness error at most {100 * max(float(c) for c in check):.3g}% of f(x) - f(0)"
        )
    print(f"wrote {len(rows)} explanations to {out} (scores.csv, sample_*.png){note}")
    return 0
