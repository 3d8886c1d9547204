"""Draw the curve that chose k: inertia (the elbow) and silhouette per candidate, as a PNG."""
from __future__ import annotations

import io

from .kmeans import Curve


def curve_png(curve: Curve) -> bytes:
    """Return the PNG bytes of the inertia curve, its silhouettes and the chosen k."""
    # Deferred and headless: matplotlib is the job's (not the web's), and Agg needs no display.
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 3.6), dpi=100)
    inertia_axes = figure.add_subplot()
    inertia_axes.plot(curve.ks, curve.inertias, "o-", color="#0a66c2", markersize=3,
                      label="inertia")
    inertia_axes.set_xlabel("k (clusters)")
    inertia_axes.set_ylabel("inertia (sample)", color="#0a66c2")
    inertia_axes.axvline(curve.elbow, color="#999", linestyle=":", label=f"elbow k={curve.elbow}")
    inertia_axes.axvline(curve.chosen, color="#c2410c", label=f"chosen k={curve.chosen}")
    measured = [(k, s) for k, s in zip(curve.ks, curve.silhouettes) if s is not None]
    if measured:
        silhouette_axes = inertia_axes.twinx()
        silhouette_axes.plot(*zip(*measured), "s", color="#15803d", markersize=5)
        silhouette_axes.set_ylabel("silhouette (sample)", color="#15803d")
    inertia_axes.legend(loc="upper right", fontsize="small")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
