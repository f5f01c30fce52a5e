"""Hostile names never run as script, in a real browser, and the console's pages break none of their
own Content-Security-Policy.

Everything a page shows by name is given hostile names (organizations, people, groups, projects,
roles, grants, policies, a cloud platform, inventory rows and their relations as a cloud reports
them, operations, requests, changes, schedules, audit entries, a display token), and a simulated
cloud names its vSwitch and security group the same way. Chromium then opens every page of the
console and portal menus, the detail page of each object, the pages whose templates or scripts hand
data to ECharts or to HTML (found by grep, so a new one must be listed here), Swagger UI and a wall
screen; it hovers the topology nodes and edges and opens the chart tooltips. Nothing may set
``window.__xss`` or open a dialog, every page carries the policy, and no page reports a violation
of it or an uncaught error. Screenshots go to test-artifacts/screenshots/xss-*.png.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT, screenshot, sign_in, wait_until

H_IMG = "<img src=x onerror=window.__xss=1>"
H_SCRIPT = "</script><script>window.__xss=1</script>"
H_ATTR = "\"'><svg onload=window.__xss=1>"
H_SHORT = "<svg onload=window.__xss=1>"  # for 32-character fields (status, relation kind)
HOSTILE = (H_IMG, H_SCRIPT, H_ATTR)
PASSWORD = "xss-pass-1234"
REGION, ZONE = "cn-hangzhou", "cn-hangzhou-a"

# What makes a page hand data to HTML or to a chart: a template or one of our scripts that calls these.
HTML_SINKS = re.compile(r"echarts\.init|\.innerHTML|\.outerHTML|insertAdjacentHTML|formatter\s*:|\.html\(|hx-swap=")
TEMPLATES = ROOT / "templates"
SCRIPTS = ROOT / "static" / "js"
ID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\b[a-z]{2,4}-[0-9a-f]{20,}")
INCLUDE_RE = re.compile(r"""{%\s*include\s+["']([^"']+)["']""")

RECORDER = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => window.__violations.push(
  [e.violatedDirective, e.blockedURI, e.sourceFile + ":" + e.lineNumber, e.sample].join(" ")));
"""


def templates_handing_data_to_html() -> set[str]:
    """Templates (relative names) that use an HTML or chart sink themselves, load one of our scripts
    that does, or include such a template."""
    risky_scripts = {p.relative_to(ROOT / "static").as_posix() for p in SCRIPTS.rglob("*.js")
                     if HTML_SINKS.search(p.read_text())}
    texts = {p.relative_to(TEMPLATES).as_posix(): p.read_text() for p in TEMPLATES.rglob("*.html")}
    found = {name for name, text in texts.items()
             if HTML_SINKS.search(text) or any(f"'{s}'" in text for s in risky_scripts)}
    while True:
        includers = {name for name, text in texts.items() if set(INCLUDE_RE.findall(text)) & found} - found
        if not includers:
            return found
        found |= includers


def make_hostile_world(sim_endpoint: str) -> dict:
    from django.utils import timezone

    from apps.clouds.models import Region, Zone
    from apps.clouds.simulated import _wait, sim_adapter
    from apps.clouds.tests.factories import platform as make_platform
    from apps.core.models import Operation
    from apps.organizations.models import Membership, Organization, Project, User, UserGroup
    from apps.provisioning.models import ChangeRecord, ProvisioningRequest, RequestEvent, ScheduledOperation
    from apps.rbac.models import AccessPolicy, Grant, Role
    from apps.resources.models import ResourceRelation, SyncRun
    from apps.resources.tests.factories import resource
    from apps.security import audit
    from apps.security import services as security_services

    # The cloud itself reports hostile names for the request form's vSwitch and security group.
    cloud = sim_adapter(sim_endpoint, REGION)
    vpc_id = cloud.create("vpc.vpc", REGION, {"cidr_block": "192.168.0.0/16", "name": H_IMG})
    _wait(cloud, "vpc.vpc", REGION, vpc_id, {"available"})
    vsw_id = cloud.create("vpc.vswitch", REGION, {"vpc_id": vpc_id, "zone": ZONE, "cidr_block": "192.168.1.0/24",
                                                  "name": H_SCRIPT})
    _wait(cloud, "vpc.vswitch", REGION, vsw_id, {"available"})
    cloud.create("ecs.security_group", REGION, {"vpc_id": vpc_id, "name": H_ATTR})

    org = Organization.objects.create(name=H_IMG, description=H_SCRIPT)
    child = Organization.objects.create(name=H_ATTR, parent=org, kind="department", description=H_IMG)
    admin = User.objects.create_superuser(username="xss-admin", password=PASSWORD, email="x@example.com",
                                          display_name=H_SCRIPT)
    people = [User.objects.create_user(username=h, password=PASSWORD, display_name=h, email=f"p{n}@example.com")
              for n, h in enumerate(HOSTILE)]
    for person in (admin, *people):
        Membership.objects.create(user=person, organization=org)
    Membership.objects.create(user=people[0], organization=child)
    group = UserGroup.objects.create(organization=org, name=H_SCRIPT, description=H_ATTR)
    group.members.add(*people)
    project = Project.objects.create(organization=org, name=H_ATTR, description=H_IMG)
    project.members.add(admin, *people)
    project.groups.add(group)
    other_project = Project.objects.create(organization=child, name=H_IMG)
    role = Role.objects.create(key="xss_role", name=H_IMG, description=H_SCRIPT, organization=org,
                               permissions=["core:operation:read", "ecs:instance:read"])
    grant = Grant.objects.create(role=role, grantee_type="user", user=people[0], scope_type="organization",
                                 scope_organization=org, organization=org, note=H_ATTR)
    Grant.objects.create(role=role, grantee_type="group", group=group, scope_type="project", scope_project=project,
                         organization=org, note=H_SCRIPT)
    policy = AccessPolicy.objects.create(name=H_SCRIPT, description=H_IMG, organization=org, document={
        "Statement": [{"Effect": "Allow", "Action": "core:operation:read", "Resource": f"org/{org.pk}"}]})
    from apps.rbac import engine

    engine.invalidate()

    platform = make_platform(org, endpoint=sim_endpoint, name=H_IMG, description=H_ATTR, health_message=H_SCRIPT)
    region = Region.objects.create(platform=platform, region_id=REGION, name=H_IMG)
    Zone.objects.create(region=region, zone_id=ZONE, name=H_ATTR)

    # Inventory as a cloud reported it: a VPC, a vSwitch in it, instances in the vSwitch, and an
    # instance's security group that nobody here may see (it shows with its cloud id and type only).
    def row(type_: str, name: str, status: str, **kw):
        return resource(platform, organization=org, project=project, type=type_, name=name, status=status,
                        tags={H_IMG: H_SCRIPT}, **kw)

    vpc = row("vpc.vpc", H_IMG, H_SHORT, external_id=vpc_id)
    vswitch = row("vpc.vswitch", H_SCRIPT, "available", external_id=vsw_id, vpc_id=vpc_id, vcpu=0)
    first = row("ecs.instance", H_ATTR, "running", vcpu=2, memory_mib=4096, spec={"instance_type": H_ATTR})
    second = row("ecs.instance", H_IMG, "stopped", vcpu=4, memory_mib=8192, spec={"instance_type": "ecs.g6.large"})
    resource(platform, organization=child, project=other_project, name=H_SCRIPT, vcpu=1)
    ResourceRelation.objects.create(source=vswitch, platform=platform, kind="in_vpc", target_type="vpc.vpc",
                                    target_external_id=vpc.external_id)
    for instance in (first, second):
        ResourceRelation.objects.create(source=instance, platform=platform, kind=H_SHORT, target_type="vpc.vswitch",
                                        target_external_id=vswitch.external_id)
    ResourceRelation.objects.create(source=first, platform=platform, kind="in_security_group", target_type=H_IMG,
                                    target_external_id=H_SCRIPT)

    now = timezone.now()
    operation = Operation.objects.create(organization=org, kind=H_IMG, target_type=H_SHORT, target_id="x",
                                         target_name=H_SCRIPT, status=Operation.Status.FAILED, message=H_ATTR,
                                         error=H_SCRIPT, actor=admin)
    SyncRun.objects.create(platform=platform, organization=org, operation=operation, status=SyncRun.Status.FAILED,
                           error=H_IMG)
    request = ProvisioningRequest.objects.create(
        organization=org, project=project, platform=platform, region=REGION, reason=H_IMG, requester=people[1],
        spec={"instance_type": H_ATTR, "zone": H_SCRIPT, "image_id": H_IMG, "name": H_SCRIPT},
        levels=[{"mode": "any", "roles": [], "users": []}])
    RequestEvent.objects.create(request=request, kind="submitted", message=H_SCRIPT, actor=people[1])
    ChangeRecord.objects.create(organization=org, project=project, platform=platform, operation=operation,
                                resource=first, action="stop", resource_type=first.type, region=REGION,
                                external_id=first.external_id, name=H_IMG, comment=H_SCRIPT, client_token="xss-1",
                                phase=ChangeRecord.Phase.DONE, deadline=now, heartbeat_at=now)
    ScheduledOperation.objects.create(organization=org, project=project, resource=first, action="stop",
                                      cron="0 20 * * 1-5", comment=H_ATTR, last_error=H_IMG)
    audit.append(action="xss.made", organization_id=org.pk, target_type="organization", target_id=org.pk,
                 target_label=H_IMG, actor_name=H_SCRIPT, detail={"note": H_ATTR})
    alert = _hostile_alerts(org, first)
    _hostile_costs(org, child, project, other_project, platform)
    from apps.quotas import services as quotas

    quotas.limit_set(actor=None, organization=org, project=project, dimension="ecs.instance", limit=10, reason=H_IMG)
    board = _hostile_dashboard(org)
    _token, raw_token = security_services.display_token_create(actor=None, organization=org, name=H_IMG,
                                                               dashboards=[board.uid])
    return {"org": org, "child": child, "admin": admin, "people": people, "group": group, "project": project,
            "role": role, "grant": grant, "policy": policy, "platform": platform, "vpc": vpc, "instance": first,
            "request": request, "raw_token": raw_token, "alert": alert, "board": board}


def _hostile_alerts(org, resource_row):
    """A threshold rule and its firing alert, a silence of it, a contact point and a route, all named
    hostile; the alert's labels and annotations too."""
    from datetime import timedelta

    from django.utils import timezone

    from apps.alerts.models import AlertRule, ContactPoint, NotificationRoute, Silence
    from apps.alerts.tests.factories import alert as make_alert

    rule = AlertRule.objects.create(organization=org, name=H_IMG, description=H_SCRIPT, summary=H_ATTR,
                                    metric="CPUUtilization", threshold=80, labels={"team": H_IMG})
    firing = make_alert(org, rule=rule, source="rule", severity="critical", alertname=H_SCRIPT, instance=H_ATTR)
    firing.name, firing.value = H_IMG, 97.5
    firing.resource, firing.platform = resource_row, resource_row.platform
    firing.annotations = {"summary": H_ATTR, "description": H_SCRIPT}
    firing.save(update_fields=["name", "value", "resource", "platform", "annotations"])
    make_alert(org, severity="warning", alertname=H_ATTR, source="external")
    now = timezone.now()
    Silence.objects.create(organization=org, matchers=[{"name": "alertname", "op": "=", "value": H_ATTR}],
                           starts_at=now, ends_at=now + timedelta(hours=2), comment=H_IMG)
    point = ContactPoint.objects.create(organization=org, name=H_SCRIPT, kind="webhook",
                                        config={"url": "http://127.0.0.1:9/"})
    route = NotificationRoute.objects.create(organization=org, name=H_IMG)
    route.contact_points.set([point])
    return firing


def _hostile_costs(org, child, project, other_project, platform):
    """A hostile-named price book and rule, a bill with a hostile line and its daily charges over the
    last days (so the cost trend and breakdown draw), and a budget of the project."""
    import datetime as dt
    from decimal import Decimal

    from django.utils import timezone

    from apps.billing.models import Bill, BillLine, Budget, BudgetCrossing, Charge, PriceBook, PriceRule

    book = PriceBook.objects.create(organization=org, name=H_SCRIPT, currency="CNY", is_active=False)
    price = PriceRule.objects.create(price_book=book, service="ecs", resource_type="ecs.instance",
                                     dimension="vcpu_hours", unit_price=Decimal("1"), sku=H_ATTR, region=H_IMG)
    today = timezone.localdate()
    period = today.replace(day=1)
    for tenant, owner in ((org, project), (child, other_project)):
        bill = Bill.objects.create(organization=tenant, period=period, time_zone="UTC", currency="CNY",
                                   price_book=book)
        line = BillLine.objects.create(bill=bill, project=owner, rule=price, service=H_SHORT, resource_type=H_SCRIPT,
                                       description=H_IMG, quantity=10, unit="hour", unit_price=Decimal("1"),
                                       amount=Decimal("10"))
        Charge.objects.bulk_create([
            Charge(bill=bill, line=line, organization=tenant, project=owner, day=today - dt.timedelta(days=d),
                   platform=platform, region=H_IMG, service=service, resource_type=H_SCRIPT,
                   quantity=Decimal(1 + d), amount=Decimal(2 + d))
            for d in range(4) for service in (H_SHORT, "ecs")])
    budget = Budget.objects.create(organization=org, project=project, name=H_ATTR, amount=100, thresholds=[50, 90])
    BudgetCrossing.objects.create(budget=budget, period=period, threshold=50, basis="actual", spend=Decimal(60))


def _hostile_dashboard(org):
    """The predefined resources board with a hostile title, description and widget titles."""
    from apps.dashboards import predefined
    from apps.dashboards import services as dashboards

    doc = predefined.template("resources")
    doc.update(uid="xss-board", title=H_IMG, description=H_SCRIPT)
    for n, widget in enumerate(doc["widgets"]):
        widget["title"] = HOSTILE[n % len(HOSTILE)]
    return dashboards.dashboard_create(actor=None, organization=org, document=doc)


# Pages of the templates that hand data to HTML or charts (keys: template names, as the grep finds them).
def pages_of(w: dict) -> dict[str, list[str]]:
    user = f"/console/organizations/users/{w['people'][0].pk}/"
    org = f"/console/organizations/{w['org'].pk}/"
    project = f"/console/organizations/projects/{w['project'].pk}/"
    group = f"/console/organizations/groups/{w['group'].pk}/"
    board = f"/console/dashboards/{w['board'].uid}/"
    return {
        "provisioning/topology.html": [f"/console/provisioning/topology/?project={w['project'].pk}",
                                       f"/console/provisioning/topology/?resource={w['instance'].pk}"],
        "resources/usage.html": ["/console/inventory/usage/?group_by=organization,project",
                                 "/console/inventory/usage/?group_by=platform,region"],
        "screens/home.html": ["/screens/"],
        "clouds/platform_detail.html": [f"/console/clouds/{w['platform'].pk}/"],
        "console/diagnostics.html": ["/console/diagnostics/"],
        "provisioning/request_form.html": [f"/portal/provisioning/new/{w['platform'].pk}/"],
        "provisioning/request_detail.html": [f"/portal/provisioning/requests/{w['request'].pk}/",
                                             f"/console/provisioning/requests/{w['request'].pk}/"],
        "provisioning/my_resources.html": ["/portal/provisioning/resources/"],
        "provisioning/approvals.html": ["/console/provisioning/approvals/"],
        "rbac/grants.html": ["/console/access/grants/"],
        "rbac/_grant_row.html": ["/console/access/grants/"],
        "organizations/_access_panel_slot.html": [user, org, project, group],
        "rbac/_panel.html": [user, org, project, group],
        "organizations/organization_detail.html": [org, f"/console/organizations/{w['child'].pk}/"],
        "organizations/user_detail.html": [user, f"/console/organizations/users/{w['people'][2].pk}/"],
        "organizations/project_detail.html": [project],
        "organizations/group_detail.html": [group],
        "security/_person_panel_slot.html": [user],
        "security/_person_panel.html": [user],
        "rbac/role_detail.html": [f"/console/access/roles/{w['role'].pk}/"],
        "rbac/role_form.html": [f"/console/access/roles/{w['role'].pk}/edit/", "/console/access/roles/new/"],
        "rbac/grant_form.html": ["/console/access/grants/new/"],
        "rbac/policy_detail.html": [f"/console/access/policies/{w['policy'].pk}/"],
        "rbac/matrix.html": [f"/console/access/matrix/?organization={w['org'].pk}"],
        "rbac/explain.html": [f"/console/access/explain/?user={w['people'][0].pk}&action=core:operation:read"],
        "resources/detail.html": [f"/console/inventory/{w['instance'].pk}/", f"/console/inventory/{w['vpc'].pk}/"],
        "security/display_tokens.html": ["/console/security/display-tokens/"],
        "partials/picker.html": ["/console/security/display-tokens/", f"/portal/provisioning/new/{w['platform'].pk}/"],
        "drf_spectacular/swagger_ui.html": ["/api/docs/"],
        "organizations/tree.html": ["/console/organizations/"],
        "organizations/users.html": ["/console/organizations/users/"],
        "organizations/named_list.html": ["/console/organizations/groups/", "/console/organizations/projects/"],
        "organizations/_add_person_modal.html": [group, project],
        "organizations/_picker_search.html": ["/console/organizations/", group, project, user, org],
        "rbac/policy_form.html": ["/console/access/policies/new/"],
        "alerts/alerts.html": ["/console/alerts/"],
        "alerts/alert_detail.html": [f"/console/alerts/{w['alert'].pk}/"],
        "billing/costs.html": ["/console/billing/", "/console/billing/?group_by=project",
                               "/console/billing/?group_by=region"],
        "billing/budgets.html": ["/console/billing/budgets/"],
        "dashboards/_home.html": ["/console/", "/portal/"],
        "dashboards/view.html": [board],
        "dashboards/edit.html": [f"{board}edit/"],
        "dashboards/view_portal.html": [f"/portal/dashboards/{w['board'].uid}/"],
        "screens/dashboard.html": [f"/screens/d/{w['board'].uid}/"],  # signed in; with the display token below
    }


class Watch:
    """What a page did that it must not: script from data, dialogs, policy violations, uncaught errors."""

    def __init__(self, page):
        self.page = page
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.console: list[str] = []
        page.add_init_script(RECORDER)
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda exc: self.errors.append(f"{page.url}: {exc} {exc.stack}"))
        page.on("console", lambda msg: self.console.append(f"{msg.type}: {msg.text}")
                if msg.type in ("error", "warning") else None)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self, base: str, path: str, shot: str | None = None) -> None:
        self.console.clear()
        self.errors.clear()
        response = self.page.goto(f"{base}{path}")
        assert response is not None and response.status == 200, f"{path}: {response and response.status}"
        policy = response.headers.get("content-security-policy", "")
        assert "script-src 'self' 'nonce-" in policy, f"{path} is served without the policy: {policy!r}"
        self.page.wait_for_load_state("networkidle")
        if shot:
            screenshot(self.page, shot)
        self.check(path)

    def check(self, where: str) -> None:
        self.page.wait_for_timeout(150)  # an <img onerror> fires once its failed load is noticed
        assert self.page.evaluate("typeof window.__xss") == "undefined", f"{where}: a hostile name ran as script"
        assert not self.dialogs, f"{where}: dialogs opened {self.dialogs}"
        violations = self.page.evaluate("window.__violations || []")
        assert not violations, f"{where}: Content-Security-Policy violations {violations}"
        policy_messages = [m for m in self.console if "Content Security Policy" in m or "Refused to" in m]
        assert not policy_messages, f"{where}: {policy_messages}"
        assert not self.errors, f"{where}: uncaught errors {self.errors}"


def _tooltip_text(page, chart_id: str) -> str:
    return page.evaluate(f"[...document.querySelectorAll('#{chart_id} > div')].slice(1)"
                         ".map((d) => d.innerText).join('\\n')")


def _hover_topology(page, watch: Watch, where: str) -> str:
    """Opens the tooltip of every node and edge, then moves the mouse over every node; returns what
    the tooltips showed."""
    chart = "echarts.getInstanceByDom(document.getElementById('topo'))"
    wait_until(page, f"{chart} && ({chart}.getOption().series || []).length > 0", timeout=15000)
    nodes = page.evaluate(f"{chart}.getOption().series[0].data.length")
    links = page.evaluate(f"{chart}.getOption().series[0].links.length")
    assert nodes >= 4 and links >= 3, (nodes, links)
    page.wait_for_timeout(1500)  # the force layout settles
    shown = []
    for kind, count in (("node", nodes), ("edge", links)):
        for i in range(count):
            page.evaluate(f"{chart}.dispatchAction({{type: 'showTip', seriesIndex: 0, dataIndex: {i}, "
                          f"dataType: '{kind}'}})")
            page.wait_for_timeout(120)
            shown.append(_tooltip_text(page, "topo"))
    box = page.locator("#topo").bounding_box()
    points = page.evaluate(f"""(() => {{ const c = {chart}; const data = c.getModel().getSeriesByIndex(0).getData();
        return [...Array(data.count()).keys()].map((i) => c.convertToPixel({{seriesIndex: 0}}, data.getItemLayout(i)));
    }})()""")
    for x, y in points:
        page.mouse.move(box["x"] + x, box["y"] + y)
        page.wait_for_timeout(200)
        shown.append(_tooltip_text(page, "topo"))
    watch.check(f"{where} (tooltips)")
    return "\n".join(shown)


def _open_chart_tooltips(page, watch: Watch, where: str, charts: int = 1) -> str:
    """Waits for ``charts`` ECharts instances on the page, opens the tooltip of every data point of
    each one's first series, and returns what the tooltips showed."""
    wait_until(page, f"document.querySelectorAll('[_echarts_instance_]').length >= {charts}", timeout=15000)
    page.wait_for_timeout(300)  # the charts' data arrive and are drawn
    shown = page.evaluate("""async () => {
        const texts = [];
        for (const dom of document.querySelectorAll('[_echarts_instance_]')) {
            const chart = echarts.getInstanceByDom(dom);
            const series = (chart && chart.getOption().series) || [];
            if (!series.length) continue;
            const count = (series[0].data || []).length;
            for (let i = 0; i < count; i++) {
                chart.dispatchAction({type: 'showTip', seriesIndex: 0, dataIndex: i});
                await new Promise((r) => setTimeout(r, 60));
                texts.push([...dom.querySelectorAll(':scope > div')].slice(1).map((d) => d.innerText).join(' '));
            }
        }
        return texts.join('\\n');
    }""")
    watch.check(f"{where} (tooltips)")
    return shown


def _announce_hostile_crossing(page, org) -> None:
    """Announces a hostile budget crossing on the organization's billing topic until the budgets page
    shows it as a live row (the page subscribes once its realtime connection is up)."""
    from django.db import transaction
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    from apps.billing.services import topic_of
    from apps.core.events import emit

    payload = {"event": "budget_crossed", "name": H_IMG, "period": H_SCRIPT, "basis": H_SHORT,
               "threshold": H_ATTR, "spend": H_IMG}
    row = page.locator("[data-testid=live-crossing]")
    for _attempt in range(20):
        with transaction.atomic():
            emit(org, topic_of(org.pk), payload)
        try:
            row.first.wait_for(timeout=1000)
            break
        except PlaywrightTimeout:  # not subscribed yet: announce again
            continue
    assert H_IMG in row.first.inner_text() and H_SCRIPT in row.first.inner_text(), row.all_inner_texts()


def _search_picker(page, picker: str, words: str) -> None:
    """Types into a picker's search box; the matching options come back by htmx (swapped in as HTML)."""
    page.fill(f"[data-testid={picker}-search]", words)
    wait_until(page, "([id, words]) => { const texts = [...document.querySelectorAll(`#${id} option`)]"
               ".map((o) => o.textContent.toLowerCase()); return texts.length > 0"
               " && texts.every((t) => t.includes(words)); }", arg=[picker, words], timeout=15000)


@pytest.fixture(scope="module")
def hostile_cloud():
    from cloudsim.server import CloudSim

    sim = CloudSim(port=0, provision_seconds=0.05).start()
    yield sim
    sim.stop()


@pytest.mark.django_db(transaction=True)
def test_hostile_names_never_run_as_script_on_any_page(distributed_stack, browser, hostile_cloud):
    w = make_hostile_world(hostile_cloud.endpoint)
    base = distributed_stack.url
    pages = pages_of(w)
    unlisted = templates_handing_data_to_html() - set(pages)
    assert not unlisted, f"templates that hand data to HTML or charts and are not walked here: {unlisted}"

    context = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        page = context.new_page()
        watch = Watch(page)
        sign_in(page, base, "xss-admin", PASSWORD)
        watch.check("sign-in")

        # Every page of both menus, then every page listed for the grepped templates.
        visited: list[str] = []
        for home, links in (("/console/", "aside .nav-link[href]"), ("/portal/", ".page .navbar-nav .nav-link[href]")):
            watch.open(base, home)
            for href in page.eval_on_selector_all(links, "els => els.map((e) => e.getAttribute('href'))"):
                if href.startswith(("/console/", "/portal/")) and href not in visited:
                    visited.append(href)
        for paths in pages.values():
            visited += [p for p in paths if p not in visited]
        assert len(visited) >= 30, visited
        shots: set[str] = set()
        boards = {p for t in ("dashboards/view.html", "dashboards/view_portal.html", "screens/dashboard.html")
                  for p in pages[t]}
        for path in visited:
            name = re.sub(r"[^a-z0-9]+", "-", ID_RE.sub("id", path.split("?")[0].lower())).strip("-")
            if name in shots:  # the same page of another object: numbered, so a rerun overwrites it
                name = f"{name}-{sum(n.startswith(name) for n in shots) + 1}"
            shots.add(name)
            watch.open(base, path, shot=f"xss-{name}")
            if path.startswith("/console/provisioning/topology/?"):
                shown = _hover_topology(page, watch, path)
                screenshot(page, "xss-topology" + ("-resource" if "resource=" in path else ""))
                for hostile in (H_IMG, H_SCRIPT, H_ATTR, H_SHORT):
                    assert hostile in shown, f"{path}: the tooltip did not show {hostile!r} as text:\n{shown}"
            elif path.startswith("/console/inventory/usage/"):
                chart = "echarts.getInstanceByDom(document.getElementById('usage-chart'))"
                wait_until(page, f"!!{chart}", timeout=10000)
                for i in range(page.evaluate(f"{chart}.getOption().xAxis[0].data.length")):
                    page.evaluate(f"{chart}.dispatchAction({{type: 'showTip', seriesIndex: 0, dataIndex: {i}}})")
                    page.wait_for_timeout(120)
                watch.check(f"{path} (tooltips)")
                screenshot(page, "xss-usage-tooltip" + ("-platform" if "platform" in path else ""))
            elif path.startswith("/portal/provisioning/new/"):
                options = page.locator("#f-vswitch option, #f-sg option").all_inner_texts()
                assert any(H_SCRIPT in o for o in options) and H_ATTR in options, options
                _search_picker(page, "f-project", "nothing matches")  # no project: the options are swapped
                _search_picker(page, "f-project", "onload")  # the hostile names come back as options
                assert f"{H_ATTR} ({H_IMG})" in page.locator("#f-project option").all_inner_texts()
            elif path == "/console/security/display-tokens/":
                _search_picker(page, "t-org", "svg")
                assert page.locator("#t-org option").all_inner_texts() == [H_ATTR]
            elif path.startswith("/console/billing/?") or path == "/console/billing/":
                shown = _open_chart_tooltips(page, watch, path, charts=2)
                expected = {"/console/billing/": H_SHORT, "/console/billing/?group_by=project": H_ATTR}.get(path, H_IMG)
                assert expected in shown, f"{path}: the tooltips did not show {expected!r} as text:\n{shown}"
                screenshot(page, "xss-costs-tooltip-" + (path.split("=")[-1] if "=" in path else "service"))
            elif path == "/console/billing/budgets/":
                _announce_hostile_crossing(page, w["org"])
                watch.check(f"{path} (a live crossing)")
                screenshot(page, "xss-budgets-live")
            elif path == "/console/alerts/":
                page.wait_for_selector("[data-alert]", timeout=15000)  # rows built by script from the API
                assert any(H_IMG in t for t in page.locator("[data-alert]").all_inner_texts())
                screenshot(page, "xss-alerts-rows")
            elif path in boards:
                page.wait_for_selector("[data-testid=board] canvas, [data-board] canvas", timeout=15000)
                shown = _open_chart_tooltips(page, watch, path)
                assert H_IMG in shown, f"{path}: no tooltip showed the organization {H_IMG!r} as text:\n{shown}"
                screenshot(page, "xss-board-tooltip-" + path.split("/")[1])
            elif path.startswith("/console/clouds/cp-"):
                page.wait_for_selector("[data-testid=sync-history] td:has-text('failed')")
                assert H_IMG in page.locator("[data-testid=sync-history]").inner_text()
            elif path == "/api/docs/":
                page.wait_for_selector(".swagger-ui .info .title", timeout=30000)
                screenshot(page, "xss-api-docs")
            elif re.match(r"/console/organizations/users/[0-9a-f-]{36}/$", path):
                # Both panels arrive by htmx (swapped in as HTML) and name the person and their grants.
                page.wait_for_selector("[data-testid=security-state]", timeout=15000)
                page.wait_for_selector("[data-testid=access-panel] [data-testid=grants]", timeout=15000)
                screenshot(page, "xss-user-panels")
            watch.check(path)

        # A wall screen opened with the (hostile-named) display token: its playlist, then the hostile
        # organization's dashboard by its uid; the header names the token and the dashboard as text.
        screen = context.new_page()
        screen_watch = Watch(screen)
        context.clear_cookies()
        screen.goto(f"{base}/screens/signin/")
        screen.fill("#id_token", w["raw_token"])
        screen.click("button[type=submit]")
        screen.wait_for_url(re.compile(r"/screens/$"))
        screen.wait_for_selector("[data-testid=screen-dashboards] [data-board] canvas", timeout=15000)
        screen_watch.check("/screens/ (display token)")
        assert H_IMG in screen.locator(".um-screen-header").text_content()
        screen_watch.open(base, f"/screens/d/{w['board'].uid}/", shot="xss-wall-screen")
        header = screen.locator(".um-screen-header")
        assert header.locator(".um-brand small").text_content() == H_IMG  # the token's name
        assert header.locator("[data-testid=screen-title]").text_content() == H_IMG  # the dashboard's title
        screen.wait_for_selector("[data-board] canvas", timeout=15000)
        assert H_IMG in _open_chart_tooltips(screen, screen_watch, "wall screen")
        screenshot(screen, "xss-wall-screen-tooltip")
    finally:
        context.close()


def test_the_grep_finds_the_chart_and_html_pages():
    found = templates_handing_data_to_html()
    assert {"provisioning/topology.html", "resources/usage.html", "screens/home.html"} <= found, found
    assert Path(TEMPLATES / "drf_spectacular" / "swagger_ui.html").exists()
