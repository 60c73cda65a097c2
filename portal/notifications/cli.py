"""(skeleton — being implemented)"""
from flask.cli import AppGroup

mail_cli = AppGroup("mail", help="(being implemented)")
