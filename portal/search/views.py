"""(skeleton — being implemented)"""
from flask import Blueprint, abort

bp = Blueprint("search", __name__, url_prefix="/search")


@bp.route("/search_page")
def search_page():
    abort(404)


@bp.route("/suggest")
def suggest():
    abort(404)
