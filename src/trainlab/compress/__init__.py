"""Compression: unstructured masks, structured (channel) pruning, the prune -> fine-tune
loop and the lottery ticket experiment (notes F3:4393-4506).

- `prune_unstructured(model, amount, "global" | "layer" | "random")`, `sparsity(model)`,
  `make_permanent(model)` (masks through `torch.nn.utils.parametrize`: `W = W_orig * m`);
- `prune_structured(model, example, amount, importance)` -> a physically smaller model,
  built on the channel dependency groups of `channel_groups` (torch.fx);
- `prune_finetune(model, config, data, amount=..., iterations=..., structured=...)`: the
  iterative loop on the engine, one row of sparsity/params/FLOPs/latency/accuracy per step;
- `lottery_ticket(config, data, rounds=..., rate=...)`: rewound tickets against random
  re-initialization of the same masks;
- `EarlyExitTask` (`task.name = early_exit`): joint training of the exits that
  `trainlab.models.early_exit.heads` attaches.
"""

from trainlab.compress.exit_task import EarlyExitTask
from trainlab.compress.graph import ChannelGroup, UnsupportedModel, channel_groups
from trainlab.compress.loop import prune_finetune
from trainlab.compress.lottery import lottery_ticket
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
    "EarlyExitTask",
    "Sparsity",
    "UnsupportedModel",
    "apply_masks",
    "channel_groups",
    "group_importance",
    "lottery_ticket",
    "magnitude_masks",
    "make_permanent",
    "mask_channels",
    "masks_of",
    "plan_channels",
    "prune_channels",
    "prune_finetune",
    "prune_structured",
    "prune_unstructured",
    "random_masks",
    "resize_to_state_dict",
    "sparsity",
]
