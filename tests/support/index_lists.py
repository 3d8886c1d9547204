"""Read a built index straight from its database: the lists the job wrote, by path."""
from collections import defaultdict

import sqlalchemy as sa

from core.settings import normalize_database_url


def query(url, sql, **params):
    engine = sa.create_engine(normalize_database_url(url))
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text(sql), params).all()
    finally:
        engine.dispose()


def active_lists(url):
    """Return {image path: [(similar path, score), ...]} of the active build, best first."""
    rows = query(url, """
        SELECT a.path, b.path, r.score FROM recommendations r
        JOIN builds ON builds.id = r.build_id AND builds.status = 'active'
        JOIN images a ON a.id = r.image_id JOIN images b ON b.id = r.similar_id
        ORDER BY a.path, r.rank""")
    lists = defaultdict(list)
    for path, similar, score in rows:
        lists[path].append((similar, score))
    return lists
