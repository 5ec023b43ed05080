"""Self-supervised learning on the engine: BERT-style masked language modelling
(`trainlab.selfsup.mlm`, `task.name = mlm`)."""

from trainlab.selfsup.mlm import MLMTask, mask_tokens

__all__ = ["MLMTask", "mask_tokens"]
