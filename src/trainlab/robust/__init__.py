"""Robustness (notes F3:3446-3782): FGSM and PGD attacks, transfer (proxy-model) attacks,
robust evaluation, backdoor data poisoning; the adversarial-training and backdoor tasks
live in `trainlab.robust.task` (task.name = adversarial | backdoor). See docs/robust.md."""

from trainlab.robust.attacks import fgsm, pgd
from trainlab.robust.budget import InputSpace, Threat, to_model_space
from trainlab.robust.evaluate import attack, robust_accuracy, robustness_curve, transfer_accuracy
from trainlab.robust.modes import attack_mode
from trainlab.robust.poison import Trigger, attack_success_rate, poison

__all__ = [
    "InputSpace",
    "Threat",
    "Trigger",
    "attack",
    "attack_mode",
    "attack_success_rate",
    "fgsm",
    "pgd",
    "poison",
    "robust_accuracy",
    "robustness_curve",
    "to_model_space",
    "transfer_accuracy",
]
