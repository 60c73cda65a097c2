"""(skeleton — being implemented)"""


def init_search(app):
    pass
