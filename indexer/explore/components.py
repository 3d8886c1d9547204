"""Fewer dimensions for clustering: the vectors' top principal components.

k-means' cost grows with the dimension, and Lite0's 1280-d vectors hold most of
their variance in far fewer. On 1000 drawn pictures' Lite0 vectors the whole auto curve took
5.1 s at 1280-d and 1.5 s at 256-d, choosing k = 12 and 13, as close to the folders either
way (adjusted Rand index 0.128 and 0.137) [avx512+bf16+vnni, no amx, a busy machine]; 128-d
moved k to 10. The map, recommendations, copies and search keep the whole vectors.
"""
from __future__ import annotations

import numpy as np

from .sampling import bounded_sample

DIMENSIONS = 256
FIT_SAMPLE = 20_000   # the components are learned from at most this many vectors
CHUNK = 65_536        # rows projected at a time (bounded memory)


def principal_components(vectors: np.ndarray, seed: int, dimensions: int = DIMENSIONS):
    """Return float32 vectors projected on their top `dimensions` components (as they are
    where they have no more dimensions, or no more vectors, than that)."""
    if vectors.shape[1] <= dimensions or len(vectors) <= dimensions:
        return vectors
    from sklearn.decomposition import PCA  # the job's dependency, not the web's
    pca = PCA(dimensions, random_state=seed)
    pca.fit(vectors[bounded_sample(len(vectors), FIT_SAMPLE, seed)])
    projected = np.empty((len(vectors), dimensions), dtype=np.float32)
    for start in range(0, len(vectors), CHUNK):
        projected[start:start + CHUNK] = pca.transform(vectors[start:start + CHUNK])
    return projected
