"""Sign-in with MFA in Chromium: a security auditor must enrol (QR code page) before getting in, then
signs in again with a recovery code; the code is computed here from the secret the page shows."""

from __future__ import annotations

import subprocess
import sys

from apps.security import totp
from tests.integration.conftest import ROOT, screenshot

MAKE_AUDITOR = """
from apps.organizations.models import Membership, Organization, User
from apps.rbac.models import Grant, Role
user = User.objects.filter(username="mfa-auditor").first() or User.objects.create_user(
    username="mfa-auditor", password="mfa-Auditor-2024", is_staff=True)
Membership.objects.get_or_create(user=user, organization=Organization.objects.get(parent=None, name="Headquarters"))
Grant.objects.get_or_create(role=Role.objects.get(key="security_auditor"), grantee_type="user", user=user,
                            scope_type="platform")
"""


def _password_step(page, base_url: str) -> None:
    page.goto(f"{base_url}/signin/")
    page.fill("#id_username", "mfa-auditor")
    page.fill("#id_password", "mfa-Auditor-2024")
    page.click("button[type=submit]")
    page.wait_for_url("**/signin/mfa/", timeout=15000)


def test_a_security_auditor_enrols_and_signs_in_with_mfa(embedded_server, page):
    subprocess.run([sys.executable, "manage.py", "shell", "-c", MAKE_AUDITOR], cwd=ROOT, env=embedded_server.env,
                   check=True, stdout=subprocess.DEVNULL)
    _password_step(page, embedded_server.url)
    assert page.locator("[data-testid=mfa-qr] svg").count() == 1
    screenshot(page, "signin-mfa-enrol")
    secret = page.locator("[data-testid=mfa-secret]").inner_text().strip()
    page.fill("#id_code", "000000" if totp.code_at(secret) != "000000" else "111111")
    page.click("button[type=submit]")
    assert page.locator("[data-testid=signin-error]").is_visible()
    page.fill("#id_code", totp.code_at(secret))
    page.click("button[type=submit]")
    codes = page.locator("[data-testid=recovery-codes] li").all_inner_texts()
    assert len(codes) == 10
    page.click("[data-testid=continue]")
    page.wait_for_url(lambda url: "/signin/" not in url, timeout=15000)
    assert page.locator("text=Audit log").first.is_visible()

    page.context.clear_cookies()
    _password_step(page, embedded_server.url)
    assert page.locator("[data-testid=mfa-qr]").count() == 0
    page.fill("#id_code", codes[0])
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/signin/" not in url, timeout=15000)
    page.goto(f"{embedded_server.url}/console/security/audit/?actor=mfa-auditor")
    screenshot(page, "audit-log")
    assert page.locator("[data-testid=list] tbody tr").count() >= 2
    assert "signin.succeeded" in page.locator("[data-testid=list]").inner_text()


MAKE_KEY = """
from apps.organizations.models import User
from apps.security.services import access_key_create
key, secret = access_key_create(actor=User.objects.get(username="admin"), description="integration")
print(key.id, secret)
"""


def test_the_shipped_client_signs_requests_a_real_server_accepts_once(embedded_server):
    from apps.security.client import sign, signed_request

    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", MAKE_KEY], cwd=ROOT, env=embedded_server.env,
                         check=True, capture_output=True, text=True).stdout.split()
    key_id, secret = out[-2], out[-1]
    url = f"{embedded_server.url}/api/v1/organizations/organizations/?page_size=5"
    answer = signed_request("GET", url, access_key_id=key_id, secret=secret)
    assert answer.status == 200, answer.body
    assert any(o["name"] == "Headquarters" for o in answer.json()["results"])
    import urllib.error
    import urllib.request

    headers = sign("GET", url, access_key_id=key_id, secret=secret)
    for attempt in range(2):
        request = urllib.request.Request(url, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                assert attempt == 0 and response.status == 200
        except urllib.error.HTTPError as exc:
            assert attempt == 1 and exc.code == 401
            assert b"nonce_reused" in exc.read()
    wrong = signed_request("GET", url, access_key_id=key_id, secret=secret + "x")
    assert wrong.status == 401 and wrong.json()["code"] == "signature_mismatch"
