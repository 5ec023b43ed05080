"""Every loss by name: which tasks each fits, its value against torch.nn.functional (or the
formula written out here), weighted sums, and the one-line errors.

Tolerances: float32 inputs of size <= 2 * 3 * 5 * 7, losses of order 1; the reference and
ours differ only in summation order, a few float32 ulps (1.2e-7 each), so rtol 1e-5 and
atol 1e-6 leave a margin of ~50x without hiding a wrong formula (a missing term or a wrong
mean changes the value by > 1e-2 here)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from trainlab.losses import (
    WeightedLoss,
    create_loss,
    create_weighted_loss,
    list_losses,
    loss_from_config,
    loss_spec,
)
from trainlab.recipes import load_config

TASKS = ("classification", "multilabel", "regression", "segmentation")
FITS = {
    "auto": set(TASKS),
    "cross_entropy": {"classification", "segmentation"},
    "nll": {"classification", "segmentation"},
    "bce_with_logits": {"multilabel", "classification"},
    "mse": {"regression"},
    "l1": {"regression"},
    "huber": {"regression"},
    "smooth_l1": {"regression"},
    "hinge": {"classification"},
    "soft_margin": {"multilabel"},
    "dice": {"segmentation"},
    "ce+dice": {"segmentation"},
}
TOL = {"rtol": 1e-5, "atol": 1e-6}


def _batch(task: str, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Model outputs and targets of each task, as the data and models produce them."""
    g = torch.Generator().manual_seed(seed)
    if task == "classification":
        return torch.randn(6, 4, generator=g), torch.randint(0, 4, (6,), generator=g)
    if task == "multilabel":
        return torch.randn(6, 5, generator=g), torch.randint(0, 2, (6, 5), generator=g).float()
    if task == "regression":
        return torch.randn(6, 1, generator=g), torch.randn(6, 1, generator=g)
    y = torch.randint(0, 3, (2, 5, 7), generator=g)
    y[0, :2, :3] = -100  # unlabelled pixels (trainlab.data's ignore_index)
    return torch.randn(2, 3, 5, 7, generator=g), y


def test_the_table_of_names_and_tasks() -> None:
    assert set(list_losses()) == set(FITS)
    for task in TASKS:
        assert set(list_losses(task)) == {n for n, t in FITS.items() if task in t}


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("name", sorted(FITS))
def test_each_name_builds_for_its_tasks_and_refuses_the_others(name: str, task: str) -> None:
    if task in FITS[name]:
        x, y = _batch(task)
        x.requires_grad_(True)
        value = create_loss(name, task)(x, y)
        assert value.shape == () and torch.isfinite(value)
        value.backward()
        assert x.grad is not None and x.grad.abs().sum() > 0
    else:
        fits = ", ".join(loss_spec(name).tasks)
        with pytest.raises(ValueError, match=f"does not fit task '{task}'; it fits {fits}"):
            create_loss(name, task)


def _dice_reference(x: torch.Tensor, y: torch.Tensor, smooth: float) -> torch.Tensor:
    """1 - (2 sum p g + s) / (sum p^2 + sum g^2 + s) per sample and class, ignored pixels
    dropped, mean over samples and classes (squared Dice, F4:1623)."""
    valid = (y != -100).unsqueeze(1).float()  # (N, 1, H, W)
    p = torch.softmax(x, 1) * valid
    g = F.one_hot(y.clamp_min(0), x.shape[1]).permute(0, 3, 1, 2).float() * valid
    inter = (p * g).sum((2, 3))
    dice = (2 * inter + smooth) / (p.square().sum((2, 3)) + g.square().sum((2, 3)) + smooth)
    return (1 - dice).mean()


W4 = torch.tensor([0.5, 1.0, 2.0, 1.5])
W3 = torch.tensor([0.2, 0.3, 0.5])
CASES = [
    ("cross_entropy", "classification", {}, lambda x, y: F.cross_entropy(x, y)),
    ("cross_entropy", "classification", {"class_weight": W4.tolist()},
     lambda x, y: F.cross_entropy(x, y, weight=W4)),
    ("cross_entropy", "segmentation", {"class_weight": W3.tolist()},
     lambda x, y: F.cross_entropy(x, y, weight=W3, ignore_index=-100)),
    ("auto", "segmentation", {}, lambda x, y: F.cross_entropy(x, y)),
    ("nll", "classification", {"weight": W4.tolist()},
     lambda x, y: F.nll_loss(F.log_softmax(x, 1), y, weight=W4)),
    ("nll", "segmentation", {}, lambda x, y: F.nll_loss(F.log_softmax(x, 1), y)),
    ("bce_with_logits", "multilabel", {"pos_weight": [1.0, 2.0, 0.5, 3.0, 1.0]},
     lambda x, y: F.binary_cross_entropy_with_logits(
         x, y, pos_weight=torch.tensor([1.0, 2.0, 0.5, 3.0, 1.0]))),
    ("auto", "multilabel", {}, F.binary_cross_entropy_with_logits),
    ("bce_with_logits", "classification", {},
     lambda x, y: F.binary_cross_entropy_with_logits(x, F.one_hot(y, 4).float())),
    ("mse", "regression", {}, F.mse_loss),
    ("auto", "regression", {}, F.mse_loss),
    ("l1", "regression", {}, F.l1_loss),
    ("huber", "regression", {"delta": 0.7}, lambda x, y: F.huber_loss(x, y, delta=0.7)),
    ("smooth_l1", "regression", {"beta": 0.4}, lambda x, y: F.smooth_l1_loss(x, y, beta=0.4)),
    ("hinge", "classification", {"margin": 0.5, "p": 2, "class_weight": W4.tolist()},
     lambda x, y: F.multi_margin_loss(x, y, p=2, margin=0.5, weight=W4)),
    ("soft_margin", "multilabel", {}, lambda x, y: F.soft_margin_loss(x, 2 * y - 1)),
    ("dice", "segmentation", {"smooth": 1.0}, lambda x, y: _dice_reference(x, y, 1.0)),
    ("ce+dice", "segmentation", {"dice_weight": 0.5, "eps": 1e-5},
     lambda x, y: F.cross_entropy(x, y) + 0.5 * _dice_reference(x, y, 1e-5)),
]  # fmt: skip


@pytest.mark.parametrize(("name", "task", "args", "reference"), CASES)
@pytest.mark.parametrize("seed", [0, 1])
def test_values_and_gradients_equal_the_reference(name, task, args, reference, seed) -> None:
    x, y = _batch(task, seed)
    a, b = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    ours, ref = create_loss(name, task, args=args)(a, y), reference(b, y)
    torch.testing.assert_close(ours, ref, **TOL)
    ours.backward()
    ref.backward()
    torch.testing.assert_close(a.grad, b.grad, **TOL)


def test_dice_skips_ignored_pixels() -> None:
    x, y = _batch("segmentation")
    loss = create_loss("dice", "segmentation")
    changed = x.clone()
    changed[0, :, :2, :3] += 5.0  # logits of the ignored pixels only
    torch.testing.assert_close(loss(changed, y), loss(x, y), rtol=0, atol=0)


def test_weighted_sum_equals_the_weighted_parts() -> None:
    x, y = _batch("segmentation")
    terms = [
        {"name": "cross_entropy", "weight": 1.0},
        {"name": "dice", "weight": 0.5, "args": {"smooth": 1}},
        {"name": "nll", "weight": 2.0},
    ]
    total = create_weighted_loss(terms, "segmentation")
    assert isinstance(total, WeightedLoss) and total.names == ["cross_entropy", "dice", "nll"]
    parts = [create_loss(t["name"], "segmentation", args=t.get("args"))(x, y) for t in terms]
    expected = 1.0 * parts[0] + 0.5 * parts[1] + 2.0 * parts[2]
    torch.testing.assert_close(total(x, y), expected, **TOL)
    got = total.parts(x, y)
    torch.testing.assert_close(got["dice"], parts[1], **TOL)
    # the notes' multi-task example (F4:1935): 0.5 MSE + 0.5 L1
    xr, yr = _batch("regression")
    half = create_weighted_loss(
        [{"name": "mse", "weight": 0.5}, {"name": "l1", "weight": 0.5}], "regression"
    )
    torch.testing.assert_close(half(xr, yr), 0.5 * F.mse_loss(xr, yr) + 0.5 * F.l1_loss(xr, yr))


def test_aliases_and_spellings() -> None:
    x, y = _batch("segmentation")
    ref = create_loss("ce+dice", "segmentation")(x, y)
    for alias in ("dice_ce", "ce_dice", "dice+ce", "cross_entropy+dice", "CE+Dice"):
        torch.testing.assert_close(create_loss(alias, "segmentation")(x, y), ref)
    assert loss_spec("bce").name == "bce_with_logits" and loss_spec("mae").name == "l1"


# ---- the config: label smoothing, class weights, Mixup targets as today -----------------
def _from_config(task: str, *overrides: str, **kw) -> torch.nn.Module:
    return loss_from_config(load_config(overrides=list(overrides)), task, **kw)


def test_auto_and_cross_entropy_keep_smoothing_and_class_weights() -> None:
    x, y = _batch("classification")
    for name in ("auto", "cross_entropy", "ce"):
        sm = _from_config("classification", "train.label_smoothing=0.2", f"loss.name={name}")
        torch.testing.assert_close(sm(x, y), F.cross_entropy(x, y, label_smoothing=0.2), **TOL)
        cw = _from_config("classification", f"loss.name={name}", "loss.class_weight=[1,2,3,4]")
        w = torch.tensor([1.0, 2, 3, 4])
        torch.testing.assert_close(cw(x, y), F.cross_entropy(x, y, weight=w), **TOL)
    # notes convention: 1 - e on the true class, e / (K - 1) elsewhere (F4:1369)
    notes = _from_config("classification", "train.label_smoothing=0.3", "loss.smoothing=notes",
                         "loss.name=cross_entropy")  # fmt: skip
    q = torch.full((6, 4), 0.1).scatter(1, y[:, None], 0.7)
    torch.testing.assert_close(notes(x, y), -(q * F.log_softmax(x, 1)).sum(1).mean(), **TOL)
    # Mixup soft targets already smoothed by the mixer are not smoothed again
    soft = torch.softmax(torch.randn(6, 4), 1)
    mixed = _from_config("classification", "train.label_smoothing=0.2",
                         "loss.name=cross_entropy", soft_targets_smoothed=True)  # fmt: skip
    torch.testing.assert_close(mixed(x, soft), -(soft * F.log_softmax(x, 1)).sum(1).mean(), **TOL)


def test_config_args_and_terms_reach_the_losses() -> None:
    xr, yr = _batch("regression")
    huber = _from_config("regression", "loss.name=huber", "loss.args={delta: 0.3}")
    torch.testing.assert_close(huber(xr, yr), F.huber_loss(xr, yr, delta=0.3), **TOL)
    x, y = _batch("segmentation")
    both = _from_config(
        "segmentation",
        "loss.terms=[{name: cross_entropy, weight: 1.0}, {name: dice, weight: 0.5, "
        "args: {smooth: 1}}]",
        "loss.class_weight=[0.2, 0.3, 0.5]",  # goes to every term that takes class weights
    )
    w = torch.tensor([0.2, 0.3, 0.5])
    ce = F.cross_entropy(x, y, weight=w)
    dice = create_loss("dice", "segmentation", args={"smooth": 1, "class_weight": w.tolist()})
    torch.testing.assert_close(both(x, y), ce + 0.5 * dice(x, y), **TOL)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: create_loss("focal", "classification"),
         "unknown loss 'focal'; expected one of the losses that fit task 'classification': "
         "auto, bce_with_logits, cross_entropy, hinge, nll$"),
        (lambda: create_loss("dice", "regression"),
         "loss 'dice' does not fit task 'regression'; it fits segmentation"),
        (lambda: create_loss("huber", "regression", args={"beta": 1}),
         "loss 'huber' takes no argument 'beta'; accepted: delta$"),
        (lambda: create_loss("mse", "regression", args={"delta": 1}),
         "loss 'mse' takes no argument 'delta'; accepted: none"),
        (lambda: create_loss("huber", "regression", args={"delta": "big"}),
         "loss 'huber': argument delta='big'; expected a finite number"),
        (lambda: create_loss("huber", "regression", args={"delta": 0}),
         "loss 'huber': delta: expected a number > 0, got 0.0"),
        (lambda: create_loss("cross_entropy", "classification", num_classes=3,
                             args={"class_weight": [1, 2]}),
         "class_weight has 2 weights but the data has 3 classes"),
        (lambda: create_loss("bce_with_logits", "multilabel", num_classes=5,
                             args={"pos_weight": [1, 2]}),
         "pos_weight has 2 weights but the data has 5 labels"),
        (lambda: create_loss("nll", "classification", label_smoothing=0.1),
         "loss 'nll' has no label smoothing"),
        (lambda: create_loss("hinge", "classification", soft_targets_smoothed=True),
         "loss 'hinge' takes class indices, but Mixup/CutMix make soft targets"),
        (lambda: create_weighted_loss([{"name": "mse", "weight": 0}], "regression"),
         "weight of loss term 'mse' is 0; expected a number > 0"),
        (lambda: create_weighted_loss([{"name": "mse", "weight": -1.0}], "regression"),
         "expected a number > 0"),
        (lambda: create_weighted_loss([{"name": "mse", "wieght": 1}], "regression"),
         "loss term 0 has keys"),
        (lambda: create_loss("mse", "detection"), "unknown task 'detection'"),
        (lambda: _from_config("regression", "loss.name=mse", "loss.class_weight=[1, 2]"),
         "loss.class_weight: loss mse takes no class weights"),
        (lambda: _from_config("classification", "loss.class_weight=[1, 2]",
                              "loss.args={class_weight: [1, 2]}"),
         "class weights given twice"),
    ],
)  # fmt: skip
def test_errors_are_one_line_and_say_what_fits(call, message: str) -> None:
    with pytest.raises(ValueError, match=message) as e:
        call()
    assert "\n" not in str(e.value)


def test_loss_from_config_refuses_name_and_terms_together() -> None:
    config = load_config(overrides=["loss.terms=[{name: mse}]"])
    config.loss.__dict__["name"] = "l1"  # as a config built without validation could be
    with pytest.raises(ValueError, match="loss.terms replaces loss.name and loss.args"):
        loss_from_config(config, "regression")
