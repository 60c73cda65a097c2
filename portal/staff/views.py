"""(skeleton — being implemented)"""
from flask import Blueprint, abort

bp = Blueprint("staff", __name__, url_prefix="/staff")


@bp.route("/dashboard")
def dashboard():
    abort(404)
