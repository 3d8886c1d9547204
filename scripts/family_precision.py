#!/usr/bin/env python
"""Print an index's same-folder precision@10 through the API: for each image, the share of
its ten stored recommendations from its own top-level folder (its family).

    family_precision.py --database-url URL

With ten images a family (scripts/demo_photos.py --families) an image has nine others, so
0.9 is the most any model can score.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from webapp import create_app  # noqa: E402

K = 10


def family(path: str) -> str:
    return path.split("/", 1)[0]


def family_precision(client) -> float:
    """Return the mean share of each image's first K recommendations from its own folder."""
    hits, images = 0, client.get("/api/images?per_page=500").get_json()
    pages = -(-images["total"] // images["per_page"])
    for page in range(1, pages + 1):
        for image in client.get(f"/api/images?per_page=500&page={page}").get_json()["images"]:
            similar = client.get(f"/api/images/{image['id']}").get_json()["similar"][:K]
            hits += sum(family(s["path"]) == family(image["path"]) for s in similar)
    return hits / (K * images["total"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    url = parser.parse_args().database_url
    client = create_app({"SQLALCHEMY_DATABASE_URI": url}).test_client()
    facts = client.get("/api/index").get_json()
    print(f"{facts['model']} ({facts['weights']}): same-family precision@{K} "
          f"{family_precision(client):.3f} over {facts['images']} images")


if __name__ == "__main__":
    main()
