"""(skeleton — being implemented)"""
from flask.cli import AppGroup

users_cli = AppGroup("users", help="(being implemented)")
