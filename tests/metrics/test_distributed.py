"""2-process gloo: the all-reduced metrics equal the single-process metrics on all the data."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from trainlab.metrics import metrics_for_task

SRC = str(Path(__file__).resolve().parents[2] / "src")

# the data both the workers and this test build; rank r of 2 gets an uneven shard, and
# for 'classification' rank 1 gets no batch at all (it must still join the reduction)
DATA = textwrap.dedent(
    """
    import torch

    def data():
        g = torch.Generator().manual_seed(0)
        y = torch.randint(0, 5, (90,), generator=g)
        x = torch.randn(90, 5, generator=g)
        x[torch.arange(90), y] += 1.0
        ry = torch.randn(90, 2, generator=g)
        rx = ry + 0.5 * torch.randn(90, 2, generator=g)
        mt = (torch.rand(90, 4, generator=g) < 0.4).float()
        mx = torch.randn(90, 4, generator=g) + mt
        st = torch.randint(0, 3, (90, 4, 4), generator=g)
        sx = torch.randn(90, 3, 4, 4, generator=g)
        return {
            "classification": (x, y), "regression": (rx, ry),
            "multilabel": (mx, mt), "segmentation": (sx, st),
        }

    SHARDS = {0: slice(0, 55), 1: slice(55, 90)}

    def feed(m, out, tgt, batch=16):
        for i in range(0, out.shape[0], batch):
            o, t = out[i : i + batch], tgt[i : i + batch]
            m.update(o, t, torch.tensor(float(o.float().mean())))
    """
)

WORKER = textwrap.dedent(
    """
    import json, sys
    import torch
    import torch.distributed as dist
    from trainlab.metrics import metrics_for_task
    from data_def import data, SHARDS, feed

    rank, init = int(sys.argv[1]), sys.argv[2]
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=2)
    results = {}
    for task, (out, tgt) in data().items():
        m = metrics_for_task(task, target_scale=2.0)
        if not (task == "classification" and rank == 1):
            shard = slice(0, 90) if task == "classification" else SHARDS[rank]
            feed(m, out[shard], tgt[shard])
        m.all_reduce()
        results[task] = m.compute()
    if rank == 0:
        print(json.dumps(results))
    dist.destroy_process_group()
    """
)


@pytest.mark.slow
def test_two_process_gloo_reduction_equals_single_process(tmp_path):
    (tmp_path / "data_def.py").write_text(DATA)
    (tmp_path / "worker.py").write_text(WORKER)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([SRC, str(tmp_path)]),
        "OMP_NUM_THREADS": "1",
    }
    init = f"file://{tmp_path / 'rendezvous'}"
    procs = [
        subprocess.Popen(
            [sys.executable, str(tmp_path / "worker.py"), str(r), init],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        for r in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    reduced = json.loads(outs[0][0])

    namespace: dict = {}
    exec(DATA, namespace)
    for task, (out, tgt) in namespace["data"]().items():
        m = metrics_for_task(task, target_scale=2.0)
        namespace["feed"](m, out, tgt)
        single = m.compute()
        if task == "classification":  # rank 0 alone fed everything, rank 1 nothing
            assert reduced[task] == pytest.approx(single)
            continue
        assert reduced[task].keys() == single.keys()
        for key, value in single.items():
            # the loss sums float32 batch means, so it agrees to float32 rounding only
            tol = 1e-6 if key == "loss" else 1e-12
            assert reduced[task][key] == pytest.approx(value, rel=1e-9, abs=tol), (task, key)


def test_all_reduce_is_a_no_op_without_distributed():
    m = metrics_for_task("classification")
    m.update(torch.eye(3), torch.arange(3), 0.1)
    before = m.compute()
    m.all_reduce()
    assert m.compute() == before
