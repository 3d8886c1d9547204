"""Static files through WhiteNoise: hashed names cached for good, gzip for those who take it."""
import gzip
import re

from tests.support.commands import ROOT
from webapp.serving.static_files import collect, hashed_name


def stylesheet_url(client) -> str:
    return re.search(r'href="(/static/[^"]+\.css)"', client.get("/").get_data(as_text=True))[1]


def test_pages_link_the_hashed_name_which_is_cached_for_good(client):
    url = stylesheet_url(client)
    source = (ROOT / "static" / "style.css").read_bytes()
    assert url == "/static/" + hashed_name("style.css", source)
    response = client.get(url)
    assert response.status_code == 200 and response.data == source
    assert "immutable" in response.headers["Cache-Control"]
    assert "max-age=315360000" in response.headers["Cache-Control"]
    response.close()


def test_gzip_is_sent_to_clients_that_accept_it(client):
    response = client.get(stylesheet_url(client), headers={"Accept-Encoding": "gzip, br"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["Vary"]
    assert gzip.decompress(response.data) == (ROOT / "static" / "style.css").read_bytes()
    response.close()


def test_the_plain_name_still_works_with_a_short_cache(client):
    response = client.get("/static/style.css")
    assert response.status_code == 200 and "immutable" not in response.headers["Cache-Control"]
    assert "max-age=60" in response.headers["Cache-Control"]
    response.close()


def test_collect_names_files_by_content(tmp_path):
    source, dest = tmp_path / "static", tmp_path / "out"
    (source / "js").mkdir(parents=True)
    (source / "js" / "app.js").write_text("console.log('hello');\n" * 50)
    first = collect(str(source), str(dest))
    assert re.fullmatch(r"js/app\.[0-9a-f]{12}\.js", first["js/app.js"])
    assert (dest / (first["js/app.js"] + ".gz")).is_file()
    (source / "js" / "app.js").write_text("changed")
    second = collect(str(source), str(dest))
    assert second["js/app.js"] != first["js/app.js"] and (dest / second["js/app.js"]).is_file()
    assert not (dest / (second["js/app.js"] + ".gz")).exists()  # too small to gain from gzip
