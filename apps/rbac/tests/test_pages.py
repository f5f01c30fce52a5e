"""The console pages render for an administrator and refuse nothing they should show."""

import pytest

from apps.core.models import Operation
from tests import factories as f

pytestmark = pytest.mark.django_db

PAGES = ["/console/organizations/", "/console/organizations/users/", "/console/organizations/groups/",
         "/console/organizations/projects/", "/console/access/", "/console/access/grants/",
         "/console/access/policies/", "/console/access/explain/", "/console/access/matrix/"]


def test_every_page_renders_and_the_menu_lists_them(client):
    hq = f.org("HQ")
    admin = f.user("sam", hq)
    f.grant(f.predefined("security_administrator"), admin, None)
    client.force_login(admin)
    for page in PAGES:
        response = client.get(page)
        assert response.status_code == 200, page
    home = client.get("/console/organizations/").content.decode()
    assert "Access matrix" in home and "User groups" in home


def test_explain_page_and_csv_export(client):
    hq = f.org("HQ")
    root = f.user("root", hq, is_superuser=True)
    bob = f.user("bob", hq)
    op = Operation.objects.create(organization=hq, kind="t")
    client.force_login(root)
    page = client.get("/console/access/explain/", {"user": str(bob.pk), "action": "core:operation:write",
                                                   "target_type": "core.operation", "target_id": op.pk})
    assert "Allowed" in page.content.decode() and "Organization member" in page.content.decode()
    csv = client.get("/console/access/matrix/", {"organization": str(hq.pk), "export": "csv"})
    assert csv["Content-Type"] == "text/csv" and b"bob," in csv.content


def test_a_member_sees_no_access_menu(client):
    hq = f.org("HQ")
    client.force_login(f.user("m", hq))
    assert "Access matrix" not in client.get("/console/").content.decode()
