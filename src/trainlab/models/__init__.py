"""Models by name: `create_model(name, num_classes=..., in_shape=...)`, `list_models()`."""

from trainlab.models import cnn as _cnn  # noqa: F401  (registers)
from trainlab.models import mlp as _mlp  # noqa: F401  (registers)
from trainlab.models.registry import create_model, list_models, register_model

__all__ = ["create_model", "list_models", "register_model"]
