"""The display token page offers the organizations the person may make tokens for, through
``restrict`` (a grant on an organization they do not belong to counts; belonging without the
permission does not), a page at a time and searched as they type."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.security.models import DisplayToken
from apps.security.tests.factories import person
from tests import factories as f

pytestmark = pytest.mark.django_db

PAGE = "/console/security/display-tokens/"
OPTIONS = "/console/security/display-tokens/organizations/"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_organizations_offered_are_those_where_tokens_may_be_made():
    hq, lobby, elsewhere = f.org("HQ"), f.org("Lobby"), f.org("Elsewhere")
    admin = person(hq, username="screens-admin")
    f.grant(f.predefined("organization_administrator"), admin, lobby)  # not a member of Lobby
    f.grant(f.predefined("viewer"), admin, hq)  # a member of HQ, without the permission there

    page = signed_in(admin).get(PAGE).content.decode()
    assert "Lobby</option>" in page and "HQ</option>" not in page and "Elsewhere</option>" not in page

    made = signed_in(admin).post(PAGE, {"organization": str(lobby.pk), "name": "Wall", "dashboards": "noc"})
    assert made.status_code == 302 and DisplayToken.objects.filter(organization=lobby).count() == 1
    signed_in(admin).post(PAGE, {"organization": str(elsewhere.pk), "name": "Wall", "dashboards": "noc"})
    assert not DisplayToken.objects.filter(organization=elsewhere).exists()


def test_the_organization_picker_narrows_as_you_type():
    root = person(f.org("HQ"), username="root", is_superuser=True)
    for name in ("North plant", "North office", "South plant"):
        f.org(name)
    options = signed_in(root).get(OPTIONS, {"q": "north"}).content.decode()
    assert "North plant" in options and "North office" in options and "South" not in options
    assert "Nothing matches" in signed_in(root).get(OPTIONS, {"q": "west"}).content.decode()
    assert signed_in(root).get(OPTIONS).status_code == 200
