"""Pagination of SQLAlchemy selects, bounded so ?page=99999 or ?per_page=10⁶ cannot hurt."""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil

from flask import current_app, request
from sqlalchemy import func, select

from portal.extensions import db

MAX_PER_PAGE = 100


def page_args() -> tuple[int, int]:
    try:
        page = max(1, int(request.args.get("page", 1)))
    except ValueError:
        page = 1
    try:
        per_page = int(request.args.get("per_page", current_app.config["PER_PAGE"]))
    except ValueError:
        per_page = current_app.config["PER_PAGE"]
    return min(page, 10_000), max(1, min(per_page, MAX_PER_PAGE))


@dataclass
class Page:
    items: list
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first_index(self) -> int:
        return 0 if self.total == 0 else (self.page - 1) * self.per_page + 1

    @property
    def last_index(self) -> int:
        return min(self.total, self.page * self.per_page)


def paginate(
    stmt, page: int | None = None, per_page: int | None = None, *, clamp: bool = True
) -> Page:
    """One page of ``stmt``. Pages clamp a page past the end to the last one; the API
    (``clamp=False``) answers it with no items, so a client paging until an empty page stops."""
    if page is None or per_page is None:
        page, per_page = page_args()
    total = db.session.execute(
        select(func.count()).select_from(stmt.order_by(None).subquery())
    ).scalar_one()
    # Past the end (?page=999 of 13): show the last page, never "showing 23953–308".
    if clamp:
        page = min(page, max(1, ceil(total / per_page)))
    items = list(
        db.session.execute(stmt.limit(per_page).offset((page - 1) * per_page)).unique().scalars()
    )
    return Page(items=items, total=total, page=page, per_page=per_page)


def rows_in_order(model, ids: list[int], *options) -> list:
    """The rows of ``model`` with these ids, in the order of ``ids`` (one query; ids that no
    longer exist are skipped) — for pages whose ids and order were chosen elsewhere."""
    if not ids:
        return []
    found = {
        row.id: row
        for row in db.session.scalars(select(model).where(model.id.in_(ids)).options(*options))
    }
    return [found[i] for i in ids if i in found]


def page_of_ids(model, ids: list[int], total: int, page: int, per_page: int, *options) -> Page:
    """A ``Page`` of ``model`` rows for ids (and total) chosen elsewhere, e.g. by an index."""
    return Page(
        items=rows_in_order(model, ids, *options), total=total, page=page, per_page=per_page
    )
