"""The typed, validated configuration of a training run.

One pydantic model per section; every section forbids unknown keys, so a typo is an error
that names the key instead of a silently ignored setting. `load_config` turns a recipe,
a YAML file and `--set key=value` overrides into one validated `Config`.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from trainlab.recipes.schema_adapt import AdaptConfig
from trainlab.recipes.schema_continual import ContinualConfig
from trainlab.recipes.schema_diagnose import DiagnoseConfig
from trainlab.recipes.schema_finetune import FinetuneConfig
from trainlab.recipes.schema_generative import AEConfig, GANConfig, SimCLRConfig
from trainlab.recipes.schema_rl import RLConfig
from trainlab.recipes.schema_robust import RobustConfig
from trainlab.recipes.section import Section as _Section
from trainlab.recipes.section import one_of as _one_of


class DataConfig(_Section):
    """Where the data comes from and how it is split and batched."""

    source: str = Field(
        "digits", description="an embedded dataset name ('digits') or a path (.npz, .csv, folder)"
    )
    target: str | None = Field(None, description="CSV: the column to predict")
    task: Literal["auto", "classification", "regression", "multilabel", "segmentation"] = "auto"
    layout: Literal["auto", "vectors", "signals", "images"] = Field(
        "auto", description=".npz: how to read x; 'auto' guesses (N, C, L) signals vs images"
    )
    split: tuple[float, float, float] = Field(
        (0.7, 0.15, 0.15), description="train/val/test fractions when the data has no splits"
    )
    image_size: int = Field(32, gt=0, description="image folders: images are resized to this")
    batch_size: int = Field(64, gt=0)
    eval_batch_size: int = Field(512, gt=0)
    num_workers: int = Field(
        0,
        ge=0,
        description="threads that prepare training batches one step ahead; on a CPU, "
        "RandAugment can run image by image in them (see augment.placement)",
    )
    normalize: bool = Field(True, description="standardize inputs with train-split statistics")
    lazy: bool = Field(
        False,
        description="image and .npy folders: read items on demand in data.num_workers worker "
        "processes instead of loading every split into memory",
    )
    persistent_workers: bool = Field(
        True, description="lazy data: keep the worker processes alive across epochs"
    )
    stats_samples: int = Field(
        10_000, gt=0, description="lazy image folders: images (seeded subset) for mean/std"
    )

    @field_validator("split", mode="before")
    @classmethod
    def _three_fractions(cls, v: Any) -> Any:
        if isinstance(v, list | tuple) and len(v) != 3:
            raise ValueError(
                f"expected three fractions (train, val, test), e.g. [0.7, 0.15, 0.15]; got {len(v)}"
            )
        return v

    @field_validator("split")
    @classmethod
    def _split_sums_to_one(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(f < 0 for f in v) or v[0] <= 0:
            raise ValueError("fractions must be >= 0 with a positive train fraction")
        if not math.isclose(sum(v), 1.0, abs_tol=1e-6):
            raise ValueError(f"fractions must sum to 1 (they sum to {sum(v):g})")
        return v


class ModelConfig(_Section):
    name: str = Field(
        "auto",
        description="a registered model name (trainlab models); 'auto': unet for "
        "segmentation, cnn otherwise",
    )
    args: dict[str, Any] = Field(
        default_factory=dict, description="keyword arguments for the model constructor"
    )
    pretrained: str | None = Field(
        None,
        description="weights loaded before training: a run directory, a trainlab checkpoint, "
        "a state_dict .pt or a .safetensors file (see finetune.exclude)",
    )

    @field_validator("name")
    @classmethod
    def _registered(cls, v: str) -> str:
        from trainlab.models import list_models

        return v if v == "auto" else _one_of(v, list_models(), "model")


class OptimConfig(_Section):
    """The optimizer (trainlab.optim) and how parameters are grouped."""

    name: str = Field(
        "adamw", description="sgd, adam, adamw, adagrad, rmsprop, adadelta, adamax, nadam, "
        "asgd or rprop (trainlab.optim)",
    )  # fmt: skip
    lr: float = Field(3e-3, gt=0)
    weight_decay: float = Field(0.05, ge=0)
    decoupled_weight_decay: bool | None = Field(
        None, description="weight-decay mode: true = decoupled (AdamW-style), false = L2 in the "
        "gradient; default: the optimizer's own (decoupled for adamw only)",
    )  # fmt: skip
    momentum: float = Field(0.9, ge=0, lt=1, description="sgd only")
    nesterov: bool = Field(False, description="sgd only")
    betas: tuple[float, float] = Field((0.9, 0.999), description="adam, adamw, adamax, nadam")
    eps: float = Field(1e-8, gt=0, description="optimizers with an eps")
    options: dict[str, Any] = Field(
        default_factory=dict, description="other constructor arguments, e.g. {amsgrad: true}, "
        "{centered: true, momentum: 0.9} for rmsprop, {fused: false}",
    )  # fmt: skip
    no_decay_1d: bool = Field(True, description="no weight decay on biases and norm weights")
    no_decay_embeddings: bool = Field(True, description="no weight decay on embeddings")
    no_decay: list[str] = Field(default_factory=list, description="name patterns without decay")
    decay: list[str] = Field(default_factory=list, description="name patterns always decayed")
    layer_decay: float | None = Field(
        None, gt=0, le=1, description="layer-wise lr decay factor (needs num_layers)"
    )
    num_layers: int | None = Field(None, ge=1, description="blocks, for layer_decay")
    module_lrs: dict[str, float] = Field(
        default_factory=dict, description="lr per parameter-name prefix, e.g. {head: 0.01}"
    )
    freeze: list[str] = Field(
        default_factory=list,
        description="module-name patterns frozen at the start (F2:38), e.g. ['stem', 'stages.0']",
    )
    unfreeze: dict[int, list[str]] = Field(
        default_factory=dict,
        description="progressive unfreezing: {epoch: patterns} unfrozen when that epoch "
        "(0-based) starts; ['*'] unfreezes everything",
    )

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        from trainlab.optim import CONFIG_OPTIMIZERS

        return _one_of(v, CONFIG_OPTIMIZERS, "optimizer")

    @field_validator("betas")
    @classmethod
    def _betas_in_range(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not all(0 <= b < 1 for b in v):
            raise ValueError("each beta must be in [0, 1)")
        return v


class SchedConfig(_Section):
    """The learning-rate schedule (trainlab.schedules.build_schedule turns it into a curve)."""

    name: str = Field("cosine", description="a schedule name (trainlab.schedules.SCHEDULE_NAMES)")
    warmup_epochs: float | None = Field(
        None,
        ge=0,
        description="warmup length in epochs; default: 1 epoch (none for one_cycle and "
        "resnet), shortened to leave the main schedule at least one step",
    )
    warmup_steps: int | None = Field(None, ge=0, description="overrides warmup_epochs")
    warmup_kind: Literal["linear", "exponential", "constant"] | None = Field(
        None, description="shape of the warmup (default linear)"
    )
    warmup_start_factor: float | None = Field(
        None, gt=0, le=1, description="warmup's first lr / base lr"
    )
    min_factor: float = Field(
        0.0, ge=0, le=1, description="final lr / base lr (cosine, polynomial, cosine_restarts)"
    )
    unit: Literal["epoch", "step"] = Field(
        "epoch", description="unit of step_size, milestones, period and t0 in params"
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="the schedule's other parameters, e.g. {step_size: 30, gamma: 0.1}",
    )
    monitor: str = Field("loss", description="plateau: the validation metric it watches")

    @field_validator("name")
    @classmethod
    def _known_schedule(cls, v: str) -> str:
        from trainlab.schedules import SCHEDULE_NAMES

        return _one_of(v, SCHEDULE_NAMES, "schedule")

    @field_validator("min_factor")
    @classmethod
    def _min_factor_applies(cls, v: float, info: ValidationInfo) -> float:
        from trainlab.schedules import schedule_params

        name = info.data.get("name")
        if v != 0 and name is not None and "min_factor" not in schedule_params(name):
            raise ValueError(f"schedule {name!r} has no min_factor")
        return v

    @field_validator("params")
    @classmethod
    def _params_of_the_schedule(cls, v: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        from trainlab.schedules import schedule_params

        name = info.data.get("name")
        if name is None:
            return v
        accepted = [k for k in schedule_params(name) if k != "min_factor"]
        for key in v:
            if key not in accepted:
                raise ValueError(
                    f"{key!r} is not a parameter of schedule {name!r}; expected some of: "
                    + (", ".join(accepted) or "(none)")
                )
        return v


class TrainConfig(_Section):
    epochs: int = Field(30, ge=1)
    device: str = Field("auto", description="'auto', 'cpu', 'cuda' or 'cuda:N'")
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    deterministic: bool = Field(
        True,
        description="deterministic algorithms on (false: off, and cuDNN may benchmark); set for "
        "the run only, restored afterwards",
    )
    precision: Literal["32", "bf16-mixed", "16-mixed"] = Field(
        "32",
        description="'32' float32; 'bf16-mixed' autocast to bfloat16 (CPU and CUDA); "
        "'16-mixed' autocast to float16 with a GradScaler (CUDA only)",
    )
    accumulate: int = Field(
        1, ge=1, description="batches per optimizer update (the schedule counts updates)"
    )
    compile: bool = Field(False, description="torch.compile the task's modules")
    channels_last: bool = Field(False, description="channels_last memory format for images")
    nonfinite: Literal["stop", "skip"] = Field(
        "stop",
        description="a NaN/Inf loss or gradient: 'stop' the run naming the step (checked when "
        "the engine syncs: step logs, checkpoints, epoch ends), or 'skip' that update",
    )
    max_skipped: int = Field(
        10, ge=0, description="nonfinite=skip: stop after this many skipped updates in a row"
    )

    @field_validator("precision", mode="before")
    @classmethod
    def _precision_as_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @field_validator("device")
    @classmethod
    def _known_device(cls, v: str) -> str:
        if v in ("auto", "cpu", "cuda", "mps") or (v.startswith("cuda:") and v[5:].isdigit()):
            return v
        raise ValueError("expected 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'")


class _NamedLoss(_Section):
    """A loss name and its arguments, checked against trainlab.losses' registry."""

    name: str = Field(description="a loss name (trainlab.losses.list_losses)")
    args: dict[str, Any] = Field(default_factory=dict, description="the loss's arguments")

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        from trainlab.losses import loss_spec

        loss_spec(v)
        return v

    @field_validator("args")
    @classmethod
    def _accepted(cls, v: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        from trainlab.losses import check_loss_args

        if "name" in info.data:
            check_loss_args(info.data["name"], v)
        return v


class LossTerm(_NamedLoss):
    """One term of a weighted sum of losses (loss.terms)."""

    weight: float = Field(1.0, gt=0, description="the term's weight in the sum (> 0)")


class LossConfig(_NamedLoss):
    """How the training loss is built (trainlab.losses.loss_from_config); smoothing is
    train.label_smoothing. `name` picks any loss that fits the task, `args` its arguments;
    `terms` a weighted sum instead (then name stays 'auto' and args empty)."""

    name: str = Field(
        "auto", description="a loss name (trainlab.losses.list_losses(task)); 'auto': the "
        "task's default (cross-entropy, BCE-with-logits for multilabel, MSE for regression)",
    )  # fmt: skip
    args: dict[str, Any] = Field(
        default_factory=dict, description="the loss's arguments, e.g. {delta: 2.0} for huber"
    )
    terms: list[LossTerm] | None = Field(
        None, description="a weighted sum of losses, e.g. [{name: cross_entropy, weight: 1}, "
        "{name: dice, weight: 0.5, args: {smooth: 1}}] (F4:1935)",
    )  # fmt: skip

    smoothing: Literal["standard", "notes"] = Field(
        "standard",
        description="label-smoothing convention: 'standard' (PyTorch: e/K off-target) or "
        "'notes' (1-e on the true class, e/(K-1) elsewhere, F4:1369)",
    )
    class_weight: list[float] | None = Field(
        None, description="classification: one cross-entropy weight per class (F4:1371)"
    )

    @field_validator("class_weight")
    @classmethod
    def _positive_weights(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and (not v or any(not math.isfinite(w) or w < 0 for w in v)):
            raise ValueError("expected a non-empty list of finite weights >= 0")
        return v

    @field_validator("terms")
    @classmethod
    def _alone(cls, v: list[LossTerm] | None, info: ValidationInfo) -> list[LossTerm] | None:
        if v is not None and not v:
            raise ValueError("expected at least one {name, weight, args} term (or null)")
        if v and (info.data.get("name", "auto") != "auto" or info.data.get("args")):
            raise ValueError("terms replace loss.name and loss.args; set name: auto, args: {}")
        return v


class TaskConfig(_Section):
    """Which training task runs on the engine (trainlab.train.list_tasks())."""

    name: str = Field("supervised", description="a registered task name")
    args: dict[str, Any] = Field(
        default_factory=dict, description="keyword arguments for the task's constructor"
    )

    @field_validator("name")
    @classmethod
    def _registered_task(cls, v: str) -> str:
        from trainlab.train.registry import list_tasks

        return _one_of(v, list_tasks(), "task")


class EarlyStopConfig(_Section):
    """Stop when a validation metric stops improving (off while patience is 0)."""

    monitor: str | None = Field(
        None, description="a validation metric, e.g. 'loss' or 'acc'; default the primary one"
    )
    patience: int = Field(0, ge=0, description="epochs without improvement before stopping")
    min_delta: float = Field(0.0, ge=0, description="smallest change that counts as better")
    mode: Literal["auto", "min", "max"] = Field(
        "auto", description="'auto': max for scores (acc, f1, dice, ...), min for losses/errors"
    )


class LogConfig(_Section):
    """Per-step scalars (loss, lr, grad norm, samples/s) besides the epoch rows."""

    every_steps: int = Field(
        50, ge=0, description="write a step row every N optimizer updates (0: off)"
    )
    format: Literal["csv", "jsonl"] = Field("csv", description="metrics_steps.csv or .jsonl")
    tensorboard: bool = Field(
        False, description="also write TensorBoard events (pip install trainlab[tensorboard])"
    )


class CheckpointConfig(_Section):
    every_steps: int = Field(
        0, ge=0, description="also checkpoint every N optimizer steps inside an epoch (0: off)"
    )
    keep_last: int = Field(
        2,
        ge=1,
        description="step checkpoints kept (checkpoints/step-N.pt; last.pt is the newest); "
        "resume falls back to an older one when the newest is corrupt",
    )


class AugmentConfig(_Section):
    """Batch augmentation on the training device (trainlab.augment); all off by default."""

    hflip: float = Field(0.0, ge=0, le=1, description="probability of a horizontal flip")
    randaugment_n: int = Field(0, ge=0, description="RandAugment ops per image (0: off)")
    randaugment_m: float = Field(9.0, ge=0, le=10, description="RandAugment magnitude M")
    randaugment_mstd: float = Field(0.0, ge=0, description="per-image noise on M")
    erasing_prob: float = Field(0.0, ge=0, le=1, description="random erasing probability")
    erasing_mode: Literal["const", "rand", "pixel"] = "pixel"
    erasing_count: int = Field(1, ge=1, description="rectangles erased per image")
    mixup_alpha: float = Field(0.0, ge=0, description="Mixup Beta(a, a) (0: off)")
    cutmix_alpha: float = Field(0.0, ge=0, description="CutMix Beta(a, a) (0: off)")
    switch_prob: float = Field(0.5, ge=0, le=1, description="P(CutMix) when both are on")
    mix_prob: float = Field(1.0, ge=0, le=1, description="probability of mixing at all")
    mode: Literal["batch", "pair", "elem"] = Field("batch", description="mixing granularity")
    placement: Literal["auto", "batch", "worker"] = Field(
        "batch",
        description="where RandAugment runs: 'batch' on the training device (default, "
        "reproducible everywhere), 'worker' per image in the data.num_workers loader threads "
        "(CPU only), 'auto' the faster, measured once at the start on a CPU with workers: the "
        "two paths draw different random streams, so 'auto' trades reproducibility across "
        "machines for speed; a resumed run keeps its choice",
    )


class RegularizeConfig(_Section):
    """Drop path, weight EMA and gradient clipping (trainlab.regularize); all off by default."""

    drop_path_rate: float = Field(
        0.0, ge=0, le=1, description="stochastic depth of the last block (models that take it)"
    )
    ema_decay: float = Field(0.0, ge=0, lt=1, description="weight EMA decay (0: off)")
    ema_warmup: Literal["none", "tf", "power"] = "none"
    clip_grad_norm: float = Field(0.0, ge=0, description="max global grad norm (0: off)")
    clip_grad_value: float = Field(0.0, ge=0, description="max |grad| (0: off)")
    l1: float = Field(
        0.0, ge=0, description="L1 penalty lambda * sum|w| on the weights (F3:1448; 0: off)"
    )
    dropout: float | None = Field(
        None, ge=0, lt=1, description="dropout rate, for models that take one (None: model's)"
    )


class Config(_Section):
    """A full, resolved training configuration (what `config.yaml` in a run holds)."""

    name: str | None = Field(None, description="run name; default: a timestamp")
    runs_dir: str = Field("runs", description="parent folder of run directories")
    seed: int = Field(0, ge=0)
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    sched: SchedConfig = Field(default_factory=SchedConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    task: TaskConfig = Field(default_factory=TaskConfig)
    early_stop: EarlyStopConfig = Field(default_factory=EarlyStopConfig)
    log: LogConfig = Field(default_factory=LogConfig)
    checkpoint: CheckpointConfig = Field(default_factory=CheckpointConfig)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    regularize: RegularizeConfig = Field(default_factory=RegularizeConfig)
    adapt: AdaptConfig = Field(default_factory=AdaptConfig)
    rl: RLConfig = Field(default_factory=RLConfig)
    continual: ContinualConfig = Field(default_factory=ContinualConfig)
    robust: RobustConfig = Field(default_factory=RobustConfig)
    diagnose: DiagnoseConfig = Field(default_factory=DiagnoseConfig)
    finetune: FinetuneConfig = Field(default_factory=FinetuneConfig)
    gan: GANConfig = Field(default_factory=GANConfig)
    ae: AEConfig = Field(default_factory=AEConfig)
    simclr: SimCLRConfig = Field(default_factory=SimCLRConfig)
    recipe: str | None = Field(
        None, description="the recipe the config started from (trainlab recipes); load_config "
        "applies it under the file and the overrides, a resolved config keeps it as a record",
    )  # fmt: skip

    @field_validator("recipe")
    @classmethod
    def _known_recipe(cls, v: str | None) -> str | None:
        from trainlab.recipes.registry import list_recipes

        return v if v is None else _one_of(v, list_recipes(), "recipe")
