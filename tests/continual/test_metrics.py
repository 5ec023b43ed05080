"""ACC / BWT / FWT from a hand-written R and b (Lopez-Paz & Ranzato 2017; notes F3:4590-4620)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trainlab.continual import (
    average_accuracy,
    backward_transfer,
    forward_transfer,
    stream_metrics,
)
from trainlab.continual.metrics import matrix_csv, read_matrix_csv

R = [
    [0.90, 0.10, 0.20],
    [0.60, 0.80, 0.35],
    [0.50, 0.70, 0.95],
]
B = [0.10, 0.15, 0.25]


def test_hand_computed_values():
    # ACC = (0.5 + 0.7 + 0.95) / 3; BWT = ((0.5 - 0.9) + (0.7 - 0.8)) / 2;
    # FWT = ((R[0,1] - b1) + (R[1,2] - b2)) / 2 = ((0.1 - 0.15) + (0.35 - 0.25)) / 2
    assert average_accuracy(R) == pytest.approx(2.15 / 3, abs=1e-12)
    assert backward_transfer(R) == pytest.approx(-0.25, abs=1e-12)
    assert forward_transfer(R, B) == pytest.approx(0.025, abs=1e-12)
    m = stream_metrics(R, B)
    assert m == pytest.approx({"ACC": 2.15 / 3, "BWT": -0.25, "FWT": 0.025}, abs=1e-12)


def test_one_task_transfer_is_undefined():
    m = stream_metrics([[0.8]], [0.1])
    assert m["ACC"] == pytest.approx(0.8)
    assert math.isnan(m["BWT"]) and math.isnan(m["FWT"])


def test_bad_shapes():
    with pytest.raises(ValueError, match="square"):
        average_accuracy([[0.1, 0.2]])
    with pytest.raises(ValueError, match="baseline"):
        forward_transfer(R, [0.1, 0.2])


def test_csv_round_trip(tmp_path):
    path = tmp_path / "R.csv"
    path.write_text(matrix_csv(R))
    assert path.read_text().splitlines()[0] == "after_task,task_0,task_1,task_2"
    np.testing.assert_allclose(read_matrix_csv(path), R, atol=1e-6)
