"""Overhead of trainlab's training loop against the notes' hand-written loop (F4 section 6).

Both train the same model architecture (same initial weights) with the same optimizer,
on the same batches of the same data, one epoch at a time, interleaved in one process
after warm-up. The hand-written loop is the notes' six steps with their `.item()`
bookkeeping; trainlab's loop adds the schedule step, on-device metric sums and the stop
check. Prints the median seconds per epoch and the ratio trainlab / hand-written.

    python -m benchmarks.loop_overhead [--model cnn|mlp] [--repeats 21]
"""

from __future__ import annotations

import argparse
import copy
import io
import statistics
import time

import torch
from rich.console import Console
from torch import nn

from trainlab.data import load_dataset
from trainlab.recipes import load_config
from trainlab.train import Trainer
from trainlab.train.progress import ConsoleReporter


def hand_written_epoch(model, loader, epoch, criterion, optimizer) -> tuple[float, float]:
    """The notes' loop: forward, loss, zero_grad, backward, step, and .item() bookkeeping."""
    model.train()
    total_loss, correct, total = 0.0, 0, 0
    for data, target in loader.epoch(epoch):
        output = model(data)
        loss = criterion(output, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total_loss += loss.item()
        correct += output.argmax(dim=1).eq(target).sum().item()
        total += target.size(0)
    return total_loss / len(loader), correct / total


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="cnn")
    p.add_argument("--repeats", type=int, default=21)
    p.add_argument("--batch-size", type=int, default=64)
    args = p.parse_args()

    config = load_config(
        overrides=[f"model.name={args.model}", f"data.batch_size={args.batch_size}"]
    )
    data = load_dataset("digits", seed=config.seed)
    plain = Trainer(config, data)
    shown = Trainer(config, data, callbacks=[ConsoleReporter(
        Console(file=io.StringIO(), force_terminal=True), progress=True)])  # fmt: skip
    ref_model = copy.deepcopy(plain.model)
    ref_opt = torch.optim.AdamW(
        ref_model.parameters(), lr=config.optim.lr, weight_decay=config.optim.weight_decay
    )
    criterion = nn.CrossEntropyLoss()
    loader = plain.train_loader

    def run_shown(e: int) -> None:
        for cb in shown.callbacks:
            cb.on_epoch_start(shown, e)
        shown.train_epoch(e)
        for cb in shown.callbacks:
            cb.on_epoch_end(shown, {"epoch": e + 1})

    runners = {
        "hand-written": lambda e: hand_written_epoch(ref_model, loader, e, criterion, ref_opt),
        "trainlab": lambda e: plain.train_epoch(e),
        "trainlab + progress bar": run_shown,
    }
    times: dict[str, list[float]] = {k: [] for k in runners}
    for e in range(3):  # warm-up
        for fn in runners.values():
            fn(e)
    names = list(runners)
    for r in range(args.repeats):
        order = names if r % 2 == 0 else names[::-1]  # alternate to cancel drift
        for name in order:
            t0 = time.perf_counter()
            runners[name](r)
            times[name].append(time.perf_counter() - t0)

    for cb in shown.callbacks:  # close the live progress display
        cb.on_fit_end(shown, {})
    ref = statistics.median(times["hand-written"])
    print(
        f"one epoch of digits ({len(data.train)} samples, {len(loader)} steps of "
        f"{loader.batch_size}), model {args.model}, {torch.get_num_threads()} threads, "
        f"{args.repeats} interleaved repeats"
    )
    print(f"{'loop':<26}{'median ms':>12}{'ratio':>10}")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:<26}{1000 * med:>12.2f}{med / ref:>10.3f}")


if __name__ == "__main__":
    main()
