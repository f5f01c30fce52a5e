"""The demo's quotas on first start (embedded mode, as `make run` serves it): the limits down the demo
tree are there, and the first collection of the simulated region fills their usage from the
inventory, so the Web shop project sits just under its warning threshold (3 of 4 instances, green) and
West Operations is past its own (3 of 4 at 70%, orange)."""

from __future__ import annotations

from tests.integration.conftest import screenshot, sign_in


def test_the_demo_shows_partly_used_quotas_after_the_first_collection(embedded_server, page):
    base = embedded_server.url
    sign_in(page, base, "admin", "unimanager-admin")

    def web_shop_instances() -> str:
        page.goto(f"{base}/console/quotas/")
        page.wait_for_selector("[data-testid=quota-tree]")
        return page.evaluate("""() => { const rows = [...document.querySelectorAll('tr[data-dimension="ecs.instance"]')]
            .filter(r => r.innerText.includes('Web shop'));
            return rows.length ? rows[0].querySelector('.quota-numbers').innerText : ''; }""")

    deadline_checks = 60
    seen = ""
    for _ in range(deadline_checks):  # the first collection and the recount run in the background
        seen = web_shop_instances()
        if seen.replace(" ", "") == "3/4":
            break
        page.wait_for_timeout(2000)
    screenshot(page, "quotas-demo-console")
    assert seen.replace(" ", "") == "3/4", seen
    hq = page.evaluate("""() => [...document.querySelectorAll('tr[data-dimension="ecs.instance"]')]
        .map(r => r.querySelector('.quota-numbers').innerText)""")
    assert hq[0].replace(" ", "") == "6/40", hq  # the region's six demo instances count at the headquarters
    colours = page.evaluate("""() => Object.fromEntries(
        [...document.querySelectorAll('tr[data-dimension="ecs.instance"]')]
        .filter(r => r.cells[0].innerText.trim()).map(r => [r.cells[0].innerText.trim(),
        r.querySelector('.progress-bar').className.includes('bg-orange') ? 'orange' : 'green']))""")
    assert colours["Web shop"] == "green" and colours["West Operations Department"] == "orange", colours
