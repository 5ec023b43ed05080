"""Channel dependency graph for structured pruning (the idea of Torch-Pruning's DepGraph,
Fang et al. 2023), built by tracing the model with `torch.fx`.

Every tensor in the traced graph carries a *channel space*: the set of channels along its
channel axis. A convolution or linear layer starts a new space (its output channels); ops
that act on each channel alone (BatchNorm, activations, pooling, dropout, drop path,
depthwise convolutions, a per-channel scale such as ConvNeXt's layer scale) pass the space
through; an elementwise sum or product of two tensors *couples* their spaces (a residual
addition: the block's output channels and its input channels must be removed together, so the
whole residual stream of a stage is one group). A `permute`/`flatten` moves the channel axis.
Coupled spaces are merged (union-find); each merged space is a `ChannelGroup` whose members
are every tensor slice that must shrink with it:

    out   a conv/linear whose output channels are the group  (weight[idx], bias[idx])
    in    a conv/linear that reads the group                 (weight[:, idx])
    dw    a depthwise conv on the group                       (weight[idx], bias[idx], groups)
    norm  a BatchNorm/LayerNorm over the group                (weight, bias, running stats)
    param a per-channel parameter (layer scale)               (p[idx])

A group is *frozen* (never pruned) when it reaches the model's input or output, or a grouped
(not depthwise) convolution whose group structure a channel subset would break. Any operator
the analysis does not know raises `UnsupportedModel` naming it (`strict=True`), so a model is
either pruned correctly or refused: e.g. ViT's attention reshapes heads, UNet concatenates.
A group containing a LayerNorm is pruned but is not function-preserving (LayerNorm's mean and
variance run over the kept channels only): `ChannelGroup.exact` says so.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp

from trainlab.models.layers import DropPath

CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm)
# modules that act on each channel alone (same channel axis out as in)
_CHANNELWISE = (
    nn.ReLU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid, nn.LeakyReLU, nn.Hardswish, nn.ELU,
    nn.Identity, nn.Dropout, DropPath,
    nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d,
    nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
    nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d,
)  # fmt: skip
_LEAVES = (*CONVS, nn.Linear, *NORMS, nn.Flatten, *_CHANNELWISE)
_UNARY = {
    "relu", "relu_", "gelu", "sigmoid", "tanh", "silu", "contiguous", "clone", "float",
    "dropout", "abs", "neg",
}  # fmt: skip
_BINARY = {"add", "add_", "mul", "mul_", "sub", "sub_", "div", "div_", "truediv"}
_BINARY_FN = {operator.add, operator.mul, operator.sub, operator.truediv, operator.iadd,
              operator.imul, torch.add, torch.mul, torch.sub}  # fmt: skip


class UnsupportedModel(ValueError):
    """The model contains something the channel analysis cannot follow."""


@dataclass
class ChannelGroup:
    """Channels that must be removed together, with every slice that shrinks with them."""

    size: int
    members: list[tuple[str, str]] = field(default_factory=list)  # (kind, module/param name)
    frozen: list[str] = field(default_factory=list)  # why it may not be pruned
    exact: bool = True  # False when a LayerNorm normalizes over the group

    @property
    def prunable(self) -> bool:
        return not self.frozen and any(k == "out" for k, _ in self.members)


class _Tracer(fx.Tracer):
    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, _LEAVES) or super().is_leaf_module(m, qualname)


class _Spaces:
    """Union-find over channel spaces."""

    def __init__(self) -> None:
        self.parent: list[int] = []
        self.groups: list[ChannelGroup] = []

    def new(self, size: int, member: tuple[str, str] | None = None, frozen: str = "") -> int:
        self.parent.append(len(self.parent))
        g = ChannelGroup(size)
        if member:
            g.members.append(member)
        if frozen:
            g.frozen.append(frozen)
        self.groups.append(g)
        return len(self.parent) - 1

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def get(self, i: int) -> ChannelGroup:
        return self.groups[self.find(i)]

    def union(self, a: int, b: int, where: str) -> int:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        ga, gb = self.groups[ra], self.groups[rb]
        if ga.size != gb.size:
            raise UnsupportedModel(f"{where}: couples {ga.size} with {gb.size} channels")
        self.parent[rb] = ra
        ga.members += gb.members
        ga.frozen += gb.frozen
        ga.exact = ga.exact and gb.exact
        return ra


def trace(model: nn.Module) -> fx.GraphModule:
    """`model` traced by torch.fx with convs, linears, norms and channel-wise modules as leaves."""
    try:
        graph = _Tracer().trace(model)
    except Exception as e:  # fx raises many types for untraceable Python
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UnsupportedModel(
            f"{type(model).__name__}: structured pruning needs a torch.fx trace, which fails ({first})"
        ) from None
    return fx.GraphModule(model, graph)


def channel_groups(
    model: nn.Module, example: torch.Tensor, *, strict: bool = True
) -> list[ChannelGroup]:
    """The coupled channel groups of `model` for inputs like `example` (a batch).

    `strict`: an operator the analysis does not know raises `UnsupportedModel`; otherwise the
    channels it touches are frozen.
    """
    gm = trace(model)
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            ShapeProp(gm).propagate(example)
    finally:
        model.train(was)
    spaces = _Spaces()
    info: dict[fx.Node, Any] = {}  # node -> (space, channel axis) or None
    modules = dict(gm.named_modules())

    def shape(n: Any) -> Any:  # tuple[int, ...] | None
        meta = n.meta.get("tensor_meta") if isinstance(n, fx.Node) else None
        return tuple(meta.shape) if meta is not None and hasattr(meta, "shape") else None

    def unknown(node: fx.Node, what: str) -> None:
        if strict:
            raise UnsupportedModel(
                f"{type(model).__name__}: structured pruning does not know {what} "
                f"(at {node.name}); supported: convolutions (plain or depthwise), linear "
                "layers, BatchNorm/LayerNorm, channel-wise activations/pooling, residual "
                "sums, per-channel scales, permute/flatten"
            )
        for a in node.all_input_nodes:
            if info.get(a) is not None:
                spaces.get(info[a][0]).frozen.append(what)
        s = shape(node)
        info[node] = (spaces.new(s[1], frozen=what), 1) if s and len(s) > 1 else None

    for node in gm.graph.nodes:
        s = shape(node)
        if node.op == "placeholder":
            info[node] = (spaces.new(s[1], frozen="model input"), 1) if s and len(s) > 1 else None
        elif node.op == "output":
            out = node.args[0]
            if isinstance(out, fx.Node) and info.get(out) is not None:
                spaces.get(info[out][0]).frozen.append("model output")
        elif node.op == "get_attr":
            p = gm.get_parameter(node.target) if s and len(s) == 1 else None
            info[node] = (spaces.new(s[0], ("param", node.target)), 0) if p is not None else None
        elif node.op == "call_module":
            _module(node, modules[node.target], info, spaces, shape, unknown)
        elif node.op in ("call_function", "call_method"):
            _function(node, info, spaces, shape, unknown)
    return [g for i, g in enumerate(spaces.groups) if spaces.find(i) == i]


def _inp(node: fx.Node, info: dict) -> tuple[int, int] | None:
    first = node.args[0] if node.args else None
    return info.get(first) if isinstance(first, fx.Node) else None


def _module(node: Any, m: Any, info: Any, spaces: Any, shape: Any, unknown: Any) -> None:
    name, s, src = node.target, shape(node), _inp(node, info)
    if src is None:
        info[node] = None
        return
    space, axis = src
    if isinstance(m, CONVS):
        if axis != 1:
            return unknown(node, f"a convolution over axis {axis}")
        if m.groups == 1:
            spaces.get(space).members.append(("in", name))
            info[node] = (spaces.new(m.out_channels, ("out", name)), 1)
        elif m.groups == m.in_channels == m.out_channels:  # depthwise: channel i -> i
            spaces.get(space).members.append(("dw", name))
            info[node] = (space, 1)
        else:
            spaces.get(space).frozen.append(f"grouped conv {name}")
            info[node] = (spaces.new(m.out_channels, frozen=f"grouped conv {name}"), 1)
    elif isinstance(m, nn.Linear):
        if axis != len(shape(node.args[0])) - 1:
            return unknown(node, "a linear layer over a non-channel axis")
        spaces.get(space).members.append(("in", name))
        info[node] = (spaces.new(m.out_features, ("out", name)), len(s) - 1)
    elif isinstance(m, NORMS):
        is_ln = isinstance(m, nn.LayerNorm)
        if isinstance(m, nn.LayerNorm) and len(m.normalized_shape) != 1:
            return unknown(node, "a LayerNorm over several axes")
        g = spaces.get(space)
        g.members.append(("norm", name))
        g.exact = g.exact and not is_ln
        info[node] = (space, axis)
    elif isinstance(m, nn.Flatten):
        _flatten(node, src, m.start_dim, m.end_dim, info, shape, unknown)
    elif isinstance(m, _CHANNELWISE):
        info[node] = (space, axis)
    else:
        unknown(node, f"the module {type(m).__name__}")


def _flatten(node, src, start, end, info, shape, unknown) -> None:
    space, axis = src
    s_in = shape(node.args[0])
    nd = len(s_in)
    start, end = start % nd, end % nd
    if axis < start:
        info[node] = (space, axis)
    elif axis > end:
        info[node] = (space, axis - (end - start))
    elif all(s_in[d] == 1 for d in range(start, end + 1) if d != axis):
        info[node] = (space, start)  # e.g. (B, C, 1, 1) -> (B, C)
    else:
        unknown(node, "a flatten that mixes channels with space")


def _function(node, info, spaces, shape, unknown) -> None:
    name = node.target if node.op == "call_method" else getattr(node.target, "__name__", "")
    tensors = [a for a in node.args if isinstance(a, fx.Node)]
    known = [a for a in tensors if info.get(a) is not None]
    s = shape(node)
    if not known:
        info[node] = None
        return
    src = info[known[0]]
    if node.op == "call_method" and name in ("view", "reshape") and s is not None:
        s_in = shape(node.args[0])
        if s_in == s:
            info[node] = src
        elif (
            s_in is not None
            and len(s_in) == 1
            and sorted(s, reverse=True)[1:] == [1] * (len(s) - 1)
        ):
            info[node] = (src[0], s.index(s_in[0]))  # (C,) -> (1, C, 1, 1) for broadcasting
        else:
            unknown(node, f"a {name} from {s_in} to {s}")
    elif name == "permute":
        dims = [int(d) for d in (node.args[1:] if len(node.args) > 2 else node.args[1])]
        info[node] = (src[0], dims.index(src[1]))
    elif name == "flatten" or node.target is torch.flatten:
        start = node.args[1] if len(node.args) > 1 else node.kwargs.get("start_dim", 0)
        end = node.args[2] if len(node.args) > 2 else node.kwargs.get("end_dim", -1)
        _flatten(node, src, start, end, info, shape, unknown)
    elif name in _UNARY and len(known) == 1:
        info[node] = src
    elif name in _BINARY or node.target in _BINARY_FN:
        nd = len(s)
        pos = [(nd - len(shape(a))) + info[a][1] for a in known]  # channel axis, broadcast
        if len(set(pos)) != 1:
            return unknown(node, f"a {name} of tensors with channels on different axes")
        others = [a for a in tensors if a not in known and math.prod(shape(a) or (1,)) > 1]
        if others:  # a tensor operand without a channel space
            return unknown(node, f"a {name} with an untracked tensor operand")
        space = info[known[0]][0]
        for a in known[1:]:
            space = spaces.union(space, info[a][0], f"{name} at {node.name}")
        info[node] = (space, pos[0])
    else:
        unknown(node, f"the operator {name!r}")
