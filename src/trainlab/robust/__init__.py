"""Robustness (notes F3:3446-3782): FGSM and PGD attacks, transfer (proxy-model) attacks,
adversarial training tasks, robust evaluation, backdoor data poisoning."""

from trainlab.robust.attacks import fgsm, pgd
from trainlab.robust.budget import Threat, to_model_space
from trainlab.robust.modes import attack_mode

__all__ = ["Threat", "attack_mode", "fgsm", "pgd", "to_model_space"]
