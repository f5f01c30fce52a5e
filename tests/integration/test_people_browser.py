"""People and access in a real browser: an administrator builds a department, moves it, staffs it,
grants a role on it, and the "Why?" page explains the grant."""

from __future__ import annotations

import re

from tests.integration.conftest import screenshot, sign_in


def _modal(page, opener: str, modal_id: str):
    page.click(opener)
    modal = page.locator(f"#{modal_id}")
    modal.wait_for(state="visible")
    page.wait_for_timeout(300)  # let the fade-in finish before the picture
    return modal


def _choose(select, text: str) -> None:
    """Pick the first option whose text contains ``text`` (tree options are indented)."""
    select.select_option(select.locator("option", has_text=text).first.get_attribute("value"))


def test_an_administrator_builds_a_department_and_explains_a_grant(embedded_server, page):
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 500 else None)
    sign_in(page, embedded_server.url, "admin", "unimanager-admin")

    page.goto(f"{embedded_server.url}/console/organizations/")
    screenshot(page, "people-tree")
    modal = _modal(page, "[data-testid=new-organization]", "modal-create")
    modal.locator("input[name=name]").fill("Browser Lab")
    modal.locator("select[name=kind]").select_option("department")
    _choose(modal.locator("select[name=parent]"), "East Region")
    modal.locator("textarea[name=description]").fill("Created by the browser test.")
    screenshot(page, "people-create-modal")
    modal.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/console/organizations/[0-9a-f-]{36}/$"))
    department_url = page.url
    assert "East Region" in page.locator("[data-testid=breadcrumb]").inner_text()

    modal = _modal(page, "[data-testid=move]", "modal-move")
    _choose(modal.locator("select[name=parent]"), "West Region")
    modal.locator("[data-testid=move-submit]").click()
    page.wait_for_url(department_url)
    breadcrumb = page.locator("[data-testid=breadcrumb]").inner_text()
    assert "West Region" in breadcrumb and "East Region" not in breadcrumb

    modal = _modal(page, "[data-testid=add-member]", "modal-add-member")
    _choose(modal.locator("select[name=user]"), "operator")
    screenshot(page, "people-add-member")
    modal.locator("[data-testid=add-member-submit]").click()
    page.wait_for_url(department_url)
    assert "operator" in page.locator("[data-testid=members]").inner_text()
    page.wait_for_selector("[data-testid=grant-here]")
    screenshot(page, "people-department")

    page.click("[data-testid=grant-here]")
    page.wait_for_url(re.compile(r"/console/access/grants/new/"))
    _choose(page.locator("[data-testid=grant-role]"), "Operator")
    _choose(page.locator(".grantee-select[data-for=user]"), "operator")
    assert page.locator("[data-testid=grant-scope-type]").input_value() == "organization"
    screenshot(page, "people-grant-form")
    page.click("[data-testid=grant-submit]")
    page.wait_for_url(department_url)
    panel = page.locator("[data-testid=access-panel]")
    panel.locator("text=Operator").first.wait_for()
    assert "operator" in panel.inner_text().lower()

    page.locator("[data-testid=members] a", has_text="operator").first.click()
    page.wait_for_url(re.compile(r"/console/organizations/users/"))
    row = page.locator("[data-testid=access-panel] tr", has_text="Browser Lab").filter(has_text="Operator")
    row.first.wait_for()
    page.wait_for_load_state("networkidle")
    screenshot(page, "people-user")
    row.first.locator("[data-testid=why]").click()
    page.wait_for_url(re.compile(r"/console/access/explain/"))
    result = page.locator("[data-testid=explain-result]")
    text = result.inner_text()
    assert "Allowed" in text and "Operator" in text and "Browser Lab" in text and "granted to the user" in text
    screenshot(page, "people-why")
    assert not failed, failed
