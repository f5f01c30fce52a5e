"""Reads of the security app, each scoped through ``restrict``."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import QuerySet

from apps.core.pages import spreadsheet_text
from apps.core.scoping import authorize, restrict
from apps.security.models import AccessKey, AuditEntry, DisplayToken, SecurityPolicy, SignInLock, UserSession

AUDIT_READ = "audit:log:read"
AUDIT_EXPORT = "audit:log:export"


def audit_entry_list(*, actor: Any, action: str = AUDIT_READ) -> QuerySet[AuditEntry]:
    return restrict(AuditEntry.objects.all(), actor, action)


def access_key_list(*, actor: Any) -> QuerySet[AccessKey]:
    """The actor's own pairs, and those of people whose keys they oversee: who may see *and*
    disable them. ``security:accesskey:read`` alone is not enough, because every "read everything"
    role (``*:*:read``: viewer, operator, billing administrator) holds it, and who has a pair and
    when it was last used is not theirs to know."""
    qs = AccessKey.objects.select_related("user")
    if actor is None or not actor.is_authenticated:
        return qs.none()
    overseen = restrict(qs, actor, "security:accesskey:read") & restrict(qs, actor, "security:accesskey:write")
    return overseen | qs.filter(user=actor)


def display_token_list(*, actor: Any) -> QuerySet[DisplayToken]:
    return restrict(DisplayToken.objects.select_related("organization"), actor, "organizations:displaytoken:read")


def security_policy_list(*, actor: Any) -> QuerySet[SecurityPolicy]:
    return restrict(SecurityPolicy.objects.select_related("organization"), actor, "security:policy:read")


def lock_list(*, actor: Any) -> QuerySet[SignInLock]:
    """Lockouts are platform-wide (an account name or a client address): shown to those who may see them."""
    if not authorize(actor, "security:lockout:read", None):
        return SignInLock.objects.none()
    return SignInLock.objects.all()


def session_list(*, user: Any) -> QuerySet[UserSession]:
    return UserSession.objects.filter(user=user, ended_at__isnull=True)


class _Echo:
    def write(self, value: str) -> str:
        return value


AUDIT_CSV_COLUMNS = ["id", "created_at", "organization_id", "actor_name", "actor_id", "action", "target_type",
                     "target_id", "target_label", "result", "source_ip", "request_id", "detail", "hash"]


def audit_csv_rows(entries: Iterable[AuditEntry]) -> Iterator[str]:
    """CSV lines, streamed: an export of a large log never sits in memory."""
    import json

    writer = csv.writer(_Echo())
    yield writer.writerow(AUDIT_CSV_COLUMNS)
    for e in entries:
        row = []
        for column in AUDIT_CSV_COLUMNS:
            value = getattr(e, column)
            if column == "detail":
                value = json.dumps(value, sort_keys=True)
            elif column == "created_at":
                value = value.isoformat()
            row.append(spreadsheet_text("" if value is None else str(value)))
        yield writer.writerow(row)
