"""The predefined dashboards (resources, organization, security, network, operations, alerting), also
offered as templates. Each is a dashboard document (``apps.dashboards.document``)."""

from __future__ import annotations

import copy
from typing import Any


def _w(wid: str, kind: str, title: str, x: int, y: int, w: int, h: int, query: str,
       params: dict[str, Any] | None = None, **options: Any) -> dict[str, Any]:
    return {"id": wid, "type": kind, "title": title, "gridPos": {"x": x, "y": y, "w": w, "h": h},
            "query": {"name": query, "params": params or {}}, "options": options}


RED, ORANGE, GREEN, BLUE = "#d63939", "#f76707", "#2fb344", "#206bc4"

PREDEFINED: dict[str, dict[str, Any]] = {
    "resources": {
        "uid": "resources", "title": "Resources", "refresh": 60, "stale_after": 300,
        "description": "The inventory across every cloud: how many, of which type, where and in what state.",
        "variables": [{"name": "organization", "value": None}],
        "widgets": [
            _w("total", "stat", "Resources", 0, 0, 6, 4, "resources.count", color=BLUE),
            _w("instances", "stat", "ECS instances", 6, 0, 6, 4, "resources.count", {"type": "ecs.instance"}),
            _w("running", "gauge", "Instances running", 12, 0, 6, 4, "resources.count",
               {"type": "ecs.instance", "status": "running"}, unit="%",
               thresholds=[{"value": 0, "color": RED}, {"value": 50, "color": ORANGE}, {"value": 80, "color": GREEN}]),
            _w("platforms", "gauge", "Healthy platforms", 18, 0, 6, 4, "resources.platforms_healthy", unit="%",
               thresholds=[{"value": 0, "color": RED}, {"value": 100, "color": GREEN}]),
            _w("by-type", "bar", "By type", 0, 4, 12, 8, "resources.by", {"group_by": "type"}),
            _w("by-status", "pie", "By status", 12, 4, 6, 8, "resources.by", {"group_by": "status"}),
            _w("by-region", "map", "Where they run", 18, 4, 6, 8, "resources.places"),
            _w("by-platform", "bar", "By cloud platform", 0, 12, 8, 7, "resources.by", {"group_by": "platform"}),
            _w("recent", "table", "Recently changed", 8, 12, 16, 7, "resources.recent", {"limit": 8}),
        ],
    },
    "network": {
        "uid": "network", "title": "Network", "refresh": 60, "stale_after": 300,
        "description": "VPCs, vSwitches, elastic IPs, load balancers and security groups.",
        "variables": [{"name": "organization", "value": None}],
        "widgets": [
            _w("vpcs", "stat", "VPCs", 0, 0, 6, 4, "resources.count", {"type": "vpc.vpc"}, color=BLUE),
            _w("eips", "stat", "Elastic IPs", 6, 0, 6, 4, "resources.count", {"type": "eip.eip"}),
            _w("slbs", "stat", "Load balancers", 12, 0, 6, 4, "resources.count", {"type": "slb.instance"}),
            _w("eips-bound", "gauge", "EIPs in use", 18, 0, 6, 4, "resources.count",
               {"type": "eip.eip", "status": "in_use"}, unit="%"),
            _w("summary", "bar", "Network resources", 0, 4, 8, 7, "resources.network"),
            _w("topology", "topology", "Topology: VPCs, vSwitches and what is in them", 8, 4, 16, 14,
               "resources.topology", {"focus": "network", "limit": 60}),
            _w("vpc-region", "map", "VPCs by region", 0, 11, 8, 7, "resources.places", {"type": "vpc.vpc"}),
            _w("recent", "table", "Recently changed EIPs", 0, 18, 24, 5, "resources.recent",
               {"type": "eip.eip", "limit": 5}),
        ],
    },
    "operations": {
        "uid": "operations", "title": "Operations", "refresh": 30, "stale_after": 120,
        "description": "Long-running work and provisioning requests, live.",
        "variables": [{"name": "organization", "value": None}],
        "widgets": [
            _w("running", "stat", "Operations running", 0, 0, 6, 4, "core.operations_running", color=BLUE,
               thresholds=[{"value": 0, "color": GREEN}, {"value": 20, "color": ORANGE}]),
            _w("waiting", "stat", "Requests waiting for approval", 6, 0, 6, 4, "provisioning.requests_waiting",
               thresholds=[{"value": 0, "color": GREEN}, {"value": 5, "color": ORANGE}, {"value": 20, "color": RED}]),
            _w("status", "pie", "Operations by status (24 h)", 12, 0, 12, 8, "core.operations_by_status"),
            _w("kinds", "bar", "Operations by kind (24 h)", 0, 4, 12, 4, "core.operations_by_kind", {"limit": 6}),
            _w("hourly", "line", "Finished operations per hour", 0, 8, 16, 7, "core.operations_over_time"),
            _w("requests", "pie", "Requests by status", 16, 8, 8, 7, "provisioning.requests_by_status"),
            _w("recent", "table", "Recent operations", 0, 15, 24, 6, "core.operations_recent", {"limit": 6}),
        ],
    },
    "organization": {
        "uid": "organization", "title": "Organization", "refresh": 300, "stale_after": 900,
        "description": "Organizations, people and projects, and what each organization runs.",
        "variables": [{"name": "organization", "value": None}],
        "widgets": [
            _w("orgs", "stat", "Organizations", 0, 0, 6, 4, "organizations.count", {"what": "organizations"},
               color=BLUE),
            _w("users", "stat", "People", 6, 0, 6, 4, "organizations.count", {"what": "users"}),
            _w("projects", "stat", "Projects", 12, 0, 6, 4, "organizations.count", {"what": "projects"}),
            _w("mfa", "gauge", "MFA coverage", 18, 0, 6, 4, "security.mfa_coverage", unit="%"),
            _w("people", "bar", "People per organization", 0, 4, 12, 8, "organizations.users_by_organization"),
            _w("resources", "pie", "Resources per platform", 12, 4, 12, 8, "resources.by", {"group_by": "platform"}),
        ],
    },
    "security": {
        "uid": "security", "title": "Security", "refresh": 60, "stale_after": 300,
        "description": "Sign-ins, MFA coverage and audit activity.",
        "variables": [{"name": "organization", "value": None}],
        "widgets": [
            _w("mfa", "gauge", "MFA coverage", 0, 0, 8, 6, "security.mfa_coverage", unit="%",
               thresholds=[{"value": 0, "color": RED}, {"value": 50, "color": ORANGE}, {"value": 90, "color": GREEN}]),
            _w("failed", "stat", "Failed sign-ins (24 h)", 8, 0, 8, 6, "security.signins_failed",
               thresholds=[{"value": 0, "color": GREEN}, {"value": 1, "color": ORANGE}, {"value": 10, "color": RED}]),
            _w("signins", "pie", "Sign-ins by result (24 h)", 16, 0, 8, 6, "security.signins_by_result"),
            _w("activity", "line", "Audit activity per hour", 0, 6, 16, 8, "security.audit_activity"),
            _w("actions", "bar", "Most frequent audit actions (24 h)", 16, 6, 8, 8, "security.audit_by_action",
               {"limit": 8}),
        ],
    },
    "alerting": {
        "uid": "alerting", "title": "Alerting", "refresh": 30, "stale_after": 120,
        "description": "Alerts firing now, by severity, and the metric behind the most common rule.",
        "variables": [{"name": "organization", "value": None}],
        "widgets": [
            _w("firing", "stat", "Alerts firing", 0, 0, 6, 4, "alerts.firing_count",
               thresholds=[{"value": 0, "color": GREEN}, {"value": 1, "color": ORANGE}, {"value": 5, "color": RED}]),
            _w("critical", "stat", "Critical", 6, 0, 6, 4, "alerts.firing_count", {"severity": "critical"},
               thresholds=[{"value": 0, "color": GREEN}, {"value": 1, "color": RED}]),
            _w("severity", "pie", "Firing by severity", 12, 0, 12, 8, "alerts.firing_by_severity"),
            _w("cpu", "line", "Average CPU (last hour)", 0, 4, 12, 8, "alerts.metric_average",
               {"minutes": 60}),
            _w("list", "table", "Firing alerts", 0, 12, 24, 8, "alerts.firing_list", {"limit": 8}),
        ],
    },
}


def template(name: Any) -> dict[str, Any] | None:
    doc = PREDEFINED.get(name) if isinstance(name, str) else None
    return copy.deepcopy(doc) if doc is not None else None


def templates() -> list[dict[str, Any]]:
    return [{"name": name, "title": doc["title"], "description": doc["description"],
             "widgets": len(doc["widgets"])} for name, doc in PREDEFINED.items()]
