"""The gallery: GET / and /images/<id> (views.py), and the same as JSON (api.py)."""
