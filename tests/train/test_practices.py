"""The notes' practices from config, end to end: accumulation, mixed precision, early stopping,
L1, freezing and unfreezing, every optimizer name; and `trainlab.fit`'s contract."""

from __future__ import annotations

import math
import signal
from pathlib import Path

import matplotlib
import pytest
import torch
from tests.trainers import digits_trainer
from torch import nn
from torch.utils.data import Dataset, TensorDataset

import trainlab
from trainlab.errors import ConfigError
from trainlab.optim import CONFIG_OPTIMIZERS
from trainlab.schedules import Scheduler, build_schedule
from trainlab.train import Step
from trainlab.train.step import Clipping, Precision, Updater


def _linear_data(n: int = 96, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 5, generator=g)
    y = x @ torch.randn(5, 1, generator=g) + 0.1 * torch.randn(n, 1, generator=g)
    return x, y


def _linear(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Linear(5, 1)


def test_accumulate_n_equals_one_batch_n_times_larger() -> None:
    """MSE is a mean over samples, so N micro-batches of B scaled by 1/N give the gradient of
    the N*B batch that holds the same samples (the data order is a pure function of (seed,
    epoch), so batch k of size N*B is micro-batches kN..kN+N-1 of size B). float32 sums in
    another order differ by a few ulps per step: 1e-6 bounds 12 updates of O(1) weights."""
    x, y = _linear_data()
    small, big = _linear(), _linear()
    common = dict(epochs=3, optim__name="sgd", optim__lr=0.05, optim__momentum=0.9,
                  optim__weight_decay=0.0, sched__name="cosine", log__every_steps=0)  # fmt: skip
    a = trainlab.fit(small, (x, y), (x[:16], y[:16]), batch_size=8, train__accumulate=4, **common)
    b = trainlab.fit(big, (x, y), (x[:16], y[:16]), batch_size=32, **common)
    assert a["steps"] == b["steps"] == 3 * 3  # the schedule counts updates, not batches
    for p, q in zip(small.parameters(), big.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-6)
    assert not torch.equal(small.weight, _linear().weight)  # it trained


def test_accumulate_steps_the_schedule_once_per_update(tmp_path: Path) -> None:
    t = digits_trainer(tmp_path, "acc", ["train.epochs=1", "train.accumulate=3"])
    t.fit()
    batches = len(t.train_loader)
    assert t.step == math.ceil(batches / 3) == t.scheduler.last_step  # type: ignore[union-attr]


@pytest.mark.slow
def test_bf16_mixed_on_digits_is_within_a_point_of_fp32(tmp_path: Path) -> None:
    """bfloat16 keeps float32's range and 8 bits of mantissa: on digits (99% test accuracy in
    float32) the autocast run must land within 1 point (about 3 of 270 test images)."""
    accs = {}
    for p in ("32", "bf16-mixed"):
        t = digits_trainer(tmp_path, f"p{p}", ["train.epochs=12", f"train.precision={p}"])
        accs[p] = t.fit()["test"]["acc"]
    assert accs["32"] > 0.95
    assert abs(accs["bf16-mixed"] - accs["32"]) <= 0.01, accs


def test_16_mixed_on_a_cpu_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'16-mixed' needs a CUDA device"):
        digits_trainer(tmp_path, "fp16", ["train.precision=16-mixed", "train.device=cpu"])
    with pytest.raises(ConfigError, match="train.precision = 'fp8'"):
        digits_trainer(tmp_path, "fp8", ["train.precision=fp8"])


def test_a_skipped_scaler_step_advances_neither_schedule_nor_ema() -> None:
    """The 16-mixed bookkeeping, exercised with a CPU GradScaler: an overflowing gradient
    (inf) makes the scaler skip the step and halve its scale; the schedule must not move."""
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = Scheduler(opt, build_schedule("cosine", epochs=1, steps_per_epoch=10))
    upd = Updater("main", opt, sched, torch.amp.GradScaler("cpu", init_scale=4.0), None, None)
    precision = Precision("32", torch.device("cpu"))
    precision.mode, precision.dtype = "16-mixed", torch.float16  # the CPU stands in for CUDA
    w0 = model.weight.detach().clone()

    def one(inf: bool) -> bool:
        step = Step({"main": upd}, precision, Clipping(), epoch=0, batch=0, index=0, micro=0,
                    cycle=1, device=torch.device("cpu"))  # fmt: skip
        loss = model(torch.ones(2, 3)).sum() * (math.inf if inf else 1.0)
        step.backward(loss)
        return step.update()

    assert one(inf=True) is False
    assert upd.skipped == 1 and upd.updates == 0 and sched.last_step == 0
    assert torch.equal(model.weight, w0)
    assert one(inf=False) is True
    assert upd.updates == 1 and sched.last_step == 1 and not torch.equal(model.weight, w0)


def test_early_stopping_stops_and_tests_the_best_checkpoint(tmp_path: Path) -> None:
    """A constant lr of 1e-9 never improves the val loss by more than min_delta = 1, so the
    run stops after patience + 1 epochs; the first epoch is the best."""
    t = digits_trainer(tmp_path, "es", ["train.epochs=10", "optim.lr=1e-9", "sched.name=constant",
                                        "early_stop.patience=2", "early_stop.monitor=loss",
                                        "early_stop.min_delta=1.0"])  # fmt: skip
    summary = t.fit()
    assert summary["epochs"] == 3 and t.epoch == 3
    assert "early stopping: val loss did not improve" in summary["stopped"]
    assert summary["test"]["acc"] > 0  # computed from the best checkpoint
    assert summary["best_epoch"] == 1


def test_early_stop_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="early_stop.patiense"):
        digits_trainer(tmp_path, "e1", ["early_stop.patiense=3"])
    with pytest.raises(ConfigError, match="early_stop.monitor = 'bleu'.*one of"):
        digits_trainer(tmp_path, "e2", ["early_stop.patience=2", "early_stop.monitor=bleu"])


def test_l1_penalty_drives_weights_to_zero_and_reports_sparsity(tmp_path: Path) -> None:
    """The notes' LASSO (F3:1448): the subgradient lam*sign(w) shrinks unimportant weights;
    with lam = 1e-3 on the digits MLP far more weights end near 0 than without it."""
    rows = {}
    for lam in (0.0, 1e-3):
        t = digits_trainer(tmp_path, f"l1_{lam}", ["model.name=mlp", "train.epochs=4",
                                                   "optim.weight_decay=0", f"regularize.l1={lam}"])  # fmt: skip
        t.fit()
        weights = torch.cat(
            [p.detach().abs().flatten() for p in t.model.parameters() if p.ndim >= 2]
        )
        rows[lam] = (float((weights < 1e-3).float().mean()), t.history[-1])
    assert "train_l1_sparsity" in rows[1e-3][1] and "train_l1_sparsity" not in rows[0.0][1]
    assert rows[1e-3][0] > 5 * max(rows[0.0][0], 0.01)


def test_l1_term_has_the_lasso_gradient() -> None:
    from trainlab.train.supervised import _l1_norm

    w = torch.tensor([[0.5, -2.0], [0.0, 3.0]], requires_grad=True)
    total = _l1_norm([w])
    total.backward()
    assert float(total.detach()) == 5.5
    assert torch.equal(w.grad, torch.tensor([[1.0, -1.0], [0.0, 1.0]]))


def test_freeze_then_unfreeze_at_an_epoch(tmp_path: Path) -> None:
    t = digits_trainer(tmp_path, "fz", ["train.epochs=2", "optim.freeze=[features]",
                                        "optim.unfreeze={1: ['*']}", "checkpoint.every_steps=1"])  # fmt: skip
    frozen0 = {
        n: p.detach().clone() for n, p in t.model.named_parameters() if n.startswith("features")
    }
    head0 = t.model.head.weight.detach().clone()
    seen = []

    class Watch(trainlab.train.Callback):
        def on_epoch_end(self, trainer, row) -> None:
            seen.append({n: p.detach().clone() for n, p in trainer.model.named_parameters()
                         if n.startswith("features")})  # fmt: skip

    t.callbacks.append(Watch())
    t.fit()
    assert all(torch.equal(seen[0][n], frozen0[n]) for n in frozen0)  # epoch 1: frozen
    assert not torch.equal(t.model.head.weight, head0)
    assert any(not torch.equal(seen[1][n], frozen0[n]) for n in frozen0)  # epoch 2: trained


def test_freeze_pattern_that_matches_nothing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="optim.freeze = \\['encoder'\\]: no module name matches"):
        digits_trainer(tmp_path, "fz2", ["optim.freeze=[encoder]"])


_LR = {"sgd": 0.05, "adagrad": 0.05, "adadelta": 1.0, "rprop": 1e-3, "lbfgs": 1.0, "asgd": 0.5,
       "sgd_velocity": 0.05, "sgd_lookahead": 0.05}  # fmt: skip


_EXTRA = {"lbfgs": ["optim.options={line_search_fn: strong_wolfe, max_iter: 5}"]}


@pytest.mark.parametrize("name", CONFIG_OPTIMIZERS)
def test_every_optimizer_name_trains_end_to_end(tmp_path: Path, name: str) -> None:
    """Each optimizer of the config (the notes' variants and L-BFGS with its closure too)
    trains the digits MLP for 2 epochs: the val loss must fall below 75% of the untrained
    model's (about ln 10 = 2.3 for 10 classes; an optimizer that does not move the weights
    stays at 100%, a wrong-signed one rises; Adadelta, the slowest starter, reaches ~70%)."""
    t = digits_trainer(tmp_path, name, ["model.name=mlp", "train.epochs=2",
                                        f"optim.name={name}", f"optim.lr={_LR.get(name, 3e-3)}",
                                        "optim.weight_decay=0", "sched.name=constant",
                                        *_EXTRA.get(name, [])])  # fmt: skip
    start, _ = t.evaluate(t.val_split)
    t.fit()
    assert t.history[-1]["val_loss"] < 0.75 * start["loss"], (start, t.history[-1])


class _Pairs(Dataset):
    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        return self.x[i], self.y[i]


def _blobs(n: int = 240) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    y = torch.arange(n) % 3
    x = torch.randn(n, 4, generator=g) + 3 * nn.functional.one_hot(y, 4).float()
    return x, y


def test_fit_trains_a_plain_module_on_a_tensor_dataset_in_place() -> None:
    x, y = _blobs()
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    before = model[0].weight.detach().clone()
    summary = trainlab.fit(model, TensorDataset(x[:160], y[:160]), val=(x[160:200], y[160:200]),
                           test=(x[200:], y[200:]), epochs=6, batch_size=16, optim__lr=1e-2)  # fmt: skip
    # three well-separated blobs (3 sigma apart): a trained MLP gets nearly all right
    assert summary["test"]["acc"] >= 0.9
    assert not torch.equal(model[0].weight, before)
    with torch.no_grad():
        acc = float((model(x[200:]).argmax(1) == y[200:]).float().mean())
    assert acc == pytest.approx(summary["test"]["acc"])  # the best weights are in the model


def test_fit_leaves_global_state_as_it_found_it() -> None:
    x, y = _blobs(96)
    backend = matplotlib.get_backend()
    handler = signal.getsignal(signal.SIGINT)
    det = torch.are_deterministic_algorithms_enabled()
    model = nn.Linear(4, 3)
    torch.manual_seed(123)
    rng = torch.get_rng_state()
    trainlab.fit(model, (x, y), val=(x, y), epochs=1, batch_size=32, run_dir=False,
                 train__deterministic=not det)  # fmt: skip
    assert matplotlib.get_backend() == backend
    assert signal.getsignal(signal.SIGINT) is handler
    assert torch.are_deterministic_algorithms_enabled() == det
    assert torch.equal(torch.get_rng_state(), rng)


def test_fit_takes_names_factories_and_rejects_bad_arguments() -> None:
    x, y = _blobs(96)
    made = []

    def factory(params):
        made.append(1)
        return torch.optim.SGD(params, lr=0.1)

    trainlab.fit(nn.Linear(4, 3), (x, y), (x, y), optimizer=factory, epochs=1, batch_size=32)
    assert made == [1]
    s = trainlab.fit(nn.Linear(4, 3), (x, y), (x, y), optimizer="sgd", loss=nn.CrossEntropyLoss(),
                     epochs=1, batch_size=32, optim__lr=0.1)  # fmt: skip
    assert s["epochs"] == 1
    with pytest.raises(TypeError, match="train: expected a Dataset"):
        trainlab.fit(nn.Linear(4, 3), 42)
    with pytest.raises(TypeError, match="model: expected a torch.nn.Module"):
        trainlab.fit(object(), (x, y))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="optim.lr = -1.0"):
        trainlab.fit(nn.Linear(4, 3), (x, y), optim__lr=-1.0)
    with pytest.raises(ValueError, match="x has 96 samples but y has 10"):
        trainlab.fit(nn.Linear(4, 3), (x, y[:10]))


def test_deterministic_flag_is_the_runs_only(tmp_path: Path) -> None:
    """train.deterministic=false really turns determinism off during the run (and true on);
    the caller's setting is back afterwards."""
    seen = []

    class Probe(trainlab.train.Callback):
        def on_epoch_start(self, trainer, epoch) -> None:
            seen.append(torch.are_deterministic_algorithms_enabled())

    outer = torch.are_deterministic_algorithms_enabled()
    for flag in ("false", "true"):
        t = digits_trainer(tmp_path, f"det_{flag}", ["train.epochs=1", f"train.deterministic={flag}",
                                                      "model.name=mlp"], [Probe()])  # fmt: skip
        t.fit()
        assert torch.are_deterministic_algorithms_enabled() == outer
    assert seen == [False, True]


def test_channels_last_trains_and_keeps_the_layout(tmp_path: Path) -> None:
    t = digits_trainer(tmp_path, "cl", ["train.epochs=1", "train.channels_last=true"])
    conv = next(p for p in t.model.parameters() if p.ndim == 4)
    assert conv.is_contiguous(memory_format=torch.channels_last)
    t.fit()
    assert t.history[0]["val_acc"] > 0.5  # ten classes: far above chance after one epoch


@pytest.mark.slow
def test_compile_trains_and_reports_its_compile_time(tmp_path: Path) -> None:
    t = digits_trainer(tmp_path, "comp", ["train.epochs=1", "train.compile=true", "model.name=mlp"])
    summary = t.fit()
    assert summary["compile_seconds"] is not None and summary["compile_seconds"] > 0
    assert t.history[0]["val_acc"] > 0.5


def test_tensorboard_events_are_written(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    t = digits_trainer(tmp_path, "tb", ["train.epochs=1", "model.name=mlp", "log.tensorboard=true",
                                        "log.every_steps=5"])  # fmt: skip
    t.fit()
    events = list((t.run.path / "tensorboard").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 100


def test_regularize_dropout_reaches_the_models_that_take_it(tmp_path: Path) -> None:
    t = digits_trainer(tmp_path, "do", ["model.name=mlp", "regularize.dropout=0.3"])
    rates = [m.p for m in t.model.modules() if isinstance(m, nn.Dropout)]
    assert rates and all(p == 0.3 for p in rates)
    with pytest.raises(ConfigError, match="regularize.dropout = 0.3: model 'unet' has no dropout"):
        digits_trainer(tmp_path, "do2", ["model.name=unet", "regularize.dropout=0.3"])
    # entries that forward **kwargs get the name their model class takes (drop_rate), which
    # the registry reads from the class the entry returns, not the first name tried
    from trainlab.models import create_model, model_accepts
    from trainlab.recipes import load_config
    from trainlab.train.build import model_spec

    for name in ("resnet18", "vit_tiny", "convnext_atto"):
        assert not model_accepts(name, "dropout") and model_accepts(name, "drop_rate")
        config = load_config(overrides=[f"model.name={name}", "regularize.dropout=0.25"])
        model, args = model_spec(config, 10, (3, 32, 32))
        assert args["drop_rate"] == 0.25 and "dropout" not in args
        assert create_model(model, **args) is not None
    assert not model_accepts("resnet18", "no_such_argument")


def test_default_placement_is_batch_and_measures_nothing(tmp_path: Path, monkeypatch) -> None:
    """Issue 22 item 9: the default must not depend on a wall-clock measurement."""
    from trainlab.train import build

    monkeypatch.setattr(build, "_measure_placement", lambda *a: pytest.fail("measured"))
    images = torch.rand(40, 3, 8, 8)
    import numpy as np

    np.savez(tmp_path / "img.npz", x=images.numpy(), y=np.arange(40) % 2)
    config = trainlab.recipes.load_config(overrides=[
        f"data.source={tmp_path / 'img.npz'}", "data.num_workers=2", "augment.randaugment_n=2",
        "train.device=cpu"])  # fmt: skip
    data = build.build_data(config)
    choice = build.resolve_placement(config, data, torch.device("cpu"))
    assert choice is not None and (choice.placement, choice.reason) == (
        "batch",
        "augment.placement",
    )


def test_curves_never_touch_the_pyplot_backend(tmp_path: Path, monkeypatch) -> None:
    from trainlab.train.plots import plot_curves

    monkeypatch.setattr(matplotlib, "use", lambda *a, **k: pytest.fail("matplotlib.use called"))
    history = [{"epoch": e, "lr": 0.1 / e, "train_loss": 1 / e, "val_loss": 1.1 / e,
                "train_acc": 0.5, "val_acc": 0.6} for e in (1, 2, 3)]  # fmt: skip
    plot_curves(history, "acc", tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 5000
