"""Fine-tuning cost: full fine-tuning against LoRA, adapters and prefix tuning, and merged-LoRA
inference against the base model.

    python -m benchmarks.finetune [--models vit_tiny,text_decoder] [--batch 16]
                                  [--shape 3x64x64] [--repeats 7] [--threads 1]
                                  [--clock cpu|wall] [--r 8]

Per model and method: the median time of one training step (forward, backward, AdamW step;
the methods interleaved round by round in one process after a warm-up, in a shuffled order),
and the memory that training adds beyond the weights, counted exactly: the AdamW state
(exp_avg, exp_avg_sq) and the gradients, in MiB, with the ratio to full fine-tuning.
Then inference (eval, no_grad) of the base model, the LoRA model merged in place
(`merge_lora`: the wrappers stay, their LoRA path skipped) and unloaded (`unload_lora`: the
original architecture), interleaved, with the ratio to the base. The text decoder reads
(B, 11) token ids of the arith corpus. With peft importable (a comparison library, never a
dependency: `/work/shared/tools/peer-env.sh peft`), its LoRA on the same layers is timed too;
otherwise that row prints "skipped".
"""

from __future__ import annotations

import argparse
import copy
import functools
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from benchmarks._timing import shuffled_rounds
from trainlab.finetune import apply_finetune, merge_lora, unload_lora
from trainlab.models import create_model, parse_shape

METHODS = ("full", "lora", "adapter", "prefix")
MiB = 2**20


def _clock(kind: str) -> Callable[[], float]:
    return time.process_time if kind == "cpu" else time.perf_counter


def _model_and_batch(name: str, shape: tuple[int, ...], batch: int):
    gen = torch.Generator().manual_seed(0)
    if name == "text_decoder":
        from trainlab.data import load_dataset

        x = load_dataset("arith", seed=0).train.x[:batch]
        model = create_model(name, num_classes=1, in_shape=tuple(x.shape[1:]))

        def loss(m: torch.nn.Module) -> torch.Tensor:
            logits = m(x)  # next-token loss over every position
            return F.cross_entropy(logits[:, :-1].flatten(0, 1), x[:, 1:].flatten())

        return model, x, loss
    model = create_model(name, num_classes=10, in_shape=shape)
    x = torch.randn(batch, *shape, generator=gen)
    y = torch.randint(0, 10, (batch,), generator=gen)
    return model, x, lambda m: F.cross_entropy(m(x), y)


def _state_bytes(opt: torch.optim.Optimizer, model: torch.nn.Module) -> tuple[int, int]:
    state = sum(
        t.numel() * t.element_size()
        for s in opt.state.values()
        for t in s.values()
        if isinstance(t, torch.Tensor) and t.ndim > 0
    )
    grads = sum(
        p.grad.numel() * p.grad.element_size() for p in model.parameters() if p.grad is not None
    )
    return state, grads


def bench_training(name: str, shape, batch: int, repeats: int, clock, r: int) -> None:
    base, _, loss_fn = _model_and_batch(name, shape, batch)
    cases = {}
    for method in METHODS:
        model = copy.deepcopy(base)
        summary = apply_finetune(model, method, r=r, alpha=2 * r, targets=None)
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=1e-4, foreach=False)

        def step(model=model, opt=opt) -> None:
            loss_fn(model).backward()
            opt.step()
            opt.zero_grad(set_to_none=False)  # keep the gradients allocated, as counted

        step()
        cases[method] = (step, opt, model, summary)
    times = shuffled_rounds({m: c[0] for m, c in cases.items()}, repeats, seed=0, clock=clock)
    full_mem = None
    print(f"\n{name} (batch {batch}) training step: fwd + bwd + AdamW")
    print(f"{'method':<9}{'trainable':>12}{'ms/step':>10}{'x full':>8}{'opt state MiB':>15}"
          f"{'grads MiB':>11}{'state x full':>14}")  # fmt: skip
    for m, (_, opt, model, summary) in cases.items():
        state, grads = _state_bytes(opt, model)
        if m == "full":
            full_mem, full_t = state, statistics.median(times[m])
        t = statistics.median(times[m])
        print(
            f"{m:<9}{summary.trainable:>12,}{1e3 * t:>10.2f}{t / full_t:>8.2f}"
            f"{state / MiB:>15.3f}{grads / MiB:>11.3f}{state / full_mem:>14.4f}"
        )


def bench_inference(name: str, shape, batch: int, repeats: int, clock, r: int) -> None:
    base, x, _ = _model_and_batch(name, shape, batch)
    base.eval()
    merged = copy.deepcopy(base)
    apply_finetune(merged, "lora", r=r, alpha=2 * r)
    with torch.no_grad():
        for n, p in merged.named_parameters():
            if n.endswith("lora_B"):
                p.normal_(std=0.01)  # a trained-looking update
    merge_lora(merged)
    unloaded = unload_lora(copy.deepcopy(merged))
    for m in (merged, unloaded):
        m.eval()
    cases = {"base": base, "lora merged": merged, "lora unloaded": unloaded}
    peft_model, why = _peft_lora(base, r)
    if peft_model is not None:
        cases["peft lora (unmerged)"] = peft_model
    with torch.no_grad():
        for m in cases.values():
            m(x)
        calls = {k: functools.partial(m, x) for k, m in cases.items()}
        times = shuffled_rounds(calls, repeats, seed=1, clock=clock)
    b = statistics.median(times["base"])
    print(f"\n{name} (batch {batch}) inference, eval + no_grad")
    print(f"{'model':<22}{'ms':>9}{'x base':>8}")
    for k in cases:
        t = statistics.median(times[k])
        print(f"{k:<22}{1e3 * t:>9.2f}{t / b:>8.3f}")
    if peft_model is None:
        print(f"{'peft lora':<22}  skipped ({why})")


def _peft_lora(base: torch.nn.Module, r: int):
    try:
        from peft import LoraConfig, inject_adapter_in_model
    except Exception as e:  # not installed, or its imports fail
        return None, f"{type(e).__name__}"
    model = inject_adapter_in_model(
        LoraConfig(r=r, lora_alpha=2 * r, target_modules=["qkv"]), copy.deepcopy(base)
    )
    return model.eval(), ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="vit_tiny,text_decoder")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--shape", default="3x64x64", help="image models' input")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    ap.add_argument("--r", type=int, default=8)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    clock = _clock(args.clock)
    shape = parse_shape(args.shape)
    print(f"torch {torch.__version__}, {args.threads} thread(s), {args.clock} clock, "
          f"medians of {args.repeats}, LoRA r={args.r} alpha={2 * args.r} on qkv")  # fmt: skip
    for name in args.models.split(","):
        bench_training(name, shape, args.batch, args.repeats, clock, args.r)
        bench_inference(name, shape, args.batch, 3 * args.repeats, clock, args.r)


if __name__ == "__main__":
    main()
