"""Roles, grants and access policies.

A ``Grant`` gives a ``Role`` to a grantee (a user, a user group, the members of an organization, or
the members of a project) on a scope (the platform, a cloud platform, a cloud service, an
organization with its descendants, or a project). An ``AccessPolicy`` is a RAM-like document of
Allow/Deny statements attached to users and user groups; an explicit Deny wins over any Allow.

Rows owned by no organization (``organization`` is null) belong to the platform: predefined and
platform roles are shared with everyone who may read roles; platform-wide grants and policies are
seen only by those who hold the permission platform-wide.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from apps.organizations.models import Organization, Project, UserGroup


class Role(models.Model):
    class Duty(models.TextChoices):
        NONE = "", "None"
        SYSTEM_ADMINISTRATOR = "system_administrator", "System administrator"
        SECURITY_ADMINISTRATOR = "security_administrator", "Security administrator"
        SECURITY_AUDITOR = "security_auditor", "Security auditor"

    tenant_field = "organization"
    # Roles without an owner (predefined, platform) are visible to whoever may read roles.
    unowned_rows = "shared"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    key = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=128)
    description = models.CharField(max_length=500, blank=True)
    is_predefined = models.BooleanField(default=False)
    duty = models.CharField(max_length=32, choices=Duty.choices, blank=True, default="")
    permissions = models.JSONField(default=list, blank=True)
    excluded_permissions = models.JSONField(default=list, blank=True)
    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["organization", "created_at"], name="role_org_created")]

    def __str__(self) -> str:
        return self.name

    @property
    def topic(self) -> str:
        return f"role:{self.id}"


class Grant(models.Model):
    class GranteeType(models.TextChoices):
        USER = "user", "User"
        GROUP = "group", "User group"
        ORGANIZATION = "organization", "Organization members"
        PROJECT = "project", "Project members"

    class ScopeType(models.TextChoices):
        PLATFORM = "platform", "Whole platform"
        CLOUD_PLATFORM = "cloud_platform", "Cloud platform"
        CLOUD_SERVICE = "cloud_service", "Cloud service"
        ORGANIZATION = "organization", "Organization and descendants"
        PROJECT = "project", "Project"

    tenant_field = "organization"
    unowned_rows = "platform"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="grants")
    grantee_type = models.CharField(max_length=16, choices=GranteeType.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="grants")
    group = models.ForeignKey(UserGroup, null=True, blank=True, on_delete=models.PROTECT, related_name="grants")
    grantee_organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.PROTECT,
                                             related_name="member_grants")
    grantee_project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="member_grants")
    scope_type = models.CharField(max_length=16, choices=ScopeType.choices)
    scope_organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.PROTECT,
                                           related_name="scoped_grants")
    scope_project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="scoped_grants")
    # Cloud platform id or cloud service code (``ecs``) for those scopes.
    scope_key = models.CharField(max_length=64, blank=True, default="")
    # The organization that owns the grant (its scope's organization); null for platform scopes.
    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    note = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="grant_org_created"),
            models.Index(fields=["grantee_type", "user"], name="grant_grantee_user"),
        ]

    def __str__(self) -> str:
        return f"{self.role} -> {self.grantee_label} on {self.scope_label}"

    @property
    def topic(self) -> str:
        return f"grant:{self.id}"

    @property
    def grantee_label(self) -> str:
        target = {
            self.GranteeType.USER: self.user,
            self.GranteeType.GROUP: self.group,
            self.GranteeType.ORGANIZATION: self.grantee_organization,
            self.GranteeType.PROJECT: self.grantee_project,
        }.get(self.grantee_type)
        label = getattr(target, "label", None) or str(target)
        return f"{self.get_grantee_type_display()}: {label}"

    @property
    def scope_label(self) -> str:
        if self.scope_type == self.ScopeType.ORGANIZATION:
            return f"organization {self.scope_organization}"
        if self.scope_type == self.ScopeType.PROJECT:
            return f"project {self.scope_project}"
        if self.scope_type == self.ScopeType.PLATFORM:
            return "the whole platform"
        return f"{self.get_scope_type_display().lower()} {self.scope_key}"


class AccessPolicy(models.Model):
    """A RAM-like policy document, attached to users and user groups."""

    tenant_field = "organization"
    unowned_rows = "platform"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=128)
    description = models.CharField(max_length=500, blank=True)
    document = models.JSONField()
    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="access_policies", blank=True)
    groups = models.ManyToManyField(UserGroup, related_name="access_policies", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "access policies"
        indexes = [models.Index(fields=["organization", "created_at"], name="policy_org_created")]

    def __str__(self) -> str:
        return self.name

    @property
    def topic(self) -> str:
        return f"policy:{self.id}"
