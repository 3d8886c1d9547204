"""Clusters: /clusters, /clusters/<c>, the curve behind k and /api/clusters (views.py); the
members of each cluster read once per build (members.py)."""
