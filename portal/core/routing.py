"""URL converters."""

from __future__ import annotations

from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1  # INTEGER primary keys on PostgreSQL


class IdConverter(IntegerConverter):
    """``<int:…>`` in every route: a number past the database's INTEGER range matches no
    route (404) instead of reaching PostgreSQL, which would refuse it with an error (500)."""

    def __init__(self, url_map, fixed_digits=0, min=None, max=MAX_ID, signed=False):  # noqa: A002
        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)
