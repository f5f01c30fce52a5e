"""Data sources beyond the registry's built-in queries: HTTP JSON fetched by the server, and tables
uploaded as CSV or Excel (.xlsx) files.

HTTP sources never reach the console's own network by accident: the host is resolved once, every
address it resolves to must be public (not loopback, private, link-local, multicast, reserved or
unspecified) unless an allow-listed network holds it, and the connection goes to exactly that
address (the name is only the ``Host`` header and the TLS server name), so a name that resolves to a
public address when checked and to ``127.0.0.1`` when fetched (DNS rebinding) cannot slip through.
Redirects are not followed; answers are capped in time and size and must be JSON, or JSONP whose
argument is JSON (``parse_json_or_jsonp``: the callback is stripped, never run).

Uploaded tables (CSV, or the first worksheet of an .xlsx workbook read with openpyxl) are validated
whole; every error names its row and column as a spreadsheet shows them (row 1 is the header,
column A the first).
"""

from __future__ import annotations

import csv
import http.client
import io
import ipaddress
import json
import os
import re
import socket
import ssl
import zipfile
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from apps.core.errors import InvalidInput
from apps.core.widgets import QueryFailed

TIMEOUT = 5.0
MAX_BYTES = 1_000_000
MAX_ROWS = 10_000
MAX_COLUMNS = 50
MAX_CELL = 500
Resolver = Callable[..., list[Any]]


class SourceRefused(QueryFailed):
    """The source may not be read (an address refused, a bad answer): ``str`` says why."""


def allowed_networks() -> list[Any]:
    """Networks an HTTP source may reach although they are not public (``UNIMANAGER_DASHBOARDS_HTTP_ALLOW``,
    comma-separated, e.g. ``10.20.0.0/16,127.0.0.1/32``)."""
    raw = getattr(settings, "DASHBOARDS_HTTP_ALLOW", None) or os.environ.get("UNIMANAGER_DASHBOARDS_HTTP_ALLOW", "")
    nets = []
    for item in (raw if isinstance(raw, (list, tuple)) else str(raw).split(",")):
        item = str(item).strip()
        if item:
            nets.append(ipaddress.ip_network(item, strict=False))
    return nets


def address_refusal(address: str, allow: list[Any]) -> str | None:
    """Why ``address`` may not be reached (``None``: it may)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in net for net in allow):
        return None
    for flag, label in (("is_loopback", "loopback"), ("is_link_local", "link-local"), ("is_private", "private"),
                        ("is_multicast", "multicast"), ("is_reserved", "reserved"),
                        ("is_unspecified", "unspecified")):
        if getattr(ip, flag):
            return f"{ip} is a {label} address"
    if not ip.is_global:
        return f"{ip} is not a public address"
    return None


def check_url(url: Any) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of an acceptable URL, or ``InvalidInput`` naming ``url``."""
    if not isinstance(url, str) or len(url) > 2000:
        raise InvalidInput("url must be an http(s) address.", detail={"url": ["An http(s) address."]})
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("url must be an http(s) address.", detail={"url": ["An http(s) address."]})
    if parts.username or parts.password:
        raise InvalidInput("url must not carry credentials.", detail={"url": ["No user or password in the address."]})
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise InvalidInput("url has an invalid port.", detail={"url": ["Invalid port."]}) from None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port, path


def resolve_checked(host: str, port: int, *, resolve: Resolver = socket.getaddrinfo,
                    allow: list[Any] | None = None) -> str:
    """The one address to connect to: ``host`` resolved once, every answer acceptable."""
    allow = allowed_networks() if allow is None else allow
    try:
        answers = resolve(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise SourceRefused(f"{host} does not resolve ({exc.strerror or exc})") from None
    addresses = sorted({a[4][0] for a in answers})
    if not addresses:
        raise SourceRefused(f"{host} does not resolve")
    for address in addresses:
        why = address_refusal(address, allow)
        if why:
            raise SourceRefused(f"{host} is refused: {why} (not allow-listed)")
    return addresses[0]


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, address: str, **kw: Any):
        super().__init__(host, **kw)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, address: str, **kw: Any):
        super().__init__(host, context=ssl.create_default_context(), **kw)
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def fetch_json(url: str, *, resolve: Resolver = socket.getaddrinfo, allow: list[Any] | None = None,
               timeout: float = TIMEOUT, max_bytes: int = MAX_BYTES) -> Any:
    """GET ``url`` as JSON under the rules above; ``SourceRefused`` saying why otherwise."""
    scheme, host, port, path = check_url(url)
    address = resolve_checked(host, port, resolve=resolve, allow=allow)
    cls = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
    conn = cls(host, address, port=port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Accept": "application/json", "User-Agent": "Unimanager-dashboards"})
        response = conn.getresponse()
        if response.status != 200:
            raise SourceRefused(f"{host} answered HTTP {response.status}")
        body = response.read(max_bytes + 1)
        if len(body) > max_bytes:
            raise SourceRefused(f"{host} answered more than {max_bytes} bytes")
    except (OSError, http.client.HTTPException) as exc:
        raise SourceRefused(f"{host} could not be read: {exc}") from None
    finally:
        conn.close()
    try:
        return parse_json_or_jsonp(body)
    except (ValueError, RecursionError):
        raise SourceRefused(f"{host} did not answer JSON") from None


# ``callback({...});`` (optionally ``/**/`` first, a dotted callback name, a trailing semicolon).
JSONP_RE = re.compile(rb"\A\s*(?:/\*\*/\s*)?[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*\s*\((?P<json>.*)\)\s*;?\s*\Z",
                      re.DOTALL)


def parse_json_or_jsonp(body: bytes) -> Any:
    """The JSON of an answer, or of the argument of a JSONP answer (``callback({...})``).

    A JSONP endpoint is read here, on the server, as data: the callback is stripped and only its
    argument is parsed as JSON, so nothing from the source ever runs, in the browser or here. Any
    other script is not JSON and is refused (``ValueError``)."""
    try:
        return json.loads(body)
    except ValueError:
        match = JSONP_RE.match(body)
        if match is None:
            raise
        return json.loads(match["json"])


# -- uploaded tables -----------------------------------------------------------------------------

def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA, as spreadsheets name columns."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    text = str(value).strip().replace(",", "")
    if not NUMBER_RE.match(text):
        return None
    number = float(text)
    return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number


def table_from_rows(rows: list[list[Any]]) -> dict[str, Any]:
    """A validated table (``columns``, ``rows``, ``numeric`` columns) from raw rows, header first.

    A column is numeric when its first non-empty value is a number; then every non-empty value in it
    must be one. Errors name the row and column (``row 4, column C (cost)``), at most 20 of them."""
    errors: list[str] = []
    if not rows or not any(str(c).strip() for c in rows[0]):
        raise InvalidInput("The file has no header row.", detail={"file": ["Row 1 must name the columns."]})
    header = [str(c).strip() for c in rows[0]]
    while header and not header[-1]:
        header.pop()
    if len(header) > MAX_COLUMNS:
        errors.append(f"row 1: at most {MAX_COLUMNS} columns (found {len(header)})")
    seen: set[str] = set()
    for i, name in enumerate(header):
        where = f"row 1, column {column_letter(i)}"
        if not name:
            errors.append(f"{where}: the column needs a name")
        elif name in seen:
            errors.append(f"{where}: the column name {name!r} is used twice")
        seen.add(name)
    data = rows[1:]
    if len(data) > MAX_ROWS:
        errors.append(f"at most {MAX_ROWS} rows (found {len(data)})")
        data = data[:MAX_ROWS]
    numeric = [False] * len(header)
    decided = [False] * len(header)
    clean: list[list[Any]] = []
    for r, row in enumerate(data, start=2):
        if not any(str(c).strip() for c in row):
            continue
        if len([c for c in row[len(header):] if str(c).strip()]):
            errors.append(f"row {r}, column {column_letter(len(header))}: a value outside the named columns")
        cells: list[Any] = []
        for c in range(len(header)):
            value = row[c] if c < len(row) else ""
            text = value if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value).strip()
            where = f"row {r}, column {column_letter(c)} ({header[c]})"
            if isinstance(text, str) and len(text) > MAX_CELL:
                errors.append(f"{where}: longer than {MAX_CELL} characters")
            if text == "":
                cells.append(None)
                continue
            number = _number(text)
            if not decided[c]:
                decided[c], numeric[c] = True, number is not None
            if numeric[c]:
                if number is None:
                    errors.append(f"{where}: {str(text)[:40]!r} is not a number")
                cells.append(number)
            else:
                cells.append(str(text))
        clean.append(cells)
    if errors:
        raise InvalidInput(f"The file has {len(errors)} error{'s' if len(errors) > 1 else ''}: {errors[0]}.",
                           detail={"file": errors[:20]})
    return {"columns": header, "rows": clean, "numeric": [h for h, n in zip(header, numeric, strict=True) if n]}


def rows_from_csv(text: str) -> list[list[Any]]:
    try:
        sample = text[:4096]
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample.strip() else csv.excel
    except csv.Error:
        dialect = csv.excel
    try:
        return list(csv.reader(io.StringIO(text), dialect))
    except csv.Error as exc:
        raise InvalidInput(f"The CSV file cannot be read: {exc}.", detail={"file": [str(exc)]}) from None


def rows_from_xlsx(data: bytes) -> list[list[Any]]:
    """The first worksheet of an .xlsx file as rows of values (a formula's last computed value)."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError):
        raise InvalidInput("The file is not an Excel (.xlsx) workbook.",
                           detail={"file": ["Not an .xlsx file."]}) from None
    try:
        if not book.worksheets:
            raise InvalidInput("The Excel file has no worksheet.", detail={"file": ["No worksheet."]})
        sheet = book.worksheets[0]
        rows = []
        for row in sheet.iter_rows(max_row=MAX_ROWS + 2, max_col=MAX_COLUMNS * 2, values_only=True):
            rows.append(["" if v is None else v.isoformat() if hasattr(v, "isoformat") else v for v in row])
        return rows
    finally:
        book.close()


def table_from_file(*, name: str, content: bytes) -> dict[str, Any]:
    """A validated table from an uploaded ``.csv`` or ``.xlsx`` file."""
    if name.lower().endswith(".xlsx"):
        return table_from_rows(rows_from_xlsx(content))
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("The CSV file must be UTF-8 text.", detail={"file": ["Not UTF-8 text."]}) from None
    return table_from_rows(rows_from_csv(text))


# -- values out of a JSON answer --------------------------------------------------------------------

def pick(document: Any, path: str) -> Any:
    """The value at ``path`` (``data.items.0.count``; empty: the whole document), or ``None``."""
    value = document
    for part in [p for p in path.split(".") if p]:
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value
