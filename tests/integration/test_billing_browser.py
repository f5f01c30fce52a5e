"""Billing in a real browser on the embedded server with its demo data: the cost analysis page
draws its charts (also grouped by the demo's ``team`` tag), a draft bill and "explain this line"
show the usage behind a price, and a budget threshold crossed while the budgets page is open
appears there live."""

from __future__ import annotations

import re
import time

from tests.integration.conftest import screenshot, sign_in, wait_until


def _api(page, base: str, method: str, path: str, data=None):
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.fetch(f"{base}{path}", method=method, data=data,
                                  headers={"X-CSRFToken": token, "Referer": f"{base}/console/"})
    assert response.status < 300, (path, response.status, response.text())
    return response.json()


def test_costs_bill_explain_and_a_live_budget_crossing(embedded_server, page):
    base = embedded_server.url
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 500 else None)
    sign_in(page, base, "admin", "unimanager-admin")
    # The demo history is written once the simulated platform's first collection has finished.
    deadline = time.monotonic() + 120
    while True:
        page.goto(f"{base}/console/billing/bills/?status=draft")
        if page.locator("[data-testid=bill-link]").count() or time.monotonic() > deadline:
            break
        page.wait_for_timeout(1000)
    drafts = _api(page, base, "GET", "/api/v1/billing/bills/?status=draft")["results"]
    east = next(b for b in drafts if b["organization_name"] == "East IT Department")
    assert float(east["total"]) > 0

    page.goto(f"{base}/console/billing/?group_by=service")
    wait_until(page, "() => document.querySelectorAll('#cost-trend canvas, #cost-breakdown canvas').length >= 2")
    assert page.locator("[data-testid=cost-rows] tbody tr").count() >= 2
    assert float(page.locator("[data-testid=month-to-date]").inner_text().split()[0]) > 0
    page.wait_for_timeout(800)  # the charts' entry animation
    screenshot(page, "billing-costs")

    # The demo's resources carry team=shop and team=data: the same spend grouped by that tag.
    page.goto(f"{base}/console/billing/?group_by=tag&tag_key=team")
    wait_until(page, "() => document.querySelectorAll('#cost-trend canvas, #cost-breakdown canvas').length >= 2")
    teams = page.locator("[data-testid=cost-rows] tbody tr td:first-child").all_inner_texts()
    assert "shop" in teams and "data" in teams, teams
    assert "Spend by tag team" in page.content()
    page.wait_for_timeout(800)
    screenshot(page, "billing-costs-by-tag")

    page.goto(f"{base}/console/billing/bills/{east['id']}/")
    lines = page.locator("[data-testid=bill-lines] tbody tr")
    assert lines.count() >= 3
    assert "CNY" in page.locator("[data-testid=bill-total]").inner_text()
    screenshot(page, "billing-bill")

    page.locator("[data-testid=explain]").first.click()
    page.wait_for_url(re.compile(r"/lines/bln-"))
    intervals = page.locator("[data-testid=explain-intervals] tbody tr")
    assert intervals.count() >= 1 and "No usage" not in intervals.first.inner_text()
    assert "CNY" in page.locator("[data-testid=explain-amount]").inner_text()
    screenshot(page, "billing-explain")

    page.goto(f"{base}/console/billing/price-books/")
    assert page.locator("[data-testid=price-rules] tbody tr").count() >= 5
    assert page.locator("[data-testid=rule-form]").count() == 1
    screenshot(page, "billing-price-books")

    budgets = page.context.new_page()
    budgets.goto(f"{base}/console/billing/budgets/")
    assert budgets.locator("[data-testid=budgets] tbody tr").count() >= 1
    wait_until(budgets, "() => !!window.Unimanager && !!document.getElementById('billing-live')")
    budgets.wait_for_timeout(1500)  # the socket subscribes to the organizations' billing topics
    _api(page, base, "POST", "/api/v1/billing/budgets/", {
        "organization": east["organization"], "name": "Tiny browser budget", "amount": "1.00", "thresholds": [50]})
    _api(page, base, "POST", "/api/v1/billing/bills/rate/", {"organization": east["organization"],
                                                           "period": east["period"][:7]})
    live = budgets.locator("[data-testid=live-crossing]", has_text="Tiny browser budget")
    live.first.wait_for(timeout=30000)
    screenshot(budgets, "billing-budget-crossing")
    assert not failed, failed
