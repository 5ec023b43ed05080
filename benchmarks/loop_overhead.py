"""Overhead of trainlab's training loop against the notes' hand-written loop (F4 section 6).

Both train the same model architecture (same initial weights) with the same optimizer
(trainlab's AdamW with the config's parameter groups, so only the loop differs),
on the same batches of the same data, one epoch at a time, interleaved in one process
after warm-up. The hand-written loop is the notes' six steps with their `.item()`
bookkeeping; trainlab's loop adds the schedule step, on-device metric sums and the stop
check. Prints the median seconds per epoch and the ratio trainlab / hand-written.

Rows: fp32 (and with the progress bar), bf16-mixed (autocast on both sides), accumulate=4
(both step every 4 batches), and trainlab's Dataset + DataLoader path (a TensorDataset of
the same tensors, 0 and 2 worker processes) against its in-memory path.

    python -m benchmarks.loop_overhead [--model cnn|mlp] [--repeats 21]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import statistics
import time

import torch
from rich.console import Console
from torch import nn
from torch.utils.data import TensorDataset

from trainlab.data import load_dataset
from trainlab.recipes import load_config
from trainlab.train import Trainer
from trainlab.train.build import build_optimizer_from_config
from trainlab.train.progress import ConsoleReporter


def hand_written_epoch(
    model, loader, epoch, criterion, optimizer, *, autocast: bool = False, accumulate: int = 1
) -> tuple[float, float]:
    """The notes' loop: forward, loss, zero_grad, backward, step, and .item() bookkeeping;
    `autocast` runs forward and loss in bfloat16 autocast, `accumulate` steps every N batches
    with the loss scaled by 1/N (what a user writes by hand for either)."""
    model.train()
    total_loss, correct, total = 0.0, 0, 0
    ctx = torch.autocast("cpu", dtype=torch.bfloat16) if autocast else contextlib.nullcontext()
    n = len(loader)
    for b, (data, target) in enumerate(loader.epoch(epoch)):
        with ctx:
            output = model(data)
            loss = criterion(output, target)
        if b % accumulate == 0:
            optimizer.zero_grad()
        (loss / accumulate if accumulate > 1 else loss).backward()
        if (b + 1) % accumulate == 0 or b + 1 == n:
            optimizer.step()
        total_loss += loss.item()
        correct += output.argmax(dim=1).eq(target).sum().item()
        total += target.size(0)
    return total_loss / n, correct / total


def _time(runners: dict, repeats: int) -> dict[str, float]:
    """Median seconds per epoch of each runner, interleaved after 3 warm-up epochs."""
    times: dict[str, list[float]] = {k: [] for k in runners}
    for e in range(3):
        for fn in runners.values():
            fn(e)
    names = list(runners)
    for r in range(repeats):
        order = names if r % 2 == 0 else names[::-1]  # alternate to cancel drift
        for name in order:
            t0 = time.perf_counter()
            runners[name](r)
            times[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def _pair(config_overrides: list[str], data, **hand) -> tuple[Trainer, dict]:
    """A Trainer and the hand-written loop on a copy of its model and the same batches."""
    config = load_config(overrides=config_overrides)
    trainer = Trainer(config, data)
    ref_model = copy.deepcopy(trainer.model)
    # the same optimizer (trainlab's AdamW, same groups) on both sides: only the loop differs
    ref_opt = build_optimizer_from_config(config, ref_model)
    loader, criterion = trainer.train_loader, nn.CrossEntropyLoss()
    return trainer, {
        "hand-written": lambda e: hand_written_epoch(
            ref_model, loader, e, criterion, ref_opt, **hand
        ),
        "trainlab": lambda e: trainer.train_epoch(e),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="cnn")
    p.add_argument("--repeats", type=int, default=21)
    p.add_argument("--batch-size", type=int, default=64)
    args = p.parse_args()

    base = [f"model.name={args.model}", f"data.batch_size={args.batch_size}", "log.every_steps=0"]
    data = load_dataset("digits", seed=config_seed(base))
    rows: list[tuple[str, str, float, float]] = []

    # fp32, with the progress bar as a third runner
    plain, runners = _pair(base, data)
    shown = Trainer(load_config(overrides=base), data, callbacks=[ConsoleReporter(
        Console(file=io.StringIO(), force_terminal=True), progress=True)])  # fmt: skip

    def run_shown(e: int) -> None:
        for cb in shown.callbacks:
            cb.on_epoch_start(shown, e)
        shown.train_epoch(e)
        for cb in shown.callbacks:
            cb.on_epoch_end(shown, {"epoch": e + 1})

    runners["trainlab + progress bar"] = run_shown
    med = _time(runners, args.repeats)
    for cb in shown.callbacks:  # close the live progress display
        cb.on_fit_end(shown, {})
    ref = med["hand-written"]
    rows += [("fp32", k, v, v / ref) for k, v in med.items()]

    for label, extra, hand in (
        ("bf16-mixed", ["train.precision=bf16-mixed"], {"autocast": True}),
        ("accumulate=4", ["train.accumulate=4"], {"accumulate": 4}),
    ):
        _, runners = _pair(base + extra, data, **hand)
        med = _time(runners, args.repeats)
        rows += [(label, k, v, v / med["hand-written"]) for k, v in med.items()]

    # the Dataset + DataLoader path against the in-memory path, same data and model
    lazy_data = copy.copy(data)
    lazy_data.train = TensorDataset(data.train.x, data.train.y)
    for workers in (0, 2):
        config = load_config(overrides=[*base, f"data.num_workers={workers}"])
        mem, ds = Trainer(config, data), Trainer(config, lazy_data)
        med = _time({"in-memory": mem.train_epoch, "Dataset": ds.train_epoch}, args.repeats)
        rows += [(f"data, {workers} workers", k, v, v / med["in-memory"]) for k, v in med.items()]

    print(
        f"one epoch of digits ({len(data.train)} samples, {len(plain.train_loader)} steps of "
        f"{plain.train_loader.batch_size}), model {args.model}, {torch.get_num_threads()} "
        f"threads, {args.repeats} interleaved repeats; ratio = time / first row of its block"
    )
    print(f"{'setting':<20}{'loop':<26}{'median ms':>12}{'ratio':>10}")
    for setting, name, v, ratio in rows:
        print(f"{setting:<20}{name:<26}{1000 * v:>12.2f}{ratio:>10.3f}")


def config_seed(overrides: list[str]) -> int:
    return load_config(overrides=overrides).seed


if __name__ == "__main__":
    main()
