"""The widget registry's rules: query names, parameter checks, and scopes that never widen."""

from __future__ import annotations

import pytest

from apps.core.models import Operation
from apps.core.widgets import QueryParam, QueryScope, WidgetQuery, params_errors, register_query, run_query
from tests import factories as f

QUERY = WidgetQuery("test.q", "Test", "value", lambda scope, params: {"value": params["n"], "total": None},
                    {"n": QueryParam("int", 3, low=1, high=5), "mode": QueryParam("choice", "a", ("a", "b")),
                     "label": QueryParam("text", "")})


@pytest.mark.parametrize("name", ["noapp", "Core.x", "core.", "core.x.y", "1core.x"])
def test_a_query_name_must_be_app_dot_name(name):
    with pytest.raises(ValueError):
        register_query(WidgetQuery(name, "x", "value", QUERY.run))


def test_a_query_of_an_unknown_shape_is_refused():
    with pytest.raises(ValueError):
        register_query(WidgetQuery("test.shape", "x", "heatmap", QUERY.run))


@pytest.mark.parametrize(("params", "bad"), [
    ({"n": 0}, "n"), ({"n": 6}, "n"), ({"n": True}, "n"), ({"n": "3"}, "n"), ({"mode": "c"}, "mode"),
    ({"label": "x" * 129}, "label"), ({"label": 5}, "label"), ({"other": 1}, "other"),
])
def test_parameters_outside_their_declaration_are_named(params, bad):
    assert set(params_errors(QUERY, params)) == {bad}


def test_declared_parameters_pass_and_defaults_fill_the_rest():
    assert params_errors(QUERY, {"n": 5, "mode": "b", "label": "ok"}) == {}
    assert params_errors(QUERY, "n=5") == {"params": "An object of parameters."}
    assert run_query(QUERY, QueryScope(None, organization_ids=[]), {}) == {"value": 3, "total": None}


@pytest.mark.django_db
def test_a_scope_without_actor_or_organizations_sees_nothing_and_organizations_narrow():
    a, b = f.org("A"), f.org("B")
    Operation.objects.create(organization=a, kind="x")
    Operation.objects.create(organization=b, kind="x")
    rows = Operation.objects.all()
    assert QueryScope(None).restrict(rows, "core:operation:read").count() == 0
    assert QueryScope(None, organization_ids=[a.pk]).restrict(rows, "core:operation:read").count() == 1
    admin = f.user("root-of-all")
    admin.is_superuser = True
    admin.save()
    assert QueryScope(admin, organization_ids=[b.pk]).restrict(rows, "core:operation:read").get().organization == b
