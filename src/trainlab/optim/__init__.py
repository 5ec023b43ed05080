"""Optimizers as chains of gradient transformations, drop-ins for torch.optim.

``trainlab.optim.transforms`` holds the transformations and ``chain``; the optimizers below
are torch.optim.Optimizer subclasses built from them (same arguments, same state names);
``param_groups`` builds parameter groups (no decay on 1-D/embeddings, layer-wise lr decay,
freezing); ``variants`` holds the notes' own formulas by name.
"""

from trainlab.optim.base import ChainOptimizer
from trainlab.optim.factory import CONFIG_OPTIMIZERS, OPTIMIZERS, build_optimizer
from trainlab.optim.lbfgs import LBFGS
from trainlab.optim.optimizers import (
    ASGD,
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    Adamax,
    AdamW,
    NAdam,
    RMSprop,
    Rprop,
)
from trainlab.optim.param_groups import freeze, param_groups, unfreeze
from trainlab.optim.transforms import Context, Transform, chain
from trainlab.optim.variants import NesterovLookaheadSGD, VelocitySGD

__all__ = [
    "ASGD",
    "CONFIG_OPTIMIZERS",
    "LBFGS",
    "OPTIMIZERS",
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "ChainOptimizer",
    "Context",
    "NAdam",
    "NesterovLookaheadSGD",
    "RMSprop",
    "Rprop",
    "Transform",
    "VelocitySGD",
    "build_optimizer",
    "chain",
    "freeze",
    "param_groups",
    "unfreeze",
]
