"""The Flask app factory. Nothing here imports torch: the web only reads precomputed results."""
import logging
import os
import sys

from flask import Flask

from .config import Config, normalize_database_url
from .db import db
from .metrics import MEANING

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIGRATIONS_DIR = os.path.join(ROOT, "migrations")


def create_app(overrides: dict | None = None) -> Flask:
    """Create the app; `overrides` (tests, the offline job) win over the environment."""
    app = Flask(__name__, template_folder=os.path.join(ROOT, "templates"),
                static_folder=os.path.join(ROOT, "static"),
                instance_path=os.path.join(ROOT, "instance"))
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
    # the job's modules imported on their own (scripts/benchmark.py neighbors).
    from flask_migrate import Migrate
    Migrate(app, db, directory=MIGRATIONS_DIR)

    from . import (active_index, api, cluster_views, duplicate_views, errors, files, ids,
                   map_views, model_views, page_cache, search_views, security, static_files,
                   uploads, views)
    app.request_class = uploads.InMemoryRequest
    ids.init_app(app)  # before the blueprints: their routes bind the converter when added
    active_index.init_app(app)
    # WSGI layers, innermost first: Flask, the page cache, static files, security headers.
    page_cache.init_app(app)
    static_files.init_app(app)
    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(files.bp)
    app.register_blueprint(search_views.bp)
    app.register_blueprint(duplicate_views.bp)
    app.register_blueprint(cluster_views.bp)
    app.register_blueprint(map_views.bp)
    app.register_blueprint(model_views.bp)
    # What a score means on the page: "cosine similarity: higher is closer, ..." per metric.
    app.jinja_env.globals["score_meaning"] = MEANING.get
    errors.init_app(app)
    security.init_app(app)  # last: the outermost layer, which every response passes through
    return app
