"""Searchable pickers in a real browser: on the grant form, a person far beyond the picker's first page
is found by typing, the choice the search leaves in the select is the one posted, and the grant is
made to that person on the organization found the same way."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.integration.conftest import ROOT, screenshot, sign_in, wait_until

MAKE_PEOPLE = """
from apps.organizations.models import Membership, Organization, User
org = Organization.objects.get(name="East IT Department")
people = User.objects.bulk_create(User(username=f"pick-{i:03}") for i in range(60))
Membership.objects.bulk_create(Membership(user=p, organization=org) for p in people)
Membership.objects.create(user=User.objects.create(username="zz-picked", display_name="Found by typing"),
                          organization=org)
"""


def _search(page, picker: str, words: str) -> None:
    page.fill(f"[data-testid={picker}-search]", words)
    wait_until(page, "([id, words]) => { const texts = [...document.querySelectorAll(`#${id} option`)]"
               ".map((o) => o.textContent.toLowerCase()); return texts.length > 0"
               " && texts.every((t) => t.includes(words)); }", arg=[picker, words.lower()], timeout=15000)


def test_a_grant_goes_to_the_person_found_by_typing_beyond_the_first_page(embedded_server, page):
    subprocess.run([sys.executable, "manage.py", "shell", "-c", MAKE_PEOPLE], cwd=ROOT, env=embedded_server.env,
                   check=True, stdout=subprocess.DEVNULL)
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 500 else None)
    sign_in(page, embedded_server.url, "admin", "unimanager-admin")
    page.goto(f"{embedded_server.url}/console/access/grants/new/")
    people = page.locator("#grantee-user option").all_inner_texts()
    assert not any("zz-picked" in text for text in people)  # not on the first page
    assert any("More than these" in text for text in people)

    role = page.locator("[data-testid=grant-role]")
    role.select_option(role.locator("option", has_text="Viewer").first.get_attribute("value"))
    _search(page, "grantee-user", "zz-pick")
    _search(page, "scope-organization", "East IT Department")
    screenshot(page, "picker-grant-form-searched")
    assert page.locator("#grantee-user").input_value() == page.locator("#grantee").input_value() != ""
    page.click("[data-testid=grant-submit]")
    page.wait_for_url(re.compile(r"/console/access/grants/$"))
    row = page.locator("tr", has_text="Found by typing")  # a person shows by their display name
    row.first.wait_for()
    assert "Viewer" in row.first.inner_text() and "East IT" in row.first.inner_text()
    assert not failed, failed
