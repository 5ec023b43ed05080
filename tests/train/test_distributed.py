"""DDP through torchrun on CPU (gloo, 2 processes): the same run as one process with the
same global batch, an exact resume after kill -9 of the whole job, one writer, and a rank
that raises ends the job (no hang: every launch has a timeout)."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from tests.conftest import cli_env, run_cli

from trainlab.train.checkpoint import step_checkpoints

pytestmark = pytest.mark.slow  # each launch starts 3 Python processes that import torch

# an MLP (no BatchNorm, no dropout: nothing per process), 4 epochs of 19 global batches of 64
ARGS = ["--model", "mlp", "--epochs", "4", "--no-progress", "--set", "train.device=cpu",
        "--set", "log.every_steps=1", "--set", "checkpoint.every_steps=1",
        "--set", "checkpoint.keep_last=50"]  # fmt: skip
TIMEOUT = 400  # seconds; a hang fails the test instead of blocking the suite


def _torchrun(args: list[str], cwd: Path, *, module: bool = True, **kw) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    cmd += ["-m", "trainlab", *args] if module else args
    return subprocess.Popen(
        cmd, cwd=cwd, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True, **kw,
    )  # fmt: skip


def _kill_job(proc: subprocess.Popen) -> None:
    """SIGKILL torchrun and its workers at once (a lost machine): the workers run in sessions
    of their own, so they are found as the agent's children."""
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    for pid in [proc.pid, *map(int, children)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        _kill_job(proc)
        proc.communicate()
        raise AssertionError("the torchrun job hung") from None
    return proc.returncode, out, err


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "checkpoints/last.pt", weights_only=True)["modules"]["model"]


def _rows(path: Path, drop: str) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return [{k: v for k, v in r.items() if k != drop} for r in csv.DictReader(f)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """One uninterrupted 1-process run and one 2-process run of the same config."""
    root = tmp_path_factory.mktemp("ddp")
    two = _torchrun(["train", *ARGS, "--name", "two"], root)
    one = run_cli(["train", *ARGS, "--name", "one"], root, timeout=TIMEOUT)
    assert one.returncode == 0, one.stderr
    rc, _, err = _finish(two)
    assert rc == 0, err
    return root / "runs"


def test_two_processes_train_as_one_with_the_same_global_batch(runs: Path) -> None:
    a, b = _weights(runs / "one"), _weights(runs / "two")
    for k in a:  # float32 sums in another order: ~1e-7 relative measured, 1e-5 allowed
        rel = ((a[k] - b[k]).abs().max() / a[k].abs().max()).item()
        assert rel < 1e-5, (k, rel)
    one, two = _rows(runs / "one/metrics.csv", "time"), _rows(runs / "two/metrics.csv", "time")
    assert [r["val_acc"] for r in one] == [r["val_acc"] for r in two]  # same predictions
    for ra, rb in zip(one, two, strict=True):  # all-reduced train and val losses
        assert abs(float(ra["train_loss"]) - float(rb["train_loss"])) < 1e-6
    steps = lambda run: _rows(runs / run / "metrics_steps.csv", "samples_per_s")  # noqa: E731
    assert len(steps("one")) == len(steps("two")) == 76  # the same number of global batches
    # one writer: a single run directory, one session, every file once
    assert sorted(p.name for p in runs.iterdir()) == ["one", "two"]
    assert len(json.loads((runs / "two/run.json").read_text())["sessions"]) == 1


def test_kill_9_of_the_job_then_resume_under_torchrun_is_bitwise_exact(runs: Path) -> None:
    root = runs.parent
    cut = _torchrun(["train", *ARGS, "--name", "cut"], root)
    folder, deadline = runs / "cut/checkpoints", time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:  # mid-epoch 2 (19 updates per epoch)
        if (folder / "step-00000023.pt").is_file():
            break
        assert cut.poll() is None, "the run ended before it could be killed"
        time.sleep(0.005)
    _kill_job(cut)  # the agent and both ranks, no cleanup
    cut.communicate()
    killed_at = torch.load(folder / "last.pt", weights_only=True)["step"]
    # step-23.pt exists; last.pt may still name step 22 (killed between the two renames)
    assert 22 <= killed_at < 76 and killed_at % 19  # inside an epoch
    rc, _, err = _finish(_torchrun(["resume", str(runs / "cut"), "--no-progress"], root))
    assert rc == 0, err
    a, b = _weights(runs / "two"), _weights(runs / "cut")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert _rows(runs / "cut/metrics.csv", "time") == _rows(runs / "two/metrics.csv", "time")
    steps = lambda run: _rows(runs / run / "metrics_steps.csv", "samples_per_s")  # noqa: E731
    assert steps("cut") == steps("two")


def test_a_two_process_checkpoint_resumes_in_one_process(runs: Path) -> None:
    """World size 2 -> 1 mid-epoch (the global batch is unchanged): the partial epoch's
    metric sums of both ranks carry over, and the result is the 1-process run's."""
    resized = runs / "resized"
    shutil.copytree(runs / "two", resized)
    for step, path in step_checkpoints(resized / "checkpoints"):
        if step > 30:
            path.unlink()
    (resized / "checkpoints/last.pt").unlink()
    shutil.copy(resized / "checkpoints/step-00000030.pt", resized / "checkpoints/last.pt")
    (resized / "summary.json").unlink()
    r = run_cli(["resume", str(resized), "--no-progress"], runs.parent, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    a, b = _weights(runs / "one"), _weights(resized)
    for k in a:
        assert ((a[k] - b[k]).abs().max() / a[k].abs().max()).item() < 1e-5, k
    one, res = _rows(runs / "one/metrics.csv", "time"), _rows(resized / "metrics.csv", "time")
    for ra, rb in zip(one, res, strict=True):  # epoch 2's loss sums both ranks' halves
        assert abs(float(ra["train_loss"]) - float(rb["train_loss"])) < 1e-6
        assert ra["train_acc"] == rb["train_acc"]


def test_a_rank_that_raises_ends_the_job_with_one_line(tmp_path: Path) -> None:
    script = tmp_path / "boom.py"
    script.write_text(
        textwrap.dedent(
            """
            import os, sys
            from trainlab.cli import main
            from trainlab.train import SupervisedTask, register_task

            @register_task("boom")
            class Boom(SupervisedTask):
                def training_step(self, batch, step):
                    if step.index == 3 and os.environ["RANK"] == "1":
                        raise RuntimeError("injected failure")
                    super().training_step(batch, step)

            sys.exit(main(sys.argv[1:]))
            """
        )
    )
    t0 = time.monotonic()
    proc = _torchrun([str(script), "train", *ARGS, "--set", "task.name=boom"], tmp_path,
                     module=False)  # fmt: skip
    rc, _, err = _finish(proc)
    assert rc != 0 and time.monotonic() - t0 < TIMEOUT
    ours = [line for line in err.splitlines() if line.startswith("trainlab: error:")]
    assert "trainlab: error: rank 1: RuntimeError: injected failure" in ours, err
    assert "[rank0]: Traceback" not in err and "[rank1]: Traceback" not in err  # none of ours


def test_nccl_object_group_is_made_once_per_process_group(monkeypatch) -> None:
    """Under NCCL the object collectives need a gloo group; `new_group` is a collective and
    each call makes a group that lives until shutdown, so it must not run per Dist.current()."""
    import torch.distributed as tdist

    from trainlab.train import distributed as d

    made: list[object] = []
    monkeypatch.setattr(tdist, "is_initialized", lambda: True)
    monkeypatch.setattr(tdist, "get_world_size", lambda *a: 2)
    monkeypatch.setattr(tdist, "get_rank", lambda *a: 0)
    monkeypatch.setattr(tdist, "get_backend", lambda *a: "nccl")
    monkeypatch.setattr(tdist, "new_group", lambda **kw: made.append(kw) or object())
    world = [object()]
    monkeypatch.setattr(d, "_default_group", lambda: world[0])
    monkeypatch.setattr(d, "_OBJECT_GROUP", [])
    groups = {id(d.Dist.current().objects) for _ in range(5)}
    assert made == [{"backend": "gloo"}] and len(groups) == 1
    world[0] = object()  # a new default process group: a new gloo group
    assert d.Dist.current().objects is not None and len(made) == 2
