"""Losses, one module per family, each a function and an ``nn.Module`` with
``reduction='mean'|'sum'|'none'``; and the rule that picks the training loss for a task.

regression      mse_loss, l1_loss, huber_loss, smooth_l1_loss
classification  cross_entropy (label smoothing in two conventions, class weights,
                ignore_index, soft targets), binary_cross_entropy(_with_logits), smooth_labels
margin          hinge_loss, multiclass_hinge_loss, soft_margin_loss, svm_objective
overlap         dice_loss, soft_iou_loss
adversarial     gan_value, discriminator_loss, generator_loss_minimax,
                generator_loss_nonsaturating, hinge_discriminator_loss, hinge_generator_loss,
                paired_generator_loss (GAN + lambda L1, pix2pix)
reconstruction  masked_reconstruction_loss and its mse/l1/bce/bce_with_logits forms
information     entropy, logit_entropy, cross_entropy_of, kl_divergence
adapters        nll_of_logits (NLL of log_softmax(logits)), one-hot BCE for classification,
                soft margin over multi-hot targets
sft             sft_loss: next-token cross-entropy over answer tokens only (teacher forcing)
weighted        WeightedLoss: sum_i w_i L_i (the notes' multi-task loss, F4:1935)
registry        every training loss by name and the tasks it fits: list_losses(task),
                loss_spec(name, task), create_loss(name, task, args=...),
                create_weighted_loss(terms, task); loss_from_config reads loss.name/args/terms
"""

from trainlab.losses.adapters import (
    NLLOfLogits,
    OneHotBCEWithLogits,
    SignedSoftMargin,
    nll_of_logits,
)
from trainlab.losses.adversarial import (
    GANDiscriminatorLoss,
    GANGeneratorLoss,
    discriminator_loss,
    gan_value,
    generator_loss_minimax,
    generator_loss_nonsaturating,
    hinge_discriminator_loss,
    hinge_generator_loss,
    paired_generator_loss,
)
from trainlab.losses.build import (
    TASKS,
    MixedTargetCrossEntropy,
    MultiLabelLoss,
    build_loss,
    loss_from_config,
)
from trainlab.losses.classification import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    smooth_labels,
    smoothing_coefficients,
)
from trainlab.losses.information import (
    DistributionCrossEntropy,
    Entropy,
    KLDivergence,
    cross_entropy_of,
    entropy,
    kl_divergence,
    logit_entropy,
)
from trainlab.losses.margin import (
    HingeLoss,
    MultiClassHingeLoss,
    SoftMarginLoss,
    hinge_loss,
    multiclass_hinge_loss,
    soft_margin_loss,
    svm_objective,
)
from trainlab.losses.overlap import DiceLoss, SoftIoULoss, dice_loss, overlap_sums, soft_iou_loss
from trainlab.losses.reconstruction import (
    MaskedReconstructionLoss,
    masked_bce_loss,
    masked_bce_with_logits_loss,
    masked_l1_loss,
    masked_mse_loss,
    masked_reconstruction_loss,
)
from trainlab.losses.registry import (
    LossContext,
    LossSpec,
    check_loss_args,
    create_loss,
    create_weighted_loss,
    list_losses,
    loss_spec,
)
from trainlab.losses.regression import (
    HuberLoss,
    L1Loss,
    MSELoss,
    SmoothL1Loss,
    huber_loss,
    l1_loss,
    mse_loss,
    smooth_l1_loss,
)
from trainlab.losses.sft import SFTLoss, sft_loss
from trainlab.losses.weighted import WeightedLoss

__all__ = [
    "TASKS",
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "DiceLoss",
    "DistributionCrossEntropy",
    "Entropy",
    "GANDiscriminatorLoss",
    "GANGeneratorLoss",
    "HingeLoss",
    "HuberLoss",
    "KLDivergence",
    "L1Loss",
    "LossContext",
    "LossSpec",
    "MSELoss",
    "MaskedReconstructionLoss",
    "MixedTargetCrossEntropy",
    "MultiClassHingeLoss",
    "MultiLabelLoss",
    "NLLOfLogits",
    "OneHotBCEWithLogits",
    "SFTLoss",
    "SignedSoftMargin",
    "SmoothL1Loss",
    "SoftIoULoss",
    "SoftMarginLoss",
    "WeightedLoss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "build_loss",
    "check_loss_args",
    "create_loss",
    "create_weighted_loss",
    "cross_entropy",
    "cross_entropy_of",
    "dice_loss",
    "discriminator_loss",
    "entropy",
    "gan_value",
    "generator_loss_minimax",
    "generator_loss_nonsaturating",
    "hinge_discriminator_loss",
    "hinge_generator_loss",
    "hinge_loss",
    "huber_loss",
    "kl_divergence",
    "l1_loss",
    "list_losses",
    "logit_entropy",
    "loss_from_config",
    "loss_spec",
    "masked_bce_loss",
    "masked_bce_with_logits_loss",
    "masked_l1_loss",
    "masked_mse_loss",
    "masked_reconstruction_loss",
    "mse_loss",
    "multiclass_hinge_loss",
    "nll_of_logits",
    "overlap_sums",
    "paired_generator_loss",
    "sft_loss",
    "smooth_l1_loss",
    "smooth_labels",
    "smoothing_coefficients",
    "soft_iou_loss",
    "soft_margin_loss",
    "svm_objective",
]
