"""Ids from URLs: integers an id column holds, else not found before any query is sent."""
from werkzeug.routing import IntegerConverter

# Ids are INTEGER columns: 32 bits on PostgreSQL; SQLite cannot even bind past 64 bits (an
# OverflowError, a 500), so anything larger is answered as what it is: no such id.
MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """The `int` converter, bounded to MAX_ID: a larger number in a URL is a 404."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def possible_ids(values: list[int]) -> list[int]:
    """Return the values that could be ids (those past MAX_ID name no image)."""
    return [value for value in values if abs(value) <= MAX_ID]


def init_app(app) -> None:
    """Make every `<int:...>` route of the app bounded (before any route is added)."""
    app.url_map.converters["int"] = IdConverter
