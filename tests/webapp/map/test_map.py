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


def test_api_map_says_how_each_point_is_drawn(client):
    body = client.get("/api/map").get_json()
    count = len(body["points"])
    assert len(body["levels"]) == len(body["slots"]) == len(body["grid"]) == count
    assert sorted(body["slots"]) == list(range(count))  # one atlas cell each
    assert body["levels"].count(0) == 1 and body["grid_levels"].count(0) == 1
    assert len({tuple(place) for place in body["grid"]}) == count  # a grid cell each
    atlas = body["atlas"]
    assert (atlas["cell"], atlas["columns"]) == (64, 16)
    assert len(atlas["urls"]) == -(-count // 256)
    sheet = client.get(atlas["urls"][0])
    assert sheet.status_code == 200 and sheet.mimetype == "image/jpeg"
    assert "immutable" in sheet.headers["Cache-Control"]
    assert client.get("/thumbnails/atlases/not-a-hash.jpg").status_code == 404


def test_a_selection_lists_and_downloads_the_images_inside_it(client):
    points = client.get("/api/map").get_json()["points"]
    everything = client.get("/api/map/selection?box=0,0,1,1").get_json()
    assert everything["count"] == len(points)
    assert [i["id"] for i in everything["images"]] == [p[0] for p in points]  # gallery order
    left = client.get("/api/map/selection?box=0.5,0,0,1").get_json()  # corners either way
    assert sorted(i["id"] for i in left["images"]) == sorted(p[0] for p in points if p[1] <= 0.5)
    assert left["images"][0]["page_url"] == f"/images/{left['images'][0]['id']}"
    grid = client.get("/api/map/selection?layout=grid&box=0,0,1,1").get_json()
    assert grid["count"] == len(points)
    csv = client.get("/api/map/selection?box=0,0,1,1&format=csv")
    lines = csv.get_data(as_text=True).splitlines()
    assert lines[0] == "id,path,url,page_url,x,y" and len(lines) == len(points) + 1
    assert "attachment" in csv.headers["Content-Disposition"]
    for bad in ("box=1,2,3", "box=0,0,inf,1", "box=nan,0,1,1", "box=0,0,1,1&layout=tiles",
                "box=0,0,1,1&format=xml"):
        assert client.get(f"/api/map/selection?{bad}").status_code == 400


def test_atlas_sheets_load_from_the_thumbnail_base_url_when_there_is_one(built):
    from webapp import create_app
    app = create_app({"SQLALCHEMY_DATABASE_URI": built.url, "TESTING": True,
                      "THUMBNAIL_BASE_URL": "https://thumbs.example.com/t/"})
    urls = app.test_client().get("/api/map").get_json()["atlas"]["urls"]
    assert urls and all(u.startswith("https://thumbs.example.com/t/atlases/") for u in urls)
    with app.app_context():
        from core.db import db
        db.engine.dispose()
