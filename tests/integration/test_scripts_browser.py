"""Scripts on instances in Chromium, as the demo operator on `make run`'s data (embedded mode): the
library holds the demo's saved scripts and the run made at first start; the operator runs the health
check on two instances of the Web shop and sees both outputs and exit codes arrive live; the instance
page's "Run script" opens the form with that instance picked."""

from __future__ import annotations

from tests.integration.conftest import screenshot, sign_in, wait_until

LONG = 90_000


def test_the_demo_operator_runs_a_saved_script_on_two_instances_and_sees_both_outputs(embedded_server, page):
    base = embedded_server.url
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, base, "operator", "demo-operator-2024")

    # The library: the two demo scripts; the first-start run shows in the history once the first
    # collection has finished.
    page.goto(f"{base}/portal/provisioning/scripts/")
    names = page.eval_on_selector_all("[data-testid=script-item] [data-role=script-name]",
                                      "els => els.map(e => e.textContent)")
    assert {"Web server health check", "Deploy a release"} <= set(names), names
    for _ in range(60):
        if page.locator("[data-testid=run-row]").count():
            break
        page.wait_for_timeout(1000)
        page.reload()
    assert page.locator("[data-testid=run-row]").count() >= 1, "the first-start run is in the history"
    screenshot(page, "scripts-01-library")

    # Run the health check: its text and parameter come from the library; two running instances picked.
    item = page.locator("[data-testid=script-item]", has_text="Web server health check")
    item.locator("[data-role=use]").click()
    page.wait_for_selector("[data-testid=run-preview]:not(.d-none)")
    assert "systemctl is-active {{service}}" in page.inner_text("[data-testid=run-preview]")
    assert page.input_value("[data-testid=run-param-service]") == "nginx"
    page.fill("#rf-search", "")
    # The demo activity stops and starts demo instances every 20 s (and earlier tests on this server may
    # have moved some): search again until two of the operator's instances are running.
    options = page.locator("[data-testid=instance-option]:not([disabled])")
    for _ in range(60):
        if options.count() >= 2:
            break
        page.wait_for_timeout(2000)
        page.dispatch_event("#rf-search", "input")
    assert options.count() >= 2, page.inner_text("[data-testid=run-results]")
    options.nth(0).click()
    options.nth(1).click()
    assert page.locator("[data-testid=picked-instance]").count() == 2
    page.fill("#rf-comment", "check before the release")
    screenshot(page, "scripts-02-run-form")
    page.click("[data-testid=run-submit]")
    page.wait_for_url("**/portal/provisioning/scripts/runs/*/", timeout=30000)
    page.wait_for_selector("#live:not(.offline)", timeout=30000)
    assert page.locator("[data-testid=run-target]").count() == 2
    screenshot(page, "scripts-03-run-live")

    # Both outputs arrive: each instance's own host name, the unit's state, exit code 0.
    page.wait_for_selector("[data-testid=run-target][data-status=success] >> nth=1", timeout=LONG)
    outputs = page.eval_on_selector_all("[data-testid=target-output]", "els => els.map(e => e.textContent)")
    assert len(outputs) == 2 and all(o.strip().endswith("active") for o in outputs), outputs
    assert outputs[0].splitlines()[0] != outputs[1].splitlines()[0], outputs  # two hosts answered
    exits = page.eval_on_selector_all("[data-testid=target-exit]", "els => els.map(e => e.textContent)")
    assert exits == ["exit 0", "exit 0"], exits
    wait_until(page, "() => document.querySelector('[data-testid=run-operation-status]')?.textContent === 'succeeded'")
    assert wait_until(page, "() => (window.scriptRunEvents || []).length")  # the changes came over the socket
    screenshot(page, "scripts-04-run-done")

    # The instance page: "Run script" opens the form with the instance picked.
    target = page.locator("[data-testid=run-target] .card-title a").first
    instance_name = target.inner_text()
    target.click()
    page.wait_for_selector("[data-testid=op-run-script]", timeout=30000)
    screenshot(page, "scripts-05-instance-page")
    page.click("[data-testid=op-run-script]")
    page.wait_for_url("**/portal/provisioning/scripts/?instance=*")
    page.wait_for_selector("[data-testid=picked-instance]")
    assert instance_name in page.inner_text("[data-testid=run-picked]")
    screenshot(page, "scripts-06-picked-from-instance")


def test_the_console_lists_every_run_and_the_library_for_the_platform_administrator(embedded_server, page):
    base = embedded_server.url
    sign_in(page, base, "admin", "unimanager-admin")
    page.goto(f"{base}/console/provisioning/scripts/")
    page.wait_for_selector("[data-testid=script-item]")
    assert page.locator("[data-testid=script-item]").count() >= 2
    for _ in range(60):
        if page.locator("[data-testid=run-row]").count():
            break
        page.wait_for_timeout(1000)
        page.reload()
    assert page.locator("[data-testid=run-row]").count() >= 1
    page.locator("[data-testid=script-item]", has_text="Deploy a release").locator("[data-role=edit]").click()
    page.wait_for_selector("[data-testid=script-editor]:not(.d-none)")
    assert page.locator("[data-testid^=param-]").count() == 2  # version and service
    screenshot(page, "scripts-07-console-editor")
    page.locator("[data-testid=run-row] a").first.click()
    page.wait_for_url("**/console/provisioning/scripts/runs/*/")
    page.wait_for_selector("[data-testid=run-target]")
    screenshot(page, "scripts-08-console-run")
