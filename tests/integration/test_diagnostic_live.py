"""A diagnostic operation advanced by a real worker reaches a real browser step by step, live."""

from __future__ import annotations

import pytest

from tests.integration.conftest import screenshot, sign_in

STEPS = 6


def run_diagnostic_in_browser(page, base_url: str) -> list[dict]:
    page.goto(f"{base_url}/console/diagnostics/")
    page.wait_for_selector("#diag-live:not(.offline)", timeout=15000)
    page.fill("#diag-steps", str(STEPS))
    page.fill("#diag-interval", "0.4")
    page.click("#diag-run")
    page.wait_for_selector("[data-testid=diag-status]:has-text('succeeded')", timeout=60000)
    return page.evaluate("window.diagnosticEvents")


def assert_every_step_arrived(events: list[dict]) -> str:
    assert events, "no event reached the browser"
    op_ids = {e["id"] for e in events}
    assert len(op_ids) == 1
    steps = [e["step"] for e in events if e["status"] == "running"]
    assert steps == list(range(1, STEPS + 1)), f"steps seen in the browser: {steps}"
    progress = [e["progress"] for e in events]
    assert progress == sorted(progress), "progress went backwards"
    assert events[-1]["status"] == "succeeded" and events[-1]["progress"] == 100
    return op_ids.pop()


@pytest.mark.django_db(transaction=True)
def test_distributed_worker_progress_reaches_the_browser(distributed_stack, page):
    from apps.core.models import Operation
    from apps.organizations.models import Membership, Organization, User

    org = Organization.objects.create(name="Diagnostics Org")
    user = User.objects.create_superuser(username="diag-admin", password="diag-pass-1234", email="d@example.com")
    Membership.objects.create(user=user, organization=org)

    sign_in(page, distributed_stack.url, "diag-admin", "diag-pass-1234")
    events = run_diagnostic_in_browser(page, distributed_stack.url)
    screenshot(page, "console-diagnostics-distributed")
    op_id = assert_every_step_arrived(events)

    op = Operation.objects.get(pk=op_id)
    assert op.status == Operation.Status.SUCCEEDED and op.step == STEPS
    # The web process in this stack runs no worker: the separate Celery process did the steps.
    assert "diagnostic_step_task" in distributed_stack.log_tail(20000)


def test_embedded_worker_progress_reaches_the_browser(embedded_server, page):
    sign_in(page, embedded_server.url, "admin", "unimanager-admin")
    events = run_diagnostic_in_browser(page, embedded_server.url)
    screenshot(page, "console-diagnostics-embedded")
    assert_every_step_arrived(events)
