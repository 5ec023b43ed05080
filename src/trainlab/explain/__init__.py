"""Explainability (F3 on interpretability): saliency maps and their noise, SmoothGrad,
integrated gradients, LIME, what a filter has learned, and probing a layer."""

from trainlab.explain._common import evaluating
from trainlab.explain.gradients import (
    RULES,
    Attribution,
    integrated_gradients,
    quadrature,
    saliency,
    smoothgrad,
)
from trainlab.explain.lime import LimeExplanation, grid_segments, lime
from trainlab.explain.probe import ProbeResult, layer_features, probe
from trainlab.explain.visualize import maximize_activation

__all__ = [
    "RULES",
    "Attribution",
    "LimeExplanation",
    "ProbeResult",
    "evaluating",
    "grid_segments",
    "integrated_gradients",
    "layer_features",
    "lime",
    "maximize_activation",
    "probe",
    "quadrature",
    "saliency",
    "smoothgrad",
]
