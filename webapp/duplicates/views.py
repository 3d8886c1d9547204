"""Duplicate groups of the active index: the HTML page, GET /api/duplicates, and the lists of
the copies a user may remove (CSV and JSON) for a script of theirs to move or delete."""
from __future__ import annotations

import csv
import io
import os

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from ..params import (MAX_PAGE, MAX_PER_PAGE, BadRequest, bad_request, page_count, pages_or_404,
                      positive_int_arg)
from ..serving.active_index import served_index
from ..serving.image_files import image_links
from ..serving.page_cache import cached_page
from .groups import (DuplicateGroup, Member, duplicate_groups, page_of_groups, removable,
                     scored_members)

bp = Blueprint("duplicates", __name__)
bp.register_error_handler(BadRequest, bad_request)
PER_PAGE = 20
OTHERS_COLUMNS = ("group", "tier", "keep", "path", "score")
# A cell a spreadsheet would run as a formula (a file may be named "=HYPERLINK(...).jpg"):
# OWASP's advice, a leading apostrophe, which the spreadsheet shows as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def member_entry(member: Member) -> dict:
    """Return what the page and the API show of a group's member."""
    return {**image_links(member), "name": os.path.basename(member.path),
            "width": member.width, "height": member.height, "file_size": member.file_size,
            "format": member.format, "jpeg_quality": member.jpeg_quality,
            "captured_at": iso(member.captured_at), "modified_at": iso(member.modified_at),
            "score": round(member.score, 6), "keep": member.keep,
            "protected": member.protected}


def group_entry(group: DuplicateGroup, members: list[Member]) -> dict:
    """Return what the page and the API show of a group: its keeper, why, its weakest pair."""
    ids = {m.position: m.id for m in members}
    value, a, b = group.weakest
    return {"tier": group.tier, "size": len(group.positions), "keep": members[0].id,
            "reason": group.reason,
            "weakest": {"score": round(value, 6), "ids": [ids.get(a), ids.get(b)]},
            "images": [member_entry(m) for m in members]}


def groups_page(page: int, per_page: int) -> dict:
    """Return one page of duplicate groups with paging facts, as the page and API show it."""
    served = served_index()
    groups = duplicate_groups(served)
    items = page_of_groups(served.build, groups, page, per_page) if served.build else []
    return {"build": served.build, "threshold": served.threshold, "total": len(groups),
            "page": page, "per_page": per_page,
            "pages": page_count(len(groups), per_page),
            "groups": [group_entry(g, members) for g, members in items]}


@bp.get("/duplicates")
@cached_page
def page():
    """Show one page of duplicate groups."""
    page_number = request.args.get("page", 1, type=int)
    pages_or_404(page_number, len(duplicate_groups(served_index())), PER_PAGE)
    return render_template("duplicates.html", **groups_page(page_number, PER_PAGE),
                           keep_rules=current_app.config["DUPLICATE_KEEP_RULES"],
                           protected=current_app.config["DUPLICATE_PROTECTED"])


@bp.get("/api/duplicates")
@cached_page
def api_duplicates():
    """Return one page of duplicate groups, each with its tier, the copy to keep first."""
    body = groups_page(positive_int_arg("page", 1, MAX_PAGE),
                       positive_int_arg("per_page", PER_PAGE, MAX_PER_PAGE))
    del body["build"], body["pages"]
    return jsonify(body)


def other_copies() -> list[dict]:
    """Return one row per copy that is not its group's kept one, in group order."""
    served = served_index()
    if served.build is None:
        return []
    groups = duplicate_groups(served)
    rows = []
    for number, (group, members) in enumerate(zip(groups, scored_members(served.build,
                                                                         groups)), 1):
        rows += [{"group": number, "tier": group.tier, "keep": members[0].path,
                  "path": m.path, "score": round(m.score, 6)}
                 for m in removable(group, members)]
    return rows


def spreadsheet_safe(value):
    """Return a CSV cell that no spreadsheet runs as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


@bp.get("/api/duplicates/others.csv")
@cached_page
def others_csv():
    """The copies a clean-up would move, as CSV: group, tier, keep, path, score."""
    out = io.StringIO()
    writer = csv.DictWriter(out, OTHERS_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({name: spreadsheet_safe(value) for name, value in row.items()}
                     for row in other_copies())
    return Response(out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": "attachment; filename=duplicates-others.csv"})


@bp.get("/api/duplicates/others.json")
@cached_page
def others_json():
    """The copies that are not kept, as JSON, with the collection root they are relative to."""
    build = served_index().build
    return jsonify(root=build.root if build else None, others=other_copies())


def iso(when) -> str | None:
    return when.isoformat() if when else None
