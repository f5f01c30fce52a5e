"""Dashboards: a JSON document (widgets on a 24-column grid, variables, refresh) owned by an
organization, shared with people and roles, and versioned (every save is a version that can be restored)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.core.ids import PrefixedId
from apps.core.models import TenantModel


class Dashboard(TenantModel):
    """The ``uid`` is the dashboard's address everywhere: the API, wall screens, display tokens and
    its realtime topic (``dashboard:<uid>``)."""

    uid = models.CharField(primary_key=True, max_length=64)
    title = models.CharField(max_length=128)
    document = models.JSONField(default=dict)
    version = models.PositiveIntegerField(default=1)
    is_template = models.BooleanField(default=False)
    shared_with = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    # Holders of one of these roles in the dashboard's organization (above it or below it) see it too.
    shared_with_roles = models.ManyToManyField("rbac.Role", blank=True, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "uid"]
        indexes = [models.Index(fields=["organization", "title"], name="dashboard_org_title")]

    def __str__(self) -> str:
        return self.title

    @property
    def topic(self) -> str:
        return f"dashboard:{self.uid}"


class DashboardVersion(models.Model):
    """One saved state of a dashboard; restoring one saves it again as the newest version."""

    dashboard = models.ForeignKey(Dashboard, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=128)
    document = models.JSONField(default=dict)
    message = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        constraints = [models.UniqueConstraint(fields=["dashboard", "version"], name="dashboardversion_unique")]

    def __str__(self) -> str:
        return f"{self.dashboard_id} v{self.version}"


class DataSource(TenantModel):
    """Data a widget can show beyond the built-in queries: an HTTP JSON endpoint read by the server,
    or a table uploaded from a CSV or Excel file (validated when uploaded)."""

    class Kind(models.TextChoices):
        HTTP_JSON = "http_json", "HTTP JSON"
        TABLE = "table", "Uploaded table"

    id = models.CharField(primary_key=True, max_length=32, default=PrefixedId("dsrc"), editable=False)
    name = models.CharField(max_length=128)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    url = models.CharField(max_length=2000, blank=True)
    table = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["organization", "name"], name="datasource_org_name")]

    def __str__(self) -> str:
        return self.name


class HomeDashboard(TenantModel):
    """One dashboard of the home a role gets on a surface (the console's overview or the portal's
    home), set by an administrator of ``organization``. It applies to whoever holds ``role`` where
    the organization is (above it, in it or below it); without a role, to everyone there. A person's
    home shows the dashboards of every row that applies, in ``position`` order."""

    class Surface(models.TextChoices):
        CONSOLE = "console", "Console overview"
        PORTAL = "portal", "Portal home"

    id = models.CharField(primary_key=True, max_length=32, default=PrefixedId("home"), editable=False)
    surface = models.CharField(max_length=16, choices=Surface.choices)
    role = models.ForeignKey("rbac.Role", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    dashboard = models.ForeignKey(Dashboard, on_delete=models.CASCADE, related_name="homes")
    position = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["surface", "position", "created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["organization", "surface", "role", "dashboard"],
                                               name="homedashboard_unique")]

    def __str__(self) -> str:
        return f"{self.surface}: {self.dashboard_id} for {self.role_id or 'everyone'}"
