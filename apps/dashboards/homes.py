"""The console's overview and the portal's home show the dashboards chosen for the person's role
(``selectors.home_dashboards``); registered with ``apps.core.home`` from ``DashboardsConfig.ready``."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from apps.dashboards import selectors


def panel_for(surface: str):
    def panel(request: Any) -> dict[str, Any] | None:
        from apps.dashboards.views import board_context

        boards = selectors.home_dashboards(actor=request.user, surface=surface)
        if not boards:
            return None
        wanted = request.GET.get("board")
        current = next((b for b in boards if b.uid == wanted), boards[0])
        context = board_context(request, current, surface)
        view = "dashboards:view" if surface == "console" else "dashboards-portal:view"
        return {"template": "dashboards/_home.html", "surface": surface, "boards": boards, "current": current,
                "open_url": reverse(view, args=[current.uid]),
                "manage_url": reverse("dashboards:homes") if surface == "console" else "",
                "can_manage": surface == "console" and _may_manage_anywhere(request.user),
                **context}

    return panel


def _may_manage_anywhere(user: Any) -> bool:
    from apps.core.selectors import organization_list

    return organization_list(actor=user, action=selectors.WRITE).exists()
