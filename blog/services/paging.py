"""Pages of long admin lists that stay fast at any depth: a plain COUNT, the page's ids, then its rows.

``db.paginate`` counts over a subquery of the whole select and applies OFFSET to the joined rows;
on 100,000 comments that is seconds. Here the count runs on the filtered table alone (an index
scan), the OFFSET skips index entries of a query that selects ids only, and only the page's rows
are loaded with their relations: three queries whatever the size or the page number.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from flask import abort
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select

from blog.extensions import db


class _Page(Pagination):
    def _query_items(self) -> list[Any]:
        ids = list(db.session.scalars(self._query_args["ids"].limit(self.per_page).offset(self._query_offset)))
        return self._query_args["load"](ids) if ids else []

    def _query_count(self) -> int:  # never called: the total is counted first (count=False)
        raise NotImplementedError


def paginate(*, ids: Select, count: Select, load: Callable[[list[int]], list], page: int, per_page: int,
             max_per_page: int = 100) -> Pagination:
    """A page of ``load(ids)``; a page past the last gives the last one (a cleared queue stays usable).

    ``ids`` selects the ordered ids, ``count`` their number; ``load`` returns the rows for a list
    of ids in that order (see ``in_order``).
    """
    per_page = max(1, min(per_page, max_per_page))
    total = db.session.scalar(count) or 0
    page = min(max(page, 1), max(1, math.ceil(total / per_page)))
    found = _Page(page=page, per_page=per_page, max_per_page=max_per_page, error_out=False, count=False,
                  ids=ids, load=load)
    found.total = total
    return found


class _Listing(Pagination):
    def _query_items(self) -> list[Any]:
        page_ids = self._query_args["ids"].limit(self.per_page).offset(self._query_offset)
        return list(db.session.scalars(self._query_args["load"](page_ids)).unique())

    def _query_count(self) -> int:  # never called: the total is counted first (count=False)
        raise NotImplementedError


def listing(*, ids: Select, count: Select, load: Callable[[Select], Select], page: int, per_page: int,
            max_per_page: int = 100) -> Pagination:
    """Like ``paginate`` for public listings, whose ``?page=N`` is a URL: a page past the last is a 404.

    A deferred join in one statement: ``load(page_ids)`` gets the ids query with the page's
    LIMIT/OFFSET applied and returns the select of full rows ``WHERE id IN (page_ids)`` (ordered).
    The OFFSET runs in the ids-only subquery, which the database answers from a covering index
    (``ix_posts_listing`` and friends) without reading a table row, so page 500 skips 5,000
    index entries instead of joining and discarding 5,000 posts with their authors. Queries:
    the count, the page (plus whatever ``load``'s options add), whatever the depth.
    """
    per_page = max(1, min(per_page, max_per_page))
    if page < 1:
        abort(404)
    total = db.session.scalar(count) or 0
    if page > 1 and (page - 1) * per_page >= total:
        abort(404)
    found = _Listing(page=page, per_page=per_page, max_per_page=max_per_page, error_out=False, count=False,
                     ids=ids, load=load)
    found.total = total
    return found


def in_order(query: Select, column, ids: list[int]) -> list:
    """The rows of ``query`` whose ``column`` is in ``ids``, in the order of ``ids``."""
    rows = {row.id: row for row in db.session.scalars(query.where(column.in_(ids))).unique()}
    return [rows[i] for i in ids if i in rows]
