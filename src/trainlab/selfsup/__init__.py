"""Self-supervised learning: the NT-Xent loss, SimCLR's two views, the linear probe. The
engine tasks live in their modules: `simclr` in `trainlab.selfsup.simclr`, BERT-style masked
language modelling (`mlm`, with `mask_tokens`) in `trainlab.selfsup.mlm` (importing this
package does not import the engine). See docs/generative.md and docs/finetune.md."""

from trainlab.selfsup.nt_xent import NTXentLoss, nt_xent, nt_xent_reference
from trainlab.selfsup.probe import encode, fit_linear_probe, linear_probe, load_encoder
from trainlab.selfsup.views import augmented_view, two_views

__all__ = [
    "NTXentLoss",
    "augmented_view",
    "encode",
    "fit_linear_probe",
    "linear_probe",
    "load_encoder",
    "nt_xent",
    "nt_xent_reference",
    "two_views",
]
