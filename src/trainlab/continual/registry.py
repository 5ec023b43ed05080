"""Continual-learning methods by name (`continual.method`)."""

from __future__ import annotations

from typing import Any

from trainlab.continual.method import Method
from trainlab.recipes.schema_continual import METHODS, ContinualConfig


def create_method(name: str, **kw: Any) -> Method:
    """The method `name` (one of METHODS) with its keyword arguments:

    naive: none; ewc / online-ewc: `lam`, `fisher`, `gamma` (online), `samples`, `seed`;
    gem: `memory_size`, `margin`, `seed`; agem / replay: `memory_size`, `batch_size`, `seed`.
    """
    from trainlab.continual.ewc import EWC
    from trainlab.continual.gem import AGEM, GEM
    from trainlab.continual.replay import Replay

    if name == "naive":
        if kw:
            raise TypeError(f"method 'naive' takes no arguments, got {sorted(kw)}")
        return Method()
    if name == "ewc":
        return EWC(mode="separate", **kw)
    if name == "online-ewc":
        return EWC(mode="online", **kw)
    table: dict[str, Any] = {"gem": GEM, "agem": AGEM, "replay": Replay}
    if name not in table:
        raise ValueError(f"method = {name!r}: expected one of {', '.join(METHODS)}")
    return table[name](**kw)


def method_from_config(c: ContinualConfig, seed: int) -> Method:
    """The method of the `continual` config section, its randomness drawn from `seed`."""
    m = c.method
    if m in ("ewc", "online-ewc"):
        kw: dict[str, Any] = {
            "lam": c.ewc_lambda, "fisher": c.ewc_fisher, "samples": c.fisher_samples,
            "seed": seed,
        }  # fmt: skip
        if m == "online-ewc":
            kw["gamma"] = c.ewc_gamma
        return create_method(m, **kw)
    if m == "gem":
        return create_method(m, memory_size=c.memory_size, margin=c.gem_margin, seed=seed)
    if m in ("agem", "replay"):
        return create_method(m, memory_size=c.memory_size, batch_size=c.replay_batch, seed=seed)
    return create_method(m)
