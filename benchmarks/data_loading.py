"""Lazy image-folder loading: trainlab's ImageFolderDataset + DatasetLoader against
torchvision's ImageFolder + Resize + CenterCrop + ToTensor + DataLoader.

    source ../shared/tools/peer-env.sh   # makes torchvision importable (benchmark only)
    python -m benchmarks.data_loading [--images 512] [--size 64] [--batch 64]
                                      [--workers 0,2] [--repeats 5] [--threads 0]

Writes `--images` seeded 256 x 256 JPEGs (noise + ellipses, lightly blurred, quality 90:
about 11 KB each, like small photos) in `--classes` class folders to a temporary folder,
then times one full shuffled epoch of decode + resize (shorter side to `--size`) + centre
crop + float conversion, in batches of `--batch`, for each worker count. Both loaders keep
persistent workers started with the same method (trainlab's default), so the timed epochs
after the warm-up epoch hold no process start-up. Candidates are interleaved round by
round; the table shows the median epoch time, images/s and the ratio trainlab /
torchvision (> 1: trainlab faster). "trainlab (no draft)" decodes JPEGs at full size, to
show what Pillow's reduced-scale decode (`draft`) contributes. Without torchvision only
the trainlab rows are printed.
"""

from __future__ import annotations

import os

# On a shared machine, OpenMP threads that spin while waiting steal the cores the other
# thread needs (measured here: 25 ms instead of 0.2 ms to stack one batch at 2 threads);
# passive waiting is set before torch starts its thread pool (an explicit setting is kept).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import sys
from pathlib import Path

# Measure this checkout's trainlab, not an installed copy (`python -m` puts only the repo
# root on the path).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter
from torch.utils.data import DataLoader

from trainlab.data import DatasetLoader, ImageFolderDataset
from trainlab.data.dataset_loader import default_start_method


def write_images(root: Path, n: int, classes: int, seed: int = 0) -> None:
    """`n` seeded 256 x 256 RGB JPEGs, spread over `classes` folders."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        arr = rng.normal(128, 40, (256, 256, 3)).clip(0, 255).astype(np.uint8)
        im = Image.fromarray(arr)
        draw = ImageDraw.Draw(im)
        for _ in range(5):
            x0, y0 = rng.integers(0, 200, 2)
            w, h = rng.integers(20, 120, 2)
            fill = tuple(int(v) for v in rng.integers(0, 256, 3))
            draw.ellipse([int(x0), int(y0), int(x0 + w), int(y0 + h)], fill=fill)
        folder = root / f"class{i % classes}"
        folder.mkdir(parents=True, exist_ok=True)
        im.filter(ImageFilter.GaussianBlur(1.5)).save(folder / f"{i:05d}.jpg", quality=90)


def trainlab_epoch(root: Path, size: int, batch: int, workers: int, draft: bool) -> Callable:
    ds = ImageFolderDataset(root, size, draft=draft)
    loader = DatasetLoader(ds, batch, shuffle=True, seed=0, num_workers=workers)
    epoch = [0]

    def run() -> int:
        epoch[0] += 1
        return sum(len(y) for _, y in loader.epoch(epoch[0]))

    return run


def torchvision_epoch(root: Path, size: int, batch: int, workers: int) -> Callable | None:
    try:
        from torchvision import datasets, transforms
    except Exception:  # not importable (CUDA-only wheel): see the module docstring
        return None
    tf = transforms.Compose(
        [transforms.Resize(size), transforms.CenterCrop(size), transforms.ToTensor()]
    )
    loader = DataLoader(
        datasets.ImageFolder(str(root), transform=tf),
        batch_size=batch,
        shuffle=True,
        num_workers=workers,
        persistent_workers=workers > 0,
        multiprocessing_context=default_start_method() if workers else None,
        generator=torch.Generator().manual_seed(0),
    )
    return lambda: sum(len(y) for _, y in loader)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=512)
    ap.add_argument("--classes", type=int, default=4)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--workers", default="0,2")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads (0: torch default)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    workers = [int(w) for w in args.workers.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_images(root, args.images, args.classes)
        kb = sum(p.stat().st_size for p in root.rglob("*.jpg")) / args.images / 1024
        print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
              f"start method {default_start_method()}, {args.images} JPEGs 256x256 "
              f"({kb:.1f} KB avg) -> {args.size}x{args.size}, batch {args.batch}, "
              f"median of {args.repeats} epochs")  # fmt: skip
        cases: dict[tuple[int, str], Callable] = {}
        missing = False
        for w in workers:
            cases[(w, "trainlab")] = trainlab_epoch(root, args.size, args.batch, w, True)
            cases[(w, "trainlab (no draft)")] = trainlab_epoch(
                root, args.size, args.batch, w, False
            )
            ref = torchvision_epoch(root, args.size, args.batch, w)
            if ref is None:
                missing = True
            else:
                cases[(w, "torchvision")] = ref
        for run in cases.values():  # warm-up epoch: workers started, files in page cache
            assert run() == args.images
        times: dict[tuple[int, str], list[float]] = {k: [] for k in cases}
        for _ in range(args.repeats):  # interleaved rounds
            for key, run in cases.items():
                t = time.perf_counter()
                run()
                times[key].append(time.perf_counter() - t)
        hdr = f"{'workers':>7} {'loader':<20} {'s/epoch':>8} {'images/s':>9} {'vs torchvision':>15}"
        print(hdr)
        print("-" * len(hdr))
        for w in workers:
            ref_t = statistics.median(times[(w, "torchvision")]) if not missing else None
            for name in ("trainlab", "trainlab (no draft)", "torchvision"):
                if (w, name) not in times:
                    continue
                t = statistics.median(times[(w, name)])
                ratio = f"{ref_t / t:.2f}x" if ref_t is not None else "-"
                print(f"{w:>7} {name:<20} {t:>8.3f} {args.images / t:>9.0f} {ratio:>15}")
        if missing:
            print("torchvision is not importable: `source ../shared/tools/peer-env.sh` first "
                  "for the comparison rows")  # fmt: skip
        print("vs torchvision = images/s trainlab / torchvision (> 1: trainlab faster)")


if __name__ == "__main__":
    main()
