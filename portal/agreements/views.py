"""(skeleton — being implemented)"""
from flask import Blueprint, abort

bp = Blueprint("agreements", __name__, url_prefix="/agreements")


@bp.route("/index")
def index():
    abort(404)
