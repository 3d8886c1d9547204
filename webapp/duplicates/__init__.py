"""Duplicate groups: the page, GET /api/duplicates and the clean-up lists (views.py); the
groups found from the stored lists, without chaining (groups.py)."""
