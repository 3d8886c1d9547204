"""GET /healthz: whether the database answers, for monitors and the platform's router."""
from flask import Blueprint, jsonify

from core.records import Build

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Say whether the database answers, and how many images the site serves."""
    # Asks the database every time, unlike the pages: this is what monitors poll.
    build = Build.active()
    return jsonify(status="ok", images=build.image_count if build else 0)
