"""Duplicate groups: the page, GET /api/duplicates and the clean-up lists (views.py); the
groups, in which every pair is a copy (groups.py, cliques.py), and the copy each keeps
(keeper.py)."""
