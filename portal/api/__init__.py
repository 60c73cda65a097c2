"""JSON API, version 1 (read-only for now). One module per resource, all on ``api.bp``."""
