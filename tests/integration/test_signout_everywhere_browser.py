""""Sign out everywhere" in one browser reaches the other browser of the same person while its page
is open: the live page says it was signed out and goes to sign in, in both modes."""

from __future__ import annotations

import pytest

from tests.integration.conftest import screenshot, sign_in

LIVE_PAGE = "/console/diagnostics/"


def _live(page, base_url: str) -> None:
    page.goto(f"{base_url}{LIVE_PAGE}")
    page.wait_for_selector("#diag-live:not(.offline)", timeout=15000)


def _sign_out_everywhere_reaches_the_other_browser(browser, base_url: str, username: str, password: str,
                                                   mode: str) -> None:
    contexts = [browser.new_context(viewport={"width": 1440, "height": 900}) for _ in range(2)]
    try:
        acting, other = (context.new_page() for context in contexts)
        for page in (acting, other):
            sign_in(page, base_url, username, password)
            _live(page, base_url)

        acting.goto(f"{base_url}/console/security/")
        acting.click("button:has-text('Sign out everywhere else')")
        acting.wait_for_selector("text=Every other session is signed out.", timeout=15000)

        notice = other.locator("[data-testid=signed-out]")
        notice.wait_for(state="visible", timeout=15000)
        screenshot(other, f"signout-everywhere-{mode}")
        assert "You were signed out." in notice.inner_text()
        assert other.locator("#diag-live.offline").count() == 1
        other.wait_for_url(f"**/signin/?next={LIVE_PAGE.replace('/', '%2F')}", timeout=15000)
        assert other.locator("#id_username").is_visible()

        # The session that signed the others out stays signed in and live.
        _live(acting, base_url)
    finally:
        for context in contexts:
            context.close()


def test_sign_out_everywhere_reaches_the_other_browser_embedded(embedded_server, browser):
    _sign_out_everywhere_reaches_the_other_browser(browser, embedded_server.url, "admin", "unimanager-admin",
                                                   "embedded")


@pytest.mark.django_db(transaction=True)
def test_sign_out_everywhere_reaches_the_other_browser_distributed(distributed_stack, browser):
    from apps.organizations.models import Membership, Organization, User

    user = User.objects.create_superuser(username="everywhere", password="everywhere-Pass-1234",
                                         email="everywhere@example.com")
    Membership.objects.create(user=user, organization=Organization.objects.create(name="Everywhere Org"))
    _sign_out_everywhere_reaches_the_other_browser(browser, distributed_stack.url, "everywhere",
                                                   "everywhere-Pass-1234", "distributed")
