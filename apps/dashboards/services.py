"""Writes of dashboards: create (blank, from a template or an imported file), save (every save is
a new version), restore an older version, share, delete. Each change is announced on the
dashboard's topic, which reloads the wall screens showing it."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from apps.core.errors import Conflict, InvalidInput
from apps.core.events import emit
from apps.core.scoping import require
from apps.core.selectors import organization_list
from apps.core.widgets import organization_ancestors
from apps.dashboards import predefined
from apps.dashboards.document import clean_document
from apps.dashboards.models import Dashboard, DashboardVersion, HomeDashboard
from apps.dashboards.selectors import WRITE

MAX_VERSIONS = 100


def organization_for_write(*, actor: Any, organization_id: Any, action: str = WRITE) -> Any:
    """The organization a new dashboard (or data source) goes to: the one asked for, or the first
    where the actor may ``action``; a 400 naming ``organization`` when there is none."""
    orgs = organization_list(actor=actor, action=action)
    try:
        org = orgs.filter(pk=organization_id).first() if organization_id else orgs.order_by("path").first()
    except (ValueError, TypeError, ValidationError):  # a malformed id is as unknown as a foreign one
        org = None
    if org is None:
        raise InvalidInput("Choose an organization where you may create dashboards.",
                           detail={"organization": ["Not found."]})
    return org


def _announce(dashboard: Dashboard, event: str) -> None:
    # Wall screens follow the dashboard's screen topic (``apps.dashboards.live``): they hear edits there.
    emit(dashboard.organization_id, dashboard.topic, {"event": event, "uid": dashboard.uid, "name": dashboard.title,
                                                      "version": dashboard.version},
         also=[(dashboard.organization_id, f"screen:{dashboard.uid}")])


def _record(dashboard: Dashboard, actor: Any, message: str) -> None:
    DashboardVersion.objects.create(dashboard=dashboard, version=dashboard.version, title=dashboard.title,
                                    document=dashboard.document, message=message[:200],
                                    created_by=actor if getattr(actor, "pk", None) else None)
    stale = list(dashboard.versions.order_by("-version").values_list("pk", flat=True)[MAX_VERSIONS:])
    if stale:
        DashboardVersion.objects.filter(pk__in=stale).delete()


@transaction.atomic
def dashboard_create(*, actor: Any, organization: Any, document: Any, is_template: bool = False,
                     message: str = "created") -> Dashboard:
    """A new dashboard of ``organization`` from a validated document; its uid must be free (409)."""
    require(actor, WRITE, Dashboard(organization=organization))
    doc = clean_document(document)
    if Dashboard.objects.filter(pk=doc["uid"]).exists():
        raise Conflict(f"A dashboard with uid {doc['uid']!r} exists already.", detail={"uid": ["Taken."]})
    try:
        with transaction.atomic():
            dashboard = Dashboard.objects.create(uid=doc["uid"], organization=organization, title=doc["title"],
                                                 document=doc, is_template=bool(is_template),
                                                 created_by=actor if getattr(actor, "pk", None) else None)
    except IntegrityError:
        raise Conflict(f"A dashboard with uid {doc['uid']!r} exists already.", detail={"uid": ["Taken."]}) from None
    _record(dashboard, actor, message)
    _announce(dashboard, "created")
    return dashboard


@transaction.atomic
def dashboard_save(*, actor: Any, dashboard: Dashboard, document: Any, message: str = "",
                   base_version: int | None = None) -> Dashboard:
    """Save a new version. ``base_version`` (the version the editor started from) makes a save over
    someone else's newer save a 409 instead of silently losing their work."""
    require(actor, WRITE, dashboard)
    doc = clean_document(document, uid=dashboard.uid)
    locked = Dashboard.objects.select_for_update().get(pk=dashboard.pk)
    if base_version is not None and base_version != locked.version:
        raise Conflict(f"The dashboard was saved by someone else (now version {locked.version}); reload it.",
                       detail={"version": [f"Current version is {locked.version}."]})
    locked.document, locked.title, locked.version = doc, doc["title"], locked.version + 1
    locked.save(update_fields=["document", "title", "version", "updated_at"])
    _record(locked, actor, message or "saved")
    _announce(locked, "saved")
    return locked


@transaction.atomic
def dashboard_restore(*, actor: Any, dashboard: Dashboard, version: Any) -> Dashboard:
    """Restore ``version``: its document becomes a new, newest version (history is never rewritten)."""
    require(actor, WRITE, dashboard)
    if isinstance(version, bool) or not isinstance(version, int):
        raise InvalidInput("version must be a whole number.", detail={"version": ["A whole number."]})
    old = dashboard.versions.filter(version=version).first()
    if old is None:
        raise InvalidInput(f"Version {version} does not exist.", detail={"version": ["Not found."]})
    return dashboard_save(actor=actor, dashboard=dashboard, document=old.document, message=f"restored v{version}")


@transaction.atomic
def dashboard_share(*, actor: Any, dashboard: Dashboard, users: list[Any] | None = None,
                    roles: list[Any] | None = None) -> Dashboard:
    """Share the dashboard with exactly ``users`` (people who may not read its organization see it)
    and exactly ``roles`` (whoever holds one where the dashboard belongs, see
    ``selectors.shared_by_role``); ``None`` leaves that list as it is."""
    require(actor, WRITE, dashboard)
    if users is not None:
        dashboard.shared_with.set(users)
    if roles is not None:
        dashboard.shared_with_roles.set(roles)
    _announce(dashboard, "shared")
    return dashboard


@transaction.atomic
def dashboard_delete(*, actor: Any, dashboard: Dashboard) -> None:
    require(actor, WRITE, dashboard)
    _announce(dashboard, "deleted")
    dashboard.delete()


def dashboard_import(*, actor: Any, organization: Any, document: Any, overwrite: bool = False) -> Dashboard:
    """Load an exported document: a new dashboard, or (``overwrite``) a new version of the one with
    the same uid in an organization where the actor may write; 409 when the uid is taken otherwise."""
    if isinstance(document, dict) and isinstance(document.get("uid"), str):
        existing = Dashboard.objects.filter(pk=document["uid"]).first()
        if existing is not None:
            from apps.dashboards.selectors import dashboard_list

            if overwrite and dashboard_list(actor=actor, action=WRITE).filter(pk=existing.pk).exists():
                return dashboard_save(actor=actor, dashboard=existing, document=document, message="imported")
            raise Conflict(f"A dashboard with uid {document['uid']!r} exists already"
                           + (" (import with overwrite to replace it)." if not overwrite else "."),
                           detail={"uid": ["Taken."]})
    return dashboard_create(actor=actor, organization=organization, document=document, message="imported")


def dashboard_from_template(*, actor: Any, organization: Any, template: str, title: str | None = None) -> Dashboard:
    """A new dashboard (new uid) copied from a predefined template or a dashboard marked as one."""
    doc = predefined.template(template)
    if doc is None:
        from apps.dashboards.selectors import dashboard_list

        source = dashboard_list(actor=actor).filter(pk=template, is_template=True).first()
        if source is None:
            raise InvalidInput(f"Unknown template {str(template)[:64]!r}.", detail={"template": ["Not found."]})
        doc = dict(source.document)
    doc = {**doc, "uid": None}
    if title:
        doc["title"] = title
    return dashboard_create(actor=actor, organization=organization, document=doc,
                            message=f"from template {template}")


@transaction.atomic
def home_assign(*, actor: Any, organization: Any, surface: Any, dashboard: Dashboard, role: Any = None,
                position: Any = 0) -> HomeDashboard:
    """Put ``dashboard`` on the ``surface`` home of the holders of ``role`` (everyone when ``None``)
    in ``organization``. The actor must manage the organization's dashboards and read the dashboard;
    the dashboard must be one those people may read (the organization's own, one above it, or one
    shared with the role), else a 400 naming ``dashboard``."""
    require(actor, WRITE, HomeDashboard(organization=organization))
    if surface not in HomeDashboard.Surface.values:
        raise InvalidInput("surface must be console or portal.", detail={"surface": ["console or portal."]})
    if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position <= 100:
        raise InvalidInput("position must be a whole number from 0 to 100.", detail={"position": ["0..100"]})
    ancestors = {str(o) for o in organization_ancestors(organization.pk)}
    shared = role is not None and dashboard.shared_with_roles.filter(pk=role.pk).exists()
    if str(dashboard.organization_id) not in ancestors and not shared:
        raise InvalidInput("That dashboard belongs to another organization: its people could not open it.",
                           detail={"dashboard": ["Not readable there."]})
    duplicate = HomeDashboard.objects.filter(organization=organization, surface=surface, role=role,
                                             dashboard=dashboard)
    if duplicate.exists():
        raise Conflict("That dashboard is on that home already.", detail={"dashboard": ["Already there."]})
    return HomeDashboard.objects.create(organization=organization, surface=surface, role=role, dashboard=dashboard,
                                        position=position,
                                        created_by=actor if getattr(actor, "pk", None) else None)


@transaction.atomic
def home_remove(*, actor: Any, home: HomeDashboard) -> None:
    require(actor, WRITE, home)
    home.delete()
