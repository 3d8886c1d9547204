"""What an index's scores mean: cosine similarity, euclidean distance or dot product.

Cosine compares the unit vectors (the direction of the model's features); euclidean and dot
compare the raw features, each unit vector times its stored length, as the source articles
do with unnormalised CNN features. A longer feature vector (a busier, more contrasted
picture, for most CNNs) then counts too. NumPy only: the job and the web both use this.
"""
from __future__ import annotations

import numpy as np

METRICS = ("cosine", "euclidean", "dot")
DEFAULT_METRIC = "cosine"
MEANING = {
    "cosine": "cosine similarity of the embeddings: higher is closer, 1 at most",
    "euclidean": "euclidean distance between the model's features: lower is closer",
    "dot": "dot product of the model's features: higher is closer",
}


def higher_is_closer(metric: str) -> bool:
    return metric != "euclidean"


def closeness(values: np.ndarray, metric: str) -> np.ndarray:
    """Return values ordered so that higher is closer, whatever the metric."""
    return values if higher_is_closer(metric) else -values


def from_cosine(cosines: np.ndarray, norms: np.ndarray, query_norm: float,
                metric: str) -> np.ndarray:
    """Return the metric's values from unit-vector cosines and the vectors' lengths."""
    if metric == "cosine":
        return cosines
    dots = cosines * norms * np.float32(query_norm)
    if metric == "dot":
        return dots
    squared = norms * norms + np.float32(query_norm * query_norm) - 2 * dots
    return np.sqrt(np.maximum(squared, 0))


def unit_rows(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (the rows scaled to unit length, their lengths before), float32."""
    norms = np.linalg.norm(features, axis=1)
    return features / np.maximum(norms, 1e-12)[:, None], norms  # torch's normalize: same epsilon
