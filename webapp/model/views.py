"""The model behind the served index: GET /model, GET /api/index, and a trained model's
pictures as PNG.

Everything comes from the database (builds, embedders, trained_models), so a web host with
nothing but DATABASE_URL shows it; the pages are cached per build like the others.
"""
from __future__ import annotations

from datetime import timezone

from flask import Blueprint, Response, abort, jsonify, render_template
from sqlalchemy import select

from core.db import db
from core.ranking import score_meaning
from core.records import StoredEmbedder, TrainedModel

from ..serving.active_index import served_index
from ..serving.page_cache import cached_page

bp = Blueprint("model", __name__)
PICTURES = {"loss": TrainedModel.loss_png, "reconstructions": TrainedModel.reconstructions_png}


def embedder_facts(model_key: str) -> dict | None:
    """Return the stored embedder's preprocessing, dimension and calibration, or None."""
    row = db.session.execute(
        select(StoredEmbedder.preprocessing, StoredEmbedder.dim, StoredEmbedder.calibration)
        .where(StoredEmbedder.model_key == model_key)).first()
    return row._asdict() if row else None


def training_facts(model_key: str) -> dict | None:
    """Return a trained model's settings, loss history and which pictures it has, or None."""
    row = db.session.execute(
        select(TrainedModel.settings, TrainedModel.history,
               TrainedModel.loss_png.is_not(None).label("has_loss"),
               TrainedModel.reconstructions_png.is_not(None).label("has_reconstructions"))
        .where(TrainedModel.model_key == model_key)).first()
    if row is None:
        return None
    history = row.history
    validation = history.get("validation_loss") or [None]
    best = history.get("best_epoch") or len(validation)
    return {"settings": row.settings, "history": history,
            "best_validation_loss": validation[best - 1],
            "has_loss": row.has_loss, "has_reconstructions": row.has_reconstructions}


@bp.get("/model")
@cached_page
def page():
    """Show the model, weights and calibration behind the index; a trained model's training."""
    served = served_index()
    build = served.build or abort(404)
    return render_template("model.html", build=build, threshold=served.threshold,
                           dim=served.dim, embedder=embedder_facts(build.model_key),
                           training=training_facts(build.model_key))


@bp.get("/model/<any(loss, reconstructions):name>.png")
@cached_page
def picture(name: str):
    """Send the trained model's loss curves or reconstructions, as stored by the job."""
    build = served_index().build or abort(404)
    data = db.session.scalar(select(PICTURES[name])
                             .where(TrainedModel.model_key == build.model_key))
    if data is None:
        abort(404)
    return Response(data, mimetype="image/png")


@bp.get("/api/index")
@cached_page
def index_facts():
    """Describe the served index: what built it, and how big it is."""
    served = served_index()
    build = served.build
    if build is None:
        return jsonify(error="there is no index yet: run scripts/build_index.py"), 404
    built_at = build.finished_at.replace(tzinfo=timezone.utc).isoformat()
    return jsonify(model=build.model, weights=build.weights, invariance=build.invariance,
                   dim=served.dim, metric=build.metric, ranking=build.ranking,
                   score=score_meaning(build.metric, build.ranking), k=build.k,
                   images=build.image_count, built_at=built_at)
