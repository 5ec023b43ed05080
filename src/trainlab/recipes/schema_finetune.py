"""The `finetune` config section (torch-free): which fine-tuning method the model gets after
`model.pretrained` is loaded (trainlab.finetune.apply_finetune)."""

from __future__ import annotations

from pydantic import Field, field_validator

from trainlab.recipes.section import Section, one_of

METHODS = ("full", "head", "lora", "adapter", "prefix")


class FinetuneConfig(Section):
    """Fine-tuning (notes F3:2804-3150); 'full' (default) trains everything as usual."""

    method: str = Field(
        "full",
        description="full | head (linear probe) | lora | adapter | prefix; progressive "
        "unfreezing: full with optim.freeze / optim.unfreeze",
    )
    targets: list[str] | None = Field(
        None,
        description="module name patterns (globs or name suffixes) the method wraps; "
        "default: lora ['qkv'], adapter ['attn', 'mlp']",
    )
    r: int = Field(8, gt=0, description="lora: the rank")
    alpha: float = Field(8.0, gt=0, description="lora: the update is scaled by alpha / r")
    dropout: float = Field(0.0, ge=0, lt=1, description="lora: dropout on the LoRA input")
    bottleneck: int = Field(64, gt=0, description="adapter: the bottleneck width m")
    prefix_len: int = Field(8, gt=0, description="prefix: prefix positions per layer")
    prefix_hidden: int = Field(32, gt=0, description="prefix: the reparameterization MLP width")
    train: list[str] | None = Field(
        None,
        description="modules trained in full besides the method (default: the model's "
        "head / fc / classifier; [] for none)",
    )
    exclude: list[str] = Field(
        default_factory=list,
        description="model.pretrained keys not loaded (globs), e.g. ['head.*'] for new classes",
    )

    @field_validator("method")
    @classmethod
    def _known(cls, v: str) -> str:
        return one_of(v, METHODS, "finetune.method")
