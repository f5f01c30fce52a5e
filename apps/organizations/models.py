"""People and the organization tree.

An organization's ``path`` lists the ids of its ancestors and itself (``/a/b/c/``), so "this
organization and all its descendants" is one indexed prefix match. Moving a subtree rewrites the
paths of the subtree in the same transaction (``organization_move``).

A person (``User``) may belong to several organizations (``Membership``). User groups and projects
belong to one organization; a project gathers users and user groups (and, in later apps, cloud
platforms and resources) across which fine-grained grants are made.
"""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models

from apps.core.models import TenantModel


class Organization(models.Model):
    class Kind(models.TextChoices):
        HEADQUARTERS = "headquarters", "Headquarters"
        REGION = "region", "Regional organization"
        DEPARTMENT = "department", "Department"

    # The organization is its own tenant: scoping filters on its primary key.
    tenant_field = "id"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=128)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.DEPARTMENT)
    description = models.CharField(max_length=500, blank=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    path = models.CharField(max_length=1024, db_index=True, editable=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="organization_unique_name_per_parent"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        parent_path = self.parent.path if self.parent_id else "/"
        self.path = f"{parent_path}{self.id}/"
        super().save(*args, **kwargs)

    @property
    def depth(self) -> int:
        return self.path.count("/") - 2

    @property
    def ancestor_ids(self) -> list[str]:
        """Ids (as text) from the root down to this organization, itself included."""
        return [p for p in self.path.split("/") if p]

    @property
    def topic(self) -> str:
        return f"organization:{self.id}"


class User(AbstractUser):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    display_name = models.CharField(max_length=128, blank=True)
    organizations = models.ManyToManyField(
        Organization, through="Membership", related_name="members", blank=True
    )

    @classmethod
    def organization_scope_q(cls, org_ids) -> models.Q:
        """Users are seen through the organizations they belong to (a small, indexed table)."""
        return models.Q(pk__in=Membership.objects.filter(organization_id__in=org_ids).values("user_id"))

    @property
    def label(self) -> str:
        return self.display_name or self.get_full_name() or self.username

    @property
    def topic(self) -> str:
        return f"user:{self.id}"


class Membership(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="memberships")
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.organization_id}"


class UserGroup(TenantModel):
    """A named set of users of one organization; grants and access policies may target it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=128)
    description = models.CharField(max_length=500, blank=True)
    members = models.ManyToManyField(User, related_name="user_groups", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="usergroup_unique_name_per_org"),
        ]
        indexes = [models.Index(fields=["organization", "name"], name="usergroup_org_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def topic(self) -> str:
        return f"user_group:{self.id}"


class Project(TenantModel):
    """A unit of work inside one organization: its users and user groups receive project grants."""

    # Rows of this model also match grants scoped to the project itself.
    scope_fields = {"project": "id"}

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=128)
    description = models.CharField(max_length=500, blank=True)
    is_active = models.BooleanField(default=True)
    members = models.ManyToManyField(User, related_name="projects", blank=True)
    groups = models.ManyToManyField(UserGroup, related_name="projects", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="project_unique_name_per_org"),
        ]
        indexes = [models.Index(fields=["organization", "name"], name="project_org_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def topic(self) -> str:
        return f"project:{self.id}"
