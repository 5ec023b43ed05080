"""Regularization helpers for the models and the trainer: drop path (stochastic depth),
an exponential moving average of the weights, gradient clipping by norm and by value."""

from .clip_grad import clip_grad_norm, clip_grad_value, grad_norm
from .drop_path import DropPath, drop_path, drop_path_rates
from .ema import WeightEMA

__all__ = [
    "DropPath",
    "WeightEMA",
    "clip_grad_norm",
    "clip_grad_value",
    "drop_path",
    "drop_path_rates",
    "grad_norm",
]
