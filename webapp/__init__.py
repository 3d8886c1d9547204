"""The Flask app factory. Nothing here imports torch: the web only reads precomputed results."""
import logging
import os
import sys

from flask import Flask

from core.db import MIGRATIONS_DIR, db
from core.ranking import score_meaning
from core.settings import INSTANCE_DIR, ROOT, normalize_database_url

from .config import Config



def create_app(overrides: dict | None = None) -> Flask:
    """Create the app; `overrides` (tests, the scripts) win over the environment."""
    app = Flask(__name__, template_folder=os.path.join(ROOT, "templates"),
                static_folder=os.path.join(ROOT, "static"),
                instance_path=INSTANCE_DIR)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_object(Config(app.instance_path))
    app.config.update(overrides or {})
    app.config["SQLALCHEMY_DATABASE_URI"] = normalize_database_url(
        app.config["SQLALCHEMY_DATABASE_URI"])
    # Platforms like Heroku collect stdout: errors and warnings go there, one line each.
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    db.init_app(app)
    # Imported here: Flask-Migrate pulls in Alembic (0.5 s), which only an app needs, not
    # the job's modules imported on their own (benchmarks/benchmark.py neighbors).
    from flask_migrate import Migrate
    Migrate(app, db, directory=MIGRATIONS_DIR)

    from . import errors, ids, security
    from .clusters import views as clusters
    from .duplicates import views as duplicates
    from .gallery import api as gallery_api, views as gallery
    from .map import views as map_page
    from .model import views as model
    from .search import uploads, views as search
    from .serving import active_index, health, image_files, page_cache, static_files
    app.request_class = uploads.InMemoryRequest
    ids.init_app(app)  # before the blueprints: their routes bind the converter when added
    active_index.init_app(app)
    # WSGI layers, innermost first: Flask, the page cache, static files, security headers.
    page_cache.init_app(app)
    static_files.init_app(app)
    for feature in (gallery, gallery_api, health, image_files, search, duplicates, clusters,
                    map_page, model):
        app.register_blueprint(feature.bp)
    # What a score means on the page: "cosine similarity: higher is closer, ..." per metric,
    # or the space learned from the collection (core/ranking.py).
    app.jinja_env.globals["score_meaning"] = score_meaning
    errors.init_app(app)
    security.init_app(app)  # last: the outermost layer, which every response passes through
    return app
