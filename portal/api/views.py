"""(skeleton — being implemented)"""
from flask import Blueprint, abort

bp = Blueprint("api", __name__, url_prefix="/api/v1")
