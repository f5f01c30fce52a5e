"""Disaster recovery in Chromium on the embedded server as `make run` starts it: the demo's Web shop is
protected after the first collection with replication running; an operator protects another application
by tag, dry-runs and runs a drill of the Web shop and watches its steps live to the evidence, then runs a
failover and a failback; the DR dashboard shows the groups."""

from __future__ import annotations

from tests.integration.conftest import screenshot, sign_in, wait_until

LONG = 120_000


def _run(page, base: str, group_url: str, kind: str, name: str) -> str:
    page.goto(group_url)
    page.select_option("[data-testid=plan-kind]", kind)
    page.click("[data-testid=run-plan]")
    page.wait_for_url(lambda url: "/runs/" in url, timeout=30000)
    wait_until(page, "() => document.querySelectorAll('[data-testid=step-row][data-status=running],"
               " [data-testid=step-row][data-status=succeeded]').length > 0", timeout=60000)
    screenshot(page, f"resilience-{name}-running")
    wait_until(page, "() => ['succeeded', 'failed'].includes("
               "document.querySelector('[data-testid=run-status]').innerText.trim())", timeout=LONG)
    page.wait_for_timeout(800)  # the page reloads once the plan ends
    page.wait_for_selector("[data-testid=evidence]")
    screenshot(page, f"resilience-{name}-done")
    status = page.inner_text("[data-testid=run-status]").strip()
    assert status == "succeeded", page.inner_text("body")[:3000]
    return page.url


def test_protect_drill_failover_and_failback_in_the_browser(embedded_server, page):
    base = embedded_server.url
    sign_in(page, base, "admin", "unimanager-admin")

    # The demo's group appears once the simulated region is collected, and replicates.
    for _ in range(60):
        page.goto(f"{base}/console/resilience/")
        if page.locator("[data-testid=group-row]", has_text="Web shop").count():
            labels = page.locator("[data-testid=group-row]", has_text="Web shop").locator("[data-role=rpo-label]")
            if "s" in labels.first.inner_text() and "no recovery" not in labels.first.inner_text():
                break
        page.wait_for_timeout(2000)
    screenshot(page, "resilience-groups")
    shop = page.locator("[data-testid=group-row]", has_text="Web shop")
    assert shop.count() == 1, page.inner_text("body")[:2000]
    assert "no recovery" not in shop.locator("[data-role=rpo-label]").first.inner_text()

    # Protect the data team's resources by their tag.
    page.fill("#f-name", "Data team")
    page.select_option("#f-org", label="West Operations Department")
    page.fill("#f-tk", "team")
    page.fill("#f-tv", "data")
    page.select_option("#f-sr", "cn-shanghai")
    page.click("[data-testid=create]")
    page.wait_for_url(lambda url: "/groups/pg-" in url, timeout=30000)
    page.wait_for_selector("[data-testid=member-row]")
    screenshot(page, "resilience-group-by-tag")
    assert page.locator("[data-testid=member-row]").count() == 3

    page.goto(f"{base}/console/resilience/")
    page.locator("[data-testid=group-row]", has_text="Web shop").locator("a").first.click()
    page.wait_for_url(lambda url: "/groups/pg-" in url)
    group_url = page.url
    screenshot(page, "resilience-group")

    page.select_option("[data-testid=plan-kind]", "drill")
    page.click("[data-testid=dry-run]")
    page.wait_for_selector("[data-testid=dry-run-card]:not(.d-none)")
    assert "0 writes on production" in page.inner_text("#dry-run-summary")
    assert "ebs.StartPairDrill" in page.inner_text("#dry-run-steps")
    screenshot(page, "resilience-dry-run")

    _run(page, base, group_url, "drill", "drill")
    assert page.inner_text("[data-testid=leftovers]").strip() == "0"
    assert "s" in page.inner_text("[data-testid=measured-rto]")

    _run(page, base, group_url, "failover", "failover")
    page.goto(group_url)
    assert "failed_over" in page.inner_text("[data-testid=group-state]")
    _run(page, base, group_url, "failback", "failback")
    page.goto(group_url)
    assert "protected" in page.inner_text("[data-testid=group-state]")

    page.goto(f"{base}/console/resilience/dashboard/")
    page.wait_for_url(lambda url: "/dashboards/" in url, timeout=30000)
    page.wait_for_timeout(3000)
    screenshot(page, "resilience-dashboard")
    assert "Disaster recovery" in page.inner_text("body")
