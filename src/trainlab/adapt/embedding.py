"""The 2-D picture of domain alignment: features of source and target samples by PCA.

    Z = (F - mean) V_2,   V_2 = the top two right singular vectors of the centred features

computed on source and target features together, so both domains share one projection.
Well-aligned features overlap; features a domain classifier could separate sit apart.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from trainlab.figures import figure, save


def pca_2d(*features: Tensor) -> list[Tensor]:
    """Each (N_i, D) block projected onto the joint top-2 principal directions."""
    joint = torch.cat([f.float() for f in features])
    centred = joint - joint.mean(0)
    _, _, v = torch.linalg.svd(centred, full_matrices=False)
    z = centred @ v[:2].T
    return list(torch.split(z, [len(f) for f in features]))


def embedding_figure(
    source: Tensor,
    target: Tensor,
    source_y: Tensor,
    target_y: Tensor | None,
    path: Path,
    title: str,
) -> Path:
    """Scatter of the PCA of source (o) and target (x) features, coloured by class."""
    zs, zt = pca_2d(source, target)
    fig = figure(6.5, 5)
    ax = fig.subplots()
    ax.scatter(
        zs[:, 0],
        zs[:, 1],
        c=source_y.numpy(),
        cmap="tab10",
        marker="o",
        s=12,
        alpha=0.6,
        label="source",
    )
    ct = target_y.numpy() if target_y is not None else "gray"
    ax.scatter(zt[:, 0], zt[:, 1], c=ct, cmap="tab10", marker="x", s=14, alpha=0.6, label="target")
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.set_title(title)
    ax.legend(loc="best")
    return save(fig, path)
