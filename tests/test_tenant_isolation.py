"""Tenant isolation over every API endpoint, generated from the URL configuration.

Two people of organization A — one holding ``*`` in A, one organization administrator of A (neither
a platform administrator) — get 404 (never 403, never data) for every object of organization B on
every route that takes an id, viewset or not, with every HTTP method the route allows; lists never
contain B's rows, even when asked for B by filter, and the other endpoints never echo B's ids.
Endpoints added by later apps are covered automatically: the routes are discovered by walking the
URL configuration, and each model's objects are made by ``isolation_objects(org)`` from
``apps.<app>.tests.factories`` when an app provides it (otherwise a row with only its organization
set is created; a model that needs more must provide a factory). A route that is not a viewset is
probed with the id of every object made for B.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from apps.core import scoping
from apps.core.models import Operation
from apps.organizations.models import Membership, Organization, User
from apps.rbac.backend import RbacScoping
from apps.rbac.models import AccessPolicy, Grant, Role
from tests import factories as f

pytestmark = pytest.mark.django_db
GROUP_RE = re.compile(r"\(\?P<(?P<name>\w+)>(?:[^()]|\([^()]*\))*\)")


@pytest.fixture(autouse=True)
def rbac_backend(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    previous = scoping.install_backend(RbacScoping())
    yield
    scoping.install_backend(previous)


def api_routes() -> Iterator[tuple[str, URLPattern]]:
    """(route regex without anchors, pattern) of every route under /api/v1/."""

    def walk(patterns: list[Any], prefix: str) -> Iterator[tuple[str, URLPattern]]:
        for p in patterns:
            piece = p.pattern.regex.pattern.lstrip("^").rstrip("$").replace("\\Z", "")
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + piece)
            else:
                yield prefix + piece, p

    for route, pattern in walk(get_resolver().url_patterns, ""):
        if route.startswith("api/v1/"):
            yield route, pattern


def url_of(route: str, value: Any = None) -> str:
    return "/" + GROUP_RE.sub(lambda m: str(value), route).replace("\\.", ".").replace("\\-", "-")


def _default_objects(org: Organization, tag: str) -> dict[str, list[Any]]:
    """Objects of this issue's models and core's in ``org``: a person, a group, a project, a custom
    role, a grant and a policy owned by it, an operation."""
    child = f.org(f"{tag}-child", org)
    person = f.user(f"{tag}-person", org)
    group = f.group(org, person, name=f"{tag}-group")
    project = f.project(org, person, name=f"{tag}-project")
    role = Role.objects.create(key=f"{tag}_role", name=f"{tag} role", permissions=["core:operation:read"],
                               organization=org)
    grant = Grant.objects.create(role=role, grantee_type="user", user=person, scope_type="organization",
                                 scope_organization=org, organization=org)
    policy = AccessPolicy.objects.create(name=f"{tag} policy", organization=org, document={
        "Statement": [{"Effect": "Allow", "Action": "core:*", "Resource": f"org/{org.pk}"}]})
    operation = Operation.objects.create(organization=org, kind="isolation")
    return {
        "organizations.organization": [org, child], "organizations.user": [person],
        "organizations.usergroup": [group], "organizations.project": [project], "rbac.role": [role],
        "rbac.grant": [grant], "rbac.accesspolicy": [policy], "core.operation": [operation],
    }


def objects_of(model: type, org: Organization, made: dict[str, list[Any]]) -> list[Any]:
    label = model._meta.label_lower
    if label in made:
        return made[label]
    for config in django_apps.get_app_configs():
        try:
            module = importlib.import_module(f"{config.name}.tests.factories")
        except ImportError:
            continue
        maker = getattr(module, "isolation_objects", None)
        if maker:
            for obj in maker(org):
                made.setdefault(obj._meta.label_lower, []).append(obj)
    if label not in made:
        field = getattr(model, "tenant_field", "organization")
        try:
            with transaction.atomic():
                made[label] = [model._default_manager.create(**{field: org})]
        except Exception as exc:  # noqa: BLE001 - reported below with what to do
            pytest.fail(f"{label}: cannot make an object for the isolation test ({exc}); add "
                        f"isolation_objects(org) to {model._meta.app_config.name}.tests.factories")
    return made[label]


def _all_objects(org: Organization, made: dict[str, list[Any]]) -> list[Any]:
    """Every object made for ``org``, with each app's ``isolation_objects`` and the sign-in
    records (a session, an account lockout) of its person."""
    objects_of(Organization, org, made)  # loads every app's isolation_objects once
    person = made["organizations.user"][0]
    for label, fields in (("security.usersession", {"user": person, "session_key": f"iso-{person.pk.hex}"}),
                          ("security.signinlock", {"kind": "account", "key": person.username, "failures": 9})):
        try:
            model = django_apps.get_model(label)
        except LookupError:
            continue
        if label not in made:
            from django.utils import timezone

            now = timezone.now()
            extra = {"first_failure_at": now, "last_failure_at": now, "locked_until": now} \
                if label == "security.signinlock" else {}
            made[label] = [model._default_manager.create(**fields, **extra)]
    return [o for objs in made.values() for o in objs]


ACTORS = ("holder_of_everything", "organization_administrator")


@pytest.fixture(params=ACTORS)
def world(request):
    org_a = f.org("A")
    org_b = f.org("B")
    actor = f.user("alice", org_a)
    if request.param == "holder_of_everything":
        f.grant(f.role("*", key="everything"), actor, org_a)
    else:
        f.grant(f.predefined("organization_administrator"), actor, org_a)
    assert not actor.is_superuser
    return {"a": org_a, "b": org_b, "alice": actor, "actor_kind": request.param,
            "made_a": _default_objects(org_a, "a"), "made_b": _default_objects(org_b, "b")}


def _client(user: User) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def _ids(made: dict[str, list[Any]]) -> set[str]:
    return {str(o.pk) for objs in made.values() for o in objs}


def _viewset_routes():
    for route, pattern in api_routes():
        cls = getattr(pattern.callback, "cls", None)
        actions = getattr(pattern.callback, "actions", None)
        queryset = getattr(cls, "queryset", None)
        if cls is not None and actions and queryset is not None:
            yield route, pattern, queryset.model, actions


def test_routes_are_discovered():
    labels = {model._meta.label_lower for _r, _p, model, _a in _viewset_routes()}
    assert {"organizations.organization", "organizations.user", "rbac.grant", "core.operation"} <= labels


def test_every_detail_route_answers_404_for_another_organizations_objects(world):
    client = _client(world["alice"])
    checked = 0
    for route, _pattern, model, actions in _viewset_routes():
        if not GROUP_RE.search(route):
            continue
        for obj in objects_of(model, world["b"], world["made_b"]):
            for method in list(actions):
                response = getattr(client, method)(url_of(route, obj.pk), data={}, format="json")
                assert response.status_code == 404, f"{method.upper()} {url_of(route, obj.pk)}: " \
                                                    f"{response.status_code} {response.content[:200]!r}"
                if method != "head":
                    assert json.loads(response.content)["code"] == "not_found"
                checked += 1
    assert checked >= 20
    assert Organization.objects.filter(pk=world["b"].pk, is_active=True).exists()
    assert User.objects.filter(username="b-person", is_active=True).exists()


# An organization administrator does not read every kind of object: this one runs as the holder of `*`.
@pytest.mark.parametrize("world", ["holder_of_everything"], indirect=True)
def test_the_same_routes_find_the_users_own_objects(world):
    client = _client(world["alice"])
    for route, _pattern, model, actions in _viewset_routes():
        if GROUP_RE.search(route) and "get" in actions and actions["get"] == "retrieve":
            for obj in objects_of(model, world["a"], world["made_a"]):
                assert client.get(url_of(route, obj.pk)).status_code == 200, url_of(route, obj.pk)


def test_lists_never_contain_another_organizations_rows(world):
    client = _client(world["alice"])
    foreign = _ids(world["made_b"])
    own = _ids(world["made_a"])
    b = str(world["b"].pk)
    for route, _pattern, model, actions in _viewset_routes():
        if GROUP_RE.search(route) or actions.get("get") != "list":
            continue
        objects_of(model, world["b"], world["made_b"])
        for params in ({}, {"organization": b}, {"within": b}, {"scope_organization": b}, {"page_size": 500}):
            response = client.get(url_of(route), params)
            assert response.status_code in (200, 400), f"{url_of(route)} {params}: {response.status_code}"
            rows = response.json().get("results", []) if response.status_code == 200 else []
            listed = {str(r.get("id")) for r in rows}
            assert not listed & foreign, f"{url_of(route)} {params} leaks {listed & foreign}"
            if not params:
                assert listed & own or model._meta.label_lower not in world["made_a"], url_of(route)


def _methods(pattern: URLPattern) -> list[str]:
    """The HTTP methods a view that is not a viewset answers."""
    cls = getattr(pattern.callback, "view_class", None) or getattr(pattern.callback, "cls", None)
    if cls is None:
        return ["get"]
    return [m for m in ("get", "post", "put", "patch", "delete") if m in cls.http_method_names and hasattr(cls, m)]


def _other_routes() -> Iterator[tuple[str, URLPattern]]:
    for route, pattern in api_routes():
        if getattr(pattern.callback, "actions", None) or "schema" in route:
            continue
        yield route, pattern


def test_every_other_route_taking_an_id_answers_404_for_another_organizations_objects(world):
    client = _client(world["alice"])
    foreign = _all_objects(world["b"], world["made_b"])
    before = {label: sorted(str(o.pk) for o in model._default_manager.all())
              for label, model in ((m._meta.label_lower, m) for m in (User, Organization, Grant, AccessPolicy))}
    probed = set()
    for route, pattern in _other_routes():
        if not GROUP_RE.search(route):
            continue
        for method in _methods(pattern):
            for obj in foreign:
                response = getattr(client, method)(url_of(route, obj.pk), data={}, format="json")
                assert response.status_code == 404, f"{method.upper()} {url_of(route, obj.pk)} " \
                                                    f"({obj._meta.label_lower}): {response.status_code} " \
                                                    f"{response.content[:200]!r}"
            probed.add(route)
    assert len(probed) >= 4
    after = {label: sorted(str(o.pk) for o in model._default_manager.all())
             for label, model in ((m._meta.label_lower, m) for m in (User, Organization, Grant, AccessPolicy))}
    assert before == after
    assert User.objects.filter(username="b-person", is_active=True).exists()


def test_other_api_views_reveal_nothing_of_another_organization(world):
    """Endpoints without an id (explain, matrix, catalog, self-service) get B's ids as parameters,
    with every method they answer."""
    client = _client(world["alice"])
    made_b = world["made_b"]
    _all_objects(world["b"], made_b)
    foreign = _ids(made_b) - {""}
    person_b = made_b["organizations.user"][0]
    params = {"organization": str(world["b"].pk), "user": str(person_b.pk), "action": "core:operation:read",
              "target_type": "core.operation", "target_id": str(made_b["core.operation"][0].pk)}
    for route, pattern in _other_routes():
        if GROUP_RE.search(route):
            continue
        for method in _methods(pattern):
            if method == "get":
                response = client.get(url_of(route), params)
            else:
                response = getattr(client, method)(url_of(route), data=params, format="json")
            assert response.status_code in (200, 201, 204, 400, 403, 404, 405, 409, 422), \
                f"{method.upper()} {url_of(route)}: {response.status_code}"
            body = response.content.decode()
            assert not any(i in body for i in foreign), \
                f"{method.upper()} {url_of(route)} reveals another organization's ids"
    explain = client.get("/api/v1/rbac/explain/", {**params, "user": str(world["alice"].pk)})
    assert explain.status_code == 404
    assert User.objects.filter(username="b-person", is_active=True).exists()


def _tenant_models() -> Iterator[type]:
    """Every model whose rows belong to an organization (a tenant column or a scope of its own)."""
    for model in django_apps.get_models():
        if hasattr(model, "tenant_field") or hasattr(model, "organization_scope_q") or any(
                f.name == "organization" and f.is_relation for f in model._meta.get_fields()):
            yield model


def _read_action(model: type) -> str:
    """The permission a list of ``model`` is read with: its API viewset's, else ``<app>:<model>:read``."""
    for _route, pattern, viewset_model, _actions in _viewset_routes():
        prefix = getattr(pattern.callback.cls, "permission_prefix", None)
        if viewset_model is model and prefix:
            return f"{prefix}:read"
    return f"{model._meta.app_label}:{model._meta.model_name}:read"


def test_every_row_the_actor_can_see_belongs_to_their_organizations(world):
    """Not only the rows the fixtures made: every row of every tenant model that ``restrict`` lets the
    actor of A see, whoever made it, belongs to A or an organization below it (rows of no organization,
    such as predefined roles, are shared)."""
    for org, made in ((world["a"], world["made_a"]), (world["b"], world["made_b"])):
        for _route, _pattern, model, _actions in _viewset_routes():
            objects_of(model, org, made)  # every app's isolation_objects, for both organizations
        _all_objects(org, made)
    alice = world["alice"]
    own_tree = set(Organization.objects.filter(path__startswith=world["a"].path).values_list("pk", flat=True))
    others = set(Organization.objects.values_list("pk", flat=True)) - own_tree
    assert world["b"].pk in others
    seen = {}
    for model in _tenant_models():
        visible = scoping.restrict(model._default_manager.all(), alice, _read_action(model))
        foreign = list(visible.filter(scoping.tenant_q(model, others)).values_list("pk", flat=True)[:5])
        assert not foreign, f"{alice.username} sees {model._meta.label_lower} rows of other organizations: {foreign}"
        seen[model._meta.label_lower] = visible.filter(scoping.tenant_q(model, own_tree)).count()
    # The check looks at real rows: the holder of everything sees A's rows of every kind the fixtures made.
    if world["actor_kind"] == "holder_of_everything":
        empty = {label for label, count in seen.items() if not count and label in world["made_a"]}
        assert not empty, f"no row of A visible for {sorted(empty)}"
    assert Membership.objects.filter(organization=world["b"], user__username="b-person").exists()
