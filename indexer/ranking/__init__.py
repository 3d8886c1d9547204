"""Rankings learned from the collection: whitening, then database-side augmentation.

The job sees the whole collection before anyone asks, so it learns the ranking space from it
and ranks every list once, offline (core/ranking.py applies it; the web applies it to uploads).
"""
