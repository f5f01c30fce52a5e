"""``manage.py seed_demo`` loads every app's demo data, keeps what exists when run again, and the
sign-ins it advertises work."""

from __future__ import annotations

from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.test import Client

from apps.core.demo import demo_sign_ins
from apps.organizations.demo import DEMO_ADMIN

pytestmark = pytest.mark.django_db


def all_rows() -> dict[str, set]:
    return {
        model._meta.label: set(model._default_manager.values_list("pk", flat=True))
        for model in apps.get_models()
        if model._meta.app_label not in {"sessions", "admin"}
    }


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seeding_twice_keeps_the_same_rows():
    seed()
    first = all_rows()
    assert first["organizations.Organization"] and first["organizations.User"]
    seed()
    assert all_rows() == first


def test_seeding_reports_each_apps_part():
    output = seed()
    assert "apps.organizations.demo.seed_headquarters" in output


def test_the_demo_admin_signs_in_and_lands_on_the_console():
    seed()
    client = Client()
    response = client.post("/signin/", {"username": DEMO_ADMIN[0], "password": DEMO_ADMIN[1]})
    assert response.status_code == 302, response.content[:500]
    assert client.get("/", follow=False)["Location"] == "/console/"
    assert client.get("/console/").status_code == 200


def test_every_advertised_demo_sign_in_works():
    seed()
    assert demo_sign_ins()
    for role, username, password in demo_sign_ins():
        client = Client()
        response = client.post("/signin/", {"username": username, "password": password})
        assert response.status_code == 302, f"{role} ({username}) cannot sign in"
        assert client.session.get("_auth_user_id"), role


def test_a_wrong_password_does_not_sign_the_demo_admin_in():
    seed()
    client = Client()
    response = client.post("/signin/", {"username": DEMO_ADMIN[0], "password": "not-the-password"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
