"""Batched, device-native image augmentations with explicit generators (F0:27-65).

Every function takes a batch (N, C, H, W) or a single image (C, H, W), uint8 (levels
0..255) or float (intensities in [0, 1]; erasing noise assumes normalized tensors), on any
device, and an explicit ``torch.Generator``; nothing is modified in place. Each has a
configured ``nn.Module`` form that owns a seeded generator whose state is checkpointed in
``state_dict()``.
"""

from ._mix_apply import MixInfo
from .basic import horizontal_flip, normalize, random_resized_crop, resize_crops
from .geometric import affine, rotate, shear_x, shear_y, translate_x, translate_y
from .mixup import Mixup, cutmix, mix, mixup
from .photometric import (
    apply_lut,
    autocontrast,
    brightness,
    color,
    contrast,
    equalize,
    posterize,
    sharpness,
    solarize,
)
from .pipeline import TrainAugment
from .placement import Placement, PlacementChoice, augment_placement, measure_placement
from .rand_augment import OPS, RandAugment, RandAugmentInfo, apply_op, op_parameter, rand_augment
from .random_erasing import RandomErasing, random_erasing
from .targets import mix_targets, soft_targets
from .workers import PerImageRandAugment, sample_seed

__all__ = [
    "OPS",
    "MixInfo",
    "Mixup",
    "PerImageRandAugment",
    "Placement",
    "PlacementChoice",
    "RandAugment",
    "RandAugmentInfo",
    "RandomErasing",
    "TrainAugment",
    "affine",
    "apply_lut",
    "apply_op",
    "augment_placement",
    "autocontrast",
    "brightness",
    "color",
    "contrast",
    "cutmix",
    "equalize",
    "horizontal_flip",
    "measure_placement",
    "mix",
    "mix_targets",
    "mixup",
    "normalize",
    "op_parameter",
    "posterize",
    "rand_augment",
    "random_erasing",
    "random_resized_crop",
    "resize_crops",
    "rotate",
    "sample_seed",
    "sharpness",
    "shear_x",
    "shear_y",
    "soft_targets",
    "solarize",
    "translate_x",
    "translate_y",
]
