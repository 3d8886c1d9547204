"""Error pages: JSON for the API, HTML for people; a database outage is a 503, not a 500."""
from flask import jsonify, render_template, request
from sqlalchemy.exc import DBAPIError, OperationalError

from core.db import db

from .params import too_large_message

MESSAGES = {
    404: "Not found",
    413: "Upload too large",
    500: "Something went wrong on our side",
    503: "The database is not answering; try again in a moment",
}


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


def error_response(status: int, message: str | None = None):
    message = message or MESSAGES.get(status, "Error")
    if wants_json():
        body = {"error": message}
        if request.path == "/healthz":
            body["status"] = "unavailable"
        return jsonify(body), status
    return render_template("error.html", status=status, message=message), status


def init_app(app):
    """Register the handlers on the app."""

    @app.errorhandler(404)
    def not_found(_exc):
        return error_response(404)

    @app.errorhandler(413)
    def too_large(_exc):
        return error_response(413, too_large_message())

    @app.errorhandler(OperationalError)
    @app.errorhandler(DBAPIError)
    def database_down(exc):
        db.session.rollback()
        app.logger.error("database error: %s", exc.__class__.__name__, exc_info=exc)
        return error_response(503)

    @app.errorhandler(500)
    def internal_error(exc):
        # A failed statement leaves the session unusable until it is rolled back.
        db.session.rollback()
        return error_response(500)
