"""Metrics of the multi-label and segmentation tasks on what their models and data give:
logits (N, C) + float multi-hot targets; logits (N, K, H, W) + masks (N, H, W) with
ignore_index -100. Primary metric, short per-epoch set, and mid-epoch state round trips."""

from __future__ import annotations

import io

import pytest
import torch

from trainlab.metrics import metrics_for_task


def _multilabel(seed: int = 0, n: int = 40, c: int = 5):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, c, generator=g), torch.randint(0, 2, (n, c), generator=g).float()


def _segmentation(seed: int = 0, n: int = 6, k: int = 3):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, max(k, 2), (n, 5, 7), generator=g)
    y[0, :2] = -100  # unlabelled rows of sample 0
    return torch.randn(n, k, 5, 7, generator=g), y


def _round_trip(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def test_primary_metrics_and_short_sets() -> None:
    ml = metrics_for_task("multilabel", detailed=False)
    seg = metrics_for_task("segmentation", detailed=False)
    assert (ml.primary, ml.higher_is_better) == ("f1_micro", True)
    assert (seg.primary, seg.higher_is_better) == ("dice", True)
    ml.update(*_multilabel(), loss=0.5)
    seg.update(*_segmentation(), loss=0.25)
    assert set(ml.compute()) == {"loss", "hamming_acc", "subset_acc", "f1_micro", "f1_macro"}
    assert set(seg.compute()) == {"loss", "pixel_acc", "dice", "iou"}
    assert ml.compute()["loss"] == 0.5 and seg.compute()["loss"] == 0.25


def test_segmentation_scores_skip_ignored_pixels() -> None:
    x, y = _segmentation()
    m = metrics_for_task("segmentation")
    m.update(x, y)
    got = m.compute()
    pred, keep = x.argmax(1), y != -100
    p, t = pred[keep], y[keep]
    dice = [2 * ((p == c) & (t == c)).sum() / ((p == c).sum() + (t == c).sum()) for c in range(3)]
    iou = [((p == c) & (t == c)).sum() / ((p == c) | (t == c)).sum() for c in range(3)]
    assert got["pixel_acc"] == pytest.approx(float((p == t).double().mean()), abs=1e-12)
    assert got["dice"] == pytest.approx(float(torch.stack(dice).mean()), abs=1e-6)
    assert got["iou"] == pytest.approx(float(torch.stack(iou).mean()), abs=1e-6)
    # a prediction that differs from the target only on ignored pixels scores perfectly
    perfect = metrics_for_task("segmentation")
    logits = torch.nn.functional.one_hot(y.clamp_min(0), 3).permute(0, 3, 1, 2).float()
    logits[0, :, :2] = torch.tensor([0.0, 0.0, 9.0])[:, None, None]  # wrong where ignored
    perfect.update(logits, y)
    assert perfect.compute()["dice"] == 1.0 and perfect.compute()["pixel_acc"] == 1.0


@pytest.mark.parametrize(
    ("task", "data"),
    [
        ("multilabel", _multilabel),  # C = 5: the state's (4, C) counts once read as size 4
        ("segmentation", _segmentation),
        ("segmentation", lambda seed: _segmentation(seed, k=1)),  # binary masks: 2x2 confusion
    ],
)
def test_mid_epoch_state_round_trip_equals_one_pass(task, data) -> None:
    (x1, y1), (x2, y2) = data(0), data(1)
    whole = metrics_for_task(task, detailed=False)
    for x, y in ((x1, y1), (x2, y2)):
        whole.update(x, y, loss=0.5)
    first = metrics_for_task(task, detailed=False)
    first.update(x1, y1, loss=0.5)
    resumed = metrics_for_task(task, detailed=False)
    resumed.load_state_dict(_round_trip(first.state_dict()))
    resumed.update(x2, y2, loss=0.5)
    assert resumed.compute() == pytest.approx(whole.compute())
    # a state saved before the first batch restores to an empty metric of the same kind
    empty = metrics_for_task(task, detailed=False)
    empty.load_state_dict(_round_trip(metrics_for_task(task, detailed=False).state_dict()))
    empty.update(x1, y1, loss=0.5)
    assert empty.compute() == pytest.approx(first.compute())


def test_states_written_without_size_still_load() -> None:
    x, y = _segmentation()
    m = metrics_for_task("segmentation")
    m.update(x, y)
    old = {k: v for k, v in m.state_dict().items() if k != "_size"}  # earlier checkpoints
    again = metrics_for_task("segmentation")
    again.load_state_dict(old)
    again.update(x, y)
    m.update(x, y)
    assert again.compute() == pytest.approx(m.compute())
