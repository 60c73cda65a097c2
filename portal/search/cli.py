"""(skeleton — being implemented)"""
from flask.cli import AppGroup

search_cli = AppGroup("search", help="(being implemented)")
