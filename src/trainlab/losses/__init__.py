"""Losses, and the rule that picks the training loss for a task."""

from trainlab.losses.build import build_loss

__all__ = ["build_loss"]
