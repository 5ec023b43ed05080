"""Domain adaptation (F3 on domain shift): the gradient reversal layer, DANN as an engine
task (`task.name: dann`), and domain shifts made from any dataset."""

from trainlab.adapt.grl import GradientReversal, dann_lambda, grad_reverse
from trainlab.adapt.shift import SHIFTS, apply_shift

__all__ = ["SHIFTS", "GradientReversal", "apply_shift", "dann_lambda", "grad_reverse"]
