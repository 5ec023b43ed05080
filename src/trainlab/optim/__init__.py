"""Optimizers and the rules that build them from a config."""

from trainlab.optim.factory import OPTIMIZERS, build_optimizer

__all__ = ["OPTIMIZERS", "build_optimizer"]
