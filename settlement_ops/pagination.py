"""Pagination that never counts millions of rows.

DRF's page-number pagination answers `count` with COUNT(*) over the whole filtered list: over a
million shipments or a big run's charge lines that costs seconds to minutes on every page. Here
the count is exact up to EXACT_COUNT_LIMIT rows (a COUNT over at most that many, a ms or two) and a
planner estimate past it, flagged by `count_is_estimate`. Whether a next page exists is learnt by
fetching one row more than the page, so walking `next` links reaches every row even when the
estimate is low, and pages past the estimate stay reachable.

Every list gets a unique tie-breaker (the primary key) after its own order, so LIMIT/OFFSET pages
never repeat or skip a row among equal sort keys. The default orders are served by indexes (see
the models' Meta.indexes), so a first page reads a page of an index, not a sort of the table.
"""

from __future__ import annotations

import json

from django.core.paginator import EmptyPage, Page, PageNotAnInteger
from django.core.paginator import Paginator as DjangoPaginator
from django.utils.functional import cached_property
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

# Up to this many rows the count is exact: counting 1,000 rows costs a ms or two on every list
# request, counting 10,000 (measured) ten to thirty under load, a tenth of a page's budget.
EXACT_COUNT_LIMIT = 1_000
_PK_NAMES = {"pk", "-pk", "id", "-id"}


def bounded_count(queryset, *, limit: int | None = None, known: int | None = None) -> tuple[int, bool]:
    """(count, is_estimate): exact up to `limit` (EXACT_COUNT_LIMIT) rows; past it `known` when
    the caller has the count stored (an invoice's line count), else the planner's estimate (at
    least limit + 1)."""
    limit = EXACT_COUNT_LIMIT if limit is None else limit
    if not hasattr(queryset, "query"):
        return len(queryset), False
    # Neither the count nor the estimate needs the joins select_related adds for display: planning
    # them costs more than counting (15 ms against 1 for a run's charge lines with their five joins).
    unordered = queryset.order_by()
    if unordered.query.select_related:  # never set on .values() rows, which refuse the call
        unordered = unordered.select_related(None)
    seen = unordered[: limit + 1].count()
    if seen <= limit:
        return seen, False
    if known is not None:
        return max(known, seen), False
    plan = json.loads(unordered.explain(format="json"))
    estimate = int(plan[0]["Plan"]["Plan Rows"])
    return max(estimate, seen), True


def with_tiebreaker(queryset):
    """The queryset in its own order, then by primary key, so every row has one place."""
    if not hasattr(queryset, "query"):
        return queryset
    query = queryset.query
    if query.combinator or query.distinct_fields:
        # A UNION or DISTINCT ON fixes its own order terms; leave it as its selector built it.
        return queryset
    ordering = list(query.order_by) or (list(query.get_meta().ordering or []) if query.default_ordering else [])
    names = {item for item in ordering if isinstance(item, str)}
    if names & _PK_NAMES:
        return queryset
    if not ordering:
        return queryset.order_by("pk")
    last = ordering[-1]
    descending = isinstance(last, str) and last.startswith("-")
    return queryset.order_by(*ordering, "-pk" if descending else "pk")


class _EstimatedPage(Page):
    def __init__(self, object_list, number, paginator, *, has_next: bool):
        super().__init__(object_list, number, paginator)
        self._has_next = has_next

    def has_next(self):
        return self._has_next


class EstimatingPaginator(DjangoPaginator):
    """Django's paginator with a bounded count (exact up to EXACT_COUNT_LIMIT rows, then the
    stored `known_count` or an estimate) and a look-ahead row for `has_next`; also the
    `paginator_class` of paginated HTML lists (partials/pagination.html marks an estimate "~")."""

    def __init__(self, object_list, per_page, orphans=0, allow_empty_first_page=True, error_messages=None, **kwargs):
        self.known_count = kwargs.pop("known_count", None)
        super().__init__(object_list, per_page, orphans, allow_empty_first_page, error_messages, **kwargs)

    @cached_property
    def _counted(self) -> tuple[int, bool]:
        return bounded_count(self.object_list, known=self.known_count)

    @cached_property
    def count(self):
        return self._counted[0]

    @property
    def count_is_estimate(self) -> bool:
        return self._counted[1]

    @property
    def num_pages_label(self) -> str:
        """The page count as pages show it: "~2000" when it comes from an estimate."""
        return f"~{self.num_pages}" if self.count_is_estimate else str(self.num_pages)

    def validate_number(self, number):
        if self.count_is_estimate:
            # Pages past the estimate exist when the estimate is low: accept any page >= 1 and
            # let an empty page answer 404.
            try:
                number = int(number)
            except (TypeError, ValueError):
                raise PageNotAnInteger(self.error_messages["invalid_page"]) from None
            if number < 1:
                raise EmptyPage(self.error_messages["min_page"])
            return number
        return super().validate_number(number)

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        rows = list(self.object_list[bottom : bottom + self.per_page + 1])
        if not rows and number > 1:
            raise EmptyPage(self.error_messages["no_results"])
        if self.count_is_estimate and bottom + len(rows) > self.count:
            # A low estimate: the rows seen are the better lower bound ("Page 2 of ~2", not "of ~1").
            self.__dict__["count"] = bottom + len(rows)
            self.__dict__.pop("num_pages", None)
        return _EstimatedPage(rows[: self.per_page], number, self, has_next=len(rows) > self.per_page)


class EstimatedCountPagination(PageNumberPagination):
    """The API's default pagination: `?page=N` (and `?page_size=`, at most 1,000), `count` exact up
    to 1,000 rows and estimated past it (`count_is_estimate`), `next` reliable either way."""

    django_paginator_class = EstimatingPaginator
    page_size_query_param = "page_size"
    max_page_size = 1000

    def paginate_queryset(self, queryset, request, view=None):
        return super().paginate_queryset(with_tiebreaker(queryset), request, view)

    def get_paginated_response(self, data):
        paginator = self.page.paginator
        return Response(
            {
                "count": paginator.count,
                "count_is_estimate": paginator.count_is_estimate,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        response = super().get_paginated_response_schema(schema)
        response["properties"]["count_is_estimate"] = {
            "type": "boolean",
            "description": "True when `count` is the planner's estimate (lists past 1,000 rows).",
            "example": False,
        }
        response["required"] = ["count", "count_is_estimate", "results"]
        return response
