"""Building blocks for `trainlab.models` (notes F0:69-279, F3:1623-2148)."""

from trainlab.models.layers.attention import (
    LayerScale,
    MultiHeadSelfAttention,
    TransformerBlock,
    attention,
    causal_mask,
    padding_mask,
)
from trainlab.models.layers.blocks import BasicBlock, Bottleneck, ConvNeXtBlock, downsample_shortcut
from trainlab.models.layers.conv import (
    ConvNormAct,
    DepthwiseSeparableConv,
    SameConv2d,
    conv_nd,
    conv_norm_act,
    conv_params,
    depthwise_conv,
    grouped_conv,
    make_act,
    make_norm,
    same_conv2d,
)
from trainlab.models.layers.drop import (
    DropPath,
    drop_path,
    drop_path_rates,
    split_by_stage,
    stage_drop_path_rates,
)
from trainlab.models.layers.mlp import Mlp
from trainlab.models.layers.norm import LayerNorm2d, layer_norm_2d
from trainlab.models.layers.stem import PatchEmbed, adapt_stride, patchify

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "ConvNeXtBlock",
    "ConvNormAct",
    "DepthwiseSeparableConv",
    "DropPath",
    "LayerNorm2d",
    "LayerScale",
    "Mlp",
    "MultiHeadSelfAttention",
    "PatchEmbed",
    "SameConv2d",
    "TransformerBlock",
    "adapt_stride",
    "attention",
    "causal_mask",
    "conv_nd",
    "conv_norm_act",
    "conv_params",
    "depthwise_conv",
    "downsample_shortcut",
    "drop_path",
    "drop_path_rates",
    "grouped_conv",
    "layer_norm_2d",
    "make_act",
    "make_norm",
    "padding_mask",
    "patchify",
    "same_conv2d",
    "split_by_stage",
    "stage_drop_path_rates",
]
