"""A registry of model constructors, created by name (in the manner of timm's `_registry`).

Every entry is a function `fn(*, num_classes, in_shape, **kwargs) -> nn.Module`, where
`in_shape` is the shape of one input sample without the batch dimension: `(D,)` for
vectors, `(C, L)` for 1-D signals and `(C, H, W)` for images.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence

from torch import nn

ModelFn = Callable[..., nn.Module]
_REGISTRY: dict[str, ModelFn] = {}


def register_model(fn: ModelFn) -> ModelFn:
    """Decorator: register `fn` under its function name."""
    name = fn.__name__
    if name in _REGISTRY:
        raise ValueError(f"model {name!r} is already registered")
    _REGISTRY[name] = fn
    return fn


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style `pattern`, sorted."""
    return sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, pattern))


def _accepts(fn: Callable[..., object], argument: str) -> bool:
    """`fn` has a parameter `argument`, or `**kwargs` it forwards to the constructor of the
    class it returns (its return annotation): then that constructor must take `argument`.
    `**kwargs` with no class to follow (an annotation of nn.Module, or none) accepts."""
    import inspect
    import typing

    params = inspect.signature(fn).parameters.values()
    if any(p.name == argument for p in params):
        return True
    if not any(p.kind is p.VAR_KEYWORD for p in params):
        return False
    try:
        returned = typing.get_type_hints(fn).get("return")
    except Exception:  # an annotation that cannot be resolved: nothing to follow
        returned = None
    if not isinstance(returned, type) or returned is nn.Module:
        return True
    return _accepts(returned, argument)  # the class's signature is its constructor's


def model_accepts(name: str, argument: str) -> bool:
    """Whether the registered model `name` takes the keyword `argument`: a named parameter
    of its entry function, or of the model class that the entry's `**kwargs` go to."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; expected one of: {', '.join(list_models())}")
    return _accepts(_REGISTRY[name], argument)


def create_model(
    name: str,
    *,
    num_classes: int,
    in_shape: Sequence[int] | None = None,
    in_chans: int | None = None,
    **kwargs: object,
) -> nn.Module:
    """Build the registered model `name` for `num_classes` outputs and inputs of `in_shape`.

    `in_chans` is shorthand for image models: `in_shape = (in_chans, 224, 224)` when no
    `in_shape` is given. Raises `ValueError` for an unknown name and `TypeError` for an
    argument the model does not take.
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; expected one of: {', '.join(list_models())}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if in_shape is None:
        in_shape = (in_chans if in_chans is not None else 3, 224, 224)
    elif in_chans is not None and in_shape[0] != in_chans:
        raise ValueError(f"in_chans={in_chans} contradicts in_shape={tuple(in_shape)}")
    return _REGISTRY[name](num_classes=num_classes, in_shape=tuple(in_shape), **kwargs)
