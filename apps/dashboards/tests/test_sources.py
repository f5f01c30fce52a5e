"""Data sources: the HTTP source reaches only public addresses unless allow-listed (also when a name
resolves to a private one, and without resolving twice), answers are capped; uploaded tables are
validated with errors naming row and column."""

from __future__ import annotations

import base64
import io
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from apps.core.errors import InvalidInput
from apps.dashboards import sources
from apps.dashboards.models import DataSource
from tests import factories as f
from tests.fixtures import api_as

API = "/api/v1/dashboards/data-sources/"


@pytest.fixture
def local_http():
    """A JSON endpoint on loopback that records the Host header of each request."""
    seen: list[str] = []
    bodies = {"/": json.dumps({"data": {"count": 42, "items": [{"team": "a", "cost": 2}, {"team": "b", "cost": 5}]}}),
              "/big": "[" + ",".join(["1"] * 600_000) + "]", "/html": "<html></html>",
              "/jsonp": '/**/ metrics.cb({"data": {"count": 7}});', "/script": 'cb(alert("x"))'}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the standard library's name)
            seen.append(self.headers.get("Host", ""))
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "http://127.0.0.1:1/")
                self.end_headers()
                return
            body = bodies.get(self.path, "{}").encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], seen
    server.shutdown()


LOOPBACK = [sources.ipaddress.ip_network("127.0.0.0/8")]


@pytest.mark.parametrize("url", ["http://127.0.0.1/", "http://10.1.2.3/", "http://172.16.0.1/", "http://192.168.1.1/",
                                 "http://169.254.169.254/latest/meta-data/", "http://[::1]/", "http://[fe80::1]/",
                                 "http://0.0.0.0/", "http://[::ffff:127.0.0.1]/", "http://100.64.0.1/"])
def test_the_http_source_refuses_loopback_private_and_link_local_addresses(url):
    with pytest.raises(sources.SourceRefused, match="not allow-listed"):
        sources.fetch_json(url, allow=[])


def test_a_name_that_resolves_to_a_private_address_is_refused():
    with pytest.raises(sources.SourceRefused, match="loopback"):
        sources.fetch_json("http://localhost/", allow=[])

    def mixed(host, port, **kw):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))]

    with pytest.raises(sources.SourceRefused, match="10.0.0.7"):
        sources.fetch_json("http://dashboards.example/", resolve=mixed, allow=[])


def test_an_allow_listed_network_is_reached_at_the_address_checked_not_a_second_lookup(local_http):
    port, seen = local_http
    lookups: list[str] = []

    def once(host, port_, **kw):
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port_))]

    # The name exists only in this resolver: reaching the server proves the checked address was used.
    answer = sources.fetch_json(f"http://metrics.internal.example:{port}/", resolve=once, allow=LOOPBACK)
    assert answer["data"]["count"] == 42
    assert lookups == ["metrics.internal.example"]
    assert seen == [f"metrics.internal.example:{port}"]


def test_answers_that_are_too_big_redirected_or_not_json_are_refused(local_http):
    port, _seen = local_http
    for path, reason in (("/big", "more than"), ("/redirect", "HTTP 302"), ("/html", "JSON")):
        with pytest.raises(sources.SourceRefused, match=reason):
            sources.fetch_json(f"http://127.0.0.1:{port}{path}", allow=LOOPBACK, max_bytes=1_000_000)


def test_a_jsonp_answer_is_read_as_the_json_of_its_argument_and_any_other_script_is_refused(local_http):
    port, _seen = local_http
    assert sources.fetch_json(f"http://127.0.0.1:{port}/jsonp", allow=LOOPBACK) == {"data": {"count": 7}}
    with pytest.raises(sources.SourceRefused, match="JSON"):
        sources.fetch_json(f"http://127.0.0.1:{port}/script", allow=LOOPBACK)
    for body in (b"cb({})", b"  a.b_c$({\"x\": [1]}) ;\n", b"[1, 2]"):
        assert sources.parse_json_or_jsonp(body) is not None
    for body in (b"cb({})x", b"1cb({})", b"cb({}); cb({})", b"(function(){})()"):
        with pytest.raises(ValueError):
            sources.parse_json_or_jsonp(body)


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "http://user:pw@example.com/", "//x", 5])
def test_only_plain_http_addresses_are_accepted(url):
    with pytest.raises(InvalidInput):
        sources.check_url(url)


def test_a_csv_table_keeps_numbers_as_numbers():
    table = sources.table_from_file(name="costs.csv", content=b"team,cost\na,2\nb,5.5\n\nc,\n")
    assert table == {"columns": ["team", "cost"], "rows": [["a", 2], ["b", 5.5], ["c", None]], "numeric": ["cost"]}


def test_a_malformed_csv_names_the_row_and_column_of_each_error():
    with pytest.raises(InvalidInput) as refused:
        sources.table_from_file(name="costs.csv", content=b"team,cost,team\na,2,x\nb,lots,y\nc,3,z,extra\n")
    errors = refused.value.detail["file"]
    assert "row 1, column C: the column name 'team' is used twice" in errors
    assert "row 3, column B (cost): 'lots' is not a number" in errors
    assert "row 4, column D: a value outside the named columns" in errors
    assert "row 3, column B" in refused.value.message or "row 1, column C" in refused.value.message


def xlsx(rows: list[list[object]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_an_excel_table_is_read_and_its_errors_name_row_and_column():
    table = sources.table_from_file(name="t.xlsx", content=xlsx([["region", "vms"], ["east", 4], ["west", 7]]))
    assert table["rows"] == [["east", 4], ["west", 7]] and table["numeric"] == ["vms"]
    with pytest.raises(InvalidInput) as refused:
        sources.table_from_file(name="t.xlsx", content=xlsx([["region", "vms"], ["east", 4], ["west", "seven"]]))
    assert refused.value.detail["file"] == ["row 3, column B (vms): 'seven' is not a number"]
    with pytest.raises(InvalidInput, match="not an Excel"):
        sources.table_from_file(name="t.xlsx", content=b"PK not really")


@pytest.mark.django_db
def test_an_uploaded_table_feeds_widgets_and_a_bad_upload_stores_nothing():
    org = f.org("A")
    alice = f.user("alice", org)
    f.grant(f.role("dashboards:*"), alice, org)
    client = api_as(alice)
    bad = client.post(API, {"name": "Costs", "kind": "table", "file_name": "c.csv", "content": "team,cost\na,2\nb,x\n"},
                      format="json")
    assert bad.status_code == 400 and "row 3, column B (cost)" in json.dumps(bad.json())
    assert not DataSource.objects.exists()
    made = client.post(API, {"name": "Costs", "kind": "table", "file_name": "c.xlsx",
                             "content_base64": base64.b64encode(xlsx([["team", "cost"], ["a", 2], ["b", 5],
                                                                      ["a", 1]])).decode()}, format="json")
    assert made.status_code == 201, made.content
    source = made.json()["id"]
    doc = {"uid": "costs", "title": "Costs", "widgets": [
        {"id": "sum", "type": "stat", "gridPos": {"x": 0, "y": 0, "w": 6, "h": 4},
         "query": {"name": "dashboards.source_value", "params": {"source": source, "field": "cost"}}},
        {"id": "by", "type": "pie", "gridPos": {"x": 6, "y": 0, "w": 6, "h": 4},
         "query": {"name": "dashboards.source_categories", "params": {"source": source, "label": "team",
                                                                      "value": "cost"}}}]}
    assert client.post("/api/v1/dashboards/dashboards/", {"document": doc}, format="json").status_code == 201
    widgets = client.get("/api/v1/dashboards/dashboards/costs/data/").json()["widgets"]
    assert widgets["sum"]["result"]["value"] == 8
    assert widgets["by"]["result"]["categories"] == [{"name": "b", "value": 5}, {"name": "a", "value": 3}]


@pytest.mark.django_db
def test_an_http_source_to_a_private_address_is_refused_when_added():
    org = f.org("A")
    alice = f.user("alice", org)
    f.grant(f.role("dashboards:*"), alice, org)
    response = api_as(alice).post(API, {"name": "Metadata", "kind": "http_json",
                                        "url": "http://169.254.169.254/latest/meta-data/"}, format="json")
    assert response.status_code == 400 and "url" in response.json()["detail"]
    assert not DataSource.objects.exists()
