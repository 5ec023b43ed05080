"""The typed config schema and how a run's config is resolved."""

from trainlab.recipes.load import load_config, parse_override, validate
from trainlab.recipes.schema import Config

__all__ = ["Config", "load_config", "parse_override", "validate"]
