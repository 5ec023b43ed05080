"""Compression: unstructured masks, structured (channel) pruning, the prune -> fine-tune
loop and the lottery ticket experiment (notes F3:4393-4506).

- `prune_unstructured(model, amount, "global" | "layer" | "random")`, `sparsity(model)`,
  `make_permanent(model)` (masks through `torch.nn.utils.parametrize`: `W = W_orig * m`);
- `prune_structured(model, example, amount, importance)` -> a physically smaller model,
  built on the channel dependency groups of `channel_groups` (torch.fx);
"""

from trainlab.compress.graph import ChannelGroup, UnsupportedModel, channel_groups
from trainlab.compress.masks import (
    Sparsity,
    apply_masks,
    magnitude_masks,
    make_permanent,
    masks_of,
    prune_unstructured,
    random_masks,
    sparsity,
)
from trainlab.compress.structured import (
    ChannelPlan,
    group_importance,
    mask_channels,
    plan_channels,
    prune_channels,
    prune_structured,
    resize_to_state_dict,
)

__all__ = [
    "ChannelGroup",
    "ChannelPlan",
    "Sparsity",
    "UnsupportedModel",
    "apply_masks",
    "channel_groups",
    "group_importance",
    "magnitude_masks",
    "make_permanent",
    "mask_channels",
    "masks_of",
    "plan_channels",
    "prune_channels",
    "prune_structured",
    "prune_unstructured",
    "random_masks",
    "resize_to_state_dict",
    "sparsity",
]
