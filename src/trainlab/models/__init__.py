"""Models by name (notes F0, F3, F4): `create_model(name, num_classes=..., in_shape=...)`.

Registered: mlp, cnn, cnn1d, resnet18/34/50/101, resnext50_32x4d,
convnext_atto/femto/pico/nano/tiny/small/base, vit_tiny/small, text_encoder (BERT-style)
and text_decoder (GPT-style) over token ids, and unet (per-pixel logits
(B, K, H, W) for segmentation; every other model gives (B, K)). Building blocks live in
`trainlab.models.layers`; `summarize` counts parameters and FLOPs; `load_pretrained` reads
timm-layout checkpoints from disk.
"""

from trainlab.models import cnn as _cnn  # noqa: F401  (registers)
from trainlab.models import cnn1d as _cnn1d  # noqa: F401
from trainlab.models import convnext as _convnext  # noqa: F401
from trainlab.models import early_exit  # noqa: F401  (early_exit.heads, issue 18)
from trainlab.models import mlp as _mlp  # noqa: F401
from trainlab.models import resnet as _resnet  # noqa: F401
from trainlab.models import text as _text  # noqa: F401
from trainlab.models import unet as _unet  # noqa: F401
from trainlab.models import vit as _vit  # noqa: F401
from trainlab.models.cnn1d import CNN1d
from trainlab.models.convnext import ConvNeXt
from trainlab.models.registry import create_model, list_models, model_accepts, register_model
from trainlab.models.resnet import ResNet
from trainlab.models.summary import (
    ModelSummary,
    count_params,
    describe_model,
    parse_shape,
    summarize,
)
from trainlab.models.text import TextDecoder, TextEncoder
from trainlab.models.unet import UNet
from trainlab.models.vit import VisionTransformer, resample_pos_embed
from trainlab.models.weights import WeightsMismatchError, load_pretrained

__all__ = [
    "CNN1d",
    "ConvNeXt",
    "ModelSummary",
    "ResNet",
    "TextDecoder",
    "TextEncoder",
    "UNet",
    "VisionTransformer",
    "WeightsMismatchError",
    "count_params",
    "create_model",
    "describe_model",
    "list_models",
    "load_pretrained",
    "model_accepts",
    "parse_shape",
    "register_model",
    "resample_pos_embed",
    "summarize",
]
