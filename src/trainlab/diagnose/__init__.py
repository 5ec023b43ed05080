"""The training doctor: gradient statistics, Hessian spectrum, loss landscape, the run report."""

from trainlab.diagnose.density import (
    SpectralDensity,
    TraceEstimate,
    hutchinson_trace,
    spectral_density,
    t_quantile,
)
from trainlab.diagnose.hessian import (
    CriticalPoint,
    Eigen,
    HessianOperator,
    MatrixOperator,
    classify_critical_point,
    critical_point,
    extreme_eigenvalues,
    lanczos,
    power_iteration,
    smallest_eigenvalue,
    top_eigenvalues,
)

__all__ = [
    "CriticalPoint",
    "Eigen",
    "HessianOperator",
    "MatrixOperator",
    "SpectralDensity",
    "TraceEstimate",
    "classify_critical_point",
    "critical_point",
    "extreme_eigenvalues",
    "hutchinson_trace",
    "lanczos",
    "power_iteration",
    "smallest_eigenvalue",
    "spectral_density",
    "t_quantile",
    "top_eigenvalues",
]
