"""Explore a build's embeddings: k-means clusters (kmeans.py) and a 2-D map (layout.py).

Both read the build's stacked vectors (float32, L2-normalised rows in gallery order) after
the neighbour search; `exploration.explore` runs them as the job's options say.
"""
