"""Named recipes and the typed config schema."""

from trainlab.recipes.schema import Config

__all__ = ["Config"]
