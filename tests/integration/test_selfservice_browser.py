"""Self-service beyond instances in Chromium, as the demo operator on `make run`'s data (embedded mode):
an RDS database and an OSS bucket requested from the portal's generated forms reach their running
state live on the request page, and a disk is attached to an instance from the disk's page."""

from __future__ import annotations

import uuid

from tests.integration.conftest import screenshot, sign_in, wait_until

LONG = 120_000


def offers(page) -> dict:
    return page.evaluate("() => JSON.parse(JSON.parse(document.getElementById('offers').textContent))")


def open_form(page, base: str, resource_type: str) -> None:
    page.goto(f"{base}/portal/provisioning/")
    page.click(f"[data-testid^='request-{resource_type}-']")
    page.wait_for_selector(f"#req-form[data-type='{resource_type}']")


def estimate_shown(page) -> str:
    return wait_until(page, "() => { const t = document.querySelector('#req-estimate [data-role=estimate-text]');"
                            " return t && !t.textContent.startsWith('Estimating') ? t.textContent : ''; }")


def submit_and_watch(page, name: str) -> None:
    page.click("#req-submit")
    page.wait_for_url("**/portal/provisioning/requests/*/", timeout=30000)
    page.wait_for_selector("#live:not(.offline)", timeout=30000)
    page.wait_for_selector("[data-testid=instance-row]", timeout=30000)
    screenshot(page, f"selfservice-{name}-progress")
    page.wait_for_selector("[data-testid=instance-row][data-status=succeeded], [data-testid=instance-row]"
                           "[data-status=failed]", timeout=LONG)
    row = page.locator("[data-testid=instance-row]")
    assert row.get_attribute("data-status") == "succeeded", row.inner_text()
    page.wait_for_selector("[data-testid=request-status] :text('completed')", timeout=30000)
    screenshot(page, f"selfservice-{name}-done")


def test_the_demo_operator_creates_a_database_and_a_bucket_and_attaches_a_disk(embedded_server, page):
    base = embedded_server.url
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, base, "operator", "demo-operator-2024")
    page.goto(f"{base}/portal/provisioning/")
    screenshot(page, "selfservice-01-catalog")

    # A MySQL database: engines, versions and classes come from the platform; the vSwitch follows the zone.
    open_form(page, base, "rds.instance")
    zone = offers(page)["vswitches"][0]["zone"]
    page.select_option("#f-zone", zone)
    page.fill("#f-name", "orders-db")
    page.select_option("#f-engine", "MySQL")
    assert page.eval_on_selector_all("#f-version option", "os => os.map(o => o.value)") == ["5.7", "8.0"]
    assert page.eval_on_selector_all("#f-vswitch option", "os => os.length") >= 1
    estimate = estimate_shown(page)
    screenshot(page, "selfservice-02-rds-form")
    assert "per month" in estimate or "No price book" in estimate, estimate
    submit_and_watch(page, "rds")

    # A bucket: a name the cloud would refuse is named before anything is asked of it.
    open_form(page, base, "oss.bucket")
    page.fill("#f-name", "Not_A_Bucket")
    page.click("#req-submit")
    page.wait_for_selector("#req-error:not(.d-none)")
    assert "name" in page.inner_text("#req-error")
    screenshot(page, "selfservice-03-bucket-refused")
    page.fill("#f-name", f"shop-assets-{uuid.uuid4().hex[:8]}")
    page.select_option("#f-acl", "private")
    submit_and_watch(page, "bucket")

    # A disk, then attached from its page to an instance of the project in its zone.
    open_form(page, base, "ecs.disk")
    instances = offers(page)["instances"]
    assert instances, "the demo operator's project has instances"
    target = instances[0]
    page.select_option("#f-zone", target["zone"])
    page.fill("#f-name", "shop-data")
    page.fill("#f-size", "60")
    options = page.eval_on_selector_all("#f-instance option", "os => os.map(o => o.value)")
    assert target["id"] in options and all(i["zone"] == target["zone"] for i in instances if i["id"] in options)
    screenshot(page, "selfservice-04-disk-form")
    submit_and_watch(page, "disk")
    page.reload()  # the row links the created disk to its page
    page.click("[data-testid=instance-row] a")
    page.wait_for_selector("[data-testid=op-attach]", timeout=30000)
    page.select_option("[data-testid=ops-actions] select", target["id"])
    screenshot(page, "selfservice-05-disk-page")
    page.click("[data-testid=op-attach]")
    page.wait_for_selector("[data-testid=ops-progress][data-status=succeeded], [data-testid=ops-progress]"
                           "[data-status=failed]", timeout=LONG)
    assert page.get_attribute("[data-testid=ops-progress]", "data-status") == "succeeded", \
        page.inner_text("[data-testid=ops-progress]")
    wait_until(page, "() => document.querySelector('[data-testid=resource-status]').textContent.trim() === 'in_use'")
    page.wait_for_selector("[data-testid=op-detach]", timeout=30000)
    screenshot(page, "selfservice-06-disk-attached")
