"""Every HTML page of the console, the portal, the wall screens, sign-in and the API docs is sent with a
Content-Security-Policy that allows no inline script but the one carrying this response's nonce, and
a signed-in page is never stored by the browser (``Cache-Control: no-store``).

The pages are found by walking the URL configuration (like ``tests/test_tenant_isolation.py``); a
route with an id is tried with the id of every object made here until one answers 200, so pages added
later are covered without a hand list. The templates are also read as files: no inline handler
(``onclick=``, ``hx-on``) and no inline ``<script>`` without the nonce anywhere under ``templates/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from apps.clouds.tests.factories import platform as make_platform
from apps.core.models import Operation
from apps.provisioning.models import ProvisioningRequest
from apps.rbac.models import AccessPolicy, Role
from apps.resources.tests.factories import resource as make_resource
from apps.security import services as security_services
from tests import factories as f

pytestmark = pytest.mark.django_db

SURFACES = ("console/", "portal/", "screens/", "signin/", "api/docs/")
GROUP_RE = re.compile(r"\(\?P<(?P<name>\w+)>(?:[^()]|\([^()]*\))*\)")
# Routes whose GET would end the session the walk runs in.
SKIP_NAMES = {"logout", "signout"}
NONCE_RE = re.compile(r"'nonce-([A-Za-z0-9_\-]+={0,2})'")
SCRIPT_TAG_RE = re.compile(r"<script\b([^>]*)>", re.I)
INLINE_HANDLER_RE = re.compile(r"<[a-z][^>]*\s(on[a-z]+|hx-on[:\-][^\s=]*)\s*=", re.I)
TEMPLATES = Path(settings.BASE_DIR) / "templates"


def page_routes() -> Iterator[tuple[str, URLPattern]]:
    """(route regex without anchors, pattern) of every route of the HTML surfaces."""

    def walk(patterns: list[Any], prefix: str) -> Iterator[tuple[str, URLPattern]]:
        for p in patterns:
            piece = p.pattern.regex.pattern.lstrip("^").rstrip("$").replace("\\Z", "")
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + piece)
            else:
                yield prefix + piece, p

    for route, pattern in walk(get_resolver().url_patterns, ""):
        if route.startswith(SURFACES) and pattern.name not in SKIP_NAMES:
            yield route, pattern


def url_of(route: str, value: Any = None) -> str:
    return "/" + re.sub(r"\\(.)", r"\1", GROUP_RE.sub(lambda m: str(value), route))


@pytest.fixture
def world(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    org = f.org("CSP Org")
    admin = f.user("csp-admin", org, is_staff=True, is_superuser=True)
    person = f.user("csp-person", org)
    group = f.group(org, person, name="csp-group")
    project = f.project(org, admin, person, name="csp-project")
    role = Role.objects.create(key="csp_role", name="CSP role", permissions=["core:operation:read"], organization=org)
    grant = f.grant(role, person, org)
    policy = AccessPolicy.objects.create(name="csp policy", organization=org, document={
        "Statement": [{"Effect": "Allow", "Action": "core:*", "Resource": f"org/{org.pk}"}]})
    platform = make_platform(org, name="csp platform")
    row = make_resource(platform, organization=org, project=project)
    request = ProvisioningRequest.objects.create(organization=org, project=project, platform=platform,
                                                 region="cn-hangzhou", spec={"instance_type": "ecs.g6.large"},
                                                 requester=admin, levels=[{"mode": "any", "roles": [], "users": []}])
    operation = Operation.objects.create(organization=org, kind="csp")
    objects = [org, person, admin, group, project, role, grant, policy, platform, row, request, operation]
    return {"admin": admin, "org": org, "ids": [str(o.pk) for o in objects]}


def _signed_in(user) -> Client:
    # An id of the wrong kind may fail inside a view: the error page it gets must be protected too.
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def _fetch(client: Client, route: str, ids: list[str]):
    """The page at ``route``: with the first id that opens it when the route takes one."""
    if not GROUP_RE.search(route):
        return url_of(route), client.get(url_of(route))
    response = None
    for value in ids:
        url = url_of(route, value)
        response = client.get(url)
        if response.status_code == 200:
            break
    return url, response


def _assert_protected(url: str, response, nonces: list[str]) -> None:
    policy = response.get("Content-Security-Policy", "")
    assert policy, f"{url} ({response.status_code}) has no Content-Security-Policy"
    directives = {d.split()[0]: d.split()[1:] for d in (part.strip() for part in policy.split(";")) if d}
    script = directives.get("script-src", [])
    assert "'self'" in script and "'unsafe-inline'" not in script and "'unsafe-eval'" not in script, (url, policy)
    assert directives.get("object-src") == ["'none'"], (url, policy)
    assert directives.get("base-uri") == ["'self'"], (url, policy)
    assert directives.get("frame-ancestors") == ["'none'"], (url, policy)
    connect = directives.get("connect-src", [])
    assert "'self'" in connect and "ws://testserver" in connect and "wss://testserver" in connect, (url, policy)
    found = NONCE_RE.findall(" ".join(script))
    assert len(found) == 1, (url, policy)
    nonces.append(found[0])
    body = response.content.decode(errors="replace")
    for attrs in SCRIPT_TAG_RE.findall(body):
        if "src=" in attrs or 'type="application/json"' in attrs:
            continue
        assert f'nonce="{found[0]}"' in attrs, f"{url}: inline <script{attrs}> without this response's nonce"
    assert not INLINE_HANDLER_RE.search(body), f"{url}: inline event handler {INLINE_HANDLER_RE.search(body)[0]!r}"


def test_every_html_page_sends_the_policy_with_a_fresh_nonce_and_no_store_when_signed_in(world):
    client = _signed_in(world["admin"])
    nonces: list[str] = []
    opened: list[str] = []
    for route, _pattern in page_routes():
        url, response = _fetch(client, route, world["ids"])
        if not response.get("Content-Type", "").startswith("text/html"):
            continue
        _assert_protected(url, response, nonces)
        assert response["Cache-Control"] == "no-store", f"{url}: Cache-Control {response['Cache-Control']!r}"
        if response.status_code == 200:
            opened.append(url)
    assert len(nonces) == len(set(nonces)), "a nonce was sent twice"
    # The walk really reached the pages (not only refusals): lists, details and forms of every surface.
    for expected in ("/console/", "/portal/", "/screens/", "/console/provisioning/topology/",
                     "/console/organizations/users/", "/console/security/display-tokens/", "/api/docs/"):
        assert expected in opened, f"{expected} did not open: {opened}"
    assert len(opened) >= 40, opened


def test_pages_before_sign_in_and_wall_screens_send_the_policy(world):
    nonces: list[str] = []
    anonymous = Client()
    for url in ("/signin/", "/screens/signin/", "/console/does-not-exist/"):
        response = anonymous.get(url)
        assert response["Content-Type"].startswith("text/html"), url
        _assert_protected(url, response, nonces)
    token, raw = security_services.display_token_create(actor=None, organization=world["org"], name="csp wall",
                                                       dashboards=["noc"])
    screen = Client()
    assert screen.post("/screens/signin/", {"token": raw}).status_code == 302
    for url in ("/screens/", "/screens/d/noc/"):
        response = screen.get(url)
        assert response.status_code == 200, url
        _assert_protected(url, response, nonces)
        assert response["Cache-Control"] == "no-store", url
    assert len(nonces) == len(set(nonces))


def test_json_answers_carry_no_page_policy(world):
    response = _signed_in(world["admin"]).get("/api/v1/organizations/organizations/")
    assert response.status_code == 200
    assert "Content-Security-Policy" not in response


def test_templates_hold_no_inline_handler_and_no_inline_script_without_the_nonce():
    offenders = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text()
        name = path.relative_to(TEMPLATES)
        if INLINE_HANDLER_RE.search(text):
            offenders.append(f"{name}: {INLINE_HANDLER_RE.search(text)[0]}")
        for attrs in SCRIPT_TAG_RE.findall(text):
            if "src=" not in attrs and "{{ csp_nonce }}" not in attrs:
                offenders.append(f"{name}: <script{attrs}>")
    assert not offenders, offenders
