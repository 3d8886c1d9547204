"""The 2-D map through the site, on SQLite and PostgreSQL built indexes."""
import math

from tests.support.live_server import every_image


def test_api_map_has_a_finite_point_in_the_unit_square_per_image(client):
    points = client.get("/api/map").get_json()["points"]
    images = every_image(client)
    assert sorted(p[0] for p in points) == sorted(images)
    clusters = {c["id"] for c in client.get("/api/clusters").get_json()["clusters"]}
    for image_id, x, y, cluster in points:
        assert math.isfinite(x) and math.isfinite(y) and 0 <= x <= 1 and 0 <= y <= 1
        assert cluster in clusters
        assert round(x, 4) == x and round(y, 4) == y
    assert len({(x, y) for _, x, y, _ in points}) > 1


def test_map_details_name_the_asked_images(client):
    ids = [p[0] for p in client.get("/api/map").get_json()["points"][:3]]
    body = client.get("/api/map/images?ids=" + ",".join(map(str, ids + [999999]))).get_json()
    assert [i["id"] for i in body["images"]] == ids and body["images"][0]["path"]
    assert client.get("/api/map/images?ids=1,x").status_code == 400
    too_many = ",".join(str(i) for i in range(501))
    assert client.get(f"/api/map/images?ids={too_many}").status_code == 400


def test_the_map_page_is_a_canvas_with_its_data_urls(client):
    html = client.get("/map").get_data(as_text=True)
    assert '<canvas id="map"' in html and 'data-points="/api/map"' in html
    assert 'data-page-before="/images/"' in html and "map" in html and "<script src=" in html
    assert 'href="/clusters"' in html and 'href="/map"' in html  # the header's links
