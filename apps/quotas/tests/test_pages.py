"""Quota pages: the console tree colours bars at the warning threshold and edits with validation;
the portal shows what a project may still create and sends requests for more."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.quotas import services
from apps.quotas.models import QuotaLimit, QuotaRequest
from tests import factories as f

pytestmark = pytest.mark.django_db


def _client(user):
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def tree():
    root = f.org("HQ")
    team = f.org("Shop", parent=root)
    proj = f.project(team, name="web")
    admin = f.user("quota-admin", root)
    f.grant(f.role("quotas:*", "provisioning:request:approve", "organizations:organization:read",
                   "menu:console:quotas"), admin, root)
    tenant = f.user("tenant", team)
    f.grant(f.role("ecs:instance:create", "menu:portal:quotas"), tenant, proj)
    services.limit_set(actor=None, organization=root, dimension="ecs.instance", limit=10)
    services.limit_set(actor=None, organization=team, dimension="ecs.instance", limit=5, warning_percent=80)
    services.quota_reserve(organization=team, project=proj, resource_type="ecs.instance", amounts={"count": 4})
    return {"root": root, "team": team, "project": proj, "admin": admin, "tenant": tenant}


def test_the_console_tree_colours_a_limit_past_its_warning_threshold(tree):
    r = _client(tree["admin"]).get("/console/quotas/", {"organization": str(tree["root"].pk)})
    assert r.status_code == 200
    html = r.content.decode()
    team_row = html[html.index(f'data-node="{tree["team"].pk}"'):]
    team_row = team_row[:team_row.index("</tr>")]
    assert "bg-orange" in team_row and "<strong>4</strong> / 5" in team_row
    root_row = html[html.index(f'data-node="{tree["root"].pk}"'):]
    assert "bg-green" in root_row[:root_row.index("</tr>")]


def test_a_limit_edited_below_its_childrens_sum_is_refused_with_the_numbers(tree):
    c = _client(tree["admin"])
    r = c.post("/console/quotas/", {"node": f"{tree['root'].pk}:", "dimension": "ecs.instance", "limit": "3",
                                    "warning_percent": "80", "organization_view": str(tree["root"].pk)})
    assert r.status_code == 422
    assert "shortfall 2" in r.content.decode()
    assert QuotaLimit.objects.get(organization=tree["root"]).limit == 10
    r = c.post("/console/quotas/", {"node": f"{tree['root'].pk}:", "dimension": "ecs.instance", "limit": "x"})
    assert r.status_code == 400 and "a whole number" in r.content.decode()
    r = c.post("/console/quotas/", {"node": f"{tree['root'].pk}:", "dimension": "ecs.instance", "limit": "12"})
    assert r.status_code == 200 and QuotaLimit.objects.get(organization=tree["root"]).limit == 12


def test_the_portal_shows_what_is_free_and_sends_a_request_for_more(tree):
    c = _client(tree["tenant"])
    html = c.get("/portal/quotas/").content.decode()
    assert "What I may still create" in html and "<strong>1</strong>" in html
    r = c.post("/portal/quotas/ask/", {"organization": str(tree["team"].pk), "project": "",
                                       "dimension": "ecs.instance", "requested_limit": "8", "reason": "launch"})
    assert r.status_code == 302 and "asked=1" in r["Location"]
    assert QuotaRequest.objects.get().requested_limit == 8
    r = c.post("/portal/quotas/ask/", {"organization": str(tree["team"].pk), "dimension": "ecs.instance",
                                       "requested_limit": "9", "reason": ""})
    assert "error=" in r["Location"] and QuotaRequest.objects.count() == 1


def test_an_approver_grants_from_the_console(tree):
    req = services.quota_request_create(actor=tree["tenant"], organization=tree["team"], project=None,
                                        dimension="ecs.instance", requested_limit=7, reason="launch")
    r = _client(tree["admin"]).post("/console/quotas/", {"action": "grant", "request": req.id, "comment": ""})
    assert r.status_code == 200 and "granted" in r.content.decode()
    assert QuotaLimit.objects.get(organization=tree["team"]).limit == 7
