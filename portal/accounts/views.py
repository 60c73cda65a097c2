"""(skeleton — being implemented)"""
from flask import Blueprint, abort

bp = Blueprint("accounts", __name__, url_prefix="/account")


@bp.route("/login")
def login():
    abort(404)


@bp.route("/logout")
def logout():
    abort(404)


@bp.route("/profile")
def profile():
    abort(404)
