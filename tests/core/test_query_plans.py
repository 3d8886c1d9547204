"""The page queries use the indexes on PostgreSQL (EXPLAIN), so they stay fast at any size.

The test index is small, and on small tables PostgreSQL rightly prefers sequential scans;
with `enable_seqscan = off` it still falls back to one when no index can answer, so a
sequential scan in these plans means a missing or unusable index.
"""
import pytest

from tests.support.databases import sql_sent
from core.db import db
from core.records import Build

BIG_TABLES = {"images", "indexed_images", "recommendations"}


def plan_nodes(node):
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


def explain(statement, parameters) -> list[dict]:
    with db.engine.connect() as connection:
        connection.exec_driver_sql("SET enable_seqscan = off")
        (plan,), = connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement,
                                              parameters).one()
    return list(plan_nodes(plan["Plan"]))


@pytest.mark.parametrize("built", ["postgresql"], indirect=True)
@pytest.mark.parametrize("query,indexes", [
    ("active", {"one_active_build"}),
    ("last_page", {"indexed_images_position", "images_pkey"}),
    ("image", {"indexed_images_pkey", "images_pkey"}),
    ("similar", {"recommendations_pkey", "indexed_images_pkey", "images_pkey"}),
])
def test_page_queries_use_indexes(app, built, query, indexes):
    with app.app_context():
        build = Build.active()
        image_id = build.page(1, 1)[0].id
        last_page = -(-build.image_count // 10)
        run = {"active": Build.active, "last_page": lambda: build.page(last_page, 10),
               "image": lambda: build.image(image_id), "similar": lambda: build.similar(image_id)}
        (statement, parameters), = sql_sent(db.engine, run[query])
        nodes = explain(statement, parameters)
    scans = {(n["Node Type"], n.get("Relation Name")) for n in nodes if "Relation Name" in n}
    assert not [s for s in scans if s[0] == "Seq Scan" and s[1] in BIG_TABLES | {"builds"}]
    assert indexes <= {n["Index Name"] for n in nodes if "Index Name" in n}
