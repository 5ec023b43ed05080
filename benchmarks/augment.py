"""Benchmark trainlab.augment on a 128 x 3 x 224 x 224 batch against the usual references.

    python -m benchmarks.augment [--batch 128] [--size 224] [--repeats 7] [--threads 2]

Interleaved in one process, after warm-up; prints the median time of each candidate, its
images/s and the ratio to its reference:
- mixup / cutmix (float32) against a plain ``clone()`` of the batch (target: <= 2x);
- RandAugment(2, 9) batched on uint8 tensors against the usual per-image PIL loop (PIL
  ImageOps/ImageEnhance/affine ops on 224 x 224 images, one core; target: >= 1,500 img/s).
  The PIL loop applies both ops always and resamples with NEAREST (the ops trainlab
  reproduces bit-exactly); timm's loop resamples bilinearly and skips each op with
  probability 0.5, so it differs in cost. Also the same trainlab ops run one image at a
  time (the data-loader-worker path);
- random erasing (float32, per-pixel fill, p = 0.25 and p = 1).
CUDA (when present) repeats the batched rows on the GPU.

OpenMP threads wait passively here (below): each parallel region then pays a thread
wake-up. trainlab never changes the thread count itself: it used to run uint8
RandAugment's per-op kernels on one thread under that policy; without that, batched uint8
RandAugment took 0.79-1.78x the time in eight interleaved A/B runs on the shared 2-core
machine (most runs 0.9-1.1x), and a per-image uint8 loop at 224 x 224 1.25-1.6x (at one
thread: 1.0x). A user who wants one thread under PASSIVE calls ``torch.set_num_threads(1)``
(as ``--threads 1`` here does). ``OMP_WAIT_POLICY=ACTIVE python -m benchmarks.augment``
shows the spinning-thread figures.
"""

from __future__ import annotations

import os

# On a shared machine, OpenMP threads that spin while waiting steal the cores the other
# thread needs; measured 3-4x slower batched kernels at 2 threads under load. Passive
# waiting is set before torch starts its thread pool (an explicit setting is kept).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import sys
from pathlib import Path

# Measure this checkout's trainlab, not an installed copy (one was installed from another
# clone on the shared machine, and `python -m` puts only the repo root on the path).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import argparse
import random
import statistics
import time
from collections.abc import Callable

import torch
from PIL import Image, ImageEnhance, ImageOps

import trainlab
from trainlab.augment import PerImageRandAugment, mix, rand_augment, random_erasing
from trainlab.data import BatchLoader, Split

FILL = (128, 128, 128)


def _pil_ops() -> dict[str, Callable[[Image.Image, float, int], Image.Image]]:
    """timm-style PIL RandAugment ops at level m in [0, 10] with a sign."""

    def enh(cls: type) -> Callable[[Image.Image, float, int], Image.Image]:
        return lambda im, m, s: cls(im).enhance(1 + 0.9 * m / 10 * s)

    def aff(make: Callable[[Image.Image, float, int], tuple]) -> Callable:
        return lambda im, m, s: im.transform(im.size, Image.AFFINE, make(im, m, s),
                                             resample=Image.NEAREST, fillcolor=FILL)  # fmt: skip

    return {
        "identity": lambda im, m, s: im,
        "autocontrast": lambda im, m, s: ImageOps.autocontrast(im),
        "equalize": lambda im, m, s: ImageOps.equalize(im),
        "solarize": lambda im, m, s: ImageOps.solarize(im, 256 - int(256 * m / 10)),
        "posterize": lambda im, m, s: ImageOps.posterize(im, 8 - int(4 * m / 10)),
        "brightness": enh(ImageEnhance.Brightness),
        "contrast": enh(ImageEnhance.Contrast),
        "color": enh(ImageEnhance.Color),
        "sharpness": enh(ImageEnhance.Sharpness),
        "rotate": lambda im, m, s: im.rotate(
            30 * m / 10 * s, resample=Image.NEAREST, fillcolor=FILL
        ),
        "shear_x": aff(lambda im, m, s: (1, 0.3 * m / 10 * s, 0, 0, 1, 0)),
        "shear_y": aff(lambda im, m, s: (1, 0, 0, 0.3 * m / 10 * s, 1, 0)),
        "translate_x": aff(lambda im, m, s: (1, 0, round(0.45 * m / 10 * im.size[0]) * s, 0, 1, 0)),
        "translate_y": aff(lambda im, m, s: (1, 0, 0, 0, 1, round(0.45 * m / 10 * im.size[1]) * s)),
    }


def pil_rand_augment_loop(images: list[Image.Image], rng: random.Random) -> list[Image.Image]:
    ops = _pil_ops()
    names = list(ops)
    out = []
    for im in images:
        for _ in range(2):
            im = ops[rng.choice(names)](im, 9.0, rng.choice((-1, 1)))
        out.append(im)
    return out


def run(cands: dict[str, Callable[[], object]], repeats: int, sync: Callable[[], None]) -> dict:
    for f in cands.values():  # warm-up
        f()
        sync()
    times: dict[str, list[float]] = {k: [] for k in cands}
    for _ in range(repeats):
        for k, f in cands.items():  # interleaved
            t0 = time.perf_counter()
            f()
            sync()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def report(title: str, med: dict[str, float], n: int, refs: dict[str, str]) -> None:
    print(f"\n{title}")
    print(f"{'candidate':<34}{'median ms':>11}{'images/s':>11}   ratio (time / reference)")
    for k, t in med.items():
        ref = refs.get(k)
        ratio = f"{t / med[ref]:.2f}x {ref}" if ref else "(reference)"
        print(f"{k:<34}{t * 1e3:>11.1f}{n / t:>11.0f}   {ratio}")


def bench_device(dev: str, n: int, s: int, repeats: int) -> None:
    gen = torch.Generator().manual_seed(0)
    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
    g = torch.Generator(device=dev).manual_seed(0)
    xf = torch.rand(n, 3, s, s, generator=gen).to(dev)
    xu = (xf * 255).to(torch.uint8)
    y = torch.randint(0, 1000, (n,), generator=gen).to(dev)

    def mixer(mode: str, ma: float, ca: float) -> Callable[[], object]:
        return lambda: mix(xf, y, num_classes=1000, mixup_alpha=ma, cutmix_alpha=ca,
                           mode=mode, generator=g)  # fmt: skip

    med = run(
        {
            "clone": lambda: xf.clone(),
            "mixup (batch)": mixer("batch", 0.8, 0.0),
            "cutmix (batch)": mixer("batch", 0.0, 1.0),
            "mixup/cutmix switch 0.5 (elem)": mixer("elem", 0.8, 1.0),
        },
        repeats,
        sync,
    )
    report(f"[{dev}] mixup / cutmix, float32", med, n,
           {k: "clone" for k in med if k != "clone"})  # fmt: skip

    cands: dict[str, Callable[[], object]] = {
        "RandAugment(2, 9) batched uint8": lambda: rand_augment(
            xu, num_ops=2, magnitude=9, generator=g
        ),
        "RandAugment(2, 9) batched float": lambda: rand_augment(
            xf, num_ops=2, magnitude=9, generator=g
        ),
    }
    refs = {}
    if dev == "cpu":
        pil_images = [Image.fromarray(a) for a in xu.permute(0, 2, 3, 1).numpy()]
        rng = random.Random(0)
        cands["PIL per-image loop (1 core)"] = lambda: pil_rand_augment_loop(pil_images, rng)
        cands["trainlab per-image loop uint8"] = lambda: [
            rand_augment(xu[i], num_ops=2, magnitude=9, generator=g) for i in range(n)
        ]
        # the trainer's worker placement: float images, per image, in 2 loader threads
        loader = BatchLoader(
            Split(xf, y), n, transform=PerImageRandAugment(2, 9.0, seed=0), num_workers=2
        )
        cands["loader worker path float (2 threads)"] = lambda: next(iter(loader))
        refs = {k: "PIL per-image loop (1 core)" for k in cands if "PIL" not in k}
    med = run(cands, repeats, sync)
    report(f"[{dev}] RandAugment", med, n, refs)

    med = run(
        {
            "clone": lambda: xf.clone(),
            "random erasing p=0.25 pixel": lambda: random_erasing(xf, prob=0.25, generator=g),
            "random erasing p=1 pixel": lambda: random_erasing(xf, prob=1.0, generator=g),
            "random erasing p=1 const": lambda: random_erasing(
                xf, prob=1.0, mode="const", generator=g
            ),
        },
        repeats,
        sync,
    )
    report(f"[{dev}] random erasing, float32", med, n,
           {k: "clone" for k in med if k != "clone"})  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    n, s = args.batch, args.size
    print(f"trainlab from {Path(trainlab.__file__).parent}")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {n}x3x{s}x{s}, "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, "
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
    )
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for dev in devices:
        bench_device(dev, n, s, args.repeats)


if __name__ == "__main__":
    main()
