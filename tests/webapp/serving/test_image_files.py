"""Images on object storage or a CDN: IMAGE_BASE_URL (and THUMBNAIL_BASE_URL) in API and pages."""
from urllib.parse import quote

from webapp import create_app
from webapp.serving.image_files import Links

CDN = "https://cdn.example.com/collection"


def client_with(built, **config):
    app = create_app({"SQLALCHEMY_DATABASE_URI": built.url, "THUMBNAIL_DIR": str(built.thumbnails),
                      **config})
    return app, app.test_client()


def test_urls_point_to_the_base_and_mirror_the_folders_to_upload(built):
    _, client = client_with(built, IMAGE_BASE_URL=CDN + "/")
    image = client.get("/api/images?per_page=1").get_json()["images"][0]
    assert image["url"] == f"{CDN}/{image['path']}"
    assert (built.collection.root / image["url"][len(CDN) + 1:]).is_file()
    prefix = CDN + "/thumbnails/"
    assert image["thumbnail_url"].startswith(prefix)
    assert (built.thumbnails / image["thumbnail_url"][len(prefix):]).is_file()

    detail = client.get(f"/api/images/{image['id']}").get_json()
    assert all(s["url"].startswith(CDN + "/group-") for s in detail["similar"])
    html = client.get(f"/images/{image['id']}").get_data(as_text=True)
    assert f'src="{image["url"]}"' in html and f'src="{detail["similar"][0]["thumbnail_url"]}"' in html
    assert f'href="/images/{detail["similar"][0]["id"]}"' in html  # pages stay on the site
    assert image["thumbnail_url"] in client.get("/").get_data(as_text=True)


def test_a_separate_thumbnail_base_and_quoted_paths(built):
    app, _ = client_with(built, IMAGE_BASE_URL=CDN, THUMBNAIL_BASE_URL="https://thumbs.example.com")
    with app.test_request_context("/"):
        links = Links()
        assert links.original_url(1, "a folder/été #1.jpg", "ab" * 16) == \
            f"{CDN}/a%20folder/{quote('été')}%20%231.jpg"
        assert links.thumbnail_url("ab" + "0" * 30) == f"https://thumbs.example.com/ab/ab{'0' * 30}.jpg"


def test_without_a_base_the_site_serves_them(built):
    _, client = client_with(built)
    image = client.get("/api/images?per_page=1").get_json()["images"][0]
    assert image["url"] == f"/images/{image['id']}/file"
    assert image["thumbnail_url"].startswith("/thumbnails/")


def test_a_protocol_relative_base_gives_a_valid_image_source(built):
    app, client = client_with(built, IMAGE_BASE_URL="//cdn.example/img",
                              THUMBNAIL_BASE_URL="https://thumbs.example.com/t")
    policy = client.get("/").headers["Content-Security-Policy"]
    assert "img-src 'self' data: cdn.example https://thumbs.example.com;" in policy
    image = client.get("/api/images?per_page=1").get_json()["images"][0]
    assert image["url"].startswith("//cdn.example/img/")
