"""The 2-D map: GET /map and /api/map (views.py); the points read once per build (points.py)."""
