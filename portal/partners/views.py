"""(skeleton — being implemented)"""
from flask import Blueprint, abort

bp = Blueprint("partners", __name__, url_prefix="/partners")


@bp.route("/directory")
def directory():
    abort(404)
