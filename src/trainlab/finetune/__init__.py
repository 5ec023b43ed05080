"""Fine-tuning for any `nn.Module` (notes F3:2804-3150): LoRA, Houlsby adapters, prefix
tuning, head-only and full fine-tuning; trainable counts; the method's weights alone.

    apply_finetune(model, "lora", targets=["qkv"], r=8, alpha=16)   # in place
    merge_lora(model); unmerge_lora(model); unload_lora(model)
    peft_state_dict(model) -> {name: tensor};  load_peft_state_dict(model, state)

The supervised fine-tuning loss is `trainlab.losses.sft_loss`; the SFT task is
`trainlab.finetune.sft.SFTTask` (`task.name = sft`).
"""

from trainlab.finetune.adapters import Adapted, Adapter, adapter, apply_adapters
from trainlab.finetune.lora import (
    LoRAConv2d,
    LoRALinear,
    apply_lora,
    lora_delta,
    merge_lora,
    unload_lora,
    unmerge_lora,
)
from trainlab.finetune.methods import METHODS, apply_finetune, default_train
from trainlab.finetune.params import (
    TrainableSummary,
    freeze_base,
    load_peft_state_dict,
    peft_state_dict,
    trainable_parameters,
    trainable_summary,
)
from trainlab.finetune.prefix import PrefixTuning, apply_prefix

__all__ = [
    "METHODS",
    "Adapted",
    "Adapter",
    "LoRAConv2d",
    "LoRALinear",
    "PrefixTuning",
    "TrainableSummary",
    "adapter",
    "apply_adapters",
    "apply_finetune",
    "apply_lora",
    "apply_prefix",
    "default_train",
    "freeze_base",
    "load_peft_state_dict",
    "lora_delta",
    "merge_lora",
    "peft_state_dict",
    "trainable_parameters",
    "trainable_summary",
    "unload_lora",
    "unmerge_lora",
]
