"""(skeleton — being implemented)"""
from flask.cli import AppGroup

import_cli = AppGroup("import", help="(being implemented)")
