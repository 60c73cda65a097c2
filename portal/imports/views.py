"""(skeleton — being implemented)"""
from flask import Blueprint, abort

bp = Blueprint("imports", __name__, url_prefix="/staff/import")
