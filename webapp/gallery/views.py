"""The HTML gallery and image pages."""
from flask import Blueprint, current_app, render_template, request

from ..params import pages_or_404
from ..serving.active_index import served_index
from ..serving.page_cache import cached_page
from ..serving.image_files import image_links
from .images import image_and_lists

bp = Blueprint("views", __name__)


@bp.get("/")
@cached_page
def gallery():
    """Show one page of the collection's thumbnails."""
    build = served_index().build
    per_page = current_app.config["PER_PAGE"]
    page = request.args.get("page", 1, type=int)
    total = build.image_count if build else 0
    pages = pages_or_404(page, total, per_page)
    images = [image_links(row) for row in build.page(page, per_page)] if build else []
    return render_template("gallery.html", build=build, images=images, page=page,
                           pages=pages, total=total)


@bp.get("/images/<int:image_id>")
@cached_page
def image(image_id: int):
    """Show an image and its recommendations, best first."""
    build, row, lists = image_and_lists(image_id)
    # Previous and next in gallery order, and the gallery page the image is on.
    around = build.at_positions([row.position - 1, row.position + 1])
    return render_template("image.html", build=build, image=dict(image_links(row), row=row),
                           similar=lists.distinct, copies=lists.copies,
                           previous=around.get(row.position - 1),
                           next=around.get(row.position + 1),
                           gallery_page=row.position // current_app.config["PER_PAGE"] + 1)
