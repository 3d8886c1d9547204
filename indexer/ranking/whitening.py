"""Learn a whitening from a collection's unit vectors: its mean and principal directions."""
from __future__ import annotations

import numpy as np

from core.ranking import Whitening

CHUNK_ROWS = 16_384  # float64 rows at a time: 160 MB at d = 1280, whatever N
# Directions whose variance is below this share of the largest are noise (or absent: a
# collection of N images spans at most N - 1), and would be blown up by the scaling.
RELATIVE_FLOOR = 1e-6


def covariance(units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (mean, scatter matrix of the centred rows), accumulated in float64 by chunks."""
    mean = units.mean(axis=0, dtype=np.float64)
    scatter = np.zeros((units.shape[1], units.shape[1]))
    for start in range(0, len(units), CHUNK_ROWS):
        rows = units[start:start + CHUNK_ROWS].astype(np.float64) - mean
        scatter += rows.T @ rows
    return mean, scatter


def principal_directions(units: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (mean, variances descending, their directions as columns) of the rows.

    Up to d rows: the SVD of the centred rows (N x d: cheap, and its N - 1 directions are
    all there are). More: the eigenvectors of the d x d scatter matrix, one pass over the
    rows whatever N, where an SVD of the N x d matrix would cost far more at 100k.
    """
    if len(units) <= units.shape[1]:
        mean = units.mean(axis=0, dtype=np.float64)
        _, singular, rows = np.linalg.svd(units - mean, full_matrices=False)
        return mean, singular ** 2, rows.T
    mean, scatter = covariance(units)
    variances, directions = np.linalg.eigh(scatter)  # ascending
    return mean, variances[::-1], directions[:, ::-1]


def learn_whitening(units: np.ndarray, dims: int, power: float) -> Whitening | None:
    """Return the whitening of `units` (N x d), or None where fewer than 2 directions vary."""
    mean, variances, directions = principal_directions(units)
    kept = int(np.sum(variances > RELATIVE_FLOOR * max(variances[0], 0.0)))
    kept = min(dims, kept, len(units) - 1)
    if kept < 2:
        return None
    # singular value ** -power = variance ** (-power / 2)
    scale = variances[:kept] ** (-power / 2)
    return Whitening(mean.astype(np.float32), (directions[:, :kept] * scale).astype(np.float32))
