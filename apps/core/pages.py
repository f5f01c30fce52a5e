"""Helpers shared by the console's and the portal's pages.

Pages use the same selectors and services as the API. An object a page names in its address is
looked up with the owning app's ``*_get`` selector: its ``NotFound`` (missing, or not visible: the
same answer) becomes the 404 page through ``NotFoundPageMiddleware``, so no page catches it. A
refusal of a service is shown on the page with the service's words (``error_fields`` for the
inline messages of a form) and the status the API would give. Lists page with core's paginator
(``apps.core.pagination.page_of``) and search with ``?q=``.
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from apps.core.errors import ApplicationError

# Small lists (children, groups, projects of one organization; choices in a form) stop here;
# long ones page instead.
LIST_LIMIT = 500


def posted(request: HttpRequest, name: str) -> str:
    """A posted text field, stripped ("" when missing or not text)."""
    value = request.POST.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def searched(request: HttpRequest) -> str:
    """The page's free-text search (``?q=``), stripped and bounded."""
    value = request.GET.get("q", "")
    return value.strip()[:100] if isinstance(value, str) else ""


def error_fields(exc: ApplicationError | None) -> dict[str, str]:
    """Field errors of a refusal (``detail``) as one sentence per field, for inline messages."""
    if exc is None or not isinstance(exc.detail, dict):
        return {}
    fields = {}
    for key, value in exc.detail.items():
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            fields[key] = " ".join(value)
        elif isinstance(value, str):
            fields[key] = value
    return fields


def is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(value: Any) -> Any:
    """A cell a spreadsheet will show, not run: text starting like a formula (names and tags come
    from clouds and people) gets a leading apostrophe. Numbers and other values pass unchanged."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def csv_response(rows: Iterable[Sequence[Any]], filename: str) -> HttpResponse:
    """A small table as a CSV download (pages and API alike); formula-like text is neutralised."""
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    for row in rows:
        writer.writerow([spreadsheet_text(v) for v in row])
    return response


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_response(rows: Iterable[Sequence[Any]], filename: str, *, sheet: str = "Sheet1") -> HttpResponse:
    """A small table as an Excel workbook download: the first row is the header, numbers stay numbers."""
    from io import BytesIO

    from openpyxl import Workbook

    book = Workbook()
    table = book.active
    table.title = sheet[:31]
    for row in rows:
        table.append([spreadsheet_text(v) for v in row])
    table.freeze_panes = "A2"
    buffer = BytesIO()
    book.save(buffer)
    response = HttpResponse(buffer.getvalue(), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def csv_stream(lines: Iterable[str], filename: str) -> StreamingHttpResponse:
    """CSV lines streamed as a download: a large export never sits in memory."""
    response = StreamingHttpResponse(lines, content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
