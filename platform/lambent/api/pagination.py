"""Cursor pagination for every list endpoint.

A cursor stays correct while items are added or removed between pages, which offsets
do not. Each view names its ordering (a unique field within the tenant); clients pass
``?page_size=`` up to ``max_page_size`` and follow ``next``.
"""

from rest_framework import pagination


class CursorPagination(pagination.CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000
    ordering = "pk"
