"""(skeleton — being implemented)"""
from flask import Blueprint, abort

bp = Blueprint("regions", __name__, url_prefix="/regions")


@bp.route("/index")
def index():
    abort(404)
